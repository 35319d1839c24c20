"""The network view draws every neuron as its own map over the input plane (TF Playground's squares) on 2-D data.

Every wait is for a condition, never a fixed sleep. Screenshots: artifacts/screenshots/network-maps*.png.
"""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import Page, expect

from .test_page import TIMEOUT, open_page, wait_for_frame

SIX_BY_EIGHT = ("?dataset=spiral&hidden_sizes=8,8,8,8,8,8&features=x1,x2,sin(x1),sin(x2)&learning_rate=0.03"
                "&activation=tanh")
NETWORK = "window.__nnp.views.network"


def every_neuron_has_a_map(page: Page) -> int:
    """Inputs, hidden neurons and outputs: one map each, in the newest drawn frame. Returns how many."""
    page.wait_for_function(f"() => {NETWORK}.mapsDrawn > 0 && {NETWORK}.mapsDrawn === "
                           "window.__nnp.frame.layerSizes.reduce((a, b) => a + b, 0)", timeout=TIMEOUT)
    return page.evaluate(f"() => {NETWORK}.mapsDrawn")


def map_pixels(page: Page, layer: int, index: int) -> str:
    return page.evaluate(f"() => {NETWORK}.maps.get({layer}, {index}).toDataURL()")


def test_neuron_maps_are_drawn_and_change_while_training(page: Page, screenshots: Path,
                                                         console_errors: list[str]) -> None:
    open_page(page, SIX_BY_EIGHT)
    wait_for_frame(page, "s.settings.dataset === 'spiral' && f.layerSizes.length === 8")
    expect(page.locator("#show-maps")).to_be_checked()
    every_neuron_has_a_map(page)
    before = [map_pixels(page, 1, 0), map_pixels(page, 8 - 1, 0)]

    page.click("#play")
    wait_for_frame(page, "f.epoch >= 20", timeout=40_000)
    page.click("#play")
    wait_for_frame(page, "f.status === 'paused'")
    every_neuron_has_a_map(page)
    assert [map_pixels(page, 1, 0), map_pixels(page, 8 - 1, 0)] != before, "the maps did not follow training"

    # Redrawing the same frame (hover, resize) repaints no map: only a new frame's grids do.
    repaints = page.evaluate(f"() => {NETWORK}.maps.repaints")
    page.evaluate(f"() => {{ {NETWORK}.update(window.__nnp.frame); {NETWORK}.update(window.__nnp.frame); }}")
    assert page.evaluate(f"() => {NETWORK}.maps.repaints") == repaints

    page.wait_for_function("() => window.__nnp.charts.idle()", timeout=TIMEOUT)
    page.locator(".view.network").screenshot(path=screenshots / "network-maps.png")
    wide = page.evaluate(f"() => {NETWORK}.geometry.width")
    page.set_viewport_size({"width": 1280, "height": 720})
    page.wait_for_function(f"() => {NETWORK}.geometry && {NETWORK}.geometry.width < {wide} && {NETWORK}.mapsDrawn > 0",
                           timeout=TIMEOUT)
    page.evaluate("() => new Promise((done) => requestAnimationFrame(() => requestAnimationFrame(done)))")
    page.locator(".view.network").screenshot(path=screenshots / "network-maps-1280.png")
    assert console_errors == []


def test_hover_and_links_still_work_on_the_maps(page: Page) -> None:
    open_page(page, "?dataset=xor&hidden_sizes=4,3")
    wait_for_frame(page, "s.settings.dataset === 'xor' && f.layerSizes.join() === '2,4,3,1'")
    every_neuron_has_a_map(page)
    # A neuron's square shows its map large in the decision-boundary panel, as the circles did.
    corner = page.evaluate(f"() => {{ const p = {NETWORK}.neuronPoint(1, 2); const r = {NETWORK}.geometry.radius;"
                           " return {x: p.x + r * 0.8, y: p.y - r * 0.8}; }")
    page.mouse.move(corner["x"], corner["y"])
    expect(page.locator("#boundary-title")).to_contain_text("Neuron 1.2")
    page.mouse.move(5, 5)
    expect(page.locator("#boundary-title")).to_have_text("Decision boundary")
    # Links attach to the squares' sides and are still clickable.
    point = page.evaluate(f"() => {NETWORK}.linkPoint(1, 0, 3)")
    page.mouse.click(point["x"], point["y"])
    expect(page.locator("#weight-editor-label")).to_contain_text("2.weight[0, 3]")
    page.locator("#weight-editor-input").fill("-1.5")
    page.locator("#weight-editor-input").press("Enter")
    wait_for_frame(page, "Math.abs(f.weights[1][0 * 4 + 3] + 1.5) < 1e-6")


def test_the_toggle_turns_the_maps_into_circles(page: Page) -> None:
    open_page(page, "?dataset=circle")
    maps = every_neuron_has_a_map(page)
    page.uncheck("#show-maps")
    page.wait_for_function(f"() => {NETWORK}.mapsDrawn === 0 && !{NETWORK}.geometry?.squares", timeout=TIMEOUT)
    assert page.evaluate(f"() => {NETWORK}.mapsDrawn") == 0  # circles now
    page.check("#show-maps")
    assert every_neuron_has_a_map(page) == maps == 2 + 8 + 8 + 1  # the default 2-8-8-1 network


def test_digits_keep_circles_and_hide_the_toggle(page: Page) -> None:
    open_page(page, "?dataset=digits")
    wait_for_frame(page, "s.settings.dataset === 'digits' && f.inputShape !== null")
    page.wait_for_function(f"() => {NETWORK}.frame && {NETWORK}.frame.inputShape !== null", timeout=TIMEOUT)
    assert page.evaluate(f"() => {NETWORK}.mapsDrawn") == 0
    assert page.evaluate(f"() => {NETWORK}.geometry.squares") is False
    expect(page.locator("#show-maps")).to_be_hidden()
