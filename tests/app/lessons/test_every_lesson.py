"""Every lesson in lessons/ loads and passes its check headless (seeded): the phenomenon each one shows really
happens. New lesson files are picked up as they land."""

import pytest

from app.lessons.loader import lesson_files, load_file
from app.lessons.runner import check_lesson

FILES = lesson_files()


def test_there_are_lessons():
    assert FILES, "lessons/ has no lesson files"


@pytest.mark.slow
@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
def test_lesson_passes_its_checks(path):
    lesson = load_file(path)
    result = check_lesson(lesson)
    failed = [c.to_wire() for c in result.checks() if not c.passed]
    assert result.passed, result.error or failed
    assert result.checks(), f"{path.name}: a lesson checks what it shows"
