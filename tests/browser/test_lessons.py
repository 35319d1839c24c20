"""Lessons in the page: ?lesson= opens one, the prediction comes before the run, the run plays live and the
verdict shows the measured numbers; a teacher's own file with a mistake is refused naming its line; the panel
and its callouts read at projector size."""

import re
import shutil
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import SCREENSHOTS

SHOTS = Path("/work/shots/lessons")

BROKEN = b"""\
title: My lesson
concept: Mine
steps:
  - title: Too fast
    text: Hello
    settings: {learning_rate: 50}
"""

MINE = b"""\
title: My own lesson
concept: Mine
steps:
  - title: Train the circle
    text: A hidden layer of **8** tanh units, $\\eta = 0.03$.
    settings: {dataset: circle, hidden_sizes: [8], seed: 2}
    highlight: [hidden_sizes]
    run: {steps: 400}
    check:
      - that: test_accuracy >= 0.5
        text: Better than chance
"""


def shot(page, name):
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"lessons-{name}.png"
    page.screenshot(path=str(path))
    if SHOTS.parent.is_dir():
        SHOTS.mkdir(exist_ok=True)
        shutil.copy(path, SHOTS / path.name)


def run_step(page):
    page.locator("#lesson-run").click()
    verdict = page.locator("#lesson-verdict")
    expect(verdict).to_be_visible(timeout=30_000)
    return verdict


def test_a_lesson_predicted_run_and_checked(page, live, console_errors):
    page.goto(f"{live.url}/?lesson=learning-rate&step=1")
    panel = page.locator("#lesson-panel")
    expect(panel).to_be_visible(timeout=15_000)
    expect(page.locator("#lesson-progress")).to_have_text("Step 1 of 3")
    expect(page.locator("#lesson-text .katex").first).to_be_visible()  # the formula, typeset
    run = page.locator("#lesson-run")
    expect(run).to_be_disabled()  # the prediction first
    # The callouts mark the learning-rate control (with a label pointing at it) and the cost view (its title).
    control = page.locator("#learning-rate").locator("xpath=ancestor::*[contains(@class,'control')][1]")
    expect(control).to_have_class(re.compile("lesson-highlight"))
    tag = page.locator('.callout-tag[data-target="learning_rate"]')
    expect(tag).to_have_text("Learning rate")
    page.wait_for_function("""() => {  // the label just above the control, pointing at it
        const tag = document.querySelector('.callout-tag[data-target="learning_rate"]');
        const control = document.getElementById('learning-rate')?.closest('.control');
        if (!tag || tag.hidden || !control) return false;
        const t = tag.getBoundingClientRect(), c = control.getBoundingClientRect();
        return t.bottom <= c.top && Math.abs(t.left - c.left) < 40;
    }""", timeout=10_000)
    expect(page.locator("figure.view.lesson-highlight figcaption .title")).to_have_text("Cost")
    expect(page.locator('.callout-tag[data-target="#cost-chart"]')).to_be_hidden()  # the title is the label
    # The step's settings are the session's.
    page.wait_for_function("window.__nnp.state && window.__nnp.state.settings.learning_rate === 0.003")
    assert page.evaluate("window.__nnp.state.settings.dataset") == "plane"

    page.get_by_label("Infinite: diverged").check()
    expect(run).to_be_enabled()
    shot(page, "predict-1920")
    verdict = run_step(page)
    expect(verdict.locator(".lesson-prediction.wrong")).to_contain_text("Still well above the best it can reach")
    expect(verdict.locator(".lesson-check.passed")).to_have_count(1)
    expect(verdict.locator(".lesson-measured")).to_have_text(re.compile(r"test_loss = 0\.0\d+"))
    expect(page.locator("#lesson-run-status")).to_have_text("Ran 300 steps.")
    assert page.evaluate("window.__nnp.state.step") == 300  # it stopped where --check stops
    shot(page, "verdict-1920")

    page.locator("#lesson-next").click()
    expect(page.locator("#lesson-progress")).to_have_text("Step 2 of 3")
    expect(page).to_have_url(re.compile(r"lesson=learning-rate&step=2|step=2.*lesson=learning-rate"))
    page.locator("#lesson-next").click()
    expect(page.locator("#lesson-progress")).to_have_text("Step 3 of 3")
    expect(page.locator("#lesson-next")).to_be_disabled()
    page.get_by_label("The loss jumps up and becomes infinite: the run diverges").check()
    verdict = run_step(page)
    expect(verdict.locator(".lesson-prediction.right")).to_be_visible()
    expect(verdict.locator(".lesson-check.passed")).to_have_count(2)
    expect(verdict).to_contain_text("diverged = 1")
    expect(page.locator("#divergence")).to_be_visible()
    shot(page, "diverged-1920")
    assert not console_errors


def test_the_lessons_menu_and_a_teachers_own_file(page, live, console_errors):
    page.goto(live.url)
    page.wait_for_function("window.__nnp.state !== null")
    page.locator("#lessons").click()
    menu = page.locator("#lessons-menu")
    expect(menu).to_be_visible()
    expect(menu.locator(".lessons-group h3", has_text="Gradient descent")).to_be_visible()
    expect(menu.locator('[data-lesson="a-neuron"]')).to_contain_text("A neuron")
    page.locator("#lesson-file").set_input_files(files=[{"name": "my.yaml", "mimeType": "text/yaml", "buffer": BROKEN}])
    error = page.locator("#lesson-upload-error")
    expect(error).to_be_visible()
    expect(error).to_contain_text("my.yaml:6: step 1 ('Too fast') settings.learning_rate:")
    expect(error).to_contain_text("50 is too large")
    shot(page, "upload-error-1920")
    page.locator("#lesson-file").set_input_files(files=[{"name": "mine.yaml", "mimeType": "text/yaml", "buffer": MINE}])
    expect(page.locator("#lesson-title")).to_have_text("My own lesson", timeout=15_000)
    expect(page.locator("#lesson-text strong")).to_have_text("8", timeout=15_000)  # the Markdown libraries load
    verdict = run_step(page)  # no prediction: the run may start at once
    expect(verdict.locator(".lesson-check.passed")).to_contain_text("Better than chance")
    page.locator("#lessons").click()
    expect(menu.locator(".lessons-group h3", has_text="Your lessons")).to_be_visible()
    assert [e for e in console_errors if "status of 400" not in e] == []  # the refused upload's own 400


@pytest.mark.parametrize("width, height", [(1366, 768), (1920, 1080)])
def test_presenter_mode_at_projector_size(page, live, width, height):
    page.set_viewport_size({"width": width, "height": height})
    page.goto(f"{live.url}/?lesson=a-neuron&step=1&presenter=1")
    expect(page.locator("#lesson-panel")).to_be_visible(timeout=15_000)
    expect(page.locator("figure.view.lesson-highlight figcaption .title").first).to_be_visible()
    page.get_by_label("tanh(1) ≈ 0.76").check()
    run_step(page)
    expect(page.locator("#lesson-verdict .lesson-check.passed")).to_have_count(2)
    sizes = page.evaluate("""[...document.querySelectorAll('#lesson-panel *')]
        .filter((el) => el.childNodes.length && [...el.childNodes].some((n) => n.nodeType === 3 && n.textContent.trim())
                        && el.getClientRects().length && !el.closest('.katex'))
        .map((el) => parseFloat(getComputedStyle(el).fontSize))""")
    assert min(sizes) >= 16
    panel = page.locator("#lesson-panel").bounding_box()
    assert panel["x"] + panel["width"] <= width and panel["y"] + panel["height"] <= height + 1
    # The views still have the room left (the panel does not cover them).
    views = page.locator('section.views[data-lab="mlp"]').bounding_box()
    assert views["x"] + views["width"] <= panel["x"]
    shot(page, f"presenter-{width}x{height}")


def test_a_callout_follows_its_control_into_the_strip(page, live):
    page.goto(f"{live.url}/?lesson=learning-rate&step=2")
    tag = page.locator('.callout-tag[data-target="learning_rate"]')
    expect(tag).to_have_text("Learning rate", timeout=15_000)
    page.locator("#hide-controls").click()
    expect(tag).to_have_text("Learning rate: open the controls ›")
    expect(page.locator("#controls-strip")).to_have_class(re.compile("lesson-highlight"))
    page.locator("#controls-strip").click()  # the controls back: the mark is on the control again
    expect(tag).to_have_text("Learning rate")
    expect(page.locator("#learning-rate").locator("xpath=ancestor::*[contains(@class,'control')][1]")).to_have_class(
        re.compile("lesson-highlight"))
    expect(page.locator("#controls-strip")).not_to_have_class(re.compile("lesson-highlight"))


def test_a_step_opened_by_link_builds_on_the_steps_before_it(page, live, console_errors):
    page.goto(f"{live.url}/?lesson=a-neuron&step=2")
    expect(page.locator("#lesson-note")).to_have_text("This step continues step 1: replayed first.",
                                                            timeout=15_000)
    page.get_by_label("x₁ = −2").check()
    run = page.locator("#lesson-run")
    expect(run).to_have_text("Check")
    verdict = run_step(page)
    expect(verdict.locator(".lesson-check.passed")).to_have_count(2)
    expect(verdict).to_contain_text("output(0, 0, -2, 3) = 0")
    assert not console_errors


def test_every_lessons_text_and_formulas_typeset(page, live):
    """Every step of every lesson in lessons/ renders: Markdown, and formulas KaTeX can typeset (a typo in a
    formula shows as KaTeX's red error text in the panel)."""
    page.goto(live.url)
    problems = page.evaluate("""async () => {
        const { renderMarkdown, renderInline } = await import('/static/lessons/markdown.js');
        const { lessons } = await (await fetch('/api/lessons')).json();
        const problems = [];
        for (const { name } of lessons) {
            const lesson = await (await fetch(`/api/lessons/${name}`)).json();
            for (const [i, step] of lesson.steps.entries()) {
                const texts = [step.text, step.predict?.question, step.predict?.explain, ...(step.predict?.choices ?? []),
                               ...step.check.flatMap((c) => [c.text, c.explain])].filter(Boolean);
                for (const text of texts) {
                    const box = document.createElement('div');
                    box.innerHTML = text === step.text ? await renderMarkdown(text) : await renderInline(text);
                    for (const error of box.querySelectorAll('.katex-error')) {
                        problems.push(`${name} step ${i + 1}: ${error.title || error.textContent}`);
                    }
                }
            }
        }
        return problems;
    }""")
    assert problems == []


def test_a_class_follows_the_teachers_lesson_step(browser, live):
    teacher = browser.new_context(viewport={"width": 1366, "height": 768}).new_page()
    student = browser.new_context(viewport={"width": 1366, "height": 768}).new_page()
    try:
        teacher.goto(f"{live.url}/?lesson=learning-rate&step=1")
        expect(teacher.locator("#lesson-progress")).to_have_text("Step 1 of 3", timeout=15_000)
        teacher.wait_for_function("window.__nnp_lessons.phase === 'ready'")
        teacher.click("#class-start")
        expect(teacher.locator("#join-code-text")).to_have_text(re.compile(r"^\w{6}$"), timeout=15_000)
        code = teacher.locator("#join-code-text").inner_text()
        teacher.click("#join-code-close")
        student.goto(f"{live.url}/join/{code}")
        # A late joiner sees the step the teacher shows, read-only.
        expect(student.locator("#lesson-progress")).to_have_text("Step 1 of 3", timeout=15_000)
        expect(student.locator("#lesson-step-title")).to_have_text("Downhill, one small step at a time")
        expect(student.locator("#lesson-follow")).to_be_visible()
        expect(student.locator("#lesson-run")).to_be_hidden()
        expect(student.locator("#lesson-choices input").first).to_be_disabled()
        expect(student.locator("#lessons")).to_be_hidden()
        expect(student.locator("figure.view.lesson-highlight figcaption .title")).to_have_text("Cost")
        teacher.locator("#lesson-next").click()
        expect(student.locator("#lesson-progress")).to_have_text("Step 2 of 3")
        expect(student.locator("#lesson-step-title")).to_have_text("A hundred times larger")
        shot(student, "follower-1366")
        teacher.locator("#lesson-close").click()
        expect(student.locator("#lesson-panel")).to_be_hidden()
    finally:
        teacher.context.close()
        student.context.close()


IN_SIGHT = """(targets) => targets.every((name) => {
    const target = document.getElementById(name.slice(1));
    const marked = target?.closest('figure.view') ?? target;
    if (!marked?.classList.contains('lesson-highlight')) return false;   // the callout marks it
    const title = marked.querySelector('figcaption') ?? marked;
    const r = title.getBoundingClientRect();
    if (!(r.width > 0 && r.top >= 0 && r.left >= 0 && r.bottom <= innerHeight && r.right <= innerWidth)) return false;
    // and it is the figure seen there, not another one laid over it
    const seen = document.elementFromPoint(r.left + Math.min(40, r.width / 2), r.top + r.height / 2);
    return Boolean(seen && marked.contains(seen));
})"""


@pytest.mark.parametrize("name", ["cnn-shapes", "cnn-overfitting", "rnn-shapes", "rnn-vanishing"])
def test_presenter_mode_at_1366_shows_each_highlighted_view(page, live, name):
    """Every step's highlighted views end up in the window, marked, and seen (not under another view): presenter
    mode once laid the MLP lab's areas over the CNN and RNN labs' views, stacking them in one cell."""
    from app.lessons.loader import LESSONS_DIR, load_file

    steps = load_file(LESSONS_DIR / f"{name}.yaml").lesson.steps
    page.set_viewport_size({"width": 1366, "height": 768})
    page.goto(f"{live.url}/?lesson={name}&step=1&presenter=1")
    for k, step in enumerate(steps, start=1):
        expect(page.locator("#lesson-progress")).to_contain_text(f"Step {k} of", timeout=20_000)
        views = [h for h in step.highlight if h.startswith("#")]
        page.wait_for_function(IN_SIGHT, arg=views, timeout=20_000)
        if k == 1:
            shot(page, f"presenter-1366-{name}")
        if k < len(steps):
            page.locator("#lesson-next").click()
