"""The MLP lab: fully connected networks on 2-D data, digits and MNIST — the playground, the landscape and the
backprop step-through. ``Lab`` is what app.labs registers."""

from .lab import MlpLab as Lab

__all__ = ["Lab"]
