"""The CNN lab's model export: the trained network as a PyTorch script (engine.export_torch). The lab has no model
files to save and load (the schema's `model_files` is false); `model_export` is true."""

from __future__ import annotations

from engine import export_torch


def to_py(lab) -> str:
    """``nn.Sequential`` of ``nn.Conv2d``, pooling, ``nn.Flatten``, ``nn.Linear``…, the trained weights, and one
    test image (N, C, H, W) to run, printed as its class."""
    d, t = lab.data, lab.trainer
    example = d.X_test[:1].astype(t.model.dtype)
    description = f"{d.name} {d.image_shape}, {t.step} steps"
    return export_torch.torch_source(t.model, example, classes=list(d.classes), description=description)
