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
three gates that read dc side by side), feature-major (engine/rnn_steps.py), so each step is a few
whole-array operations on contiguous blocks; σ(a) is computed as ½·tanh(a/2) + ½, one tanh over all four
blocks, with the ½ inside folded into the weights and biases the loop reads.
"""

from __future__ import annotations

import numpy as np

from .parameter import DEFAULT_DTYPE
from .recurrent import RNNBase, per_layer
from .rnn_steps import rows, time_steps, with_previous


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

    def _loop_order(self) -> int:
        return 3 * self.hidden_size  # torch's blocks i, f, g, o rotated to the loop's o, i, f, g

    @property
    def cell_states(self) -> list[np.ndarray]:
        return [per_layer(layer, 1) for layer in self._caches]

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

    def _loop_weights(self, order, w_ih, w_hh, b_ih, b_hh):
        # blocks o, i, f, g; the sigmoid blocks' rows pre-scaled by ½ for σ(a) = ½ tanh(a/2) + ½
        sigmoid_rows = slice(0, 3 * self.hidden_size)
        w_in, w_rec = rows(w_ih, order), rows(w_hh, order)  # fresh copies, scaled in place
        w_in[sigmoid_rows] *= 0.5
        w_rec[sigmoid_rows] *= 0.5
        bias = None
        if b_ih is not None:
            bias = rows(b_ih + b_hh, order)
            bias[sigmoid_rows] *= 0.5
        return w_in, w_rec, bias, None

    def _cell_forward(self, x_terms, w_hh, b_hh, initial, finals, reverse):
        L, N = x_terms.shape[1:]
        H = w_hh.shape[1]
        dtype = x_terms.dtype
        gates = np.empty((L, 4 * H, N), dtype=dtype)  # the activations o, i, f, g of every step
        cells = np.empty((L, H, N), dtype=dtype)
        tanh_cells = np.empty_like(cells)
        states = np.empty_like(cells)
        inputs = np.empty_like(cells)  # i ⊙ g, what each step writes to its cell; backward reuses it
        h, c = initial
        dot, tanh, multiply = np.dot, np.tanh, np.multiply
        for t in time_steps(L, reverse):
            a = dot(w_hh, h, out=gates[t])
            a += x_terms[:, t]
            tanh(a, out=a)
            sig = a[:3 * H]
            sig *= 0.5
            sig += 0.5
            c = multiply(a[2 * H:3 * H], c, out=cells[t])
            c += multiply(a[H:2 * H], a[3 * H:], out=inputs[t])
            h = multiply(a[:H], tanh(c, out=tanh_cells[t]), out=states[t])
        finals[0][...] = h
        finals[1][...] = c
        return states, (states, cells, gates, tanh_cells, inputs, initial[1])

    def _cell_backward(self, cache, grad_h, grad_finals, w_hh, reverse):
        states, cells, gates, tanh_cells, inputs, c0 = cache
        L, H, N = cells.shape
        dtype = cells.dtype
        o, i, f, g = gates[:, :H], gates[:, H:2 * H], gates[:, 2 * H:3 * H], gates[:, 3 * H:]
        # the parts of each derivative that do not depend on the incoming gradient, for all steps at once, in
        # place (each pass over (L, H, N) counts: these arrays outgrow the cache), rewritten with h = o ⊙ tanh c
        # and i ⊙ g (kept by forward) to save passes:
        #   dc += dh ⊙ o(1 − tanh²c) = dh ⊙ (o − h ⊙ tanh c)        do = dh ⊙ o(1−o) tanh c = dh ⊙ (1−o) ⊙ h
        #   di = dc ⊙ i(1−i) g = dc ⊙ (1−i) ⊙ ig    df = dc ⊙ f(1−f) c_{t−1}    dg = dc ⊙ i(1−g²) = dc ⊙ (i − ig ⊙ g)
        # dh's two factors, then dc's three, each a contiguous (L, H, N)
        c_factor, o_factor, i_factor, f_factor, g_factor = np.empty((5, L, H, N), dtype=dtype)
        np.multiply(states, tanh_cells, out=c_factor)
        np.subtract(o, c_factor, out=c_factor)
        np.subtract(1.0, o, out=o_factor)
        o_factor *= states
        np.subtract(1.0, i, out=i_factor)
        i_factor *= inputs
        np.multiply(inputs, g, out=g_factor)
        np.subtract(i, g_factor, out=g_factor)
        np.subtract(1.0, f, out=f_factor)
        f_factor *= f
        with_previous(np.multiply, cells, c0, f_factor, reverse, out=f_factor)  # ⊙ c_{t−1}
        grad_gates = np.empty((4 * H, L, N), dtype=dtype)
        # each step's [dc do di df dg] in one contiguous scratch, [do di df dg] its last 4·H rows: the product
        # reads them faster, and one strided copy into grad_gates costs less than writing there piece by piece
        scratch = np.empty((5, H, N), dtype=dtype)
        dc, do, di, df, dg = scratch
        d4 = scratch[1:].reshape(4 * H, N)
        carry_buffer, carry_c_buffer = np.empty((H, N), dtype=dtype), np.empty((H, N), dtype=dtype)
        w_hh_t = np.ascontiguousarray(w_hh.T)
        dot, multiply = np.dot, np.multiply
        carry, carry_c = grad_finals
        for t in time_steps(L, reverse, backward=True):
            dh = grad_h[t]
            if carry is not None:
                dh += carry
            # separate products: a broadcast over the blocks is slower than the calls it saves
            multiply(dh, c_factor[t], out=dc)
            multiply(dh, o_factor[t], out=do)
            if carry_c is not None:
                dc += carry_c
            multiply(dc, i_factor[t], out=di)
            multiply(dc, f_factor[t], out=df)
            multiply(dc, g_factor[t], out=dg)
            carry_c = multiply(dc, f[t], out=carry_c_buffer)
            carry = dot(w_hh_t, d4, out=carry_buffer)
            grad_gates[:, t] = d4
        return grad_gates, grad_gates, [carry, carry_c]
