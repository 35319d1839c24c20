"""torch.nn.RNN: the Elman cell on RNNBase (engine/recurrent.py: layers, directions, dropout, BPTT).

The Elman cell (G = 1), for every step t:

    z_t = x_t W_ihᵀ + b_ih + h_{t−1} W_hhᵀ + b_hh          pre-activation      (N, H_out)
    h_t = tanh(z_t)   or   relu(z_t)                        hidden state        (N, H_out)
    dz_t = (dL/dh_t) ⊙ tanh'(z_t),   dL/dh_{t−1} += dz_t W_hh
"""

from __future__ import annotations

import numpy as np

from .parameter import DEFAULT_DTYPE
from .recurrent import RNNBase, per_layer
from .rnn_steps import time_steps


class RNN(RNNBase):
    """torch.nn.RNN: ``RNN(input_size, hidden_size, num_layers=1, nonlinearity="tanh", bias=True,
    batch_first=False, dropout=0.0, bidirectional=False, *, rng=None, dtype=float64)``.

    ``output, h_n = rnn(input, h0=None)``; ``grad_x, grad_h0 = rnn.backward(grad_output, grad_h_n=None)``
    (accumulating into every parameter's ``.grad``). Also kept for the views: ``pre_activations[k]``
    ``(L, N, D·H_out)``, time-major, beside ``hidden_states[k]``.
    """

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, nonlinearity: str = "tanh",
                 bias: bool = True, batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False,
                 *, rng=None, dtype=DEFAULT_DTYPE):
        super().__init__(input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional,
                         nonlinearity=nonlinearity, rng=rng, dtype=dtype)

    @property
    def pre_activations(self) -> list[np.ndarray]:
        return [per_layer(layer, 0) for layer in self._caches]

    def forward(self, input: np.ndarray, h0: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """input ``(L, N, H_in)`` (``(N, L, H_in)`` if batch_first) or unbatched ``(L, H_in)``; h0
        ``(D·num_layers, N, H_out)`` (``(D·num_layers, H_out)`` unbatched), zeros if None.
        Returns output ``(L, N, D·H_out)`` (batch-first likewise) and h_n like h0."""
        out, (h_n,) = self._run(input, (h0,))
        return out, h_n

    def backward(self, grad_output: np.ndarray, grad_h_n: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """``grad_x, grad_h0``: grad_output shaped like output, grad_h_n like h_n (zeros if None). grad_h0 is
        shaped like h0 (also when h0 was None: the gradient w.r.t. the zero state)."""
        grad_x, (grad_h0,) = self._run_backward(grad_output, (grad_h_n,))
        return grad_x, grad_h0

    def _cell_forward(self, x_terms, w_hh, b_hh, initial, finals, reverse):
        L, N = x_terms.shape[1:]
        H = w_hh.shape[1]
        z = np.empty((L, H, N), dtype=x_terms.dtype)  # pre-activations, kept for the views and backward
        states = np.empty_like(z)
        h = initial[0]
        tanh = self.nonlinearity == "tanh"
        for t in time_steps(L, reverse):
            z_t = np.dot(w_hh, h, out=z[t])
            z_t += x_terms[:, t]
            h = np.tanh(z_t, out=states[t]) if tanh else np.maximum(z_t, 0.0, out=states[t])
        finals[0][...] = h
        return states, (z, states)

    def _cell_backward(self, cache, grad_h, grad_finals, w_hh, reverse):
        z, states = cache
        if self.nonlinearity == "tanh":
            slope = np.multiply(states, states)  # tanh' = 1 − h², in place
            np.subtract(1.0, slope, out=slope)
        else:
            slope = states > 0
        L, H, N = states.shape
        dz = np.empty((H, L, N), dtype=states.dtype)
        dz_t = np.empty((H, N), dtype=states.dtype)  # contiguous scratch, copied into dz (see LSTM)
        w_hh_t = np.ascontiguousarray(w_hh.T)
        carry = grad_finals[0]
        for t in time_steps(L, reverse, backward=True):
            dh_t = grad_h[t]
            if carry is not None:
                dh_t += carry
            np.multiply(dh_t, slope[t], out=dz_t)
            carry = np.dot(w_hh_t, dz_t)
            dz[:, t] = dz_t
        return dz, dz, [carry]
