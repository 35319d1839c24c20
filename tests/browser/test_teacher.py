"""A teacher's first hour (issue 9), in real Chromium: the first minute, the projector, divergence, growing a
trained network, refused values, dead units, saving and loading, regenerating.

Every wait is for a condition; nothing asserts wall-clock time.
"""

from __future__ import annotations

import json
from contextlib import contextmanager
import subprocess
import sys
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from .conftest import unused_port
from .test_page import TIMEOUT, open_page, wait_for_frame

SHOTS = {"1366x768": {"width": 1366, "height": 768}, "1920x1080": {"width": 1920, "height": 1080}}


@pytest.fixture(scope="module")
def default_server():
    """`nnplayground` as `make run` starts it (the default speed), in a process of its own: one app serves at a
    time per process, and the suite's shared server already does here."""
    port = unused_port()
    server = subprocess.Popen([sys.executable, "-m", "app", "--no-browser", "--port", str(port)],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        assert "serving on" in server.stdout.readline()
        yield f"http://127.0.0.1:{port}"
    finally:
        server.terminate()
        server.wait(timeout=10)


def train_until(page: Page, condition: str, timeout: int = 40_000) -> None:
    """Play until `condition` holds for the newest frame, then pause and wait for the metrics of that step."""
    page.click("#play")
    wait_for_frame(page, condition, timeout=timeout)
    page.click("#play")
    wait_for_frame(page, "f.status === 'paused' && f.metricsStep === f.step")


def test_the_first_frame_on_screen_is_epoch_0_and_then_it_learns(browser: Browser, default_server: str) -> None:
    context = browser.new_context(viewport=SHOTS["1366x768"])
    try:
        page = context.new_page()
        errors: list[str] = []
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.goto(f"{default_server}/?play=1")
        page.wait_for_function("() => window.__nnp && window.__nnp.firstDrawn", timeout=TIMEOUT)
        first = page.evaluate("() => window.__nnp.firstDrawn")
        assert (first["step"], first["epoch"]) == (0, 0)
        wait_for_frame(page, "s.status === 'running' && f.step > 0")  # and only then it trains
        assert page.evaluate("() => window.__nnp.state.settings.speed") == 20  # paced for a class to watch
        speed = page.locator("#speed").bounding_box()  # on the first screen, no scrolling
        assert speed and speed["y"] >= 0 and speed["y"] + speed["height"] <= 768 and speed["x"] + speed["width"] <= 1366
        assert errors == []
    finally:
        context.close()


def text_sizes_in_view(page: Page) -> dict:
    """The smallest font size of any visible text in the viewport (HTML and SVG), and of the charts' tick labels."""
    return page.evaluate("""() => {
        const inView = (r) => r.width > 0 && r.height > 0 && r.bottom > 0 && r.right > 0
            && r.top < innerHeight && r.left < innerWidth;
        let smallest = Infinity, where = '', ticks = Infinity;
        const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
        for (let node = walker.nextNode(); node; node = walker.nextNode()) {
            if (!node.textContent.trim()) continue;
            const el = node.parentElement;
            if (!el || el.closest('[hidden], script, style, option, .sr-only')) continue;
            const style = getComputedStyle(el);
            if (style.visibility === 'hidden' || style.display === 'none' || Number(style.opacity) === 0) continue;
            const range = document.createRange();
            range.selectNodeContents(node);
            if (![...range.getClientRects()].some(inView)) continue;
            const size = parseFloat(style.fontSize);
            const tick = el.closest('.xtick, .ytick, .y2tick, .x2tick');
            if (tick) { ticks = Math.min(ticks, size); continue; }
            if (size < smallest) { smallest = size; where = `${el.tagName}#${el.id}.${el.className?.baseVal ?? el.className}: ${node.textContent.trim().slice(0, 30)}`; }
        }
        return {smallest, where, ticks};
    }""")


@contextmanager
def presenter_page(browser: Browser, size: dict, base_url: str, dataset: str):
    """A page of its own at ``size`` in presenter mode on ``dataset``, and the console errors it logs."""
    context = browser.new_context(viewport=size, base_url=base_url)
    try:
        page = context.new_page()
        errors: list[str] = []
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        open_page(page, f"?presenter=1&dataset={dataset}")
        yield page, errors
    finally:
        context.close()


def wholly_in_view(page: Page, selector: str, size: dict) -> bool:
    box = page.locator(selector).bounding_box()
    return bool(box) and box["x"] >= 0 and box["y"] >= 0 and box["x"] + box["width"] <= size["width"] + 0.5 \
        and box["y"] + box["height"] <= size["height"] + 0.5 and box["width"] > 50 and box["height"] > 50


@pytest.mark.parametrize("name", list(SHOTS))
@pytest.mark.parametrize("dataset, views", [
    ("circle", ["#network-view", "#boundary-view", "#cost-chart"]),
    ("digits", ["#network-view", "#draw-canvas", "#digits-outputs", "#cost-chart"]),
])
def test_presenter_mode_fits_the_projector(browser: Browser, name: str, dataset: str, views: list[str],
                                          screenshots: Path, base_url: str) -> None:
    size = SHOTS[name]
    with presenter_page(browser, size, base_url, dataset) as (page, errors):
        wait_for_frame(page, f"s.settings.dataset === '{dataset}' && f.step > 0 || s.settings.dataset === '{dataset}'")
        page.click("#play")
        wait_for_frame(page, "f.epoch >= 2", timeout=40_000)
        page.click("#play")
        wait_for_frame(page, "f.status === 'paused'")
        page.wait_for_function("() => window.__nnp.charts.idle()", timeout=TIMEOUT)
        assert page.evaluate("() => document.documentElement.classList.contains('presenter')")
        assert page.evaluate("() => [document.scrollingElement.scrollHeight <= innerHeight + 1, scrollY]") == [True, 0]
        for selector in views:
            assert wholly_in_view(page, selector, size), (selector, page.locator(selector).bounding_box())
        sizes = text_sizes_in_view(page)
        assert sizes["smallest"] >= 16, sizes
        assert sizes["ticks"] >= 14, sizes
        page.screenshot(path=screenshots / f"teacher-presenter-{dataset}-{name}.png")
        # The controls come back from their slim strip, and go again; the URL keeps the choice.
        page.click("#hide-controls")
        expect(page.locator("#controls")).to_be_visible()
        page.wait_for_function("() => new URLSearchParams(location.search).get('controls') === '1'", timeout=TIMEOUT)
        page.click("#hide-controls")
        page.wait_for_function("() => new URLSearchParams(location.search).get('controls') === '0'", timeout=TIMEOUT)
        assert errors == []


def test_hide_controls_outside_presenter_mode_is_kept_in_the_link(page: Page) -> None:
    open_page(page)
    expect(page.locator("#learning-rate")).to_be_visible()
    page.click("#hide-controls")
    expect(page.locator("#learning-rate")).to_be_hidden()
    expect(page.locator("#hide-controls")).to_have_attribute("aria-pressed", "true")
    page.wait_for_function("() => new URLSearchParams(location.search).get('controls') === '0'", timeout=TIMEOUT)
    page.goto(page.url)  # the link reproduces it
    page.wait_for_function("() => window.__nnp && window.__nnp.redraws > 0", timeout=TIMEOUT)
    expect(page.locator("#learning-rate")).to_be_hidden()


def test_divergence_keeps_every_view_on_its_last_finite_state(page: Page, console_errors: list[str],
                                                              screenshots: Path) -> None:
    open_page(page, "?dataset=plane&learning_rate=10&activation=relu")
    wait_for_frame(page, "s.settings.learning_rate === 10 && s.settings.dataset === 'plane'")
    page.click("#play")
    banner = page.locator("#divergence")
    expect(banner).to_be_visible(timeout=TIMEOUT)
    # The learning rate in force, and exactly what the button sets.
    expect(banner).to_contain_text("at learning rate 10")
    expect(page.locator("#divergence-lower")).to_contain_text("1")
    page.wait_for_function("() => window.__nnp.charts.idle()", timeout=TIMEOUT)
    marks = page.locator(".diverged-mark")
    assert marks.count() >= 2  # the network's and the boundary's own marks
    cost = page.evaluate("() => { const l = document.getElementById('cost-chart').layout; return "
                         "{range: l.yaxis.range, notes: (l.annotations || []).map((a) => a.text)}; }")
    assert cost["range"][1] < 1e6 and any("diverged" in text for text in cost["notes"]), cost
    assert page.locator("#gradient-column canvas").get_attribute("aria-label").startswith("diverged")
    page.screenshot(path=screenshots / "teacher-diverged.png")
    page.click("#divergence-lower")
    wait_for_frame(page, "s.settings.learning_rate === 1 && f.step === 0")
    expect(banner).to_be_hidden()
    assert console_errors == []


def test_a_layer_added_to_a_trained_network_keeps_its_accuracy(page: Page) -> None:
    open_page(page, "?dataset=circle")
    train_until(page, "f.testAccuracy >= 0.97")
    before = page.evaluate("() => window.__nnp.frame.testAccuracy")
    page.click("#add-layer")
    wait_for_frame(page, "f.layerSizes.length === 5 && f.metricsStep === f.step && f.configVersion === s.config_version")
    after = page.evaluate("() => window.__nnp.frame.testAccuracy")
    assert abs(after - before) <= 0.03, (before, after)
    expect(page.locator("#error-toast")).to_contain_text("starts as nearly the identity")


def test_a_refused_value_snaps_back_with_a_sentence(page: Page) -> None:
    open_page(page)
    page.fill("#learning-rate", "50")
    page.press("#learning-rate", "Enter")
    error = page.locator("#learning-rate-error")
    expect(error).to_have_text("Learning rate must be between 0.00001 and 10; 50 is too large.", timeout=TIMEOUT)
    expect(page.locator("#learning-rate")).to_have_value("0.03")  # the value in force, not the refused one
    assert page.evaluate("() => window.__nnp.errors.at(-1)")["received"] == "50"  # the wire keeps its fields
    page.select_option("#dataset", "plane")
    wait_for_frame(page, "s.settings.dataset === 'plane'")
    page.select_option("#loss", "cross_entropy")
    expect(page.locator("#loss-error")).to_contain_text("Cross-entropy needs a classification dataset; plane is "
                                                        "regression", timeout=TIMEOUT)
    expect(page.locator("#loss")).to_have_value("mse")


def test_dead_units_are_counted_marked_and_revived_in_one_click(page: Page) -> None:
    open_page(page, "?dataset=xor&activation=tanh")
    train_until(page, "f.testAccuracy >= 0.9")
    page.select_option("#activation", "relu")
    wait_for_frame(page, "s.hidden_activations.join() === 'relu,relu' && f.configVersion === s.config_version")
    # Kill half of the first layer for sure: biases far below zero, as a long tanh run can leave them.
    for neuron in range(4):
        page.evaluate(f"() => window.__nnp.send('edit_bias', {{layer: 0, neuron: {neuron}, value: -90}})")
    wait_for_frame(page, "f.dead[0] && f.dead[0].slice(0, 4).every((d) => d === 1) && f.configVersion === s.config_version")
    expect(page.locator("#dead-units")).to_contain_text("dead")
    assert page.evaluate("() => window.__nnp.views.network.deadMarked") >= 4
    button = page.locator("#reinitialize")
    expect(button).to_be_visible()
    expect(button).to_contain_text("relu")
    button.click()
    wait_for_frame(page, "s.switched_layers.length === 0 && f.configVersion === s.config_version")
    wait_for_frame(page, "f.dead[0].filter((d) => d === 1).length <= 1")
    expect(button).to_be_hidden()


def test_save_then_load_in_a_new_tab_brings_back_the_dataset_and_accuracy(page: Page, browser: Browser,
                                                                        tmp_path: Path, base_url: str) -> None:
    open_page(page, "?dataset=spiral&features=x1,x2,sin(x1),sin(x2)&noise=0.1&seed=3&learning_rate=0.03")
    wait_for_frame(page, "s.settings.dataset === 'spiral' && s.settings.seed === 3")
    train_until(page, "f.testAccuracy >= 0.7")
    accuracy = page.evaluate("() => window.__nnp.frame.testAccuracy")
    settings = page.evaluate("() => window.__nnp.state.settings")
    with page.expect_download() as download:
        page.click("#save-json")
    path = tmp_path / "model.json"
    download.value.save_as(path)
    assert json.loads(path.read_text())["settings"]["dataset"] == "spiral"
    other = browser.new_context(viewport={"width": 1920, "height": 1080}, base_url=base_url)
    try:
        tab = other.new_page()
        open_page(tab)
        assert tab.evaluate("() => window.__nnp.state.settings.dataset") == "circle"
        tab.set_input_files("#load-model", str(path))
        wait_for_frame(tab, "s.settings.dataset === 'spiral' && f.configVersion === s.config_version "
                            "&& f.metricsStep === f.step")
        assert tab.evaluate("() => window.__nnp.state.settings") == settings
        assert tab.evaluate("() => window.__nnp.frame.testAccuracy") == accuracy
        expect(tab.locator("#dataset")).to_have_value("spiral")
    finally:
        other.close()


def test_regenerate_draws_new_data_and_keeps_the_weights(page: Page) -> None:
    open_page(page, "?dataset=gaussian")
    wait_for_frame(page, "s.settings.dataset === 'gaussian' && f.dataset")
    train_until(page, "f.step > 100")
    weights = page.evaluate("() => Array.from(window.__nnp.frame.weights[0])")
    points = page.evaluate("() => Array.from(window.__nnp.frame.dataset.arrays['train.x'] || []).slice(0, 10)")
    seed = page.evaluate("() => window.__nnp.state.settings.seed")
    page.click("#regenerate")
    wait_for_frame(page, f"s.settings.seed === {seed + 1} && f.configVersion === s.config_version")
    assert page.evaluate("() => Array.from(window.__nnp.frame.weights[0])") == weights
    page.wait_for_function(f"() => JSON.stringify(Array.from(window.__nnp.frame.dataset.arrays['train.x'] || [])"
                           f".slice(0, 10)) !== '{json.dumps(points)}'", timeout=TIMEOUT)


def boxes_overlap(a: list, b: list) -> bool:
    """Whether two [x, y, width, height] boxes share any area."""
    return a[0] < b[0] + b[2] and b[0] < a[0] + a[2] and a[1] < b[1] + b[3] and b[1] < a[1] + a[3]


@pytest.mark.parametrize("name", list(SHOTS))
def test_presenter_charts_keep_their_labels_clear(browser: Browser, name: str, screenshots: Path,
                                                  base_url: str) -> None:
    """In presenter mode the −∇C column's labels never sit under its bars, and the backprop nudges chart keeps
    its tick labels inside the chart, also for a trained network's tiny nudges (ticks like 5×10⁻⁴)."""
    with presenter_page(browser, SHOTS[name], base_url, "digits") as (page, errors):
        wait_for_frame(page, "s.settings.dataset === 'digits'")
        page.click("#step")
        wait_for_frame(page, "f.step > 0 && f.backprop !== null && f.probeTarget !== null")
        column = page.locator("#gradient-column")
        column.scroll_into_view_if_needed()
        # the column as drawn (any frame's layout will do): no wait for every other chart on a loaded machine
        page.wait_for_function("() => window.__nnp.views.gradient.boxes?.labels.length > 0", timeout=60_000)
        boxes = page.evaluate("() => window.__nnp.views.gradient.boxes")
        width = page.evaluate("() => document.getElementById('gradient-column').clientWidth")
        for label in boxes["labels"]:
            assert label[0] + label[2] <= width, (label, width)  # the whole label inside the column
            for bar in boxes["bars"]:
                assert not boxes_overlap(label, bar), (label, bar, boxes["stacked"])
        column.screenshot(path=screenshots / f"gradient-column-presenter-{name}.png")

        page.locator(".view.backprop").scroll_into_view_if_needed()
        page.wait_for_function("() => document.querySelector('.bp-chart .ytick')", timeout=60_000)
        for shrink in (1, 1e-4):  # the live nudges, then as small as a trained network's
            page.evaluate("""(shrink) => {
                const view = window.__nnp.views.backprop, frame = view.last, arrays = {...frame.arrays};
                for (const key of ['backprop.prev_activation_grad_parts', 'backprop.prev_activation_grad'])
                    arrays[key] = arrays[key].map((v) => v * shrink);
                view.render({...frame, arrays});
            }""", shrink)
            outside = page.evaluate("""() => {
                const chart = document.querySelector('.bp-chart').getBoundingClientRect();
                return [...document.querySelectorAll('.bp-chart .ytick text, .bp-chart .xtick text')]
                    .map((t) => [t.textContent, t.getBoundingClientRect()])
                    .filter(([, r]) => r.left < chart.left - 0.5 || r.right > chart.right + 0.5
                                       || r.top < chart.top - 0.5 || r.bottom > chart.bottom + 0.5)
                    .map(([text]) => text);
            }""")
            assert outside == [], (shrink, outside)
        page.locator(".view.backprop").screenshot(path=screenshots / f"backprop-nudges-presenter-{name}.png")
        assert errors == []
