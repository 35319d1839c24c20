"""Lessons: files in the top-level lessons/ folder (docs/lessons.md), checked and run on a session.

format.py      the file's shape (pydantic)        loader.py   YAML → checked lesson, problems with file/step/line
measures.py    the numbers conditions may name    conditions.py  the condition language (parsed, never eval'd)
runner.py      open a step, run it, check it (headless or live)   cli.py   `nnplayground lessons`
"""
