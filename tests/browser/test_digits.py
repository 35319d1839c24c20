"""The digits views in real Chromium: 3Blue1Brown's network learns handwritten digits, reads what you draw, and
steps through backpropagation with the engine's own numbers. Every wait is for a condition, never a sleep."""

from __future__ import annotations

import re
from pathlib import Path

from playwright.sync_api import Browser, Page, expect

from .test_page import TIMEOUT, open_page, wait_for_frame

SEVEN = [(0.28, 0.2), (0.72, 0.2), (0.45, 0.85)]  # a 7 on the pad, as fractions of its width and height
TRAINING_TIMEOUT = 90_000  # ms: the 2-core test machine is shared


def test_choose_digits_play_and_the_test_accuracy_passes_90_percent(page: Page, console_errors: list[str]) -> None:
    open_page(page)
    page.select_option("#dataset", "digits")
    wait_for_frame(page, "s.settings.dataset === 'digits' && f.inputShape !== null && f.layerSizes.join() === '64,16,16,10'")
    expect(page.locator("#draw-canvas")).to_be_visible()
    page.click("#play")
    page.wait_for_function("""() => {
        const text = document.getElementById('test-accuracy').textContent.trim();
        const value = text.endsWith('%') ? Number(text.slice(0, -1)) / 100 : Number(text);
        return value >= 0.9;
    }""", timeout=TRAINING_TIMEOUT)
    page.click("#play")
    wait_for_frame(page, "f.status === 'paused'")
    assert console_errors == []


def draw(page: Page, points, release: bool = True) -> None:
    """A stroke through `points` (fractions of the pad) with the mouse: down, moves, up."""
    box = page.locator("#draw-canvas").bounding_box()
    at = lambda p: (box["x"] + p[0] * box["width"], box["y"] + p[1] * box["height"])  # noqa: E731
    page.mouse.move(*at(points[0]))
    page.mouse.down()
    for (x0, y0), (x1, y1) in zip(points[:-1], points[1:]):
        for t in range(1, 13):
            page.mouse.move(*at((x0 + (x1 - x0) * t / 12, y0 + (y1 - y0) * t / 12)))
    if release:
        page.mouse.up()


def test_a_stroke_on_the_pad_shows_the_prediction_while_drawing(page: Page, console_errors: list[str]) -> None:
    open_page(page, "?dataset=digits")
    wait_for_frame(page, "s.settings.dataset === 'digits' && f.inputShape !== null")
    expect(page.locator("#prediction")).to_have_text("")  # a dataset digit is the probe: nothing drawn yet
    draw(page, SEVEN, release=False)
    expect(page.locator("#prediction")).to_have_text(re.compile(r"^[0-9]$"), timeout=TIMEOUT)  # mouse still down
    page.mouse.up()
    wait_for_frame(page, "s.probe.drawing === true && f.input.some((v) => v > 0.5)")
    # The network's input is the drawing, centred and scaled: the 8×8 digit spans all eight rows, as optdigits' do.
    rows = page.evaluate("() => { const f = window.__nnp.frame; return [...Array(8).keys()].map("
                         "(r) => Math.max(...f.input.subarray(8 * r, 8 * r + 8))); }")
    assert min(rows) > 0
    # Saying which digit it is gives the step-through a target: the chain rule equals the engine's gradient.
    page.locator(".draw-label-chips button", has_text="7").click()
    wait_for_frame(page, "s.probe.label === 7 && f.backprop !== null && f.probeTarget[7] === 1")
    page.locator(".view.backprop").scroll_into_view_if_needed()
    expect(page.locator(".bp-ok")).to_contain_text("the same number", timeout=TIMEOUT)
    page.click("#clear-drawing")
    expect(page.locator("#prediction")).to_have_text("")
    wait_for_frame(page, "'split' in s.probe && f.probeLabel !== null")
    assert console_errors == []


def test_a_finger_draws_too(browser: Browser, base_url: str) -> None:
    context = browser.new_context(base_url=base_url, has_touch=True, viewport={"width": 1920, "height": 1080})
    page = context.new_page()
    try:
        open_page(page, "?dataset=mnist")
        wait_for_frame(page, "s.settings.dataset === 'mnist' && f.inputShape !== null && f.inputShape[0] === 28")
        box = page.locator("#draw-canvas").bounding_box()
        page.touchscreen.tap(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)  # a dot is a drawing
        expect(page.locator("#prediction")).to_have_text(re.compile(r"^[0-9]$"), timeout=TIMEOUT)
    finally:
        context.close()


def test_screenshot_of_the_digits_views(page: Page, screenshots: Path, console_errors: list[str]) -> None:
    open_page(page, "?dataset=mnist")
    wait_for_frame(page, "s.settings.dataset === 'mnist' && f.inputShape !== null && f.inputShape[0] === 28")
    page.click("#play")
    wait_for_frame(page, "f.testAccuracy >= 0.85", timeout=TRAINING_TIMEOUT)
    page.click("#play")
    wait_for_frame(page, "f.status === 'paused'")
    draw(page, SEVEN)
    page.locator(".draw-label-chips button", has_text="7").click()
    wait_for_frame(page, "s.probe.drawing === true && s.probe.label === 7 && f.backprop !== null")
    expect(page.locator("#prediction")).to_have_text(re.compile(r"^[0-9]$"))
    page.wait_for_function("() => window.__nnp.charts.idle()", timeout=TIMEOUT)
    page.screenshot(path=screenshots / "digits.png")
    for name in ("digits", "backprop", "sgd"):
        part = page.locator(f".view.{name}")
        part.scroll_into_view_if_needed()  # a chart out of sight waits until it is seen: two frames, then drawn
        page.evaluate("() => new Promise((done) => requestAnimationFrame(() => requestAnimationFrame(done)))")
        page.wait_for_function("() => window.__nnp.charts.idle()", timeout=TIMEOUT)
        path = screenshots / f"digits-{name}.png"
        part.screenshot(path=path)
        assert path.stat().st_size > 5_000, f"the {name} view looks empty"
    # A test digit the network gets wrong, clicked, becomes the input every view shows.
    wrong = page.locator(".wrong-tile").first
    wrong.scroll_into_view_if_needed()
    index = int(wrong.get_attribute("data-index"))
    wrong.click()
    wait_for_frame(page, f"s.probe.split === 'test' && s.probe.index === {index} && f.probeLabel !== null")
    assert console_errors == []
