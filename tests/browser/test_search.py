"""The search lab in Chromium: a small race (grid, random and TPE, four trials of two epochs each) runs to
completion, its four views carry every trial, #search-progress shows the budget done, and #apply-best loads the
winner into the MLP lab. Screenshots of the finished race at 1920×1080 and 1366×768 go to artifacts/."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

TIMEOUT = 60_000
RACE_TIMEOUT = 300_000
TINY = "trials=4&epochs=2&params=learning_rate,width&samplers=grid,random,tpe&workers=1"


def charts_drawn(page) -> None:
    """Every chart shows the newest data (the chart scheduler has nothing waiting)."""
    page.wait_for_function("() => window.__nnp.charts.idle()", timeout=RACE_TIMEOUT)


@pytest.mark.slow
def test_a_small_race_runs_to_completion_and_apply_best_loads_the_winner(page, base_url, console_errors,
                                                                          screenshots):
    page.goto(f"{base_url}/?lab=search&{TINY}")
    expect(page.locator('section.views[data-lab="search"]')).to_be_visible(timeout=TIMEOUT)
    page.wait_for_function("() => window.__nnp.state?.lab === 'search' && window.__nnp.state.settings.trials === 4",
                           timeout=TIMEOUT)
    expect(page.locator("#step")).to_be_hidden()  # a search takes no steps
    expect(page.locator("#apply-best")).to_be_disabled()
    page.click("#search-start")
    expect(page.locator("#search-stop")).to_be_enabled(timeout=TIMEOUT)
    page.wait_for_function("() => window.__nnp.state?.race?.phase === 'finished'", timeout=RACE_TIMEOUT)

    for sampler in ("grid", "random", "tpe"):
        expect(page.locator(f'#search-progress [data-sampler="{sampler}"] .count')).to_have_text("4/4",
                                                                                                 timeout=TIMEOUT)
    expect(page.locator("#search-progress")).to_contain_text("finished")
    expect(page.locator("#apply-best")).to_be_enabled()
    page.wait_for_function("() => window.__nnp.views.searchModel.importances", timeout=TIMEOUT)
    charts_drawn(page)

    views = page.evaluate("""() => {
      const data = (id) => document.getElementById(id).data ?? [];
      const points = (traces) => traces.reduce((n, t) => n + (t.x ?? []).filter((v) => v !== null).length, 0);
      const best = data('search-best-chart').filter((t) => t.mode === 'lines');
      const plane = data('search-plane').filter((t) => t.xaxis && t.marker?.symbol !== 'line-ns-open'
        && t.marker?.symbol !== 'line-ew-open' && t.marker?.symbol !== 'star');
      const parcoords = data('search-parcoords')[0];
      const importance = data('search-importance')[0];
      return {
        best: best.map((t) => [t.name, t.y.length]),
        planePoints: points(plane),
        planePanels: new Set(plane.map((t) => t.xaxis)).size,
        parcoords: parcoords ? [parcoords.type, parcoords.dimensions.map((d) => [d.label, d.values.length])] : null,
        importance: importance ? [importance.type, importance.y, importance.x.reduce((a, b) => a + b, 0)] : null,
      };
    }""")
    assert views["best"] == [["grid", 4], ["random", 4], ["TPE", 4]], views
    assert views["planePoints"] == 12 and views["planePanels"] == 3, views
    assert views["parcoords"] == ["parcoords", [["sampler", 12], ["learning rate", 12], ["width", 12],
                                                ["test loss", 12]]], views
    assert views["importance"][0] == "bar" and sorted(views["importance"][1]) == ["learning rate", "width"]
    assert views["importance"][2] == pytest.approx(1.0)

    page.screenshot(path=str(screenshots / "search-race-1920.png"))
    drawn = page.evaluate("() => window.__nnp.views.searchPlane.draws")
    page.set_viewport_size({"width": 1366, "height": 768})
    page.wait_for_function(f"() => window.__nnp.views.searchPlane.draws > {drawn}", timeout=TIMEOUT)  # resized
    charts_drawn(page)
    page.screenshot(path=str(screenshots / "search-race-1366.png"), full_page=True)
    page.set_viewport_size({"width": 1920, "height": 1080})

    best = page.evaluate("() => window.__nnp.views.searchModel.best()")
    page.click("#apply-best")
    page.wait_for_function("() => window.__nnp.state?.lab === 'mlp' && window.__nnp.schema?.lab === 'mlp'",
                           timeout=RACE_TIMEOUT)
    expect(page.locator("#lab")).to_have_value("mlp")
    assert page.evaluate("() => window.__nnp.state.settings.learning_rate") == best["params"]["learning_rate"]
    assert page.evaluate("() => window.__nnp.state.settings.hidden_sizes") == [best["params"]["width"]] * 2
    # the trial's trained weights: the MLP lab's test loss is the trial's
    page.wait_for_function(f"() => Math.abs(parseFloat(document.getElementById('test-loss').textContent) - "
                           f"{best['value']}) < 1e-3 * {best['value']}", timeout=TIMEOUT)
    assert not console_errors, console_errors


@pytest.mark.slow
def test_the_page_tunes_the_rnn_lab_and_apply_best_loads_it(page, base_url, console_errors):
    """The lab to tune is a control: choosing rnn offers the RNN lab's tasks and hyperparameters (its schema's),
    and #apply-best opens the RNN lab with the best trial's settings and trained weights."""
    page.goto(f"{base_url}/?lab=search&trials=2&epochs=1&samplers=random&workers=1")
    page.wait_for_function("() => window.__nnp.state?.lab === 'search' && window.__nnp.state.settings.trials === 2",
                           timeout=TIMEOUT)
    expect(page.locator("#width-low")).to_be_visible()
    page.select_option("#target", "rnn")
    page.wait_for_function("() => window.__nnp.state.settings.target === 'rnn'", timeout=TIMEOUT)
    expect(page.locator("#dataset")).to_have_value("sine")
    expect(page.locator("#hidden-size-low")).to_be_visible()
    expect(page.locator("#width-low")).to_be_hidden()
    chips = page.locator("#params label:visible").all_inner_texts()
    assert "hidden_size" in chips and "width" not in chips, chips
    assert page.locator("#dataset option:not([hidden])").all_inner_texts() == ["sine", "sum_of_sines", "adding",
                                                                                "chars"]
    page.click("#search-start")
    page.wait_for_function("() => window.__nnp.state?.race?.phase === 'finished'", timeout=RACE_TIMEOUT)
    best = page.evaluate("() => window.__nnp.views.searchModel.best()")
    page.click("#apply-best")
    page.wait_for_function("() => window.__nnp.state?.lab === 'rnn' && window.__nnp.schema?.lab === 'rnn'",
                           timeout=RACE_TIMEOUT)
    settings = page.evaluate("() => window.__nnp.state.settings")
    assert (settings["learning_rate"], settings["hidden_size"]) == (best["params"]["learning_rate"],
                                                                   best["params"]["hidden_size"])
    page.wait_for_function(f"() => Math.abs(parseFloat(document.getElementById('test-loss').textContent) - "
                           f"{best['value']}) < 1e-3 * {best['value']} + 1e-4", timeout=TIMEOUT)
    assert not console_errors, console_errors
