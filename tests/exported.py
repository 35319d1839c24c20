"""Run exported PyTorch scripts (engine.export_torch) in a fresh process, for the tests that compare them with the
engine. Only called where torch is installed."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np


def run_exported(cases: dict[str, tuple[str, np.ndarray]], folder: Path) -> dict[str, tuple[np.ndarray, str]]:
    """``{name: (script, inputs)}`` → ``{name: (predict(inputs) as numpy, what running the script printed)}``:
    each script runs as a program (its own example) and its ``predict`` is called on the inputs, all in ONE
    process, so torch is imported once."""
    for name, (source, inputs) in cases.items():
        (folder / f"{name}.py").write_text(source)
        np.save(folder / f"{name}.in.npy", inputs)
    driver = (
        "import contextlib, io, runpy, numpy as np, torch\n"
        f"folder = {str(folder)!r}\n"
        f"for name in {list(cases)!r}:\n"
        "    printed = io.StringIO()\n"
        "    with contextlib.redirect_stdout(printed):\n"
        "        namespace = runpy.run_path(f'{folder}/{name}.py', run_name='__main__')\n"
        "    x = torch.from_numpy(np.load(f'{folder}/{name}.in.npy'))\n"
        "    np.save(f'{folder}/{name}.out.npy', namespace['predict'](x).numpy())\n"
        "    open(f'{folder}/{name}.txt', 'w').write(printed.getvalue())\n"
    )
    done = subprocess.run([sys.executable, "-c", driver], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return {name: (np.load(folder / f"{name}.out.npy"), (folder / f"{name}.txt").read_text()) for name in cases}
