"""The long short-term memory network, as torch.nn.LSTM (without ``proj_size``).

Weights stack four gate blocks of H rows in torch's order i, f, g, o. For every step t:

    i = σ(W_ii x_t + b_ii + W_hi h_{t−1} + b_hi)        input gate
    f = σ(W_if x_t + b_if + W_hf h_{t−1} + b_hf)        forget gate
    g = tanh(W_ig x_t + b_ig + W_hg h_{t−1} + b_hg)     candidate cell
    o = σ(W_io x_t + b_io + W_ho h_{t−1} + b_ho)        output gate
    c_t = f ⊙ c_{t−1} + i ⊙ g          h_t = o ⊙ tanh(c_t)

Backward, with dh = dL/dh_t (from above plus step t+1) and dc = dL/dc_t (from step t+1):

    dc += dh ⊙ o ⊙ (1 − tanh²c_t)
    do = dh ⊙ tanh c_t ⊙ o(1−o)     di = dc ⊙ g ⊙ i(1−i)     df = dc ⊙ c_{t−1} ⊙ f(1−f)     dg = dc ⊙ i ⊙ (1−g²)
    dL/dc_{t−1} = dc ⊙ f            dL/dh_{t−1} += [di df dg do] W_hh

The cell state's path c_{t−1} → c_t is multiplied only by f: with f near 1 the gradient crosses many
steps without shrinking, which is why the LSTM learns what the Elman RNN forgets.

Inside the time loop the blocks are kept in the order o, i, f, g (the three sigmoids side by side, and the
three gates that read dc side by side), so each step is a few whole-array operations; σ(a) is computed as
½·tanh(a/2) + ½, one tanh over all four blocks.
"""

from __future__ import annotations

import numpy as np

from .parameter import DEFAULT_DTYPE
from .rnn import RNNBase, previous_steps, time_steps

# torch's blocks i, f, g, o → the loop's o, i, f, g
_LOOP_BLOCKS = np.array([3, 0, 1, 2])


class LSTM(RNNBase):
    """torch.nn.LSTM: ``LSTM(input_size, hidden_size, num_layers=1, bias=True, batch_first=False, dropout=0.0,
    bidirectional=False, *, rng=None, dtype=float64)``.

    ``output, (h_n, c_n) = lstm(input, (h0, c0))`` (hx=None: zeros); c_0 / c_n shaped as h_0 / h_n.
    ``grad_x, (grad_h0, grad_c0) = lstm.backward(grad_output, (grad_h_n, grad_c_n))`` (either may be None).
    Kept for the views besides ``hidden_states``: ``cell_states[k]`` ``(L, N, D·H_out)``, time-major.
    """

    gate_count = 4
    state_names = ("h0", "c0")

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False, *, rng=None,
                 dtype=DEFAULT_DTYPE):
        super().__init__(input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional,
                         rng=rng, dtype=dtype)

    def _loop_order(self) -> np.ndarray:
        H = self.hidden_size
        return (_LOOP_BLOCKS[:, None] * H + np.arange(H)).ravel()

    @property
    def cell_states(self) -> list[np.ndarray]:
        return [np.concatenate([cache[1] for cache in layer], axis=2) if len(layer) > 1 else layer[0][1]
                for layer in self._caches]

    def forward(self, input: np.ndarray, hx: tuple | None = None):
        """input as RNN's; hx = (h0, c0), each ``(D·num_layers, N, H_out)``, or None for zeros.
        Returns output ``(L, N, D·H_out)`` and ``(h_n, c_n)``."""
        if hx is not None and not (isinstance(hx, tuple) and len(hx) == 2):
            raise ValueError(f"{self._where()}: hx must be a pair (h0, c0) or None, got {type(hx).__name__}")
        out, (h_n, c_n) = self._run(input, hx or (None, None))
        return out, (h_n, c_n)

    def backward(self, grad_output: np.ndarray, grad_hx: tuple | None = None):
        """``grad_x, (grad_h0, grad_c0)``; grad_hx = (grad_h_n, grad_c_n), either None for zeros."""
        grad_x, (grad_h0, grad_c0) = self._run_backward(grad_output, grad_hx or (None, None))
        return grad_x, (grad_h0, grad_c0)

    def _cell_forward(self, x_terms, w_hh, b_hh, initial, states, finals, reverse):
        L, N, H = states.shape
        # gates in the loop's order o, i, f, g; the sigmoid blocks pre-scaled by ½ for σ(a) = ½ tanh(a/2) + ½
        pre = x_terms
        if b_hh is not None:
            pre += b_hh
        pre[:, :, :3 * H] *= 0.5
        w_hh_t = w_hh.T.copy()  # (H, 4H)
        w_hh_t[:, :3 * H] *= 0.5
        gates = pre.reshape(L, N, 4, H)  # becomes the activations o, i, f, g in place
        cells = np.empty((L, N, H), dtype=x_terms.dtype)
        tanh_cells = np.empty_like(cells)
        h, c = initial
        for t in time_steps(L, reverse):
            a = pre[t]
            a += h @ w_hh_t
            np.tanh(a, out=a)
            sig = a[:, :3 * H]
            sig *= 0.5
            sig += 0.5
            g4 = gates[t]
            c = np.multiply(g4[:, 2], c, out=cells[t])
            c += g4[:, 1] * g4[:, 3]
            h = np.multiply(g4[:, 0], np.tanh(c, out=tanh_cells[t]), out=states[t])
        finals[0][...] = h
        finals[1][...] = c
        return gates, cells, tanh_cells, initial[1]

    def _cell_backward(self, cache, grad_h, grad_finals, w_hh, reverse):
        gates, cells, tanh_cells, c0 = cache
        L, N, H = cells.shape
        o, i, f, g = gates[:, :, 0], gates[:, :, 1], gates[:, :, 2], gates[:, :, 3]
        previous_cells = previous_steps(cells, c0, reverse)
        # the parts of each gate's derivative that do not depend on the incoming gradient, for all steps at once
        o_factor = tanh_cells * o * (1.0 - o)                       # do = dh ⊙ o_factor
        c_factor = o * (1.0 - tanh_cells * tanh_cells)              # dc += dh ⊙ c_factor
        ifg_factor = np.empty((L, N, 3, H), dtype=cells.dtype)      # [di df dg] = dc ⊙ ifg_factor
        ifg_factor[:, :, 0] = g * i * (1.0 - i)
        ifg_factor[:, :, 1] = previous_cells * f * (1.0 - f)
        ifg_factor[:, :, 2] = i * (1.0 - g * g)
        grad_gates = np.empty((L, N, 4, H), dtype=cells.dtype)
        carry, carry_c = grad_finals
        for t in time_steps(L, reverse, backward=True):
            dh = grad_h[t]
            if carry is not None:
                dh += carry
            d4 = grad_gates[t]
            np.multiply(dh, o_factor[t], out=d4[:, 0])
            dc = dh * c_factor[t]
            if carry_c is not None:
                dc += carry_c
            np.multiply(dc[:, None, :], ifg_factor[t], out=d4[:, 1:])
            carry_c = dc * f[t]
            carry = d4.reshape(N, 4 * H) @ w_hh
        grad_pre = grad_gates.reshape(L, N, 4 * H)
        return grad_pre, grad_pre, [carry, carry_c]
