"""How long the MLP lab takes to build one frame (docs/protocol.md, "Frames"): the default circle session,
training between frames as a running class does, timed over N builds (the training steps are not timed).

    .venv/bin/python bench/mlp_frames.py [--frames 1000] [--history 0]

``--history`` builds that many frames first, so the loss history is as long as a class's after a while.
Prints the median and mean build time; run it on the old and new code in the same minute to compare.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from app import DEFAULT_CONFIG  # noqa: E402
from app.sessions.session import Session  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=1000)
    parser.add_argument("--history", type=int, default=0)
    parser.add_argument("--dataset", default="circle")
    args = parser.parse_args()
    session = Session("b" * 24, dict(DEFAULT_CONFIG))
    session.viewers.add("bench")
    lab = session.lab
    lab.apply_settings({"dataset": args.dataset})
    lab.status = "running"  # evaluation at the running cadence (EVAL_OVERHEAD)

    def step() -> None:
        lab.trainer.train_step()
        lab.model_version += 1

    for _ in range(20 + args.history):
        step()
        lab.frames.build()
    times = []
    for _ in range(args.frames):
        step()
        start = time.perf_counter()
        lab.frames.build()
        times.append(time.perf_counter() - start)
    print(f"MLP frame build, {args.dataset}, {len(lab.frames.history.rows)} history rows: "
          f"median {statistics.median(times) * 1e3:.3f} ms, mean {statistics.fmean(times) * 1e3:.3f} ms "
          f"over {args.frames} frames (load {os.getloadavg()[0]:.1f})")


if __name__ == "__main__":
    main()
