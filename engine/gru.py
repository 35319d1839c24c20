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
so it is the one cell whose ``d_hh`` is not its ``d_ih``. σ(a) is computed as ½·tanh(a/2) + ½, the ½ inside
folded into the weights and biases the loop reads; the loop works feature-major (engine/rnn_steps.py).
"""

from __future__ import annotations

import numpy as np

from .parameter import DEFAULT_DTYPE
from .recurrent import RNNBase
from .rnn_steps import row_sums, time_steps, with_previous


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

    def _loop_weights(self, order, w_ih, w_hh, b_ih, b_hh):
        # the r, z rows pre-scaled by ½ for σ(a) = ½ tanh(a/2) + ½; b_hr, b_hz add like the input biases,
        # b_hn sits inside r ⊙ (…) and stays with the recurrent term
        H = self.hidden_size
        w_in, w_rec = w_ih.copy(), w_hh.copy()
        w_in[:2 * H] *= 0.5
        w_rec[:2 * H] *= 0.5
        if b_ih is None:
            return w_in, w_rec, None, None
        bias = b_ih.copy()
        bias[:2 * H] += b_hh[:2 * H]
        bias[:2 * H] *= 0.5
        return w_in, w_rec, bias, b_hh[2 * H:, None]

    def _cell_forward(self, x_terms, w_hh, b_hh, initial, finals, reverse):
        L, N = x_terms.shape[1:]
        H = w_hh.shape[1]
        dtype = x_terms.dtype
        gates = np.empty((L, 3 * H, N), dtype=dtype)  # r, z, n of every step
        recurrent_n = np.empty((L, H, N), dtype=dtype)  # hn_t = W_hn h_{t−1} + b_hn, kept for backward
        states = np.empty_like(recurrent_n)
        h = initial[0]
        if b_hh is not None:
            b_hh = np.repeat(b_hh, N, axis=1)  # (H, N): a contiguous addition, not a broadcast along short rows
        step = np.empty((H, N), dtype=dtype)
        dot, tanh, multiply = np.dot, np.tanh, np.multiply
        for t in time_steps(L, reverse):
            a = dot(w_hh, h, out=gates[t])
            hn = recurrent_n[t]
            if b_hh is None:
                hn[...] = a[2 * H:]
            else:
                np.add(a[2 * H:], b_hh, out=hn)
            x_t = x_terms[:, t]
            rz = a[:2 * H]
            rz += x_t[:2 * H]
            tanh(rz, out=rz)
            rz *= 0.5
            rz += 0.5
            n = multiply(a[:H], hn, out=a[2 * H:])
            n += x_t[2 * H:]
            tanh(n, out=n)
            np.subtract(h, n, out=step)
            step *= a[H:2 * H]
            h = np.add(n, step, out=states[t])
        finals[0][...] = h
        return states, (gates, recurrent_n, states, initial[0])

    def _recurrent_order(self, order):
        # d_hh's rows n, r, z (torch's r, z, n rotated): [dn ⊙ r  dr  dz] sits just before [dr dz dn] in one array
        # (see _cell_backward)
        return 2 * self.hidden_size

    def _recurrent_bias_grad(self, d_hh, grad_bias):
        # rows n, r, z: the r and z rows are the input side's
        H = self.hidden_size
        return np.concatenate((row_sums(d_hh[:H]), grad_bias[:2 * H]))

    def _cell_backward(self, cache, grad_h, grad_finals, w_hh, reverse):
        gates, recurrent_n, states, h0 = cache
        L, H, N = states.shape
        dtype = states.dtype
        r, z, n = gates[:, :H], gates[:, H:2 * H], gates[:, 2 * H:]
        # for all steps at once, in place (each pass over (L, H, N) counts: these arrays outgrow the cache)
        z_factor = with_previous(np.subtract, states, h0, n, reverse, out=np.empty_like(states))  # h_{t−1} − n
        z_factor *= z
        one_minus_z = np.subtract(1.0, z)
        z_factor *= one_minus_z                                 # dz = dh ⊙ z_factor
        n_factor = np.multiply(n, n)                            # dn = dh ⊙ n_factor
        np.subtract(1.0, n_factor, out=n_factor)
        n_factor *= one_minus_z
        r_factor = np.subtract(1.0, r)                          # dr = dn ⊙ r_factor
        r_factor *= r
        r_factor *= recurrent_n
        # each step's [dn⊙r dr dz dn] in one contiguous scratch, copied into one (4·H, L, N) array (see LSTM):
        # its first 3·H rows are the recurrent side [dn⊙r dr dz] (rows n, r, z: _recurrent_order), its last
        # 3·H the input side [dr dz dn] (torch's rows), so neither is copied out of the other
        grads = np.empty((4 * H, L, N), dtype=dtype)
        d4 = np.empty((4 * H, N), dtype=dtype)
        dn_r, dr, dz, dn = d4.reshape(4, H, N)
        d_recurrent = d4[:3 * H]
        carry_buffer, through_z = np.empty((H, N), dtype=dtype), np.empty((H, N), dtype=dtype)
        w_hh_t = np.ascontiguousarray(w_hh.T)  # columns n, r, z
        dot, multiply = np.dot, np.multiply
        carry = grad_finals[0]
        for t in time_steps(L, reverse, backward=True):
            dh = grad_h[t]
            if carry is not None:
                dh += carry
            multiply(dh, z_factor[t], out=dz)
            multiply(dh, n_factor[t], out=dn)
            multiply(dn, r_factor[t], out=dr)
            multiply(dn, r[t], out=dn_r)
            carry = dot(w_hh_t, d_recurrent, out=carry_buffer)
            carry += multiply(dh, z[t], out=through_z)
            grads[:, t] = d4
        return grads[H:], grads[:3 * H], [carry]
