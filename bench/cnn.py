"""CNN lab benchmark: seconds of play until the default CNN reaches 95 % test accuracy on the shipped MNIST subset
while a real client receives every frame with its feature maps; frames/s that client gets; bytes per frame
against the raw float32 size of what the frames carry. Baseline, same run: the same network trained in this
process with no server at all (the engine alone, evaluated every 50 steps).

The server runs as its own process (``python -m app``); the client is a python-socketio AsyncClient here.
Usage: ``python bench/cnn.py [--target 0.95] [--limit 180]``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from stream import Meter, quiet_disconnect_leftovers, start_server  # noqa: E402

from app.server.client import Viewer  # noqa: E402


def engine_alone(target: float, limit: float) -> tuple[float, int]:
    """Seconds and steps the engine alone takes to reach ``target``: the lab's own build and trainer, no server."""
    from app import DEFAULT_CONFIG
    from app.server.blas import limit_blas_threads
    from app.sessions.session import Session

    limit_blas_threads(1)
    lab = Session("bench-" * 4, dict(DEFAULT_CONFIG), lab="cnn").lab
    start = time.perf_counter()
    training = 0.0
    while training < limit:
        began = time.perf_counter()
        for _ in range(50):
            lab.trainer.train_step()
        training += time.perf_counter() - began
        if lab.trainer.evaluate("test")[1] >= target:
            break
    return training, lab.trainer.step


async def live(target: float, limit: float) -> dict:
    server, url = await start_server(5250)
    try:
        meter = Meter()
        viewer = await Viewer(url, decode=False, on_payload=meter).connect()
        await viewer.call("set_lab", {"lab": "cnn"})
        await viewer.wait_for(lambda v: v.frame.get("lab") == "cnn")
        frames_before = viewer.frame_count
        wire_before, raw_before, counted_before = meter.wire, meter.raw, meter.frames
        await viewer.call("play")
        start = time.perf_counter()
        reached = None
        while time.perf_counter() - start < limit:
            await asyncio.sleep(0.05)
            accuracy = viewer.frame.get("test_accuracy")
            if accuracy is not None and accuracy >= target:
                reached = time.perf_counter() - start
                break
        elapsed = time.perf_counter() - start
        frames = viewer.frame_count - frames_before
        result = {"seconds": reached, "elapsed": elapsed, "fps": frames / elapsed, "step": viewer.frame["step"],
                  "accuracy": viewer.frame.get("test_accuracy"),
                  "wire": (meter.wire - wire_before) / max(1, meter.frames - counted_before),
                  "raw": (meter.raw - raw_before) / max(1, meter.frames - counted_before)}
        await viewer.disconnect()
        return result
    finally:
        server.terminate()
        server.wait(timeout=10)


async def main(args):
    quiet_disconnect_leftovers(asyncio.get_running_loop())
    result = await live(args.target, args.limit)
    alone, steps = engine_alone(args.target, args.limit)
    load = os.getloadavg()[0]
    print(f"\nnnplayground CNN lab benchmark ({os.cpu_count()} CPUs, load average {load:.1f}; FPS cap 60)\n")
    print("| what | figure | baseline (engine alone, no server) | ratio |")
    print("|---|---|---|---|")
    seconds = f"{result['seconds']:.1f} s" if result["seconds"] is not None else \
        f"not within {args.limit:g} s (reached {result['accuracy']:.1%} at step {result['step']})"
    ratio = f"{result['seconds'] / alone:.2f}×" if result["seconds"] is not None else "–"
    print(f"| seconds of play to {args.target:.0%} test accuracy (default CNN, shipped MNIST) | {seconds} | "
          f"{alone:.1f} s of training ({steps} steps) | {ratio} |")
    print(f"| frames/s received, with feature maps | {result['fps']:.1f} | | |")
    print(f"| bytes per frame | {result['wire'] / 1024:.1f} KiB | raw float32 of what it carries: "
          f"{result['raw'] / 1024:.1f} KiB | {result['wire'] / result['raw']:.2f}× |")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--target", type=float, default=0.95)
    parser.add_argument("--limit", type=float, default=180.0)
    asyncio.run(main(parser.parse_args()))
