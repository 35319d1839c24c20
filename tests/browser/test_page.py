"""The playground page in real Chromium against a real server: what a teacher would notice.

Every wait is for a condition (wait_for_function / expect), never a fixed sleep.
"""

from __future__ import annotations

from urllib.parse import parse_qs, urlparse

from playwright.sync_api import Page, expect

TIMEOUT = 20_000  # ms: generous for a 2-core machine shared with other test runs


def open_page(page: Page, query: str = "") -> None:
    page.goto(f"/{query}")
    page.wait_for_function("() => window.__nnp && window.__nnp.redraws > 0 && document.getElementById('learning-rate')",
                           timeout=TIMEOUT)


def frame_value(page: Page, expression: str):
    return page.evaluate(f"() => {{ const f = window.__nnp.frame; return {expression}; }}")


def train_loss(page: Page) -> float:
    return float(page.locator("#train-loss").inner_text())


def wait_for_frame(page: Page, condition: str, timeout: int = TIMEOUT) -> None:
    """Wait until `condition` holds for the newest drawn frame `f` (and the newest state `s`)."""
    page.wait_for_function(f"() => {{ const f = window.__nnp.frame; const s = window.__nnp.state; return f && ({condition}); }}",
                           timeout=timeout)


def test_page_loads_with_no_console_errors(page: Page, console_errors: list[str]) -> None:
    open_page(page)
    for selector in ("#play", "#step", "#reset", "#learning-rate", "#activation", "#dataset", "#batch-size",
                     "#add-layer", "#remove-layer", "#epoch", "#train-loss", "#test-loss", "#network-view",
                     "#cost-chart", "#boundary-view", "#gradient-view"):
        expect(page.locator(selector)).to_be_attached()
    datasets = page.locator("#dataset option").evaluate_all("options => options.map(o => o.value)")
    assert {"circle", "xor", "gaussian", "spiral", "multi-class", "plane", "multi-gaussian", "digits", "mnist"} <= set(datasets)
    float(page.locator("#train-loss").inner_text())  # a plain number
    assert console_errors == []


def test_play_makes_the_loss_fall_and_the_network_change(page: Page, console_errors: list[str]) -> None:
    open_page(page)
    before_loss = train_loss(page)
    before_picture = page.locator("#network-view").screenshot()
    page.click("#play")
    expect(page.locator("#play")).to_have_attribute("aria-pressed", "true", timeout=TIMEOUT)
    page.wait_for_function(f"() => Number(document.getElementById('train-loss').textContent) < {before_loss} * 0.7",
                           timeout=TIMEOUT)
    assert int(page.locator("#epoch").inner_text()) > 0
    assert page.locator("#network-view").screenshot() != before_picture
    page.click("#play")
    expect(page.locator("#play")).to_have_attribute("aria-pressed", "false", timeout=TIMEOUT)
    assert console_errors == []


def test_learning_rate_changed_live_keeps_training(page: Page) -> None:
    open_page(page)
    page.click("#play")
    wait_for_frame(page, "f.step > 50")
    page.fill("#learning-rate", "0.1")
    page.press("#learning-rate", "Enter")
    wait_for_frame(page, "f.learningRate === 0.1 && s.settings.learning_rate === 0.1")
    step_at_change = frame_value(page, "f.step")
    wait_for_frame(page, f"f.step > {step_at_change} + 50 && f.status === 'running'")
    expect(page.locator("#learning-rate")).to_have_value("0.1")


def test_layer_added_mid_run_appears_and_the_loss_keeps_falling(page: Page) -> None:
    open_page(page)
    page.click("#play")
    start = train_loss(page)
    page.wait_for_function(f"() => Number(document.getElementById('train-loss').textContent) < {start} * 0.8",
                           timeout=TIMEOUT)
    layers_before = frame_value(page, "f.layerSizes.length")
    pairs_before = page.locator("#neuron-buttons .pair").count()
    page.click("#add-layer")
    wait_for_frame(page, f"f.layerSizes.length === {layers_before + 1}")
    expect(page.locator("#neuron-buttons .pair")).to_have_count(pairs_before + 1, timeout=TIMEOUT)
    loss_after_add = frame_value(page, "f.trainLoss")
    wait_for_frame(page, f"f.trainLoss < {loss_after_add} * 0.8 && f.status === 'running'", timeout=30_000)


def test_clicking_a_link_edits_its_weight(page: Page) -> None:
    open_page(page)
    point = page.evaluate("() => window.__nnp.views.network.linkPoint(0, 2, 1)")
    assert point is not None
    page.mouse.click(point["x"], point["y"])
    editor = page.locator("#weight-editor-input")
    expect(editor).to_be_visible()
    expect(page.locator("#weight-editor-label")).to_contain_text("0.weight[2, 1]")
    editor.fill("2.5")
    editor.press("Enter")
    wait_for_frame(page, "Math.abs(f.weights[0][2 * f.layerSizes[0] + 1] - 2.5) < 1e-6")
    expect(page.locator("#weight-editor")).to_be_hidden()


def test_hovering_a_neuron_shows_its_map_large(page: Page) -> None:
    open_page(page)
    point = page.evaluate("() => window.__nnp.views.network.neuronPoint(1, 3)")
    page.mouse.move(point["x"], point["y"])
    expect(page.locator("#boundary-title")).to_contain_text("Neuron 1.3")
    expect(page.locator(".tooltip")).to_contain_text("a = ")
    page.mouse.move(5, 5)
    expect(page.locator("#boundary-title")).to_have_text("Decision boundary")


def test_bad_typed_value_shows_an_inline_error_and_changes_nothing(page: Page) -> None:
    open_page(page)
    before = page.evaluate("() => window.__nnp.state.settings.learning_rate")
    version = page.evaluate("() => window.__nnp.state.config_version")
    page.fill("#learning-rate", "-1")
    page.press("#learning-rate", "Enter")
    error = page.locator("#learning-rate-error")
    expect(error).to_be_visible(timeout=TIMEOUT)
    expect(error).to_contain_text("Learning rate must be between 0.00001 and 10; -1 is too small.")
    expect(page.locator("#learning-rate")).to_have_value(str(before))  # snapped back to the value in force
    assert page.evaluate("() => window.__nnp.state.settings.learning_rate") == before
    assert page.evaluate("() => window.__nnp.state.config_version") == version
    # A good value afterwards clears the error.
    page.fill("#learning-rate", "0.01")
    page.press("#learning-rate", "Enter")
    expect(error).to_be_hidden(timeout=TIMEOUT)


def test_url_round_trips_the_configuration(page: Page, browser) -> None:
    query = "?dataset=xor&learning_rate=0.1&hidden_sizes=4,3&activation=relu&batch_size=20&noise=0.1&show_test=1&maps=0"
    open_page(page, query)
    wait_for_frame(page, "s.settings.dataset === 'xor' && s.settings.hidden_sizes.join() === '4,3'")
    expect(page.locator("#dataset")).to_have_value("xor")
    expect(page.locator("#activation")).to_have_value("relu")
    expect(page.locator("#learning-rate")).to_have_value("0.1")
    expect(page.locator("#batch-size")).to_have_value("20")
    expect(page.locator("#show-test")).to_be_checked()
    expect(page.locator("#show-maps")).not_to_be_checked()  # maps=0: neurons as circles
    page.wait_for_function("() => window.__nnp.redraws > 0 && window.__nnp.views.network.mapsDrawn === 0",
                           timeout=TIMEOUT)
    # The URL now holds the whole configuration, and the page's own options.
    params = parse_qs(urlparse(page.url).query)
    settings = page.evaluate("() => window.__nnp.state.settings")
    assert set(settings) <= set(params)
    assert params["show_test"] == ["1"]
    assert params["maps"] == ["0"]
    # A shared link, opened in a fresh browser (a new session), reproduces the setup.
    other = browser.new_context(viewport={"width": 1280, "height": 800})
    try:
        copy = other.new_page()
        copy.goto(page.url)
        copy.wait_for_function("() => window.__nnp?.state?.settings.dataset === 'xor' && window.__nnp.redraws > 0",
                               timeout=TIMEOUT)
        copy.wait_for_function("() => window.__nnp.state.settings.hidden_sizes.join() === '4,3'", timeout=TIMEOUT)
        assert copy.evaluate("() => window.__nnp.state.settings") == settings
        expect(copy.locator("#show-test")).to_be_checked()
        expect(copy.locator("#show-maps")).not_to_be_checked()
        # Turned back on, the toggle is in the link again, and the neurons are drawn as maps.
        copy.check("#show-maps")
        copy.wait_for_function("() => new URLSearchParams(location.search).get('maps') === '1'", timeout=TIMEOUT)
        copy.wait_for_function("() => window.__nnp.views.network.mapsDrawn > 0", timeout=TIMEOUT)
    finally:
        other.close()


def test_play_in_the_link_starts_a_fresh_session_training(page: Page) -> None:
    # What `make run` opens: the first thing a teacher sees is a network learning, without a click.
    open_page(page, "?play=1")
    wait_for_frame(page, "s.status === 'running' && f.step > 0")
    expect(page.locator("#play")).to_have_attribute("aria-pressed", "true")
    # One-shot: the link the page then shows (and Copy link shares) does not carry it.
    assert "play" not in parse_qs(urlparse(page.url).query)


def test_divergence_is_shown_and_reset_recovers(page: Page) -> None:
    open_page(page, "?dataset=plane&learning_rate=10&activation=relu")
    wait_for_frame(page, "s.settings.learning_rate === 10 && s.settings.dataset === 'plane'")
    page.click("#play")
    banner = page.locator("#divergence")
    expect(banner).to_be_visible(timeout=TIMEOUT)
    expect(banner).to_contain_text("learning rate")
    expect(page.locator("#play")).to_have_attribute("aria-pressed", "false")
    page.click("#divergence-reset")
    expect(banner).to_be_hidden(timeout=TIMEOUT)
    wait_for_frame(page, "f.step === 0 && f.status === 'paused'")


def test_one_hidden_layer_gets_its_own_activation(page: Page) -> None:
    open_page(page)
    page.select_option("#activation-0", "relu")
    wait_for_frame(page, "s.hidden_activations.join() === 'relu,tanh'")
    expect(page.locator("#activation")).to_have_value("tanh")


def test_hide_parameter_hides_controls(page: Page) -> None:
    open_page(page, "?hide=noise,features,seed")
    expect(page.locator("#noise")).to_be_hidden()
    expect(page.locator("#seed")).to_be_hidden()
    expect(page.locator("#learning-rate")).to_be_visible()
