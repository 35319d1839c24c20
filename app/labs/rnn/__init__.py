"""The RNN lab: nn.RNN, nn.LSTM and nn.GRU on sequences — unrolled through time, every shape named, and the
gradient through time. ``Lab`` is what app.labs registers."""

from .lab import RnnLab as Lab

__all__ = ["Lab"]
