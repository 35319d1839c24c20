"""Weight initialization: PyTorch's defaults, plus Xavier (Glorot) and He (Kaiming).

All draws come from a ``numpy.random.Generator``; shapes follow torch (``(out, in, ...)``).
``fan_in`` of a weight of shape ``(out, in, *kernel)`` is ``in * prod(kernel)``.
"""

from __future__ import annotations

import math

import numpy as np

INIT_SCHEMES = ("default", "xavier_uniform", "xavier_normal", "kaiming_uniform", "kaiming_normal")

_GAIN = {"linear": 1.0, "identity": 1.0, "sigmoid": 1.0, "tanh": 5.0 / 3.0, "relu": math.sqrt(2.0),
         "leaky_relu": math.sqrt(2.0 / (1 + 0.01 ** 2)), "silu": 1.0, "swish": 1.0, "softmax": 1.0}


def calculate_gain(nonlinearity: str) -> float:
    """torch.nn.init.calculate_gain, for the activations the playground offers."""
    if nonlinearity not in _GAIN:
        raise ValueError(f"calculate_gain: nonlinearity must be one of {sorted(_GAIN)}, got {nonlinearity!r}")
    return _GAIN[nonlinearity]


def fans(shape: tuple[int, ...]) -> tuple[int, int]:
    receptive = int(np.prod(shape[2:])) if len(shape) > 2 else 1
    fan_in = (shape[1] if len(shape) > 1 else shape[0]) * receptive
    fan_out = shape[0] * receptive
    return fan_in, fan_out


def uniform(shape, bound: float, rng: np.random.Generator, dtype) -> np.ndarray:
    return rng.uniform(-bound, bound, size=shape).astype(dtype, copy=False)


def init_weight(shape, scheme: str, rng: np.random.Generator, dtype, nonlinearity: str = "tanh") -> np.ndarray:
    """A weight of ``shape`` drawn by ``scheme`` (one of INIT_SCHEMES).

    ``default`` is torch's Linear/Conv default: kaiming_uniform(a=√5), i.e. U(±1/√fan_in).
    """
    fan_in, fan_out = fans(tuple(shape))
    if scheme == "default":
        return uniform(shape, 1.0 / math.sqrt(fan_in), rng, dtype)
    gain = calculate_gain(nonlinearity)
    if scheme == "xavier_uniform":
        return uniform(shape, gain * math.sqrt(6.0 / (fan_in + fan_out)), rng, dtype)
    if scheme == "xavier_normal":
        return (rng.standard_normal(shape) * gain * math.sqrt(2.0 / (fan_in + fan_out))).astype(dtype)
    if scheme == "kaiming_uniform":
        return uniform(shape, gain * math.sqrt(3.0 / fan_in), rng, dtype)
    if scheme == "kaiming_normal":
        return (rng.standard_normal(shape) * gain / math.sqrt(fan_in)).astype(dtype)
    raise ValueError(f"init: scheme must be one of {list(INIT_SCHEMES)}, got {scheme!r}")


def init_bias(fan_in: int, size: int, rng: np.random.Generator, dtype) -> np.ndarray:
    """torch's default bias: U(±1/√fan_in)."""
    return uniform((size,), 1.0 / math.sqrt(fan_in) if fan_in > 0 else 0.0, rng, dtype)
