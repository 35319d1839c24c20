"""Linear layer, as torch.nn.Linear: z = x Wᵀ + b with W of shape (out_features, in_features).

Backward, by the chain rule with g = dL/dz:
    dL/dW += gᵀ x      (out, in)
    dL/db += Σ_n g     (out,)
    dL/dx  = g W       (N, in)
"""

from __future__ import annotations

import numpy as np

from . import _checks
from .init import INIT_SCHEMES, calculate_gain, init_bias, init_weight
from .module import Module
from .parameter import Parameter, check_dtype
from .random import resolve_rng


class Linear(Module):
    """``Linear(in_features, out_features, bias=True, *, init="default", nonlinearity="tanh", rng=None,
    dtype=np.float64)``.

    Input ``(*, in_features)`` → output ``(*, out_features)``; ``weight`` is ``(out_features, in_features)``,
    ``bias`` ``(out_features,)``. ``init`` is one of ``engine.init.INIT_SCHEMES`` ("default" is torch's:
    W, b ~ U(±1/√in_features)); ``nonlinearity`` picks the gain for the Xavier/He schemes, whose bias
    starts at zero. Inputs must already have the layer's dtype: nothing is cast silently.
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True, *, init: str = "default",
                 nonlinearity: str = "tanh", rng=None, dtype=np.float64):
        super().__init__()
        self.in_features = _checks.positive_int("Linear", "in_features", in_features)
        self.out_features = _checks.positive_int("Linear", "out_features", out_features)
        if init not in INIT_SCHEMES:
            raise ValueError(f"Linear: init must be one of {list(INIT_SCHEMES)}, got {init!r}")
        calculate_gain(nonlinearity)  # validates the name, whatever the scheme
        dtype = check_dtype(dtype, "Linear")
        rng = resolve_rng(rng)
        shape = (self.out_features, self.in_features)
        self.weight = Parameter(init_weight(shape, init, rng, dtype, nonlinearity))
        if bias:
            self.bias = Parameter(init_bias(self.in_features, self.out_features, rng, dtype) if init == "default"
                                  else np.zeros(self.out_features, dtype=dtype))
        else:
            self.bias = None

    def forward(self, x: np.ndarray) -> np.ndarray:
        """``x`` (N, in_features) or (*, in_features) → ``z`` (N, out_features) or (*, out_features)."""
        w = self.weight.data
        if x.__class__ is not np.ndarray or x.ndim != 2 or x.shape[1] != self.in_features or x.dtype != w.dtype:
            return self._forward_general(x)
        z = np.dot(x, w.T)
        if self.bias is not None:
            z += self.bias.data
        d = self.__dict__  # Module.__setattr__ bookkeeping is slower than this whole layer at small sizes
        d["input"] = x
        d["output"] = z
        return z

    def _forward_general(self, x) -> np.ndarray:
        # Off the fast path: validate, then treat (*, in) as (N, in) and restore the leading dimensions.
        ndim = x.ndim if isinstance(x, np.ndarray) and x.ndim >= 1 else 2
        _checks.array(repr(self), x, ndim=ndim, last_dim=self.in_features, dtype=self.weight.data.dtype,
                      layout=f"(N, {self.in_features})")
        z = np.dot(x.reshape(-1, self.in_features), self.weight.data.T)
        if self.bias is not None:
            z += self.bias.data
        z = z.reshape(x.shape[:-1] + (self.out_features,))
        self.__dict__["input"] = x
        self.__dict__["output"] = z
        return z

    can_skip_input_grad = True  # Sequential.backward(..., input_grad=False) asks the first layer to

    def backward(self, grad_output: np.ndarray, input_grad: bool = True) -> np.ndarray | None:
        """``grad_output`` dL/dz, shaped like the output → dL/dx, shaped like the input; accumulates into
        ``weight.grad`` and ``bias.grad``. ``input_grad=False`` skips dL/dx and returns None."""
        x = self.input
        g = grad_output
        if x.ndim != 2:
            x = x.reshape(-1, self.in_features)
            g = g.reshape(-1, self.out_features)
        weight = self.weight
        grad_w = weight.grad
        grad_w += np.dot(g.T, x)
        if self.bias is not None:
            grad_b = self.bias.grad
            # Σ over the rows as a vector-matrix product: a reduction over many short rows is several times slower
            grad_b += np.dot(np.ones(g.shape[0], dtype=g.dtype), g)
        if not input_grad:
            return None
        grad_x = np.dot(g, weight.data)
        return grad_x if grad_x.shape == self.input.shape else grad_x.reshape(self.input.shape)

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}"
