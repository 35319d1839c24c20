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
