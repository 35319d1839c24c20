"""The CNN lab's detail views' numbers (app/labs/cnn/detail.py): the inspected pixel taken apart for the probe,
equal to the engine's own forward and backward, leaving training's gradients as they were."""

from __future__ import annotations

import base64
import copy

import numpy as np
import pytest

from app import DEFAULT_CONFIG
from app.server.bundle import decode
from app.server.events import dispatch
from app.sessions.session import Session
from engine import CrossEntropyLoss


@pytest.fixture
def session():
    s = Session("d" * 24, dict(DEFAULT_CONFIG), lab="cnn")
    s.viewers.add("viewer")
    for _ in range(3):
        dispatch(s, "step", (), "viewer")
    return s


def inspect(session, layer, channel, y, x):
    dispatch(session, "inspect", ({"layer": layer, "channel": channel, "y": y, "x": x},), "viewer")
    frame, _ = session.build_frame()
    return frame.fields["detail"], decode(frame.fields)


def probe_forward(lab):
    """Every layer's output for the probe image, in eval mode, computed here by the engine itself."""
    model = lab.trainer.model
    x, label = lab.probe_input()
    model.eval()
    try:
        outputs, out = [], x[None]
        for layer in model:
            out = layer(out)
            outputs.append(out)
    finally:
        model.train()
    return outputs, label


def test_nothing_inspected_no_detail(session):
    frame, _ = session.build_frame()
    assert frame.fields["detail"] is None


@pytest.mark.parametrize("layer", [1, 3])
def test_a_conv_pixel_is_patch_times_kernel_plus_bias_and_equals_the_layers_output(session, layer):
    lab = session.lab
    detail, arrays = inspect(session, layer, 2, 0, 5)  # the top row: the patch hangs over the padding
    conv = layer if layer in (0, 3) else layer - 1
    assert detail["kind"] == "conv" and detail["conv_layer"] == conv and detail["layer"] == layer
    model = lab.trainer.model
    kernel = model[conv].weight.data[2]
    np.testing.assert_allclose(arrays["detail.kernel"], kernel, rtol=1e-6, atol=1e-7)
    assert arrays["detail.patch"].shape == kernel.shape
    np.testing.assert_array_equal(arrays["detail.padding"][:2], 1)  # rows −2 and −1 are padding
    outputs, _ = probe_forward(lab)
    # The lab trains in float32: the sum of the products, added up here in float64, meets the layer's float32 output.
    tolerance = 1e-12 if model.dtype == np.float64 else 1e-5
    assert detail["pre_activation"] == pytest.approx(float(outputs[conv][0, 2, 0, 5]), abs=tolerance)
    assert detail["activation"] == pytest.approx(float(outputs[conv + 1][0, 2, 0, 5]), abs=tolerance)
    assert detail["activation_name"] == "relu"
    assert detail["total"] + detail["bias"] == pytest.approx(detail["pre_activation"], abs=1e-12)
    np.testing.assert_allclose(arrays["detail.products"], arrays["detail.patch"] * arrays["detail.kernel"],
                               rtol=1e-5, atol=1e-7)


def test_a_pooled_pixel_routes_the_probes_gradient_to_its_winner_and_training_grads_stay(session):
    lab = session.lab
    flat = lab.trainer.optimizer.flat
    before = flat.grad.copy()
    detail, arrays = inspect(session, 5, 3, 1, 2)
    np.testing.assert_array_equal(flat.grad, before)  # the frame's −∇C views show the training step's
    assert detail["kind"] == "max" and detail["rows"] == [3, 4, 5] and detail["cols"] == [6, 7, 8]
    outputs, label = probe_forward(lab)
    window = outputs[4][0, 3, 3:6, 6:9]
    np.testing.assert_allclose(arrays["detail.window"], window, rtol=1e-6, atol=1e-7)
    r, c = detail["winner"]
    assert window[r - 3, c - 6] == window.max() == pytest.approx(detail["output"])
    assert arrays["detail.shares"].sum() == 1 and arrays["detail.shares"][r - 3, c - 6] == 1
    # dC/d(that pooled pixel), by a central difference through (float64 copies of) the layers after the pool.
    tail = [copy.deepcopy(layer).double().eval() for layer in list(lab.trainer.model)[6:]]
    loss_fn, pooled, h = CrossEntropyLoss(), outputs[5].astype(np.float64), 1e-6

    def cost(value):
        out = pooled.copy()
        out[0, 3, 1, 2] = value
        for layer in tail:
            out = layer(out)
        return loss_fn(out, np.array([label]))

    v = pooled[0, 3, 1, 2]
    numeric = (cost(v + h) - cost(v - h)) / (2 * h)
    assert detail["grad_output"] == pytest.approx(numeric, rel=1e-4, abs=1e-7)
    np.testing.assert_allclose(arrays["detail.grad_window"], arrays["detail.shares"] * detail["grad_output"],
                               rtol=1e-6, atol=1e-12)


def test_an_average_pool_shares_evenly_and_an_unlabelled_drawing_has_no_gradient(session):
    lab = session.lab
    layers = [dict(layer) for layer in lab.settings["layers"]]
    layers[2] = {"type": "AvgPool2d", "kernel_size": 2, "stride": None}
    dispatch(session, "set", ({"layers": layers},), "viewer")
    detail, arrays = inspect(session, 2, 1, 4, 4)
    assert detail["kind"] == "avg" and detail["winner"] is None
    np.testing.assert_allclose(arrays["detail.shares"], np.full((2, 2), 0.25))
    assert detail["output"] == pytest.approx(float(arrays["detail.window"].mean()), rel=1e-6)
    assert detail["grad_output"] is not None
    ink = np.zeros((28, 28), np.uint8)
    ink[6:22, 12:16] = 255  # a stroke, and no label: no cost, so no gradient to route
    drawing = {"width": 28, "height": 28, "pixels": base64.b64encode(ink.tobytes()).decode()}
    dispatch(session, "probe", ({"drawing": drawing},), "viewer")
    frame, _ = session.build_frame()
    assert frame.fields["detail"]["grad_output"] is None and "detail.grad_window" not in decode(frame.fields)
