"""The loss landscape in real Chromium: the contour appears, descent's path grows while training, and the two
weights can be chosen from the view.

Every wait is for a condition (wait_for_function), never a fixed sleep.
"""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import Page

TIMEOUT = 30_000  # ms: generous for a 2-core machine shared with other test runs

# What the landscape view has drawn (Plotly keeps the contour on its element; the arrows and the path are on a canvas over it).
DRAWN = """() => {
  const plot = document.getElementById('landscape-plot');
  const traces = plot && plot.data ? plot.data : [];
  const contour = traces.find((t) => t.type === 'contour');
  return {
    contourRows: contour ? contour.z.length : 0,
    contourColumns: contour ? contour.z[0].length : 0,
    finite: contour ? contour.z.flat().filter(Number.isFinite).length : 0,
    arrows: window.__nnp.views.landscape?.drawnArrows ?? 0,  // (views exist once the lab has loaded) the arrow field and the path are on a canvas over it
    path: window.__nnp.views.landscape?.drawnPath ?? 0,
    xTitle: (plot && plot.layout && plot.layout.xaxis && plot.layout.xaxis.title && plot.layout.xaxis.title.text) || '',
  };
}"""


def drawn(page: Page) -> dict:
    return page.evaluate(DRAWN)


def wait_drawn(page: Page, condition: str) -> None:
    page.wait_for_function(f"() => {{ const d = ({DRAWN})(); return {condition}; }}", timeout=TIMEOUT)


def test_the_landscape_appears_and_its_path_grows_while_training(page: Page, screenshots: Path,
                                                                  console_errors: list[str]) -> None:
    page.goto("/")
    wait_drawn(page, "d.contourRows === 25 && d.contourColumns === 25 && d.arrows > 40")
    first = drawn(page)
    assert first["finite"] == 25 * 25
    assert first["xTitle"].startswith("w[0][") and "0.weight[" in first["xTitle"]

    page.click("#play")
    wait_drawn(page, f"d.path >= {first['path']} + 3")
    grown = drawn(page)
    page.wait_for_function("() => window.__nnp.frame && window.__nnp.frame.step > 400", timeout=TIMEOUT)
    wait_drawn(page, f"d.path > {grown['path']}")
    page.click("#play")  # pause, and let the last landscape arrive and be drawn
    page.wait_for_function("""() => { const f = window.__nnp.frame; const l = f && f.landscape;
      return f.status === 'paused' && l && l.meta.step === f.step; }""", timeout=TIMEOUT)
    wait_drawn(page, "d.contourRows === 25")
    page.locator("#loss-landscape").screenshot(path=screenshots / "landscape.png")
    assert console_errors == []


def test_choosing_a_weight_redraws_the_landscape_over_it(page: Page, console_errors: list[str]) -> None:
    page.goto("/")
    wait_drawn(page, "d.contourRows > 0")
    page.select_option("#landscape-x", "1,2,3")  # w[1][2,3]: the second layer's weight from neuron 3 to 2
    page.wait_for_function("""() => { const s = window.__nnp.state;
      return s && s.landscape.auto === false && s.landscape.weights[0].join(',') === '1,2,3'; }""", timeout=TIMEOUT)
    wait_drawn(page, "d.xTitle.startsWith('w[1][2,3] · 2.weight[2, 3]') && d.contourRows > 0")
    assert page.locator("#landscape-x").input_value() == "1,2,3"
    page.click("#landscape-auto")  # back to the steepest pair
    page.wait_for_function("() => window.__nnp.state.landscape.auto === true", timeout=TIMEOUT)
    wait_drawn(page, "d.xTitle.startsWith('w[0][')")
    assert console_errors == []
