"""The CNN lab: convolutional networks on images — kernels, feature maps, pooling, dropout, parameter counts and
tensor sizes, trained live. ``Lab`` is what app.labs registers."""

from .lab import CnnLab as Lab

__all__ = ["Lab"]
