"""The RNN lab live, on a real server watched by an acking python-socketio AsyncClient (as a page is):

(a) seconds from play until the character model's train loss (cross-entropy, nats per character, on a fixed
    sample of the training text) falls below 2.0, for each cell type at the task's defaults (hidden 64, L 32,
    batch 32, Adam 0.01), with the frames per second delivered meanwhile and the training steps per second;
(b) frames per second delivered on the sine task (hidden 16, L 50, batch 32) while training.

    .venv/bin/python bench/rnn_lab.py [--timeout 120] [--cells RNN,LSTM,GRU] [--seconds 8]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app import create_app  # noqa: E402
from app.server import LiveServer  # noqa: E402
from app.server.client import Viewer  # noqa: E402

TARGET = 2.0  # nats per character


async def open_rnn(url: str, settings: dict) -> Viewer:
    viewer = await Viewer(url, decode=False).connect()
    reply = await viewer.call("set_lab", {"lab": "rnn"})
    assert reply.get("ok"), reply
    reply = await viewer.call("set", settings)
    assert reply.get("ok"), reply
    version = reply["config_version"]
    await viewer.wait_for(lambda v: v.frame and v.frame.get("lab") == "rnn" and v.frame["config_version"] >= version,
                          timeout=60)
    return viewer


async def time_to_target(url: str, cell: str, timeout: float) -> dict:
    viewer = await open_rnn(url, {"task": "chars", "cell_type": cell})
    try:
        f0, start = viewer.frame_count, time.perf_counter()
        await viewer.call("play")
        try:
            frame = await viewer.wait_for(
                lambda v: v.frame["train_loss"] is not None and v.frame["train_loss"] < TARGET and v.frame,
                timeout=timeout)
            reached = True
        except asyncio.TimeoutError:
            frame, reached = viewer.frame, False
        seconds = time.perf_counter() - start
        await viewer.call("pause")
        return {"reached": reached, "seconds": seconds, "step": frame["metrics_step"], "loss": frame["train_loss"],
                "fps": (viewer.frame_count - f0) / seconds, "steps_per_s": frame["step"] / seconds}
    finally:
        await viewer.disconnect()


async def sine_stream(url: str, seconds: float) -> dict:
    viewer = await open_rnn(url, {"task": "sine"})
    try:
        await viewer.call("play")
        await asyncio.sleep(1.0)  # warm-up
        f0, s0, t0 = viewer.frame_count, viewer.frame["step"], time.perf_counter()
        await asyncio.sleep(seconds)
        f1, s1, t1 = viewer.frame_count, viewer.frame["step"], time.perf_counter()
        await viewer.call("pause")
        return {"fps": (f1 - f0) / (t1 - t0), "steps_per_s": (s1 - s0) / (t1 - t0)}
    finally:
        await viewer.disconnect()


async def main_async(args) -> None:
    with LiveServer(create_app({})) as server:
        load = os.getloadavg()[0]
        print(f"server {server.url}; {os.cpu_count()} CPUs, load average {load:.1f} at the start")
        for cell in args.cells.split(","):
            r = await time_to_target(server.url, cell, args.timeout)
            what = (f"below {TARGET} nats/char ({r['loss']:.3f}) after {r['seconds']:.1f} s" if r["reached"]
                    else f"NOT below {TARGET} within {args.timeout:.0f} s (train loss {r['loss']:.3f})")
            print(f"(a) chars, {cell} hidden 64, L 32, batch 32: {what}, at step {r['step']}; "
                  f"{r['fps']:.1f} frames/s delivered, {r['steps_per_s']:.0f} steps/s", flush=True)
        s = await sine_stream(server.url, args.seconds)
        print(f"(b) sine, RNN hidden 16, L 50, batch 32, while training: {s['fps']:.1f} frames/s delivered, "
              f"{s['steps_per_s']:.0f} steps/s")
        print(f"load average {os.getloadavg()[0]:.1f} at the end")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--timeout", type=float, default=120.0, help="give up on the target after this many s")
    parser.add_argument("--cells", default="RNN,LSTM,GRU", help="cell types to time, comma-separated")
    parser.add_argument("--seconds", type=float, default=8.0, help="measuring window of the sine stream")
    asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    main()
