"""Activation functions as modules, as torch.nn: Identity, ReLU, LeakyReLU, Tanh, Sigmoid, SiLU, Softmax.

The elementwise ones also expose ``function(z)`` and ``derivative(z)`` (plain numpy, elementwise) so a
view can draw the curve σ(z) and the slope σ'(z) a neuron sits on. Each class has a ``name`` as the
page and the control schema spell it ("linear", "relu", "leaky_relu", "tanh", "sigmoid", "swish",
"softmax").

Forward keeps ``self.input`` (z) and ``self.output`` (a) as references; backward computes from
whichever of them is cheaper (tanh and sigmoid from a, ReLU from z).
"""

from __future__ import annotations

import numpy as np

from . import _checks
from .module import Module


class Activation(Module):
    """Base of the activation modules: no parameters, shape-preserving."""

    name = "activation"
    kept = ("input", "output")
    input = output = None  # until a forward

    def _check(self, x) -> None:
        # Cheap checks only (type and dtype): activations sit on the hot path between Linear layers.
        if x.__class__ is not np.ndarray or x.dtype.kind != "f":
            what = f"dtype {x.dtype}" if isinstance(x, np.ndarray) else f"a {type(x).__name__}"
            raise ValueError(f"{self!r}: input is {what}; expected a float32 or float64 numpy array")

    def _keep(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        # Straight into __dict__: Module.__setattr__'s registration bookkeeping costs more than the maths here.
        d = self.__dict__
        d["input"] = x
        d["output"] = y
        return y


class Identity(Activation):
    """a = z (TF Playground's "linear")."""

    name = "linear"

    @staticmethod
    def function(z):
        return _floats(z).copy()

    @staticmethod
    def derivative(z):
        return np.ones_like(_floats(z))

    def forward(self, x):
        self._check(x)
        return self._keep(x, x)

    def backward(self, grad_output):
        return grad_output


class ReLU(Activation):
    """a = max(0, z); σ'(0) = 0 as in torch."""

    name = "relu"

    @staticmethod
    def function(z):
        return np.maximum(z, 0.0)

    @staticmethod
    def derivative(z):
        z = _floats(z)
        return (z > 0).astype(z.dtype)

    def forward(self, x):
        self._check(x)
        return self._keep(x, np.maximum(x, 0.0))

    def backward(self, grad_output):
        return grad_output * (self.input > 0)


class LeakyReLU(Activation):
    """a = z if z > 0 else negative_slope·z."""

    name = "leaky_relu"

    def __init__(self, negative_slope: float = 0.01):
        super().__init__()
        self.negative_slope = _checks.real("LeakyReLU", "negative_slope", negative_slope)

    def function(self, z):
        z = np.asarray(z)
        return np.where(z > 0, z, z * self.negative_slope)

    def derivative(self, z):
        return np.where(np.asarray(z) > 0, 1.0, self.negative_slope)

    def forward(self, x):
        self._check(x)
        return self._keep(x, np.where(x > 0, x, x * self.negative_slope))

    def backward(self, grad_output):
        return grad_output * np.where(self.input > 0, 1.0, self.negative_slope).astype(grad_output.dtype, copy=False)

    def extra_repr(self) -> str:
        return f"negative_slope={self.negative_slope}"


class Tanh(Activation):
    """a = tanh z; σ'(z) = 1 − a²."""

    name = "tanh"

    @staticmethod
    def function(z):
        return np.tanh(z)

    @staticmethod
    def derivative(z):
        a = np.tanh(z)
        return 1.0 - a * a

    def forward(self, x):
        self._check(x)
        return self._keep(x, np.tanh(x))

    def backward(self, grad_output):
        a = self.output
        slope = a * a
        np.subtract(1.0, slope, out=slope)
        slope *= grad_output
        return slope


def _floats(z) -> np.ndarray:
    """``z`` as a float array (the curve helpers accept lists and ints, e.g. ``np.linspace`` output or 0)."""
    z = np.asarray(z)
    return z if z.dtype.kind == "f" else z.astype(np.float64)


def _sigmoid(z: np.ndarray) -> np.ndarray:
    # 1/(1+e^-z) written as (1 + tanh(z/2))/2: equal, and never overflows for large |z|.
    a = np.tanh(z * 0.5)
    a += 1.0
    a *= 0.5
    return a


class Sigmoid(Activation):
    """a = 1 / (1 + e^−z); σ'(z) = a(1 − a)."""

    name = "sigmoid"

    @staticmethod
    def function(z):
        return _sigmoid(_floats(z))

    @staticmethod
    def derivative(z):
        a = Sigmoid.function(z)
        return a * (1.0 - a)

    def forward(self, x):
        self._check(x)
        return self._keep(x, _sigmoid(x))

    def backward(self, grad_output):
        a = self.output
        slope = 1.0 - a
        slope *= a
        slope *= grad_output
        return slope


class SiLU(Activation):
    """a = z·sigmoid(z) (also called swish); σ'(z) = s(1 + z(1 − s)) with s = sigmoid(z)."""

    name = "swish"
    kept = ("input", "output", "sigmoid")
    sigmoid = None  # until a forward

    @staticmethod
    def function(z):
        z = _floats(z)
        return z * _sigmoid(z)

    @staticmethod
    def derivative(z):
        z = _floats(z)
        s = _sigmoid(z)
        return s * (1.0 + z * (1.0 - s))

    def forward(self, x):
        self._check(x)
        s = _sigmoid(x)
        self.__dict__["sigmoid"] = s  # backward needs sigmoid(z), not just a
        return self._keep(x, x * s)

    def backward(self, grad_output):
        z, s = self.input, self.sigmoid
        slope = 1.0 - s
        slope *= z
        slope += 1.0
        slope *= s
        slope *= grad_output
        return slope


Swish = SiLU


class Softmax(Activation):
    """a_i = e^{z_i} / Σ_j e^{z_j} along ``dim`` (shifted by the max, so it never overflows)."""

    name = "softmax"

    def __init__(self, dim: int = -1):
        super().__init__()
        if isinstance(dim, bool) or not isinstance(dim, (int, np.integer)):
            raise ValueError(f"Softmax: dim must be an integer, got {dim!r}")
        self.dim = int(dim)

    def forward(self, x):
        self._check(x)
        if not -x.ndim <= self.dim < x.ndim:
            raise ValueError(f"{self!r}: input has shape {x.shape}; expected at least {max(self.dim + 1, -self.dim)} "
                             f"dimensions for dim={self.dim}")
        e = np.exp(x - x.max(axis=self.dim, keepdims=True))
        e /= e.sum(axis=self.dim, keepdims=True)
        return self._keep(x, e)

    def backward(self, grad_output):
        # dL/dz = a ⊙ (g − Σ_j g_j a_j): the Jacobian diag(a) − a aᵀ applied without forming it.
        a = self.output
        return a * (grad_output - (grad_output * a).sum(axis=self.dim, keepdims=True))

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


ACTIVATIONS: dict[str, type[Activation]] = {
    cls.name: cls for cls in (Identity, ReLU, LeakyReLU, Tanh, Sigmoid, SiLU, Softmax)
}

# Names a student may type that mean the same thing (torch's and TF Playground's spellings).
_ALIASES = {"identity": "linear", "none": "linear", "silu": "swish"}


def activation_from_name(name: str, **kwargs) -> Activation:
    """A fresh activation module for ``name`` (one of ACTIVATIONS; "identity"/"silu" accepted as aliases)."""
    key = _ALIASES.get(name, name) if isinstance(name, str) else name
    if key not in ACTIVATIONS:
        raise ValueError(f"activation: name must be one of {list(ACTIVATIONS)}, got {name!r}")
    return ACTIVATIONS[key](**kwargs)
