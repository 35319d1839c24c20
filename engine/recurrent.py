"""What torch.nn's recurrent layers share: ``RNNBase`` (layers, directions, dropout, shapes, BPTT bookkeeping).
The Elman ``RNN`` (engine/rnn.py), ``LSTM`` (engine/lstm.py) and ``GRU`` (engine/gru.py) only add their cell.

Per layer k and direction d a cell maps ``x_t`` and the previous state to the next one. The input term
``x_t W_ihᵀ + b_ih`` of every step is one matmul per layer and direction; only the recurrent term needs the
time loop. Layer k > 0 reads the concatenated states of both directions of layer k−1, through dropout in
training mode. The reverse direction walks t = L−1 … 0.

Backward walks the same steps in reverse. Each cell turns dLoss/dh_t (from above, plus what step t+1 sends
back) into the gradients of its gate pre-activations, split in an input side ``d_ih`` and a recurrent side
``d_hh`` (equal except in the GRU, whose ``d_hh`` comes in its own row order: ``_recurrent_order``), both
(G·H, L, N); every weight gradient is then one matmul over all steps (the time loops' layout:
engine/rnn_steps.py; with token ids, dW_ih is a segment sum per id and db_ih its row sums):

    dW_ih += Σ_t d_ih,tᵀ x_t      dW_hh += Σ_t d_hh,tᵀ h_{t−1}      db_ih += Σ d_ih      db_hh += Σ d_hh
    dx_t   = d_ih,t W_ih
"""


from __future__ import annotations

import math
import numbers
import warnings

import numpy as np

from . import _checks
from .module import Module
from .parameter import DEFAULT_DTYPE, Parameter, check_dtype
from .random import resolve_rng
from .rnn_steps import SortedIds, add_rows, input_terms, outer_sum, row_sums, rows

NONLINEARITIES = ("tanh", "relu")
PARAMETER_KINDS = ("weight_ih", "weight_hh", "bias_ih", "bias_hh")


def parameter_name(kind: str, layer: int, direction: int) -> str:
    """torch's state_dict name, e.g. ``weight_hh_l1_reverse``."""
    return f"{kind}_l{layer}" + ("_reverse" if direction == 1 else "")


class RNNBase(Module):
    """What RNN, LSTM and GRU share (torch.nn.RNNBase). A subclass sets ``gate_count`` G (the weights stack G
    blocks of ``hidden_size`` rows, in torch's gate order) and implements ``_cell_forward`` / ``_cell_backward``.

    Shapes (L: sequence length, N: batch, D: 2 if bidirectional else 1):
    input ``(L, N, H_in)`` (``(N, L, H_in)`` with ``batch_first``, or unbatched ``(L, H_in)``);
    ``h_0`` / ``h_n`` (and the LSTM's ``c_0`` / ``c_n``) ``(D·num_layers, N, H_out)`` — never batch-first, as
    torch — index ``layer·D + direction``; output ``(L, N, D·H_out)`` (batch-first likewise).

    Parameters, registered in torch's order: ``weight_ih_l{k}`` ``(G·H_out, H_in or D·H_out)``,
    ``weight_hh_l{k}`` ``(G·H_out, H_out)``, ``bias_ih_l{k}``, ``bias_hh_l{k}`` ``(G·H_out,)``, with
    ``_reverse`` for the backward direction; all drawn from U(±1/√H_out), as torch.

    After a forward pass, for the views (references, no copies): ``input``, ``output``, ``h_n``, ``h0``
    ``(D·num_layers, N, H_out)``, and per layer ``hidden_states[k]`` time-major ``(L, N, D·H_out)`` whatever
    ``batch_first`` is. After a backward pass: ``grad_hidden_states[k]`` ``(L, N, D·H_out)`` holds dLoss/dh_t
    of layer k at every step (through the output and every later step: what the loss still owes to h_t), and
    ``grad_h0`` dLoss/dh_0 — both by-products of backprop through time, at no extra cost.
    """

    gate_count = 1
    # False when the input is data whose gradient nobody reads: backward then returns None for grad_x and
    # skips its matmul (as torch does for an input without requires_grad)
    input_requires_grad = True

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False, *,
                 nonlinearity: str | None = None, rng=None, dtype=DEFAULT_DTYPE):
        super().__init__()
        self.nonlinearity = nonlinearity
        where = self._describe(input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional)
        self.input_size = _checks.positive_int(where, "input_size", input_size)
        self.hidden_size = _checks.positive_int(where, "hidden_size", hidden_size)
        self.num_layers = _checks.positive_int(where, "num_layers", num_layers)
        if nonlinearity is not None and nonlinearity not in NONLINEARITIES:
            raise ValueError(f"{where}: nonlinearity must be one of {list(NONLINEARITIES)}, got {nonlinearity!r}")
        self.bias = _flag(where, "bias", bias)
        self.batch_first = _flag(where, "batch_first", batch_first)
        self.bidirectional = _flag(where, "bidirectional", bidirectional)
        self.dropout = _checks.probability(where, "dropout", dropout)
        if self.dropout > 0 and self.num_layers == 1:
            # torch warns too: dropout only ever acts between layers.
            warnings.warn(f"{where}: {dropout_note(self.dropout)}", UserWarning, stacklevel=3)
        dtype = check_dtype(dtype, where)
        self._rng = resolve_rng(rng)
        self.num_directions = 2 if self.bidirectional else 1
        for k in range(self.num_layers):
            for d in range(self.num_directions):
                for name, shape in self.parameter_shapes(k):
                    setattr(self, parameter_name(name, k, d), Parameter(self.new_weights(shape, dtype)))
        self.rebuild()

        self.input = self.output = self.h0 = self.h_n = self.grad_h0 = None
        self.hidden_states: list[np.ndarray] = []
        self._grad_states: list[list[np.ndarray]] = []  # per layer and direction, dL/dh_t (L, H, N)
        self._layer_inputs: list[np.ndarray] = []
        self._dropout_masks: list[np.ndarray | None] = []
        self._caches: list[list] = []
        self._unbatched = False

    # --- structure (also used by engine/rnn_surgery.py) ----------------------------------------------------
    def parameter_shapes(self, layer: int) -> list[tuple[str, tuple[int, int] | tuple[int]]]:
        """``[(kind, shape)]`` of one direction of ``layer``, in torch's order."""
        G, H = self.gate_count, self.hidden_size
        fan_in = self.input_size if layer == 0 else self.num_directions * H
        shapes = [("weight_ih", (G * H, fan_in)), ("weight_hh", (G * H, H))]
        if self.bias:
            shapes += [("bias_ih", (G * H,)), ("bias_hh", (G * H,))]
        return shapes

    def new_weights(self, shape, dtype=None) -> np.ndarray:
        """Fresh entries as torch draws them: U(±1/√hidden_size), from the module's generator."""
        bound = 1.0 / math.sqrt(self.hidden_size)
        return self._rng.uniform(-bound, bound, size=shape).astype(dtype or self.dtype)

    def rebuild(self) -> None:
        """Re-read the registered parameters into ``_cells[k][d] = (w_ih, w_hh, b_ih, b_hh)`` and put them in
        torch's order, after construction or surgery replaced, added or removed some."""
        named = dict(self._parameters)
        self._parameters.clear()
        self._cells = []
        for k in range(self.num_layers):
            layer = []
            for d in range(self.num_directions):
                cell = []
                for kind in PARAMETER_KINDS:
                    name = parameter_name(kind, k, d)
                    p = named.pop(name, None)
                    if p is not None:
                        self._parameters[name] = p
                    cell.append(p)
                layer.append(tuple(cell))
            self._cells.append(layer)
        for name in named:  # anything surgery left over is no parameter of this shape any more
            object.__delattr__(self, name)

    # --- forward -------------------------------------------------------------------------------------------
    def __call__(self, *args, **kwargs):
        return self.forward(*args, **kwargs)  # forward checks its input itself: no second pass over it

    def _token_ids(self, where: str, ids: np.ndarray) -> tuple[np.ndarray, bool]:
        """Integer ids ``(L, N)`` (``(N, L)`` batch-first, ``(L,)`` unbatched) standing for their one-hot rows of
        size input_size: the same maths, with the input term a row lookup instead of a matmul."""
        layout = "(N, L)" if self.batch_first else "(L, N)"
        if ids.ndim not in (1, 2) or 0 in ids.shape:
            raise ValueError(f"{where}: token ids have shape {ids.shape}; expected {layout} or unbatched (L,)")
        if ids.min() < 0 or ids.max() >= self.input_size:
            raise ValueError(f"{where}: token ids hold {int(ids.min())}..{int(ids.max())}; expected ids in "
                             f"[0, {self.input_size - 1}] (input_size={self.input_size})")
        if ids.ndim == 1:
            return ids[:, None], True
        return (ids.T if self.batch_first else ids), False

    def _check_state(self, where: str, name: str, value, shape: tuple, unbatched: bool) -> np.ndarray:
        if value is None:
            return np.zeros(shape, dtype=self.dtype)
        expected = shape[::2] if unbatched else shape
        layout = f"(D*num_layers, {'' if unbatched else 'N, '}H_out)"
        value = _checks.array(where, value, len(expected), dtype=self.dtype, name=name,
                              layout=f"{expected} {layout}")
        if value.shape != expected:
            raise ValueError(f"{where}: {name} has shape {value.shape}; expected {expected} {layout}")
        return value[:, None, :] if unbatched else value

    def _run(self, input: np.ndarray, states: tuple) -> tuple[np.ndarray, list[np.ndarray]]:
        """Run every layer and direction; ``states`` holds h0 (and c0) as given (None: zeros).

        Returns output and the final states ``[h_n (, c_n)]``, unbatched / batch-first as the input was."""
        where = self._where()
        dtype = self.dtype
        if isinstance(input, np.ndarray) and input.dtype.kind in "iu":
            x_tm, unbatched = self._token_ids(where, input)
        else:
            layout = "(N, L, H_in)" if self.batch_first else "(L, N, H_in)"
            x = _checks.array(where, input, (2, 3), last_dim=self.input_size, dtype=dtype,
                              layout=f"{layout} or unbatched (L, H_in) with H_in={self.input_size}, "
                                     "or integer token ids")
            unbatched = x.ndim == 2
            if unbatched:
                x_tm = x[:, None, :]
            else:
                x_tm = x.transpose(1, 0, 2) if self.batch_first else x
        L, N = x_tm.shape[0], x_tm.shape[1]
        H, D = self.hidden_size, self.num_directions
        state_shape = (D * self.num_layers, N, H)
        initial = [self._check_state(where, name, value, state_shape, unbatched)
                   for name, value in zip(self.state_names, states)]
        finals = [np.empty(state_shape, dtype=dtype) for _ in initial]

        dropping = self.training and self.dropout > 0
        order = self._loop_order()
        hidden_states, layer_inputs, masks, caches = [], [], [], []
        layer_input = x_tm
        for k, layer in enumerate(self._cells):
            if k > 0 and dropping:
                # inverted dropout on the previous layer's output, mask from the module's generator
                mask = (self._rng.random(layer_input.shape) >= self.dropout).astype(dtype)
                mask *= 1.0 / (1.0 - self.dropout)
                layer_input = layer_input * mask
                masks.append(mask)
            elif k > 0:
                masks.append(None)
            out = np.empty((L, N, D * H), dtype=dtype)
            layer_caches = []
            for d, (w_ih, w_hh, b_ih, b_hh) in enumerate(layer):
                index = k * D + d
                w_in, w_rec, bias, b_rec = self._loop_weights(order, w_ih.data, w_hh.data, *(
                    None if b is None else b.data for b in (b_ih, b_hh)))
                states, cache = self._cell_forward(
                    input_terms(w_in, bias, layer_input), w_rec, b_rec, [s[index].T for s in initial],
                    [f[index].T for f in finals], reverse=d == 1)
                out[:, :, d * H:(d + 1) * H] = states.transpose(0, 2, 1)
                layer_caches.append(cache)
            layer_inputs.append(layer_input)
            hidden_states.append(out)
            caches.append(layer_caches)
            layer_input = out

        out = layer_input
        if unbatched:
            out, finals = out[:, 0, :], [f[:, 0, :] for f in finals]
        elif self.batch_first:
            out = out.transpose(1, 0, 2)
        # plain attributes, straight into __dict__: Module.__setattr__'s bookkeeping would cost more than a step
        self.__dict__.update(hidden_states=hidden_states, _layer_inputs=layer_inputs, _dropout_masks=masks,
                             _caches=caches, _unbatched=unbatched, _initial=initial, h0=initial[0], input=input,
                             output=out, h_n=finals[0], _finals=finals)
        return out, finals

    # --- backward ------------------------------------------------------------------------------------------
    def _run_backward(self, grad_output: np.ndarray, grad_finals: tuple,
                      feature_major: bool = False) -> tuple[np.ndarray, list[np.ndarray]]:
        """Backprop through time; ``grad_finals`` are the gradients of the final states (None: zeros).
        Returns grad_x and the gradients of the initial states, shaped as they were given.

        ``feature_major``: ``grad_output`` is ``(L, D·H_out, N)`` (N = 1 unbatched), the layout the time loops
        read, which a readout can write directly (engine/sequence.py): it is then used, and completed, in place
        instead of copied."""
        where = self._where()
        if self.output is None:
            raise ValueError(f"{where}: backward called before forward; expected a forward pass first")
        dtype = self.dtype
        grad_output = np.asarray(grad_output)
        expected = self.hidden_states[-1].transpose(0, 2, 1).shape if feature_major else self.output.shape
        if grad_output.shape != expected:
            raise ValueError(f"{where}: grad_output has shape {grad_output.shape}; expected {expected} "
                             "(the shape of output)")
        carried = []
        for name, grad, final in zip(self.state_names, grad_finals, self._finals):
            if grad is not None:
                grad = np.asarray(grad)
                if grad.shape != final.shape:
                    final_name = name.replace("0", "_n")
                    raise ValueError(f"{where}: grad_{final_name} has shape {grad.shape}; expected {final.shape} "
                                     f"(the shape of {final_name})")
                grad = grad[:, None, :] if self._unbatched else grad
            carried.append(grad)
        if feature_major:
            pass
        elif self._unbatched:
            grad_output = grad_output[:, None, :]
        elif self.batch_first:
            grad_output = grad_output.transpose(1, 0, 2)

        H, D = self.hidden_size, self.num_directions
        grad_initial = [np.empty(s.shape, dtype=dtype) for s in self._initial]
        order = self._loop_order()
        recurrent_order = self._recurrent_order(order)
        grad_states = [None] * self.num_layers
        # dL/dh of the layer's output from above, time-major (L, N, D·H); each direction takes a feature-major
        # copy (L, H, N), which its cell completes with what each step sends back to the one before
        grad_h = grad_output
        for k in range(self.num_layers - 1, -1, -1):
            layer_input = self._layer_inputs[k]
            ids = SortedIds(layer_input, self.input_size) if layer_input.dtype.kind in "iu" else None
            states = self.hidden_states[k]
            grad_states[k] = []
            grad_input = None
            for d, (w_ih, w_hh, b_ih, b_hh) in enumerate(self._cells[k]):
                index = k * D + d
                cols = slice(d * H, (d + 1) * H)
                if feature_major and k == self.num_layers - 1:
                    grad_h_d = grad_h[:, cols]  # (L, H, N), each step's (H, N) contiguous
                else:
                    grad_h_d = grad_h[:, :, cols].transpose(0, 2, 1).astype(dtype, order="C")  # always a copy
                grad_states[k].append(grad_h_d)
                d_ih, d_hh, grads_start = self._cell_backward(
                    self._caches[k][d], grad_h_d, [None if g is None else g[index].T for g in carried],
                    rows(w_hh.data, recurrent_order), reverse=d == 1)
                for g, start in zip(grad_initial, grads_start):
                    g[index] = start.T
                h_d, h0_d = states[:, :, cols], self._initial[0][index]
                # h_{t−1} is the previous step in this direction's order, h0 at the first step
                if d == 0:
                    add_rows(w_hh.grad, recurrent_order, outer_sum(d_hh[:, 1:], h_d[:-1]) + d_hh[:, 0] @ h0_d)
                else:
                    add_rows(w_hh.grad, recurrent_order, outer_sum(d_hh[:, :-1], h_d[1:]) + d_hh[:, -1] @ h0_d)
                grad_w_ih = ids.scatter(d_ih) if ids else outer_sum(d_ih, layer_input)
                add_rows(w_ih.grad, order, grad_w_ih)
                if b_ih is not None:
                    # with ids each step adds its gradient to exactly one column of dW_ih: dW_ih's row sums are
                    # the bias gradient, a sum over V columns instead of L·N
                    grad_bias = row_sums(grad_w_ih if ids else d_ih)
                    add_rows(b_ih.grad, order, grad_bias)
                    add_rows(b_hh.grad, recurrent_order, grad_bias if d_hh is d_ih
                             else self._recurrent_bias_grad(d_hh, grad_bias))
                if ids or (k == 0 and not self.input_requires_grad):
                    continue  # data, not a layer's output: nobody reads its gradient (torch skips it too)
                # dx_t = d_ih,t W_ih for every step: (L·N, G·H) @ (G·H, H_in), rows in torch's layout
                contribution = np.dot(d_ih.reshape(d_ih.shape[0], -1).T, rows(w_ih.data, order))
                contribution = contribution.reshape(layer_input.shape)
                grad_input = contribution if grad_input is None else np.add(grad_input, contribution, out=grad_input)
            if k > 0:
                mask = self._dropout_masks[k - 1]
                if mask is not None:
                    grad_input *= mask
            grad_h = grad_input

        grad_x = grad_h
        if self._unbatched:
            self.__dict__.update(_grad_states=grad_states, grad_h0=grad_initial[0][:, 0, :])
            return None if grad_x is None else grad_x[:, 0, :], [g[:, 0, :] for g in grad_initial]
        self.__dict__.update(_grad_states=grad_states, grad_h0=grad_initial[0])
        if self.batch_first and grad_x is not None:
            grad_x = grad_x.transpose(1, 0, 2)
        return grad_x, grad_initial

    @property
    def grad_hidden_states(self) -> list[np.ndarray]:
        """Per layer, dLoss/dh_t ``(L, N, D·H_out)`` time-major, after a backward pass (see the class)."""
        return [per_layer(layer, None) for layer in self._grad_states]

    # --- the cell: subclasses ------------------------------------------------------------------------------
    state_names: tuple[str, ...] = ("h0",)

    def _loop_order(self) -> int | None:
        """The stacked gate blocks in the order the cell's time loop wants them: a rotation of torch's rows
        (engine/rnn_steps.py ``rows``), None for torch's order."""
        return None

    def _recurrent_order(self, order: int | None) -> int | None:
        """Rows of ``d_hh`` (and of the ``w_hh`` that ``_cell_backward`` gets): the loop's order but in the GRU."""
        return order

    def _recurrent_bias_grad(self, d_hh: np.ndarray, grad_bias: np.ndarray) -> np.ndarray:
        """db_hh = Σ d_hh, in ``_recurrent_order``, when ``d_hh`` is not ``d_ih`` (whose sums are ``grad_bias``)."""
        return row_sums(d_hh)

    def _loop_weights(self, order, w_ih, w_hh, b_ih, b_hh):
        """``(w_in (G·H, H_in), w_rec (G·H, H), bias (G·H,) or None, recurrent-only bias or None)`` as the time
        loop reads them (in ``_loop_order``, scaled as the cell wants): ``bias`` is added to the input terms.
        The Elman cell: b_ih + b_hh both outside the product."""
        bias = None if b_ih is None else rows(b_ih + b_hh, order)
        return rows(w_ih, order), rows(w_hh, order), bias, None

    def _cell_forward(self, x_terms, w_hh, b_hh, initial, finals, reverse):
        """Run one layer and direction, feature-major (engine/rnn_steps.py). ``x_terms`` (G·H, L, N),
        ``w_hh`` and ``b_hh`` from ``_loop_weights``; ``initial`` [h0 (, c0)] and ``finals`` (to fill with
        h_n (, c_n)) as (H, N) views. Returns the states (L, H, N) and what ``_cell_backward`` needs."""
        raise NotImplementedError

    def _cell_backward(self, cache, grad_h, grad_finals, w_hh, reverse):
        """``grad_h`` (L, H, N): dL/dh_t from above, to be completed in place with what each step sends back
        to the step before; ``w_hh`` (G·H, H) unscaled, in ``_recurrent_order``. Returns ``d_ih``, ``d_hh``
        (G·H, L, N), the gradients of the gate pre-activations, and [dL/dh0 (, dL/dc0)] (H, N)."""
        raise NotImplementedError

    # --- printing ------------------------------------------------------------------------------------------
    def extra_repr(self) -> str:
        text = self._where()
        return text[text.index("(") + 1:-1]

    def _where(self) -> str:
        return self._describe(self.input_size, self.hidden_size, self.num_layers, self.bias, self.batch_first,
                              self.dropout, self.bidirectional)

    def _describe(self, input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional) -> str:
        """The layer's name as torch prints it, e.g. ``RNN(4, 8, num_layers=2)``; non-defaults only."""
        parts = [repr(input_size), repr(hidden_size)]
        if num_layers != 1:
            parts.append(f"num_layers={num_layers!r}")
        if self.nonlinearity not in (None, "tanh"):
            parts.append(f"nonlinearity={self.nonlinearity!r}")
        if bias is not True:
            parts.append(f"bias={bias!r}")
        if batch_first is not False:
            parts.append(f"batch_first={batch_first!r}")
        if not (isinstance(dropout, numbers.Real) and dropout == 0):
            parts.append(f"dropout={dropout!r}")
        if bidirectional is not False:
            parts.append(f"bidirectional={bidirectional!r}")
        return f"{type(self).__name__}(" + ", ".join(parts) + ")"


def _flag(where: str, field: str, value) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise ValueError(f"{where}: {field} must be True or False, got {value!r}")
    return bool(value)


def per_layer(layer: list, item: int | None) -> np.ndarray:
    """One feature-major (L, H, N) array of every direction of a layer (``item`` of each direction's cache,
    or the arrays themselves if None), as torch lays out states: (L, N, D·H)."""
    parts = [(part if item is None else part[item]).transpose(0, 2, 1) for part in layer]
    return parts[0] if len(parts) == 1 else np.concatenate(parts, axis=2)


def dropout_note(dropout: float) -> str:
    """What torch warns when dropout is set on a single layer."""
    return f"dropout={dropout} has no effect with num_layers=1 (dropout is applied between layers, not after the last)"
