"""The CNN lab's detail views in real Chromium: clicking a feature-map pixel shows the convolution there with the
numbers the engine computes for the probe, clicking a pooled pixel shows its window, its winner and where the
gradient goes; the kernels' −∇C and the gradient norms draw.

The server runs in this process (the browser tests' one, so the test can read the session's network); training stays paused, so
the page's numbers and the engine's are of the same weights. Every wait is for a condition. Screenshots:
artifacts/screenshots/cnn-detail-conv.png and cnn-detail-pool.png.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from playwright.sync_api import Page, expect

from engine.conv_inspect import convolution_at, pooling_at

from .test_page import TIMEOUT


def shown(value: float, digits: int = 3) -> str:
    """A number as the detail view prints it (detail-view.js's fmt)."""
    text = f"{0.0:.{digits}f}" if abs(value) < 0.5 * 10 ** -digits else f"{value:.{digits}f}"
    return text.replace("-", "\u2212")


def number(text: str) -> float:
    return float(text.replace("\u2212", "-"))


def engine_view(session, inspect, layer: int, at: dict):
    """``inspect`` (convolution_at or pooling_at) after the engine's own forward pass of the probe, in eval mode,
    under the session's lock (the server builds its frames from the same network, in its own threads)."""
    with session.lock:
        lab = session.lab
        model = lab.trainer.model
        model.eval()
        try:
            out = lab.probe_input()[0][None]
            for module in model:
                out = module(out)
        finally:
            model.train()
        return inspect(model, layer, at["channel"], at["y"], at["x"])


def click_pixel(page: Page, layer: int, x: int, y: int) -> dict:
    page.locator(f"#feature-maps canvas.fm-canvas[data-layer='{layer}']").click(position={"x": x, "y": y})
    page.wait_for_function(f"() => {{ const at = window.__nnp.state.inspected; const f = window.__nnp.frame;"
                           f" return at && at.layer === {layer} && f.detail && f.detail.layer === {layer}"
                           f" && !document.getElementById('cnn-detail-view').hidden; }}", timeout=TIMEOUT)
    page.wait_for_function("() => window.__nnp.views.detail.drawn > 0", timeout=TIMEOUT)
    return page.evaluate("() => window.__nnp.state.inspected")


def test_clicked_pixels_show_the_engines_numbers(page: Page, live, screenshots: Path,
                                                 console_errors: list[str]) -> None:
    page.goto("/?lab=cnn")
    page.wait_for_function("() => window.__nnp && window.__nnp.lab === 'cnn' && window.__nnp.views.featureMaps"
                           " && window.__nnp.views.featureMaps.drawn > 0", timeout=TIMEOUT)
    for _ in range(3):
        page.click("#step")
    page.wait_for_function("() => window.__nnp.frame && window.__nnp.frame.step === 3", timeout=TIMEOUT)
    token = page.evaluate("() => sessionStorage.getItem('nnplayground.token')")
    session = live.app.extensions["nnplayground"].get(token)

    # A pixel of the first ReLU's maps: the convolution of layer 0 under it, then the ReLU.
    at = click_pixel(page, 1, 40, 30)
    c = engine_view(session, convolution_at, 0, at)
    view = page.locator("#cnn-detail")
    expect(page.locator("#cnn-detail-title")).to_contain_text(f"y {at['y']}, x {at['x']} of layer 0 (Conv2d)")
    for name, values in (("patch", c.patch), ("kernel", c.kernel), ("products", c.products)):
        cells = view.locator(f".cd-{name} td").all_inner_texts()
        assert len(cells) == values.size
        # The frame carries these arrays as float32: the last printed digit may differ by one.
        np.testing.assert_allclose([number(t) for t in cells], values.ravel(), atol=1.01e-3, err_msg=name)
    expect(view.locator(".cd-z")).to_contain_text(f"= {shown(c.pre_activation)}")  # exact: sent as float64
    expect(view.locator(".cd-a")).to_have_text(f"relu(z) = relu({shown(c.pre_activation)}) = {shown(c.activation)}")
    assert view.locator(".cd-patch td.pad").count() == int(c.padding.sum())
    page.screenshot(path=screenshots / "cnn-detail-conv.png")

    # A pooled pixel of the second max-pool: its window, the winner, and the probe's gradient going back to it.
    at = click_pixel(page, 5, 8, 8)
    p = engine_view(session, pooling_at, 5, at)
    expect(page.locator("#cnn-detail-title")).to_contain_text("Max pooling")
    window = view.locator(".cd-window td")
    np.testing.assert_allclose([number(t) for t in window.all_inner_texts()], p.window.ravel(), atol=1.01e-3)
    winner = (p.winner[0] - p.rows[0]) * 3 + (p.winner[1] - p.cols[0])
    expect(window.nth(winner)).to_have_class("winner")
    assert view.locator(".cd-window td.winner").count() == 1
    expect(view.locator(".cd-pool-row .cd-sum").first).to_have_text(shown(p.output))
    grad = page.evaluate("() => window.__nnp.frame.detail.grad_output")
    routed = [number(t) for t in view.locator(".cd-routed td").all_inner_texts()]
    assert routed[winner] == pytest.approx(grad, abs=1e-4) and sum(abs(v) for i, v in enumerate(routed) if i != winner) == 0
    page.screenshot(path=screenshots / "cnn-detail-pool.png")

    # Closing hides it; the gradient views draw every conv layer's −∇C and the norms chart.
    page.click(".cd-close")
    expect(page.locator("#cnn-detail-view")).to_be_hidden()
    page.wait_for_function("() => window.__nnp.views.kernelGrads.drawn > 0 && window.__nnp.charts.idle()",
                           timeout=TIMEOUT)
    assert page.locator("#cnn-kernel-grads canvas.kg-canvas").count() == 2
    assert page.locator("#cnn-grad-norms .bars .point").count() == 3
    click_pixel(page, 5, 8, 8)  # the same pixel again opens it again
    expect(page.locator("#cnn-detail-title")).to_contain_text("Max pooling")
    assert console_errors == []
