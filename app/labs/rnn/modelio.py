"""The RNN lab's model export: the trained SequenceModel as a PyTorch script (engine.export_torch). The lab has no
model files to save and load (the schema's `model_files` is false); `model_export` is true."""

from __future__ import annotations

from engine import export_torch


def to_py(lab) -> str:
    """``nn.RNN``/``nn.LSTM``/``nn.GRU`` and its ``nn.Linear`` head, the trained weights, and one test sequence
    to run (in the layout the model's ``batch_first`` says)."""
    d, t = lab.data, lab.trainer
    model = t.model
    example = d.inputs(d.x_test[:1])  # batch-first (1, L, H_in)
    if not model.rnn.batch_first:
        example = example.transpose(1, 0, 2)
    description = f"{model.cell_type} on the {d.task} task ({d.readout} readout), {t.step} steps"
    return export_torch.torch_source(model, example, description=description)
