"""The memory layout of backprop through time, shared by RNN, LSTM and GRU (engine/recurrent.py and the cells).

numpy pays for every call and for every row of a strided view, and a time step of a recurrent layer is a
dozen small calls. So the time loops work *feature-major*: per step a state is ``(H, N)`` and the gate
pre-activations ``(G·H, N)``, so each gate block is one contiguous slab and the recurrent product is
``W_hh (G·H, H) @ h (H, N)``. Across steps:

    x_terms, d_ih, d_hh   (G·H, L, N)   the input terms x_t W_ihᵀ + b of every step, and the gradients of the
                                        gate pre-activations: merged to (G·H, L·N), each weight gradient is
                                        one matrix product over every step
    per-step caches       (L, ·, N)     what a step writes and its backward reads, one contiguous slab a step

The layer's output and the gradients it receives stay torch's ``(L, N, D·H)``; each direction's states
cross between the layouts once, in one transposed copy. A readout that writes dLoss/dh_t feature-major
``(L, D·H, N)`` itself (engine/sequence.py: one batched product) hands it to the loops without that copy.
"""

from __future__ import annotations

import numpy as np


def time_steps(length: int, reverse: bool, backward: bool = False) -> range:
    """The order a direction visits its steps: t = 0 … L−1 forward, L−1 … 0 in reverse; backprop the other way."""
    return range(length - 1, -1, -1) if reverse != backward else range(length)


def with_previous(op, states: np.ndarray, initial: np.ndarray, values: np.ndarray, reverse: bool,
                  out: np.ndarray) -> np.ndarray:
    """``out[t] = op(state step t started from, values[t])`` for every step, without building the shifted states:
    h_{t−1} (h_{t+1} in reverse), ``initial`` (H, N) at the first step. ``op`` is a ufunc, e.g. np.subtract."""
    if reverse:
        op(states[1:], values[:-1], out=out[:-1])
        op(initial, values[-1], out=out[-1])
    else:
        op(states[:-1], values[1:], out=out[1:])
        op(initial, values[0], out=out[0])
    return out


def rows(array: np.ndarray, order: int | None) -> np.ndarray:
    """The gate blocks of a stacked weight or bias in the loop's order: ``order`` rotates them, the loop's row i
    being torch's row (i + order) mod G·H (None: torch's order). A rotated array is a fresh copy."""
    return array if not order else np.concatenate((array[order:], array[:order]))


def add_rows(grad: np.ndarray, order: int | None, value: np.ndarray) -> None:
    """``grad += value`` where value's rows are in the loop's ``order`` (see ``rows``): two contiguous slabs, in
    place (grads may view a flat buffer)."""
    if not order:
        grad += value
    else:
        split = len(grad) - order
        grad[order:] += value[:split]
        grad[:order] += value[split:]


def input_terms(weight: np.ndarray, bias: np.ndarray | None, layer_input: np.ndarray) -> np.ndarray:
    """``(G·H, L, N)``: x_t Wᵀ + b for every step. ``weight`` (G·H, H_in); ``layer_input`` time-major
    ``(L, N, H_in)``, or integer ids ``(L, N)`` standing for one-hot rows: then the terms are columns of the
    table W + b, gathered (bias included)."""
    if layer_input.dtype.kind in "iu":
        table = weight if bias is None else weight + bias[:, None]
        return np.take(table, layer_input, axis=1, mode="wrap")  # ids checked: "wrap" skips a bounds pass
    L, N, width = layer_input.shape
    terms = np.dot(weight, layer_input.reshape(L * N, width).T)
    if bias is not None:
        terms += bias[:, None]
    return terms.reshape(-1, L, N)


class SortedIds:
    """Token ids ``(L, N)`` in [0, size) sorted once, for the scatter of their columns' gradients (every
    direction of the layer shares it)."""

    def __init__(self, ids: np.ndarray, size: int):
        flat = ids.reshape(-1)
        if size <= np.iinfo(np.int16).max:
            flat = flat.astype(np.int16)  # numpy sorts small integers by radix: several times faster
        self.order = np.argsort(flat, kind="stable")
        counts = np.bincount(flat, minlength=size)
        self.present = np.flatnonzero(counts)
        self.starts = (np.cumsum(counts) - counts)[self.present]
        self.size = size

    def scatter(self, grad: np.ndarray) -> np.ndarray:
        """Σ over every step of grad_t onehot(ids_t) without the one-hot: ``(P, L, N) -> (P, size)``: the columns
        gathered once in id order, then one segment sum per id present."""
        P = grad.shape[0]
        columns = np.take(grad.reshape(P, -1), self.order, axis=1, mode="wrap")  # a permutation: in bounds
        sums = np.add.reduceat(columns, self.starts, axis=1)
        if len(self.present) == self.size:
            return sums  # every id present (the usual case for a batch of text)
        out = np.zeros((P, self.size), dtype=grad.dtype)
        out[:, self.present] = sums
        return out


def row_sums(a: np.ndarray) -> np.ndarray:
    """Σ over every axis but the first, ``(P, …) -> (P,)``, as a matrix-vector product: several times faster
    than a reduction over many short rows."""
    flat = a.reshape(a.shape[0], -1)
    return np.dot(flat, np.ones(flat.shape[1], dtype=flat.dtype))


def outer_sum(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Σ over steps and batch of a_t b_t: ``(P, L, N), (L, N, Q) -> (P, Q)``, one matrix product."""
    # merging (L, N) is a view, also for one direction's columns (L, N, H) of a bidirectional state
    return a.reshape(a.shape[0], -1) @ b.reshape(-1, b.shape[-1])
