"""Sequential, as torch.nn.Sequential: children named "0", "1", ... run in order.

Besides torch's forward, ``backward(grad)`` runs the children's backward in reverse (a MaxPool2d after a ReLU runs
both in one, cheaper, with the same numbers: ``MaxPool2d.backward_with``). The model's input is
validated once here (type, dtype, finiteness); each child then only does its own cheap shape checks. Before a pass,
the children let go of what the last one kept (``Module.release_kept``), so its memory serves this pass while still
in cache.
Children are renumbered after ``insert``/``pop`` so ``state_dict`` keys are what torch would give the
resulting model.
"""

from __future__ import annotations

from collections import OrderedDict

import numpy as np

from . import _checks
from .module import Module


class Sequential(Module):
    """``Sequential(*modules)``: ``model[i]``, ``len(model)``, iteration, ``append``, ``insert``, ``pop``."""

    def __init__(self, *modules: Module):
        super().__init__()
        for i, m in enumerate(modules):
            self._check_module(m, i)
        self._set_children(list(modules))

    @staticmethod
    def _check_module(m, position) -> None:
        if not isinstance(m, Module):
            raise ValueError(f"Sequential: item {position} must be a Module, got {type(m).__name__}")

    def _set_children(self, modules: list[Module]) -> None:
        # Children live only in _modules (as torch's add_module), keyed "0".."n-1".
        self._modules.clear()
        for i, m in enumerate(modules):
            self._modules[str(i)] = m
        self.__dict__["_chain"] = tuple(modules)
        # the children that keep arrays (Module.release_kept); modules, not bound methods: a deepcopy of the model
        # must release its own children
        self.__dict__["_keepers"] = tuple(m for m in modules if m.kept)

    # --- list-like access
    def __len__(self) -> int:
        return len(self._chain)

    def __iter__(self):
        return iter(self._chain)

    def __getitem__(self, index):
        if isinstance(index, slice):
            return Sequential(*self._chain[index])
        return self._chain[self._index(index)]

    def __setitem__(self, index: int, module: Module) -> None:
        self._check_module(module, index)
        modules = list(self._chain)
        modules[self._index(index)] = module
        self._set_children(modules)

    def __delitem__(self, index: int) -> None:
        self.pop(index)

    def __getattr__(self, name):
        # torch allows model._modules["0"] and getattr(model, "0"); keep that working.
        modules = self.__dict__.get("_modules")
        if modules is not None and name in modules:
            return modules[name]
        raise AttributeError(f"Sequential has no attribute {name!r}")

    def _index(self, index) -> int:
        n = len(self._chain)
        if isinstance(index, bool) or not isinstance(index, (int, np.integer)) or not -n <= index < n:
            raise ValueError(f"Sequential: index must be an integer in [{-n}, {n - 1}], got {index!r}")
        return int(index) % n

    def append(self, module: Module) -> "Sequential":
        self._check_module(module, len(self))
        self._set_children(list(self._chain) + [module])
        return self

    def insert(self, index: int, module: Module) -> "Sequential":
        """Insert before ``index`` (0 ≤ index ≤ len, negative counts from the end, as list.insert)."""
        n = len(self._chain)
        if isinstance(index, bool) or not isinstance(index, (int, np.integer)) or not -n <= index <= n:
            raise ValueError(f"Sequential.insert: index must be an integer in [{-n}, {n}], got {index!r}")
        self._check_module(module, index)
        modules = list(self._chain)
        modules.insert(int(index), module)
        self._set_children(modules)
        return self

    def pop(self, index: int = -1) -> Module:
        modules = list(self._chain)
        module = modules.pop(self._index(index))
        self._set_children(modules)
        return module

    # --- maths
    def forward(self, x: np.ndarray) -> np.ndarray:
        """Run every child in order; ``x`` is the first child's input (e.g. (N, in_features))."""
        if x.__class__ is not np.ndarray or x.dtype.kind != "f" or x.size == 0 or not _checks.all_finite(x):
            self._reject(x)
        d = self.__dict__
        d["input"] = x
        # The last pass's activations, columns and winners go before this pass allocates its own: freed just now,
        # the same memory comes back still in cache (measured: 3–5 % of the ConvNetJS CNN's step).
        for m in self._keepers:
            m.release_kept()
        try:
            for m in self._chain:
                x = m.forward(x)
        except ValueError as error:
            raise ValueError(f"Sequential layer {self._chain.index(m)}: {error}") from None
        d["output"] = x
        return x

    def _reject(self, x) -> None:
        first = f"layer 0 ({self._chain[0]!r})" if self._chain else "Sequential"
        if not isinstance(x, np.ndarray):
            raise ValueError(f"Sequential {first}: input must be a numpy array, got {type(x).__name__}")
        if x.dtype.kind != "f":
            raise ValueError(f"Sequential {first}: input has dtype {x.dtype}; expected {self.dtype} "
                             f"(the model's dtype; cast with x.astype(model.dtype))")
        if x.size == 0:
            raise ValueError(f"Sequential {first}: input has shape {x.shape}; expected a non-empty batch")
        raise ValueError(f"Sequential {first}: input contains NaN or infinite values; expected finite numbers")

    __call__ = forward  # forward checks the input itself: no second pass over it

    def backward(self, grad_output: np.ndarray, input_grad: bool = True) -> np.ndarray | None:
        """dL/d(output) → dL/d(input); every child accumulates into its parameters' ``.grad``.

        ``input_grad=False`` returns None instead, and lets the first layer skip computing dL/d(input) when it can
        (Linear, Conv2d): a training step does not need the data's gradient, as torch does not compute it for an
        input that does not require grad. Every parameter gradient is the same either way.
        """
        chain = self._chain
        k = len(chain) - 1
        while k > 0:  # every child but the first, last to second
            m = chain[k]
            # A child may run its own backward and its predecessor's in one, cheaper, with the same numbers
            # (MaxPool2d after ReLU); it answers None when it cannot.
            fused = m.backward_with(chain[k - 1], grad_output) if k > 1 and hasattr(m, "backward_with") else None
            if fused is None:
                grad_output = m.backward(grad_output)
                k -= 1
            else:
                grad_output = fused
                k -= 2
        if not chain:
            return grad_output
        first = chain[0]
        if input_grad:
            return first.backward(grad_output)
        if getattr(first, "can_skip_input_grad", False):
            first.backward(grad_output, input_grad=False)
        else:
            first.backward(grad_output)
        return None

    def __repr__(self) -> str:
        if not self._chain:
            return "Sequential()"
        return super().__repr__()
