"""A class in real Chromium: the teacher starts it, a student on a phone follows (read-only), takes a copy and
trains it, and the teacher's run goes on unchanged. Screenshots: the join code on a 1366×768 projector, the
follower's page on a phone (390×844) and a tablet (768×1024).

Every wait is for a condition; nothing asserts wall-clock time.
"""

from __future__ import annotations

from playwright.sync_api import Browser, expect

from .test_page import TIMEOUT, wait_for_frame

PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True, "device_scale_factor": 2}
TABLET = {"width": 768, "height": 1024}

# Every form control that changes the session: the controls panel, the transport, the lab switch, the views'.
CONTROLS = "main.layout :is(button, input, select, textarea), .transport button, #lab"


def epoch(page) -> int:
    return int(page.locator("#epoch").inner_text())


def enabled_controls(page) -> list[str]:
    return page.evaluate(f"""() => [...document.querySelectorAll({CONTROLS!r})]
        .filter((el) => !el.disabled).map((el) => el.id || el.name || el.outerHTML.slice(0, 60))""")


def no_sideways_scroll(page) -> bool:
    return page.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth + 1")


def test_a_student_follows_the_class_read_only_takes_a_copy_and_trains_it(browser: Browser, live,
                                                                         screenshots) -> None:
    teacher_context = browser.new_context(viewport={"width": 1366, "height": 768})
    student_context = browser.new_context(**PHONE)
    try:
        teacher = teacher_context.new_page()
        teacher.goto(f"{live.url}/")
        teacher.wait_for_function("() => window.__nnp && window.__nnp.redraws > 0", timeout=TIMEOUT)
        teacher.click("#class-start")
        expect(teacher.locator("#join-code")).to_be_visible(timeout=TIMEOUT)
        code = teacher.locator("#join-code-text").inner_text()
        assert len(code) == 6
        teacher.wait_for_function("() => document.getElementById('join-qr').naturalWidth > 0", timeout=TIMEOUT)
        teacher.screenshot(path=str(screenshots / "classroom-join-code-1366x768.png"))
        teacher.click("#join-code-close")
        teacher.click("#play")
        wait_for_frame(teacher, "f.status === 'running' && f.epoch >= 1")

        student = student_context.new_page()
        errors: list[str] = []
        student.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        student.goto(f"{live.url}/join/{code}")
        expect(student.locator("#follower-badge")).to_contain_text("Following the class", timeout=TIMEOUT)
        # The teacher's run, live: the student's epoch advances, past where the teacher's page just was.
        wait_for_frame(student, "f.status === 'running'")
        teachers = epoch(teacher)
        student.wait_for_function(f"() => Number(document.getElementById('epoch').textContent) > {teachers}",
                                  timeout=TIMEOUT)
        teacher.wait_for_function("() => document.getElementById('class-following').textContent === '1'",
                                  timeout=TIMEOUT)
        # Every control is disabled (and greyed).
        student.wait_for_function("() => document.getElementById('learning-rate')", timeout=TIMEOUT)
        assert enabled_controls(student) == []
        assert student.locator(CONTROLS).count() > 20
        assert student.locator("#learning-rate").evaluate("el => getComputedStyle(el).opacity") == "0.45"
        assert no_sideways_scroll(student)
        student.wait_for_timeout(300)  # let the views settle before the picture (not a condition: a screenshot)
        student.screenshot(path=str(screenshots / "classroom-follower-390x844.png"))
        student.set_viewport_size(TABLET)
        student.wait_for_function("() => window.innerWidth === 768", timeout=TIMEOUT)
        assert no_sideways_scroll(student)
        student.wait_for_timeout(300)
        student.screenshot(path=str(screenshots / "classroom-follower-768x1024.png"))
        # A control sent anyway (past the page's own check) is refused by the server.
        reply = student.evaluate("() => window.__nnp.socketSend('set', {learning_rate: 0.5})")
        assert reply["ok"] is False and reply["error"]["field"] == "role"

        # A copy of one's own: the controls come alive, and it trains without touching the teacher's run.
        student.click("#fork")
        expect(student.locator("#follower-badge")).to_contain_text("Your own copy", timeout=TIMEOUT)
        expect(student.locator("#follow-again")).to_be_visible()
        wait_for_frame(student, "s.status === 'paused'")
        student.wait_for_function("() => !document.getElementById('learning-rate').disabled", timeout=TIMEOUT)
        assert enabled_controls(student) != []
        student.fill("#learning-rate", "0.3")
        student.press("#learning-rate", "Enter")
        wait_for_frame(student, "s.settings.learning_rate === 0.3")
        copied_at = epoch(student)
        student.click("#play")
        student.wait_for_function(f"() => Number(document.getElementById('epoch').textContent) > {copied_at + 2}",
                                  timeout=TIMEOUT)
        teacher_state = teacher.evaluate("() => window.__nnp.state")
        assert teacher_state["settings"]["learning_rate"] == 0.03 and teacher_state["status"] == "running"
        wait_for_frame(teacher, "f.learningRate === 0.03 && f.status === 'running'")
        assert errors == []

        # Bring everyone back: the student follows again, read-only.
        teacher.click("#class-button")
        teacher.click("#bring-back")
        expect(student.locator("#follower-badge")).to_contain_text("Following the class", timeout=TIMEOUT)
        wait_for_frame(student, "s.settings.learning_rate === 0.03")
        student.wait_for_function("() => document.getElementById('learning-rate').disabled", timeout=TIMEOUT)

        # End the class: the student's page says so, keeping the last picture; the teacher's is its own again.
        teacher.on("dialog", lambda dialog: dialog.accept())
        teacher.click("#class-end")
        expect(student.locator("#class-ended")).to_be_visible(timeout=TIMEOUT)
        expect(student.locator("#follower-badge")).to_contain_text("The class has ended")
        assert enabled_controls(student) == []
        expect(teacher.locator("#class-start")).to_be_visible(timeout=TIMEOUT)
        expect(teacher.locator("#join-code")).to_be_hidden()
    finally:
        student_context.close()
        teacher_context.close()
