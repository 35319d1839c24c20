"""Your own data in real Chromium: draw points and the network trains on them, erase, upload a CSV (a bad one is
refused naming its line and column), download it back, share the drawing in a link, export to PyTorch.

Every wait is for a condition, never a fixed sleep. Screenshots go to artifacts/screenshots/.
"""

from __future__ import annotations

import math

from playwright.sync_api import Page, expect

from tests.browser.conftest import SCREENSHOTS

TIMEOUT = 20_000


def open_page(page: Page, query: str = "") -> None:
    page.goto(f"/{query}")
    page.wait_for_function("() => window.__nnp && window.__nnp.redraws > 0 && window.__nnp.views.boundary?.area",
                           timeout=TIMEOUT)


def wait_state(page: Page, condition: str, timeout: int = TIMEOUT) -> None:
    """Wait until `condition` holds for the newest state `s` and the newest drawn frame `f`."""
    page.wait_for_function(f"() => {{ const s = window.__nnp.state; const f = window.__nnp.frame; "
                           f"return s && f && ({condition}); }}", timeout=timeout)


def client_xy(page: Page, x1: float, x2: float) -> tuple[float, float]:
    """Screen position of the plane's (x1, x2) on the decision-boundary view."""
    return tuple(page.evaluate("""([x1, x2]) => {
        const b = window.__nnp.views.boundary;
        const box = b.plot.getBoundingClientRect();
        const { left, top, width, height, lo, hi } = b.area;
        return [box.left + left + (x1 - lo) / (hi - lo) * width, box.top + top + (hi - x2) / (hi - lo) * height];
    }""", [x1, x2]))


def click_plane(page: Page, x1: float, x2: float, button: str = "left") -> None:
    page.mouse.click(*client_xy(page, x1, x2), button=button)


def paint(page: Page, path: list[tuple[float, float]]) -> None:
    """Press, drag through `path` (plane coordinates), release: a painted stroke."""
    page.mouse.move(*client_xy(page, *path[0]))
    page.mouse.down()
    for x1, x2 in path[1:]:
        page.mouse.move(*client_xy(page, x1, x2), steps=4)
    page.mouse.up()


def output_grid_sum(page: Page) -> float:
    return page.evaluate("() => Array.from(window.__nnp.frame.outputGrid).reduce((a, b) => a + b, 0)")


def shot(page: Page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.locator("figure.boundary").screenshot(path=str(SCREENSHOTS / name))


def test_drawing_points_makes_the_network_train_on_them(page: Page, console_errors: list[str]) -> None:
    open_page(page, "?speed=40")
    page.click("#data-mode")
    expect(page.locator("#data-mode")).to_have_attribute("aria-pressed", "true")
    page.click("#clear-points")
    wait_state(page, "s.settings.dataset === 'custom' && s.points.count === 0 && s.n_train === 0")
    before = output_grid_sum(page)
    # class 0: a blob in the middle, clicked point by point; class 1: a ring painted around it in one drag
    page.click("#class-picker .swatch[data-class='0']")
    for x1, x2 in [(0, 0), (0.8, 0.4), (-0.6, 0.7), (0.3, -0.9), (-0.9, -0.4), (1.1, -0.2), (-0.2, 1.2), (0.5, 1.0)]:
        click_plane(page, x1, x2)
    wait_state(page, "s.points.count === 8")
    spiral = [((0.4 + 1.4 * t / 30) * math.cos(t / 30 * 4 * math.pi), (0.4 + 1.4 * t / 30) * math.sin(t / 30 * 4 * math.pi))
              for t in range(31)]
    paint(page, spiral)  # more of class 0, painted: a drag adds a point every few pixels
    wait_state(page, "s.points.count >= 16")
    page.click("#class-picker .swatch[data-class='1']")
    ring = [(4.2 * math.cos(a / 24 * 2 * math.pi), 4.2 * math.sin(a / 24 * 2 * math.pi)) for a in range(25)]
    paint(page, ring)
    wait_state(page, "s.points.count >= 36 && s.num_classes === 2")
    # the last painted points may still be arriving: wait for the frame to carry the newest state's split
    wait_state(page, "f.dataset.meta.n_train === s.n_train && f.dataset.meta.n_test === s.n_test")
    state = page.evaluate("() => window.__nnp.state")
    assert state["n_train"] + state["n_test"] == state["points"]["count"] and state["n_train"] > 10
    shot(page, "own-data-drawn.png")
    page.click("#play")
    wait_state(page, "f.step > 400 && f.trainAccuracy >= 0.95", timeout=60_000)
    assert abs(output_grid_sum(page) - before) > 0.05 * abs(before) + 100  # the boundary moved
    shot(page, "own-data-learned.png")
    # a right-click removes the point under it; the count drops and training goes on
    count = page.evaluate("() => window.__nnp.state.points.count")
    click_plane(page, 0, 0, button="right")  # the clicked (0, 0) and the spiral's start within reach
    wait_state(page, f"s.points.count < {count} && s.status === 'running'")
    count = page.evaluate("() => window.__nnp.state.points.count")
    # the drawing survives a refresh (same session) and is in the link
    wait_state(page, "new URLSearchParams(location.search).get('points') === s.points.link")
    link = page.url
    page.reload()
    open_page(page)
    wait_state(page, f"s.settings.dataset === 'custom' && s.points.count === {count}")
    other = page.context.browser.new_page(base_url=page.url.split("/?")[0])
    other.goto(link)
    other.wait_for_function(f"() => window.__nnp?.state?.points?.count === {count}", timeout=TIMEOUT)
    assert other.evaluate("() => window.__nnp.state.points.link") == page.evaluate("() => window.__nnp.state.points.link")
    other.close()
    assert console_errors == []


def test_a_class_and_a_regression_value_are_picked_on_the_page(page: Page) -> None:
    open_page(page, "?dataset=plane")
    wait_state(page, "s.task === 'regression'")
    page.click("#data-mode")
    expect(page.locator("#value-picker")).to_be_visible()
    expect(page.locator("#class-picker")).to_be_hidden()
    page.click("#clear-points")
    wait_state(page, "s.settings.dataset === 'custom' && s.points.count === 0 && s.task === 'regression'")
    page.locator("#point-value").fill("-0.5")
    click_plane(page, 2, 2)
    wait_state(page, "s.points.count === 1 && f.dataset.arrays['train.y'][0] === -0.5")


BAD_CSV = "x1,x2,label\n1,2,a\n2,two,b\n3,3,a\n4,4,b\n"
GOOD_CSV = "x1,x2,label\n-1.5,2.25,cat\n0.5,-0.5,dog\n3.0,1.0,cat\n-2.0,-4.0,bird\n1.0,1.0,dog\n"


def test_upload_refuses_a_bad_csv_naming_line_and_column_then_download_gives_the_same_rows(page: Page) -> None:
    open_page(page)
    version = page.evaluate("() => window.__nnp.state.config_version")
    page.set_input_files("#upload-data", files=[{"name": "bad.csv", "mimeType": "text/csv", "buffer": BAD_CSV.encode()}])
    expect(page.locator("#error-toast")).to_contain_text("line 3, column x2", timeout=TIMEOUT)
    assert page.evaluate("() => window.__nnp.state.config_version") == version  # nothing changed
    assert page.evaluate("() => window.__nnp.state.settings.dataset") == "circle"
    page.set_input_files("#upload-data", files=[{"name": "pets.csv", "mimeType": "text/csv", "buffer": GOOD_CSV.encode()}])
    wait_state(page, "s.points && s.points.count === 5 && s.num_classes === 3")
    expect(page.locator("#data-note")).to_contain_text("5 points of your own")
    href = page.get_attribute("#download-data", "href")
    assert page.request.get(href).text() == GOOD_CSV
    exported = page.request.get(page.get_attribute("#export-pytorch", "href")).text()
    assert "nn.Linear(2, 8)" in exported and '["cat", "dog", "bird"]' in exported
