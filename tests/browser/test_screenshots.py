"""Screenshots of every view after some training, saved under artifacts/screenshots/ for a human to judge.

The assertions are what a screenshot cannot show by itself: the views drew something and nothing errored.
"""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import Page

from .test_page import TIMEOUT, open_page, wait_for_frame

VIEWS = {
    "network": ".view.network",
    "boundary": ".view.boundary",
    "cost": ".view.cost",
    "gradient": ".view.gradient",
    "activation": ".view.activation",
}


def shoot_views(page: Page, screenshots: Path, prefix: str) -> None:
    page.wait_for_function("() => window.__nnp.charts.idle()", timeout=TIMEOUT)  # every chart on the newest frame
    page.screenshot(path=screenshots / f"{prefix}-page.png")
    for name, selector in VIEWS.items():
        path = screenshots / f"{prefix}-{name}.png"
        view = page.locator(selector)
        view.scroll_into_view_if_needed()  # image datasets scroll: a chart out of sight waits until it is seen
        page.evaluate("() => new Promise((done) => requestAnimationFrame(() => requestAnimationFrame(done)))")
        page.wait_for_function("() => window.__nnp.charts.idle()", timeout=TIMEOUT)
        view.screenshot(path=path)
        assert path.stat().st_size > 5_000, f"{name} view looks empty"


def test_screenshot_each_view_while_training(page: Page, screenshots: Path, console_errors: list[str]) -> None:
    open_page(page, "?dataset=spiral&hidden_sizes=8,8,8,8&features=x1,x2,sin(x1),sin(x2)&learning_rate=0.03"
                    "&clipping=norm&clip_threshold=0.5&show_test=1")
    wait_for_frame(page, "s.settings.dataset === 'spiral' && f.layerSizes.length === 6")
    page.click("#play")
    wait_for_frame(page, "f.epoch >= 30", timeout=40_000)
    page.click("#play")
    wait_for_frame(page, "f.status === 'paused'")
    shoot_views(page, screenshots, "spiral")
    page.click("#presenter")  # larger type everywhere, for the back row
    page.wait_for_function("() => document.documentElement.classList.contains('presenter') && window.__nnp.charts.idle()",
                           timeout=TIMEOUT)
    page.screenshot(path=screenshots / "spiral-presenter.png")
    assert console_errors == []


def test_screenshot_digits(page: Page, screenshots: Path, console_errors: list[str]) -> None:
    open_page(page, "?dataset=digits")
    wait_for_frame(page, "s.settings.dataset === 'digits' && f.inputShape !== null")
    page.click("#play")
    wait_for_frame(page, "f.testAccuracy > 0.5", timeout=TIMEOUT)
    page.click("#play")
    wait_for_frame(page, "f.status === 'paused'")
    shoot_views(page, screenshots, "digits")
    assert console_errors == []
