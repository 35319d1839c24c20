"""The first minute: seconds from play to 95 % test accuracy for the default set-up (circle, 2-8-8-1 tanh, the
default speed), on a real server watched by a python-socketio client, over several seeds.

The baseline measured in the same run: the minibatch steps each seed needs (the engine alone, no server), and
the seconds the default speed should take for them (steps ÷ speed). A ratio near 1 means the pacing holds on
this machine; the issue asks for 5–20 s.

    .venv/bin/python bench/first_minute.py [--runs 5]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app import DEFAULT_CONFIG, create_app  # noqa: E402
from app.server.client import Viewer  # noqa: E402
from app.labs.mlp.schema import CONTROLS_BY_NAME  # noqa: E402
from app.server import LiveServer  # noqa: E402
from app.sessions.session import Session  # noqa: E402

TARGET = 0.95


def steps_needed(seed: int) -> int:
    """Minibatch steps the engine needs to reach TARGET test accuracy (checked every step)."""
    lab = Session("b" * 24, dict(DEFAULT_CONFIG)).lab
    lab.apply_settings({"seed": seed})
    lab.reset()  # as the viewer below does
    while lab.trainer.evaluate("test")[1] < TARGET:
        lab.trainer.train_step()
    return lab.trainer.step


async def seconds_to_target(url: str, seed: int) -> tuple[float, int]:
    viewer = await Viewer(url).connect()
    try:
        await viewer.call("set", {"seed": seed})
        await viewer.call("reset")
        start = time.perf_counter()
        await viewer.call("play")
        frame = await viewer.wait_for(lambda v: (v.frame["test_accuracy"] or 0) >= TARGET and v.frame, timeout=120)
        return time.perf_counter() - start, frame["metrics_step"]
    finally:
        await viewer.disconnect()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    speed = CONTROLS_BY_NAME["speed"].default
    rows = []
    with LiveServer(create_app({})) as server:
        for seed in range(args.runs):
            seconds, step = asyncio.run(seconds_to_target(server.url, seed))
            rows.append((seed, seconds, step, steps_needed(seed)))
    load = os.getloadavg()[0]
    print(f"\nFirst minute: default set-up (circle, 2-8-8-1 tanh, lr 0.03, batch 10), speed {speed} steps/s; "
          f"{os.cpu_count()} CPUs, load average {load:.1f} at the end\n")
    print("| seed | s to 95 % (server, streaming) | step then | steps the engine needs | ideal s (steps ÷ speed) "
          "| ratio |")
    print("|---|---|---|---|---|---|")
    for seed, seconds, step, needed in rows:
        ideal = needed / speed
        print(f"| {seed} | {seconds:.1f} | {step} | {needed} | {ideal:.1f} | {seconds / ideal:.2f} |")
    seconds = [r[1] for r in rows]
    print(f"\nmedian {statistics.median(seconds):.1f} s, range {min(seconds):.1f}–{max(seconds):.1f} s")


if __name__ == "__main__":
    main()
