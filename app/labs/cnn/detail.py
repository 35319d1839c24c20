"""The numbers behind the CNN lab's detail views: the clicked feature-map pixel, taken apart for the probe image.

A convolution's pixel (or the activation right after it): the receptive-field patch per input channel, the
kernel, their products, the sum, the bias, the pre-activation and the activation — engine.conv_inspect's
ConvolutionAt, read from the probe's forward pass the frame has just made. A pooled pixel: its window, the winner
of the max (or the average's equal shares) and where the cost's gradient for the probe goes back through it, from
one backward pass of the probe whose parameter gradients are put back as they were (the views of −∇C show the
training minibatch's). Arrays travel in the frame's bundle as ``detail.*``; the scalars, at full precision, in the
``detail`` field (docs/protocol.md, "The cnn lab's frames").
"""

from __future__ import annotations

import numpy as np

from engine import AvgPool2d, Conv2d, CrossEntropyLoss, MaxPool2d
from engine.activations import Activation
from engine.conv_inspect import convolution_at, pooling_at


def _conv_position(model, layer: int) -> int | None:
    """The Conv2d whose pixel a click on ``layer``'s map means: the layer itself, or the conv right before the
    activation clicked."""
    if isinstance(model[layer], Conv2d):
        return layer
    if isinstance(model[layer], Activation) and layer > 0 and isinstance(model[layer - 1], Conv2d):
        return layer - 1
    return None


def _probe_gradient(model, label: int, flat) -> None:
    """dC/d(every layer's output) for the probe's label, kept by the layers (the pools' ``grad_output``); the
    parameter gradients of ``flat`` are restored, bit for bit, afterwards."""
    saved = flat.grad.copy()
    try:
        loss_fn = CrossEntropyLoss()
        loss_fn(model[-1].output, np.array([label]))
        model.backward(loss_fn.backward(), input_grad=False)
    finally:
        flat.grad[...] = saved


def add_detail(lab, bundle) -> dict:
    """The ``detail`` field for the lab's next frame, adding its arrays to ``bundle``; call right after the probe's
    forward pass (every layer keeps its input and output for the probe). ``{"detail": None}`` when no pixel is
    inspected or the layer clicked has no detail view."""
    at = lab.inspected
    model = lab.trainer.model
    if at is None or at["layer"] >= len(model):
        return {"detail": None}
    layer, channel, y, x = at["layer"], at["channel"], at["y"], at["x"]
    conv = _conv_position(model, layer)
    where = {"layer": layer, "channel": channel, "y": y, "x": x}
    if conv is not None:
        c = convolution_at(model, conv, channel, y, x)
        bundle.add("detail.patch", c.patch)
        bundle.add("detail.kernel", c.kernel)
        bundle.add("detail.products", c.products)
        bundle.add("detail.padding", c.padding.astype(np.uint8), dtype="u1")
        bundle.add("detail.channel_sums", c.channel_sums)
        module = model[conv]
        return {"detail": {
            **where, "kind": "conv", "conv_layer": conv, "input_layer": conv - 1,
            "kernel_size": list(module.kernel_size), "stride": list(module.stride), "padding": list(module.padding),
            "rows": c.rows.tolist(), "cols": c.cols.tolist(),
            "total": c.total, "bias": c.bias, "pre_activation": c.pre_activation, "output": c.output,
            "activation_name": c.activation_name, "activation": c.activation,
        }}
    if isinstance(model[layer], (MaxPool2d, AvgPool2d)):
        label = lab.probe_input()[1]
        if label is not None:
            _probe_gradient(model, label, lab.trainer.optimizer.flat)
        p = pooling_at(model, layer, channel, y, x)
        bundle.add("detail.window", p.window)
        bundle.add("detail.shares", p.shares)
        if p.grad_window is not None:
            bundle.add("detail.grad_window", p.grad_window)
        return {"detail": {
            **where, "kind": p.kind, "input_layer": layer - 1, "rows": p.rows.tolist(), "cols": p.cols.tolist(),
            "output": p.output, "winner": list(p.winner) if p.winner is not None else None,
            "grad_output": p.grad_output, "label": label,
        }}
    return {"detail": None}
