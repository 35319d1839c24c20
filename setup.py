"""The wheel's one build step beyond pyproject.toml: put the page into the package.

An installed nnplayground has no repository beside it, so ``build_py`` copies templates/ and static/ (every file
and subfolder, e.g. static/core/ and static/labs/*/) and the Socket.IO client from npm's node_modules/ (``npm ci``
first if it is not there) into ``app/_web/`` of the build, never into the source tree: nothing third-party is
committed. The lessons/ folder is copied beside them. app/__init__.py serves from there when it is not running from a checkout. An editable install
serves the checkout's own files and skips the copy.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent
CLIENT = Path("node_modules/socket.io-client/dist/socket.io.esm.min.js")
# The lesson panel's Markdown and formulas (app/lessons/routes.py serves them from node_modules/).
LESSON_LIBRARIES = (Path("node_modules/katex/dist"), Path("node_modules/markdown-it/dist/markdown-it.min.js"),
                    Path("node_modules/markdown-it-texmath/texmath.js"))
PAGE_FOLDERS = ("templates", "static", "lessons")


class BuildPyWithPage(build_py):
    def run(self) -> None:
        super().run()
        if getattr(self, "editable_mode", False):
            return
        if not (ROOT / CLIENT).is_file():
            subprocess.run(["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=ROOT, check=True)
        web = Path(self.build_lib) / "app" / "_web"
        for folder in PAGE_FOLDERS:
            shutil.copytree(ROOT / folder, web / folder, dirs_exist_ok=True,
                            ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        for path in (CLIENT, *LESSON_LIBRARIES):
            (web / path).parent.mkdir(parents=True, exist_ok=True)
            if (ROOT / path).is_dir():
                shutil.copytree(ROOT / path, web / path, dirs_exist_ok=True)
            else:
                shutil.copy2(ROOT / path, web / path)


setup(cmdclass={"build_py": BuildPyWithPage})
