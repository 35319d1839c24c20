"""The gated recurrent unit, as torch.nn.GRU.

Weights stack three gate blocks of H rows in torch's order r, z, n. For every step t:

    r = σ(W_ir x_t + b_ir + W_hr h_{t−1} + b_hr)             reset gate
    z = σ(W_iz x_t + b_iz + W_hz h_{t−1} + b_hz)             update gate
    n = tanh(W_in x_t + b_in + r ⊙ (W_hn h_{t−1} + b_hn))    candidate state
    h_t = (1 − z) ⊙ n + z ⊙ h_{t−1}

Backward, with dh = dL/dh_t (from above plus step t+1) and hn = W_hn h_{t−1} + b_hn:

    dz = dh ⊙ (h_{t−1} − n) ⊙ z(1−z)     dn = dh ⊙ (1 − z) ⊙ (1 − n²)     dr = dn ⊙ hn ⊙ r(1−r)
    input side  [dr dz dn]          recurrent side  [dr dz dn ⊙ r]
    dL/dh_{t−1} += dh ⊙ z + [dr dz dn ⊙ r] W_hh

The GRU's recurrent side differs from its input side in the n block (r multiplies the recurrent term only),
so it is the one cell whose ``d_hh`` is not its ``d_ih``. σ(a) is computed as ½·tanh(a/2) + ½.
"""

from __future__ import annotations

import numpy as np

from .parameter import DEFAULT_DTYPE
from .rnn import RNNBase, previous_steps, time_steps


class GRU(RNNBase):
    """torch.nn.GRU: ``GRU(input_size, hidden_size, num_layers=1, bias=True, batch_first=False, dropout=0.0,
    bidirectional=False, *, rng=None, dtype=float64)``.

    ``output, h_n = gru(input, h0=None)``; ``grad_x, grad_h0 = gru.backward(grad_output, grad_h_n=None)``.
    """

    gate_count = 3

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False, *, rng=None,
                 dtype=DEFAULT_DTYPE):
        super().__init__(input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional,
                         rng=rng, dtype=dtype)

    def forward(self, input: np.ndarray, h0: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """As RNN.forward: output ``(L, N, D·H_out)`` and h_n ``(D·num_layers, N, H_out)``."""
        out, (h_n,) = self._run(input, (h0,))
        return out, h_n

    def backward(self, grad_output: np.ndarray, grad_h_n: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """As RNN.backward: ``grad_x, grad_h0``."""
        grad_x, (grad_h0,) = self._run_backward(grad_output, (grad_h_n,))
        return grad_x, grad_h0

    def _cell_forward(self, x_terms, w_hh, b_hh, initial, states, finals, reverse):
        L, N, H = states.shape
        rz = x_terms[:, :, :2 * H]
        if b_hh is not None:
            rz += b_hh[:2 * H]  # b_hr, b_hz add like the input biases; b_hn sits inside r ⊙ (…)
        rz *= 0.5  # σ(a) = ½ tanh(a/2) + ½
        w_hh_t = w_hh.T.copy()  # (H, 3H)
        w_hh_t[:, :2 * H] *= 0.5
        b_hn = None if b_hh is None else b_hh[2 * H:]
        recurrent_n = np.empty_like(states)  # hn_t = W_hn h_{t−1} + b_hn, kept for backward
        h = initial[0]
        for t in time_steps(L, reverse):
            a = x_terms[t]
            recurrent = h @ w_hh_t
            hn = recurrent_n[t]
            if b_hn is None:
                hn[...] = recurrent[:, 2 * H:]
            else:
                np.add(recurrent[:, 2 * H:], b_hn, out=hn)
            gates = a[:, :2 * H]
            gates += recurrent[:, :2 * H]
            np.tanh(gates, out=gates)
            gates *= 0.5
            gates += 0.5
            n = a[:, 2 * H:]
            n += a[:, :H] * hn
            np.tanh(n, out=n)
            step = h - n
            step *= a[:, H:2 * H]
            h = np.add(n, step, out=states[t])
        finals[0][...] = h
        return x_terms.reshape(L, N, 3, H), recurrent_n, states, initial[0]

    def _cell_backward(self, cache, grad_h, grad_finals, w_hh, reverse):
        gates, recurrent_n, states, h0 = cache
        L, N, H = states.shape
        r, z, n = gates[:, :, 0], gates[:, :, 1], gates[:, :, 2]
        previous = previous_steps(states, h0, reverse)
        z_factor = (previous - n) * z * (1.0 - z)      # dz = dh ⊙ z_factor
        n_factor = (1.0 - z) * (1.0 - n * n)           # dn = dh ⊙ n_factor
        r_factor = recurrent_n * r * (1.0 - r)         # dr = dn ⊙ r_factor
        grad_recurrent = np.empty((L, N, 3, H), dtype=states.dtype)
        grad_n = np.empty((L, N, H), dtype=states.dtype)
        carry = grad_finals[0]
        for t in time_steps(L, reverse, backward=True):
            dh = grad_h[t]
            if carry is not None:
                dh += carry
            d3 = grad_recurrent[t]
            np.multiply(dh, z_factor[t], out=d3[:, 1])
            dn = np.multiply(dh, n_factor[t], out=grad_n[t])
            np.multiply(dn, r_factor[t], out=d3[:, 0])
            np.multiply(dn, r[t], out=d3[:, 2])
            carry = d3.reshape(N, 3 * H) @ w_hh
            carry += dh * z[t]
        grad_input_side = grad_recurrent.copy()
        grad_input_side[:, :, 2] = grad_n
        return grad_input_side.reshape(L, N, 3 * H), grad_recurrent.reshape(L, N, 3 * H), [carry]
