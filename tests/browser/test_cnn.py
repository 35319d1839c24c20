"""The CNN lab in real Chromium: it trains, its feature maps draw, its shape table counts what the engine counts, a
drawn digit gets a prediction, and switching back to the MLP playground finds it as it was left.

Every wait is for a condition, never a fixed sleep. Screenshot: artifacts/screenshots/cnn-overview.png.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from .test_page import TIMEOUT, open_page

TRAIN_TIMEOUT = 180_000  # ms: a few hundred steps of a CNN on a 2-core machine shared with other test runs


def accuracy(page: Page) -> float:
    text = page.locator("#test-accuracy").inner_text().rstrip("%")
    return float(text) / 100 if text not in ("–", "") else 0.0


@pytest.mark.slow
def test_the_cnn_lab_trains_draws_counts_and_gives_the_playground_back(page: Page, screenshots: Path,
                                                                       console_errors: list[str]) -> None:
    # The MLP playground first, stepped a little: switching labs must lose none of it.
    open_page(page, "?lab=mlp&dataset=xor")
    page.wait_for_function("() => window.__nnp.state.settings.dataset === 'xor'", timeout=TIMEOUT)
    for _ in range(3):
        page.click("#step")
    page.wait_for_function("() => window.__nnp.frame && window.__nnp.frame.step === 3", timeout=TIMEOUT)

    page.select_option("#lab", "cnn")
    page.wait_for_function("() => window.__nnp.lab === 'cnn' && window.__nnp.state.lab === 'cnn' && "
                           "window.__nnp.views.featureMaps && window.__nnp.views.featureMaps.drawn > 0",
                           timeout=TIMEOUT)
    assert "lab=cnn" in page.url
    expect(page.locator("#network-view")).to_be_hidden()
    expect(page.locator("#feature-maps canvas.fm-canvas").first).to_be_visible()
    # The table's total is the engine's own count: ConvNetJS's MNIST network, 5,994 parameters.
    table = page.locator("#shape-table")
    expect(table).to_have_attribute("data-total", "5994")
    assert page.evaluate("() => window.__nnp.state.num_parameters") == 5994
    expect(table.locator(".shape-total .total-parameters .value")).to_have_text("5,994")
    expect(table.locator("tr[data-layer='0'] .formula").first).to_have_text("H_out = W_out = ⌊(28 + 2·2 − 5)/1⌋ + 1 = 28")

    start = accuracy(page)
    page.click("#play")
    page.wait_for_function("() => { const t = document.getElementById('test-accuracy').textContent;"
                           " return parseFloat(t) >= 80; }", timeout=TRAIN_TIMEOUT)
    assert accuracy(page) > start + 0.3
    page.click("#play")
    page.wait_for_function("() => window.__nnp.frame.status === 'paused'", timeout=TIMEOUT)

    # A digit drawn on the pad becomes the probe: the network's answer appears.
    canvas = page.locator("#draw-canvas")
    box = canvas.bounding_box()
    page.mouse.move(box["x"] + box["width"] * 0.5, box["y"] + box["height"] * 0.15)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * 0.5, box["y"] + box["height"] * 0.85, steps=12)
    page.mouse.up()
    page.wait_for_function("() => window.__nnp.state.probe.drawing === true", timeout=TIMEOUT)
    page.wait_for_function("() => /^[0-9]$/.test(document.getElementById('prediction').textContent)",
                           timeout=TIMEOUT)

    # Clicking a feature map's pixel asks for its detail (the `inspect` event).
    first_map = page.locator("#feature-maps canvas.fm-canvas[data-layer='0']")
    first_map.click(position={"x": 3, "y": 3})
    page.wait_for_function("() => window.__nnp.state.inspected && window.__nnp.state.inspected.layer === 0",
                           timeout=TIMEOUT)
    page.wait_for_function("() => window.__nnp.charts.idle()", timeout=TIMEOUT)
    page.screenshot(path=screenshots / "cnn-overview.png")

    # Back to the playground: the same dataset, network and step count.
    page.select_option("#lab", "mlp")
    page.wait_for_function("() => window.__nnp.lab === 'mlp' && window.__nnp.state.lab === 'mlp' && "
                           "window.__nnp.frame && window.__nnp.frame.layerSizes", timeout=TIMEOUT)
    state = page.evaluate("() => window.__nnp.state")
    assert state["settings"]["dataset"] == "xor" and state["step"] == 3
    expect(page.locator("#network-view")).to_be_visible()
    expect(page.locator("#feature-maps")).to_be_hidden()
    assert "lab=mlp" in page.url
    assert console_errors == []


def test_a_refused_architecture_is_shown_under_the_layer_list(page: Page) -> None:
    open_page(page, "?lab=cnn")
    page.wait_for_function("() => window.__nnp.lab === 'cnn' && document.getElementById('layer-3-kernel-size')",
                           timeout=TIMEOUT)
    page.fill("#layer-3-kernel-size", "9")  # 14×14 maps, no padding change: still fits (14 + 2·2 ≥ 9)
    page.press("#layer-3-kernel-size", "Enter")
    page.wait_for_function("() => window.__nnp.state.settings.layers[3].kernel_size === 9", timeout=TIMEOUT)
    page.fill("#layer-5-kernel-size", "6")  # max-pool 6 over 14×14 maps: fine; then a second one is too big
    page.press("#layer-5-kernel-size", "Enter")
    page.wait_for_function("() => window.__nnp.state.settings.layers[5].kernel_size === 6", timeout=TIMEOUT)
    page.fill("#layer-0-kernel-size", "9")  # 28 + 2·2 − 9 + 1 = 24 → 12 → 12 + 4 − 9 + 1 = 8 → pool 6: 1 → fine
    page.press("#layer-0-kernel-size", "Enter")
    page.wait_for_function("() => window.__nnp.state.settings.layers[0].kernel_size === 9", timeout=TIMEOUT)
    page.fill("#layer-3-padding", "0")  # 12 − 9 + 1 = 4 < the pool's 6: refused, named
    page.press("#layer-3-padding", "Enter")
    error = page.locator("#layers-error")
    expect(error).to_contain_text("layer 5 MaxPool2d", timeout=TIMEOUT)
    expect(error).to_contain_text("kernel 6 is larger than the input H = 4")
    assert page.evaluate("() => window.__nnp.state.settings.layers[3].padding") == 2


def test_the_training_set_size_reads_all_for_zero_and_takes_a_number_or_all(page: Page) -> None:
    open_page(page, "?lab=cnn")
    box = page.locator("#train-size")
    expect(box).to_have_value("all", timeout=TIMEOUT)  # 0: every training image
    box.fill("300")
    box.press("Enter")
    page.wait_for_function("() => window.__nnp.state.settings.train_size === 300", timeout=TIMEOUT)
    expect(box).to_have_value("300")
    box.fill("All")
    box.press("Enter")
    page.wait_for_function("() => window.__nnp.state.settings.train_size === 0", timeout=TIMEOUT)
    expect(box).to_have_value("all")
