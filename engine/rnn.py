"""The Elman RNN, as torch.nn.RNN, with full backpropagation through time.

Per layer k and direction d, for every time step t (reversed for the backward direction):

    z_t = x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh          pre-activation      (N, H_out)
    h_t = tanh(z_t)   or   relu(z_t)                          hidden state        (N, H_out)

The input term x_t W_ih^T of every step is one matmul per layer and direction; only the
recurrent term needs the time loop. Layer k > 0 reads the concatenated states of both
directions of layer k-1, through dropout in training mode. Backward walks the same steps in
reverse, carrying dLoss/dh_{t-1} = dz_t W_hh.
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

NONLINEARITIES = ("tanh", "relu")


class RNN(Module):
    """torch.nn.RNN: a stack of ``num_layers`` Elman layers, optionally bidirectional (D = 2).

    Shapes (L: sequence length, N: batch, D: 2 if bidirectional else 1):
    input ``(L, N, H_in)`` (``(N, L, H_in)`` with ``batch_first``, or unbatched ``(L, H_in)``);
    ``h0`` / ``h_n`` ``(D·num_layers, N, H_out)`` — never batch-first, as torch — index
    ``layer·D + direction``; output ``(L, N, D·H_out)`` (batch-first likewise).

    Parameters, registered in torch's order: ``weight_ih_l{k}`` ``(H_out, H_in or D·H_out)``,
    ``weight_hh_l{k}`` ``(H_out, H_out)``, ``bias_ih_l{k}``, ``bias_hh_l{k}`` ``(H_out,)``,
    with ``_reverse`` for the backward direction; all drawn from U(±1/√H_out), as torch.

    After a forward pass, for the views (references, no copies): ``input``, ``output``, ``h_n``,
    ``h0`` ``(D·num_layers, N, H_out)``, and per layer ``hidden_states[k]`` and
    ``pre_activations[k]``, both time-major ``(L, N, D·H_out)`` whatever ``batch_first`` is.
    """

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, nonlinearity: str = "tanh",
                 bias: bool = True, batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False,
                 *, rng=None, dtype=DEFAULT_DTYPE):
        super().__init__()
        where = _describe(input_size, hidden_size, num_layers, nonlinearity, bias, batch_first, dropout,
                          bidirectional)
        self.input_size = _checks.positive_int(where, "input_size", input_size)
        self.hidden_size = _checks.positive_int(where, "hidden_size", hidden_size)
        self.num_layers = _checks.positive_int(where, "num_layers", num_layers)
        if nonlinearity not in NONLINEARITIES:
            raise ValueError(f"{where}: nonlinearity must be one of {list(NONLINEARITIES)}, got {nonlinearity!r}")
        self.nonlinearity = nonlinearity
        self.bias = _flag(where, "bias", bias)
        self.batch_first = _flag(where, "batch_first", batch_first)
        self.bidirectional = _flag(where, "bidirectional", bidirectional)
        self.dropout = _checks.probability(where, "dropout", dropout)
        if self.dropout > 0 and self.num_layers == 1:
            # torch warns too: dropout only ever acts between layers.
            warnings.warn(f"{where}: dropout={self.dropout} has no effect with num_layers=1 "
                          "(dropout is applied between layers, not after the last)", UserWarning, stacklevel=2)
        dtype = check_dtype(dtype, where)
        self._rng = resolve_rng(rng)
        self.num_directions = 2 if self.bidirectional else 1

        # _cells[k][d] = (weight_ih, weight_hh, bias_ih, bias_hh); the same Parameter objects as
        # the registered attributes (to() and flat buffers rebind .data, never the Parameter).
        H, D = self.hidden_size, self.num_directions
        bound = 1.0 / math.sqrt(H)
        self._cells: list[list[tuple]] = []
        for k in range(self.num_layers):
            layer = []
            for d in range(D):
                suffix = f"_l{k}" + ("_reverse" if d == 1 else "")
                fan_in = self.input_size if k == 0 else D * H
                shapes = [("weight_ih", (H, fan_in)), ("weight_hh", (H, H))]
                if self.bias:
                    shapes += [("bias_ih", (H,)), ("bias_hh", (H,))]
                cell = [None, None, None, None]
                for i, (name, shape) in enumerate(shapes):
                    cell[i] = Parameter(self._rng.uniform(-bound, bound, size=shape).astype(dtype))
                    setattr(self, name + suffix, cell[i])
                layer.append(tuple(cell))
            self._cells.append(layer)

        self.input = self.output = self.h0 = self.h_n = None
        self.hidden_states: list[np.ndarray] = []
        self.pre_activations: list[np.ndarray] = []
        self._layer_inputs: list[np.ndarray] = []
        self._dropout_masks: list[np.ndarray | None] = []
        self._unbatched = False

    # --- forward -------------------------------------------------------------------------------
    def forward(self, input: np.ndarray, h0: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """``output, h_n = rnn(input, h0=None)``.

        input ``(L, N, H_in)`` (``(N, L, H_in)`` if batch_first) or unbatched ``(L, H_in)``;
        h0 ``(D·num_layers, N, H_out)`` (``(D·num_layers, H_out)`` unbatched), zeros if None.
        Returns output ``(L, N, D·H_out)`` (batch-first likewise) and h_n like h0.
        """
        where = self._where()
        dtype = self.dtype
        layout = "(N, L, H_in)" if self.batch_first else "(L, N, H_in)"
        x = _checks.array(where, input, (2, 3), last_dim=self.input_size, dtype=dtype,
                          layout=f"{layout} or unbatched (L, H_in) with H_in={self.input_size}")
        unbatched = x.ndim == 2
        if unbatched:
            x_tm = x[:, None, :]
        else:
            x_tm = x.transpose(1, 0, 2) if self.batch_first else x
        L, N = x_tm.shape[0], x_tm.shape[1]
        H, D = self.hidden_size, self.num_directions
        state_shape = (D * self.num_layers, N, H)
        if h0 is None:
            h0_full = np.zeros(state_shape, dtype=dtype)
        else:
            expected = state_shape[::2] if unbatched else state_shape
            h0 = _checks.array(where, h0, len(expected), dtype=dtype, name="h0",
                               layout=f"{expected} (D*num_layers, {'' if unbatched else 'N, '}H_out)")
            if h0.shape != expected:
                raise ValueError(f"{where}: h0 has shape {h0.shape}; expected {expected} "
                                 f"(D*num_layers, {'' if unbatched else 'N, '}H_out)")
            h0_full = h0[:, None, :] if unbatched else h0

        dropping = self.training and self.dropout > 0
        h_n = np.empty(state_shape, dtype=dtype)
        hidden_states, pre_activations, layer_inputs, masks = [], [], [], []
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
            z = np.empty((L, N, D * H), dtype=dtype)
            states = np.empty_like(z)
            for d, (w_ih, w_hh, b_ih, b_hh) in enumerate(layer):
                cols = slice(d * H, (d + 1) * H)
                z_d, states_d = z[:, :, cols], states[:, :, cols]
                np.matmul(layer_input, w_ih.data.T, out=z_d)  # every step's input term at once
                if b_ih is not None:
                    z_d += b_ih.data + b_hh.data
                self._recur(z_d, states_d, w_hh.data.T, h0_full[k * D + d], reverse=d == 1)
                h_n[k * D + d] = states_d[0 if d == 1 else L - 1]
            layer_inputs.append(layer_input)
            pre_activations.append(z)
            hidden_states.append(states)
            layer_input = states

        self.hidden_states, self.pre_activations = hidden_states, pre_activations
        self._layer_inputs, self._dropout_masks = layer_inputs, masks
        self._unbatched = unbatched
        self.h0 = h0_full
        out = layer_input
        if unbatched:
            out, h_n = out[:, 0, :], h_n[:, 0, :]
        elif self.batch_first:
            out = out.transpose(1, 0, 2)
        self.input, self.output, self.h_n = input, out, h_n
        return out, h_n

    def _recur(self, z: np.ndarray, states: np.ndarray, w_hh_t: np.ndarray, h: np.ndarray, reverse: bool) -> None:
        """Fill ``states`` (L, N, H) in time order; ``z`` holds the input terms and becomes the pre-activations."""
        steps = range(z.shape[0] - 1, -1, -1) if reverse else range(z.shape[0])
        tanh = self.nonlinearity == "tanh"
        for t in steps:
            z_t = z[t]
            z_t += h @ w_hh_t
            h = np.tanh(z_t, out=states[t]) if tanh else np.maximum(z_t, 0.0, out=states[t])

    # --- backward ------------------------------------------------------------------------------
    def backward(self, grad_output: np.ndarray, grad_h_n: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """``grad_x, grad_h0 = rnn.backward(grad_output, grad_h_n=None)``: backprop through time.

        grad_output is shaped like ``output``, grad_h_n like ``h_n`` (zeros if None). Accumulates
        into every parameter's ``.grad`` in place. Returns grad_x shaped like the input and
        grad_h0 shaped like h0 (also when h0 was None: the gradient w.r.t. the zero state).
        """
        where = self._where()
        if self.output is None:
            raise ValueError(f"{where}: backward called before forward; expected rnn(x) first")
        dtype = self.dtype
        grad_output = np.asarray(grad_output)
        if grad_output.shape != self.output.shape:
            raise ValueError(f"{where}: grad_output has shape {grad_output.shape}; expected {self.output.shape} "
                             "(the shape of output)")
        if grad_h_n is not None:
            grad_h_n = np.asarray(grad_h_n)
            if grad_h_n.shape != self.h_n.shape:
                raise ValueError(f"{where}: grad_h_n has shape {grad_h_n.shape}; expected {self.h_n.shape} "
                                 "(the shape of h_n)")
            if self._unbatched:
                grad_h_n = grad_h_n[:, None, :]
        if self._unbatched:
            grad_output = grad_output[:, None, :]
        elif self.batch_first:
            grad_output = grad_output.transpose(1, 0, 2)

        H, D = self.hidden_size, self.num_directions
        grad_h0 = np.empty(self.h0.shape, dtype=dtype)
        # dZ starts as dLoss/dh from above and, step by step, becomes dLoss/dz (a fresh buffer)
        grad_z = np.array(grad_output, dtype=dtype, order="C")
        for k in range(self.num_layers - 1, -1, -1):
            states, layer_input = self.hidden_states[k], self._layer_inputs[k]
            L = states.shape[0]
            if self.nonlinearity == "tanh":
                slope = 1.0 - states * states
            else:
                slope = states > 0
            grad_input = None
            for d, (w_ih, w_hh, b_ih, b_hh) in enumerate(self._cells[k]):
                cols = slice(d * H, (d + 1) * H)
                dz, h_d, slope_d = grad_z[:, :, cols], states[:, :, cols], slope[:, :, cols]
                h0_d = self.h0[k * D + d]
                carry = None if grad_h_n is None else grad_h_n[k * D + d]
                steps = range(L) if d == 1 else range(L - 1, -1, -1)
                for t in steps:
                    dz_t = dz[t]
                    if carry is not None:
                        dz_t += carry
                    dz_t *= slope_d[t]
                    carry = dz_t @ w_hh.data
                grad_h0[k * D + d] = carry
                # h_{t-1} is the previous step in this direction's order, h0 at the first step
                if d == 0:
                    w_hh.grad += _outer_sum(dz[1:], h_d[:-1]) + dz[0].T @ h0_d
                else:
                    w_hh.grad += _outer_sum(dz[:-1], h_d[1:]) + dz[L - 1].T @ h0_d
                w_ih.grad += _outer_sum(dz, layer_input)
                if b_ih is not None:
                    grad_bias = dz.sum(axis=(0, 1))
                    b_ih.grad += grad_bias
                    b_hh.grad += grad_bias
                contribution = dz @ w_ih.data
                grad_input = contribution if grad_input is None else np.add(grad_input, contribution, out=grad_input)
            if k > 0:
                mask = self._dropout_masks[k - 1]
                if mask is not None:
                    grad_input *= mask
            grad_z = grad_input

        grad_x = grad_z
        if self._unbatched:
            return grad_x[:, 0, :], grad_h0[:, 0, :]
        if self.batch_first:
            grad_x = grad_x.transpose(1, 0, 2)
        return grad_x, grad_h0

    # --- printing ------------------------------------------------------------------------------
    def extra_repr(self) -> str:
        return _describe(self.input_size, self.hidden_size, self.num_layers, self.nonlinearity, self.bias,
                         self.batch_first, self.dropout, self.bidirectional)[len("RNN("):-1]

    def _where(self) -> str:
        return f"RNN({self.extra_repr()})"


def _outer_sum(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Σ over time and batch of a_tᵀ b_t: ``(L, N, P), (L, N, Q) -> (P, Q)``."""
    # merging (L, N) is a view even for one direction's columns of a bidirectional state
    return a.reshape(-1, a.shape[-1]).T @ b.reshape(-1, b.shape[-1])


def _flag(where: str, field: str, value) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise ValueError(f"{where}: {field} must be True or False, got {value!r}")
    return bool(value)


def _describe(input_size, hidden_size, num_layers, nonlinearity, bias, batch_first, dropout, bidirectional) -> str:
    """The layer's name as torch prints it, e.g. ``RNN(4, 8, num_layers=2)``; non-defaults only."""
    parts = [repr(input_size), repr(hidden_size)]
    if num_layers != 1:
        parts.append(f"num_layers={num_layers!r}")
    if nonlinearity != "tanh":
        parts.append(f"nonlinearity={nonlinearity!r}")
    if bias is not True:
        parts.append(f"bias={bias!r}")
    if batch_first is not False:
        parts.append(f"batch_first={batch_first!r}")
    if not (isinstance(dropout, numbers.Real) and dropout == 0):
        parts.append(f"dropout={dropout!r}")
    if bidirectional is not False:
        parts.append(f"bidirectional={bidirectional!r}")
    return "RNN(" + ", ".join(parts) + ")"
