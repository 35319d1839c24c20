"""The module protocol, as torch.nn.Module, with an explicit ``backward``.

``y = m(x)`` runs ``forward`` and keeps what backward needs (references, not copies);
``grad_x = m.backward(grad_y)`` returns dLoss/dx and *accumulates* into every parameter's
``.grad`` until ``zero_grad()``, as torch does.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Iterator

import numpy as np

from . import _checks
from .parameter import DEFAULT_DTYPE, Parameter, check_dtype


class Module:
    training: bool = True

    def __init__(self):
        object.__setattr__(self, "_parameters", OrderedDict())
        object.__setattr__(self, "_modules", OrderedDict())
        object.__setattr__(self, "training", True)

    # --- registration, as torch: assigning a Parameter or Module attribute registers it.
    def __setattr__(self, name, value):
        params = self.__dict__.get("_parameters")
        if params is None:
            raise AttributeError(f"{type(self).__name__}: call Module.__init__() before assigning attributes")
        if isinstance(value, Parameter):
            self._modules.pop(name, None)
            params[name] = value
        elif isinstance(value, Module):
            params.pop(name, None)
            self._modules[name] = value
        elif value is None and name in params:
            params[name] = None
        else:
            params.pop(name, None) if name in params else None
            self._modules.pop(name, None) if name in self._modules else None
        object.__setattr__(self, name, value)

    def __delattr__(self, name):
        self._parameters.pop(name, None)
        self._modules.pop(name, None)
        object.__delattr__(self, name)

    # --- calling
    # What forward keeps for backward and the views (activations, im2col columns, pool winners), each None before
    # a forward: Sequential lets go of the last pass's before the next pass allocates its own (release_kept).
    kept: tuple[str, ...] = ()

    def release_kept(self) -> None:
        """Set every attribute named in ``kept`` back to None, as before any forward (Sequential.forward does it
        before a pass): the allocator then hands the next pass the memory just freed, still in cache, rather than
        memory a whole step cold. Read them again after the next forward."""
        self.__dict__.update(dict.fromkeys(self.kept))

    def __call__(self, *args, **kwargs):
        # A module called on its own checks its input for NaN/inf; inside a Sequential only the model's input is
        # checked (Sequential.forward calls children's forward directly), so a diverging network's inf
        # activations reach the loss, which reports them, instead of failing halfway through.
        x = args[0] if args else None
        if x.__class__ is np.ndarray and x.dtype.kind == "f" and not _checks.all_finite(x):
            raise ValueError(f"{self!r}: input contains NaN or infinite values; expected finite numbers")
        return self.forward(*args, **kwargs)

    def forward(self, *args, **kwargs):
        raise NotImplementedError(f"{type(self).__name__}.forward")

    def backward(self, *args, **kwargs):
        raise NotImplementedError(f"{type(self).__name__}.backward")

    # --- traversal
    def named_children(self) -> Iterator[tuple[str, "Module"]]:
        yield from self._modules.items()

    def children(self) -> Iterator["Module"]:
        for _, m in self.named_children():
            yield m

    def named_modules(self, prefix: str = "") -> Iterator[tuple[str, "Module"]]:
        yield prefix, self
        for name, child in self._modules.items():
            yield from child.named_modules(f"{prefix}.{name}" if prefix else name)

    def modules(self) -> Iterator["Module"]:
        for _, m in self.named_modules():
            yield m

    def named_parameters(self, prefix: str = "") -> Iterator[tuple[str, Parameter]]:
        for name, p in self._parameters.items():
            if p is not None:
                yield (f"{prefix}.{name}" if prefix else name), p
        for name, child in self._modules.items():
            yield from child.named_parameters(f"{prefix}.{name}" if prefix else name)

    def parameters(self) -> Iterator[Parameter]:
        for _, p in self.named_parameters():
            yield p

    def num_parameters(self) -> int:
        return sum(p.data.size for p in self.parameters())

    # --- state
    def zero_grad(self) -> None:
        for p in self.parameters():
            p.grad.fill(0.0)  # in place: grads may be views of an optimizer's flat buffer

    def train(self, mode: bool = True) -> "Module":
        for m in self.modules():
            object.__setattr__(m, "training", bool(mode))
        return self

    def eval(self) -> "Module":
        return self.train(False)

    @property
    def dtype(self) -> np.dtype:
        for p in self.parameters():
            return p.data.dtype
        return np.dtype(self.__dict__.get("_dtype", DEFAULT_DTYPE))

    def to(self, dtype) -> "Module":
        """Cast every parameter (and its grad) to ``dtype`` (float32 or float64), in place."""
        dtype = check_dtype(dtype, f"{type(self).__name__}.to")
        for m in self.modules():
            object.__setattr__(m, "_dtype", dtype)
            for p in m._parameters.values():
                if p is not None and p.data.dtype != dtype:
                    p.data = p.data.astype(dtype)
                    p.grad = p.grad.astype(dtype)
        return self

    def float(self) -> "Module":
        return self.to(np.float32)

    def double(self) -> "Module":
        return self.to(np.float64)

    def state_dict(self) -> "OrderedDict[str, np.ndarray]":
        """Copies of every parameter, keyed by torch's names (``"0.weight"`` inside a Sequential)."""
        return OrderedDict((name, p.data.copy()) for name, p in self.named_parameters())

    def load_state_dict(self, state_dict, strict: bool = True) -> None:
        """Copy arrays into the parameters, keeping this module's dtype.

        Raises ValueError (and changes nothing) on a missing or unexpected key, a wrong shape,
        a non-numeric array or a non-finite value.
        """
        own = dict(self.named_parameters())
        where = f"{type(self).__name__}.load_state_dict"
        if not hasattr(state_dict, "items"):
            raise ValueError(f"{where}: expected a mapping of name -> array, got {type(state_dict).__name__}")
        missing = [k for k in own if k not in state_dict]
        unexpected = [k for k in state_dict if k not in own]
        if strict and (missing or unexpected):
            raise ValueError(f"{where}: missing keys {missing}, unexpected keys {unexpected}; expected keys {list(own)}")
        staged = {}
        for name, value in state_dict.items():
            if name not in own:
                continue
            p = own[name]
            array = np.asarray(value)
            if array.dtype.kind not in "fiu":
                raise ValueError(f"{where}: {name!r} has dtype {array.dtype}; expected a real numeric array")
            if array.shape != p.data.shape:
                raise ValueError(f"{where}: {name!r} has shape {array.shape}; expected {p.data.shape}")
            if not np.all(np.isfinite(array)):
                raise ValueError(f"{where}: {name!r} contains NaN or infinite values; expected finite numbers")
            staged[name] = array
        for name, array in staged.items():
            own[name].data[...] = array  # in place: keeps dtype and any flat-buffer views

    # --- printing
    def extra_repr(self) -> str:
        return ""

    def __repr__(self) -> str:
        lines = [f"({name}): " + repr(m).replace("\n", "\n  ") for name, m in self._modules.items()]
        head = f"{type(self).__name__}({self.extra_repr()}"
        if not lines:
            return head + ")"
        return head + "\n  " + "\n  ".join(lines) + "\n)"
