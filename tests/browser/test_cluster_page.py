"""A class across two server processes in real Chromium (docs/deploy.md): the teacher's page on one process, a
student's on the other; the student's page connects by websocket only, follows the class, and shows a clear
"reconnecting" banner while Redis is away — the teacher's run goes on meanwhile — and resumes when it is back.
Screenshot: the student's page with the banner (artifacts/screenshots/cluster-reconnecting-390x844.png)."""

from __future__ import annotations

from playwright.sync_api import Browser, expect

from tests.scaleout.conftest import processes  # noqa: F401  (the fixture: two server processes and Redis)

from .test_classroom import PHONE, epoch
from .test_page import TIMEOUT, wait_for_frame


def test_a_student_on_another_process_follows_and_sees_redis_go_away_and_come_back(
        browser: Browser, processes, redis_server, screenshots) -> None:  # noqa: F811
    a, b = processes
    teacher_context = browser.new_context(viewport={"width": 1366, "height": 768})
    student_context = browser.new_context(**PHONE)
    try:
        teacher = teacher_context.new_page()
        teacher.goto(f"{a.url}/?play=1")
        teacher.click("#class-start")
        expect(teacher.locator("#join-code")).to_be_visible(timeout=TIMEOUT)
        code = teacher.locator("#join-code-text").inner_text()
        teacher.click("#join-code-close")
        wait_for_frame(teacher, "f.status === 'running' && f.epoch >= 1")

        student = student_context.new_page()
        websockets = []
        student.on("websocket", lambda ws: websockets.append(ws.url))
        student.on("request", lambda r: websockets.append(r.url) if "transport=polling" in r.url else None)
        student.goto(f"{b.url}/join/{code}")  # the join page itself comes from the teacher's process
        expect(student.locator("#follower-badge")).to_contain_text("Following the class", timeout=TIMEOUT)
        wait_for_frame(student, "f.status === 'running'")
        assert websockets and all("transport=websocket" in url for url in websockets), websockets
        teachers = epoch(teacher)
        student.wait_for_function(f"() => Number(document.getElementById('epoch').textContent) > {teachers}",
                                  timeout=TIMEOUT)
        expect(student.locator("#relay-banner")).to_be_hidden()

        redis_server.stop()
        expect(student.locator("#relay-banner")).to_be_visible(timeout=TIMEOUT)
        expect(student.locator("#relay-banner")).to_contain_text("Reconnecting")
        expect(student.locator("#connection")).to_have_attribute("data-state", "reconnecting")
        student.screenshot(path=str(screenshots / "cluster-reconnecting-390x844.png"))
        during = epoch(teacher)
        teacher.wait_for_function(f"() => Number(document.getElementById('epoch').textContent) > {during + 1}",
                                  timeout=TIMEOUT)  # the teacher's process trains on

        redis_server.start()
        expect(student.locator("#relay-banner")).to_be_hidden(timeout=TIMEOUT)
        expect(student.locator("#connection")).to_have_attribute("data-state", "connected")
        resumed = epoch(teacher)
        student.wait_for_function(f"() => Number(document.getElementById('epoch').textContent) > {resumed}",
                                  timeout=TIMEOUT)
    finally:
        teacher_context.close()
        student_context.close()
