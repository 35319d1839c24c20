"""A sequence model — a recurrent layer and a Linear readout — and sampling text from a character model.

    model = SequenceModel("LSTM", input_size=1, hidden_size=16, output_size=1, batch_first=True)
    y = model(x)                         # x (N, L, 1) → y (N, L, 1): a prediction at every step
    (a character model may take integer ids (N, L) for its one-hot input: the same maths, a lookup)
    model.backward(loss_fn.backward())   # dLoss/dy → every parameter's .grad

As torch code this is ``nn.LSTM(1, 16, batch_first=True)`` followed by ``nn.Linear(16, 1)`` applied to its
output; the state_dict keys are ``rnn.weight_ih_l0`` … ``head.weight``, ``head.bias``.
"""

from __future__ import annotations

import numpy as np

from . import _checks
from .gru import GRU
from .linear import Linear
from .lstm import LSTM
from .module import Module
from .parameter import DEFAULT_DTYPE
from .random import resolve_rng
from .rnn import RNN

CELL_TYPES = {"RNN": RNN, "LSTM": LSTM, "GRU": GRU}
READOUTS = ("every_step", "last_step")
MAX_TEMPERATURE = 10.0
MAX_SAMPLE_LENGTH = 10_000


class SequenceModel(Module):
    """``SequenceModel(cell_type, input_size, hidden_size, output_size, num_layers=1, nonlinearity="tanh",
    bias=True, batch_first=False, dropout=0.0, bidirectional=False, readout="every_step", *, rng, dtype)``.

    ``cell_type`` is "RNN", "LSTM" or "GRU" (``nonlinearity`` applies to "RNN" only). The head reads the
    recurrent output ``(…, D·H_out)``: at every step (``readout="every_step"``: y ``(L, N, out)``, or
    ``(N, L, out)`` batch-first, or ``(L, out)`` unbatched) or at the last step only (``"last_step"``:
    y ``(N, out)``, or ``(out,)`` unbatched), as for the adding problem. Initial states are zeros.
    """

    def __init__(self, cell_type: str, input_size: int, hidden_size: int, output_size: int, num_layers: int = 1,
                 nonlinearity: str = "tanh", bias: bool = True, batch_first: bool = False, dropout: float = 0.0,
                 bidirectional: bool = False, readout: str = "every_step", *, rng=None, dtype=DEFAULT_DTYPE):
        super().__init__()
        if cell_type not in CELL_TYPES:
            raise ValueError(f"SequenceModel: cell_type must be one of {list(CELL_TYPES)}, got {cell_type!r}")
        if readout not in READOUTS:
            raise ValueError(f"SequenceModel: readout must be one of {list(READOUTS)}, got {readout!r}")
        rng = resolve_rng(rng)
        kwargs = dict(num_layers=num_layers, bias=bias, batch_first=batch_first, dropout=dropout,
                      bidirectional=bidirectional, rng=rng, dtype=dtype)
        if cell_type == "RNN":
            kwargs["nonlinearity"] = nonlinearity
        self.cell_type, self.readout = cell_type, readout
        self.rnn = CELL_TYPES[cell_type](input_size, hidden_size, **kwargs)
        self.rnn.input_requires_grad = False  # the input is data
        self.head = Linear(self.rnn.num_directions * self.rnn.hidden_size, output_size, rng=rng, dtype=dtype)

    def forward(self, x: np.ndarray) -> np.ndarray:
        rnn = self.rnn
        rnn(x)
        features = rnn.hidden_states[-1]  # time-major (L, N, D·H), contiguous
        # the head's forward directly, as Sequential calls its layers: Module.__call__ would check the states for
        # NaN/inf (a pass over them) and fail a diverging network halfway instead of letting the loss report it
        if self.readout == "last_step":
            y = self.head.forward(features[-1])  # (N, out)
            return y[0] if rnn._unbatched else y
        L, N, width = features.shape
        if self._head_reads_batch_first():
            # one copy of the states, batch-first, so the logits come out (N, L, out) in memory: a loss reads them
            # as (N·L, out) rows and returns their gradient so, where time-major logits cost it two copies
            features = np.ascontiguousarray(features.transpose(1, 0, 2))
            return self.head.forward(features.reshape(N * L, width)).reshape(N, L, -1)
        y = self.head.forward(features.reshape(L * N, width)).reshape(L, N, -1)
        if rnn._unbatched:
            return y[:, 0]
        return y.transpose(1, 0, 2) if rnn.batch_first else y

    def backward(self, grad_output: np.ndarray) -> None:
        """dLoss/dy (shaped like the forward's result) → accumulates every parameter's ``.grad``."""
        rnn = self.rnn
        features = rnn.hidden_states[-1]
        L, N, width = features.shape
        if self.readout == "last_step":
            grad_features = np.zeros_like(features)
            grad_features[-1] = self.head.backward(grad_output.reshape(N, -1))
            if rnn._unbatched:
                grad_features = grad_features[:, 0]
            elif rnn.batch_first:
                grad_features = grad_features.transpose(1, 0, 2)
            rnn.backward(grad_features)
            return
        if self._head_reads_batch_first():
            grad_rows = np.ascontiguousarray(grad_output).reshape(N * L, -1)
            per_step = grad_rows.reshape(N, L, -1).transpose(1, 2, 0)  # (L, out, N)
        else:
            grad_tm = grad_output.transpose(1, 0, 2) if rnn.batch_first and not rnn._unbatched else grad_output
            grad_rows = np.ascontiguousarray(grad_tm).reshape(L * N, -1)
            per_step = grad_rows.reshape(L, N, -1).transpose(0, 2, 1)
        self.head.backward(grad_rows, input_grad=False)
        # dLoss/dh_t = Wᵀ g_t for every step as one batched product, straight into the (L, width, N) layout the
        # recurrent layer's time loops read (BLAS takes each step's g_t as a strided matrix): no transposed copy
        rnn._run_backward(np.matmul(self.head.weight.data.T, per_step), (None,) * len(rnn.state_names),
                          feature_major=True)

    def _head_reads_batch_first(self) -> bool:
        """Batch-first every-step readout whose logits outweigh half the states (a character model's: copying
        the states once beats copying the logits and their gradient)."""
        rnn = self.rnn
        return (rnn.batch_first and not rnn._unbatched
                and 2 * self.head.out_features > self.head.in_features)

    def extra_repr(self) -> str:
        return f"readout={self.readout!r}"


def one_hot(ids: np.ndarray, size: int, dtype=DEFAULT_DTYPE) -> np.ndarray:
    """Integer ids ``(…)`` → one-hot rows ``(…, size)``."""
    return np.eye(size, dtype=dtype)[ids]


def sample_text(model: SequenceModel, vocabulary: str, length: int = 200, temperature: float = 1.0,
                prime: str = "", rng=None) -> str:
    """``length`` characters drawn one at a time from a character model (one-hot input over ``vocabulary``,
    logits over it at every step), each fed back as the next input, with softmax(logits / temperature):
    low temperatures pick the likeliest character, high ones spread out towards uniform. ``prime`` (characters
    of the vocabulary) is fed first; without it the first character is drawn uniformly. Runs in eval mode
    (no dropout); the model's cached forward pass is overwritten.
    """
    where = "sample_text"
    length = _checks.positive_int(where, "length", length)
    if length > MAX_SAMPLE_LENGTH:
        raise ValueError(f"{where}: length must be an integer in [1, {MAX_SAMPLE_LENGTH}], got {length}")
    temperature = _checks.real(where, "temperature", temperature, low=0.0, high=MAX_TEMPERATURE, low_open=True)
    rnn = model.rnn
    if rnn.bidirectional:
        raise ValueError(f"{where}: a bidirectional model reads the future too; sampling needs "
                         "bidirectional=False")
    if rnn.input_size != len(vocabulary) or model.head.out_features != len(vocabulary):
        raise ValueError(f"{where}: the model reads {rnn.input_size} and predicts {model.head.out_features} "
                         f"characters; expected both to be the vocabulary's {len(vocabulary)}")
    unknown = sorted(set(prime) - set(vocabulary))
    if unknown:
        raise ValueError(f"{where}: prime holds characters outside the vocabulary: {''.join(unknown)!r}")
    rng = resolve_rng(rng)
    index = {c: i for i, c in enumerate(vocabulary)}
    was_training = model.training
    model.eval()
    try:
        state = None
        logits = None
        for c in prime or vocabulary[rng.integers(len(vocabulary))]:
            logits, state = _step(model, index[c], state)
        out = []
        for _ in range(length):
            z = logits / temperature
            p = np.exp(z - z.max())
            p /= p.sum()
            i = int(rng.choice(len(vocabulary), p=p))
            out.append(vocabulary[i])
            logits, state = _step(model, i, state)
        return "".join(out)
    finally:
        model.train(was_training)


def _step(model: SequenceModel, char_id: int, state):
    """One character (its id: a one-hot row) through the recurrent layer (unbatched, L = 1) and the head;
    returns logits and state."""
    _, state = model.rnn(np.array([char_id]), state)
    return model.head(model.rnn.hidden_states[-1][0])[0], state
