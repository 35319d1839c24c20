"""The RNN lab in Chromium: ?lab=rnn trains (the train loss falls), #shapes follows bidirectional and batch_first,
the character model's #generated-text changes as it trains, and the views draw without errors."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

TIMEOUT = 60_000


def open_lab(page, base_url: str, query: str = ""):
    page.goto(f"{base_url}/?lab=rnn{query}")
    expect(page.locator('section.views[data-lab="rnn"]')).to_be_visible(timeout=TIMEOUT)
    page.wait_for_function("() => window.__nnp && window.__nnp.frame && window.__nnp.frame.hidden?.[0]",
                           timeout=TIMEOUT)


def train_loss(page) -> float | None:
    text = page.locator("#train-loss").inner_text()
    try:
        return float(text)
    except ValueError:
        return None


def shape_of(page, tensor: str) -> str:
    return page.locator(f'#shapes tr[data-tensor="{tensor}"] td').nth(1).inner_text()


def set_control(page, name: str, value: str) -> None:
    """Choose ``value`` in the control panel's widget for ``name`` (a select, or a box typed into)."""
    control = page.locator(f"#controls #{name.replace('_', '-')}")
    if control.evaluate("e => e.tagName") == "SELECT":
        control.select_option(value)
    else:
        control.fill(value)
        control.press("Enter")


def test_play_and_the_train_loss_falls(page, base_url, console_errors):
    open_lab(page, base_url)
    page.wait_for_function("() => document.querySelector('#train-loss').textContent.trim() !== '–'",
                           timeout=TIMEOUT)
    first = train_loss(page)
    page.click("#play")
    page.wait_for_function(
        f"() => {{ const v = parseFloat(document.querySelector('#train-loss').textContent);"
        f" return Number.isFinite(v) && v < {first} / 3; }}", timeout=TIMEOUT)
    page.click("#play")  # pause
    # The loss curve shows it: the train and test losses over the steps, falling (the shared curves chart).
    page.locator("#rnn-curves").scroll_into_view_if_needed()
    page.wait_for_function("() => { const d = document.getElementById('rnn-curves').data;"
                           " const train = d && d[0].y.filter(Number.isFinite);"
                           " return train && train.length >= 3 && train.at(-1) < train[0] / 2"
                           " && d[1].y.some(Number.isFinite); }", timeout=TIMEOUT)
    names = page.evaluate("() => document.getElementById('rnn-curves').data.map((t) => t.name)")
    assert names == ["train loss", "test loss"]  # no accuracy axis: the sine is a regression task
    assert not console_errors, console_errors


def test_shapes_follow_bidirectional_and_batch_first(page, base_url, console_errors):
    open_lab(page, base_url)
    expect(page.locator("#shapes")).to_contain_text("output")
    assert shape_of(page, "input") == "(50, 32, 1)"  # (L, N, H_in)
    assert shape_of(page, "output") == "(50, 32, 16)"
    set_control(page, "bidirectional", "True")
    expect(page.locator('#shapes tr[data-tensor="output"]')).to_contain_text("(50, 32, 32)", timeout=TIMEOUT)
    assert shape_of(page, "h_0") == "(2, 32, 16)" and shape_of(page, "h_n") == "(2, 32, 16)"
    set_control(page, "batch_first", "True")
    expect(page.locator('#shapes tr[data-tensor="output"]')).to_contain_text("(32, 50, 32)", timeout=TIMEOUT)
    assert shape_of(page, "input") == "(32, 50, 1)"
    assert shape_of(page, "h_0") == "(2, 32, 16)"  # batch_first does not apply to h_0 and h_n
    expect(page.locator("#shapes")).to_contain_text("batch_first does not apply to h_0 and h_n")
    expect(page.locator('#shapes tr[data-parameter="weight_hh_l0_reverse"]')).to_contain_text("(16, 16)")
    assert not console_errors, console_errors


@pytest.mark.slow
def test_generated_text_changes_as_the_character_model_trains(page, base_url, console_errors):
    open_lab(page, base_url)
    set_control(page, "task", "chars")
    expect(page.locator("#generated-text")).to_be_visible(timeout=TIMEOUT)
    page.wait_for_function("() => document.querySelector('#generated-text').textContent.length > 100",
                           timeout=TIMEOUT)
    before = page.locator("#generated-text").inner_text()
    page.click("#play")
    page.wait_for_function(f"() => document.querySelector('#generated-text').textContent !== {before!r}",
                           timeout=TIMEOUT)
    page.click("#play")
    assert re.search(r"temperature", page.locator("#rnn-text-caption").inner_text())
    assert not console_errors, console_errors


def test_hidden_state_heatmap_paints_each_unit_and_step(page, base_url, console_errors):
    """#rnn-hidden-heatmap (a canvas): one row per unit of both directions, one column per step, h_t > 0 blue and
    h_t < 0 red, and the pointer reads the value of the cell under it."""
    open_lab(page, base_url)
    set_control(page, "bidirectional", "True")
    heatmap = page.locator("#rnn-hidden-heatmap canvas")
    heatmap.scroll_into_view_if_needed()
    page.wait_for_function("() => window.__nnp.views.rnnHeatmap.cell?.width === 32", timeout=TIMEOUT)  # 2 × 16
    cells = page.evaluate("""() => {
      const view = window.__nnp.views.rnnHeatmap;
      const c = view.cell;
      const ratio = window.devicePixelRatio || 1;
      const ctx = view.canvas.getContext('2d');
      const found = {};
      for (let t = 0; t < c.L; t += 1) {
        for (let j = 0; j < c.width; j += 1) {
          const v = c.states[t * c.width + j];
          const sign = v > 0.3 ? 'positive' : v < -0.3 ? 'negative' : null;
          if (!sign || found[sign]) continue;
          const x = c.x0 + (t + 0.5) * c.cw;
          const y = c.y0 + (j + 0.5) * c.ch;
          const [r, g, b] = ctx.getImageData(Math.round(x * ratio), Math.round(y * ratio), 1, 1).data;
          found[sign] = { t, j, v, r, g, b, x, y };
        }
      }
      return { L: c.L, found };
    }""")
    assert cells["L"] == 50  # the sine's sequence length
    positive, negative = cells["found"]["positive"], cells["found"]["negative"]
    assert positive["b"] > positive["r"] + 40, positive  # blue for h > 0
    assert negative["r"] > negative["b"] + 40, negative  # red for h < 0
    box = heatmap.bounding_box()
    page.mouse.move(box["x"] + positive["x"], box["y"] + positive["y"])
    title = heatmap.get_attribute("title")
    assert f"t {positive['t']}," in title and f"h = {positive['v']:.3f}" in title, title
    assert not console_errors, console_errors


def test_prediction_view_draws_target_and_prediction_and_reads_them_under_the_pointer(page, base_url, console_errors):
    """#rnn-prediction (a canvas): on the sine, the prediction ŷ_t drawn in blue at its height at every step; the
    pointer reads that step's target and prediction."""
    open_lab(page, base_url)
    view = page.locator("#rnn-prediction canvas")
    view.scroll_into_view_if_needed()
    page.wait_for_function("() => window.__nnp.views.rnnPrediction.drawn?.mode === 'waves'", timeout=TIMEOUT)
    drawn = page.evaluate("""() => {
      const view = window.__nnp.views.rnnPrediction;
      const d = view.drawn;
      const p = window.__nnp.frame.probe;
      const ratio = window.devicePixelRatio || 1;
      const ctx = view.canvas.getContext('2d');
      const points = [];
      for (const t of [5, 20, 40]) {
        const x = d.x(t);
        const y = d.y(Math.max(-1.2, Math.min(1.2, p.prediction[t])));
        const [r, g, b] = ctx.getImageData(Math.round(x * ratio), Math.round(y * ratio), 1, 1).data;
        points.push({ t, x, y, r, g, b, target: p.target[t], prediction: p.prediction[t] });
      }
      return { L: d.L, points };
    }""")
    assert drawn["L"] == 50
    for point in drawn["points"]:
        assert point["b"] > point["r"] + 60, point  # the prediction's blue dot sits at (t, ŷ_t)
    box = view.bounding_box()
    point = drawn["points"][1]
    page.mouse.move(box["x"] + point["x"], box["y"] + point["y"])
    title = view.get_attribute("title")
    assert title == f"t 20: target {point['target']:.3f}, prediction {point['prediction']:.3f}", title
    assert not console_errors, console_errors
