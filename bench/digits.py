"""Digits benchmarks on a real server, watched by a python-socketio AsyncClient that acks (and decodes) every frame.

(a) Seconds from play to 90 % test accuracy on the 8×8 digits (the 64-16-16-10 sigmoid preset) while streaming.
(b) Frames per second delivered for 784-16-16-10 on mnist while training, with every view's data in the frames
    (weights, gradients, probe activations, backprop step-through, evaluation bundles); bytes per frame; steps/s.
(c) Draw-to-prediction latency: a drawing sent as the probe until a frame shows its activations (p50, p95),
    on mnist while training.
(d) Frames the page redraws per second in headless Chromium (software rendering) for 784-16-16-10 on mnist while
    training (bench/render.py's measurement): as a 1920×1080 screen shows it (charts scrolled out of sight wait),
    and with every chart drawing as if all were on screen.

    .venv/bin/python bench/digits.py [--runs 3] [--seconds 8] [--timeout 300] [--no-browser]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import importlib.util
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

from app import create_app  # noqa: E402
from app.server.client import Viewer  # noqa: E402
from app.server import LiveServer  # noqa: E402

TARGET_ACCURACY = 0.9


async def choose(viewer: Viewer, dataset: str, seed: int = 0) -> None:
    reply = await viewer.call("set", {"dataset": dataset, "seed": seed})
    assert reply.get("ok"), reply
    await viewer.wait_for(lambda v: v.frame and v.frame["layer_sizes"][0] in (64, 784)
                          and v.state["settings"]["dataset"] == dataset, timeout=30)


async def time_to_accuracy(url: str, seed: int, timeout: float) -> dict:
    viewer = await Viewer(url).connect()
    try:
        await choose(viewer, "digits", seed)
        sizes = viewer.frame["layer_sizes"]
        start = time.perf_counter()
        await viewer.call("play")
        frame = await viewer.wait_for(lambda v: (v.frame["test_accuracy"] or 0) >= TARGET_ACCURACY and v.frame,
                                      timeout=timeout)
        seconds = time.perf_counter() - start
        await viewer.call("pause")
        return {"seconds": seconds, "step": frame["metrics_step"], "epoch": frame["epoch"], "sizes": sizes,
                "accuracy": frame["test_accuracy"], "frames": viewer.frame_count}
    finally:
        await viewer.disconnect()


async def mnist_stream(url: str, seconds: float) -> dict:
    viewer = await Viewer(url, keep=10).connect()
    try:
        await choose(viewer, "mnist")
        await viewer.call("play")
        await viewer.wait_for(lambda v: v.frame["status"] == "running" and v.frame["step"] > 0, timeout=30)
        await asyncio.sleep(1.0)  # warm-up, not measured
        f0, b0, s0, t0 = viewer.frame_count, viewer.frame_bytes, viewer.frame["step"], time.perf_counter()
        await asyncio.sleep(seconds)  # the measuring window
        f1, b1, s1, t1 = viewer.frame_count, viewer.frame_bytes, viewer.frame["step"], time.perf_counter()
        names = sorted(viewer.frame["arrays"])
        await viewer.call("pause")
        return {"fps": (f1 - f0) / (t1 - t0), "bytes_per_frame": (b1 - b0) / max(1, f1 - f0),
                "steps_per_s": (s1 - s0) / (t1 - t0), "sizes": viewer.frame["layer_sizes"],
                "backprop": any(n.startswith("backprop.") for n in names)}
    finally:
        await viewer.disconnect()


def stroke_drawing(side: int, offset: int) -> dict:
    """A "7" drawn on a side×side canvas, shifted by ``offset`` pixels: the wire form of probe.drawing."""
    rows, cols = np.mgrid[0:side, 0:side] + 0.5
    ink = np.zeros((side, side))
    for (r0, c0), (r1, c1) in (((30, 30), (30, 105)), ((30, 105), (115, 60))):
        r0, r1, c0, c1 = r0 + offset, r1 + offset, c0 + offset // 2, c1 + offset // 2
        d = np.array([r1 - r0, c1 - c0], float)
        t = np.clip(((rows - r0) * d[0] + (cols - c0) * d[1]) / (d @ d), 0, 1)
        ink = np.maximum(ink, np.clip(7 - np.hypot(rows - r0 - t * d[0], cols - c0 - t * d[1]), 0, 1))
    pixels = np.round(ink * 255).astype(np.uint8).tobytes()
    return {"width": side, "height": side, "pixels": base64.b64encode(pixels).decode("ascii")}


async def draw_latency(url: str, count: int) -> dict:
    viewer = await Viewer(url, keep=10).connect()
    latencies = []
    try:
        await choose(viewer, "mnist")
        await viewer.call("play")
        for i in range(count):
            drawing = stroke_drawing(140, i % 10)
            start = time.perf_counter()
            reply = await viewer.call("probe", {"drawing": drawing})
            if not reply.get("ok"):
                return {"error": reply.get("error", {}).get("message", str(reply))}
            version = reply["config_version"]
            await viewer.wait_for(lambda v: v.frame["config_version"] >= version, timeout=10)
            latencies.append(time.perf_counter() - start)
            await asyncio.sleep(0.05)  # 20 drawings a second, as the page sends them
        await viewer.call("pause")
    finally:
        await viewer.disconnect()
    ms = sorted(1000 * t for t in latencies)
    return {"p50": statistics.median(ms), "p95": ms[min(len(ms) - 1, int(0.95 * len(ms)))]}


def page_redraws(url: str, seconds: float) -> list[tuple[str, dict]]:
    """(d): bench/render.py's measurement of the page, as shown and with every chart forced to draw."""
    from playwright.sync_api import sync_playwright

    spec = importlib.util.spec_from_file_location("render", Path(__file__).with_name("render.py"))
    render = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(render)
    launch = {"args": render.CHROMIUM_ARGS, "headless": True}
    if os.path.exists(render.CHROMIUM):
        launch["executable_path"] = render.CHROMIUM
    results = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(**launch)
        for name, every in (("as a 1920x1080 screen shows it", False), ("every chart drawing", True)):
            context = browser.new_context(viewport={"width": 1920, "height": 1080})
            page = context.new_page()
            if every:  # the page draws only the charts in sight; here all of them, as if on a very tall screen
                page.add_init_script("""addEventListener('load', () => {
                    const force = () => window.__nnp?.charts?.parts.forEach((p) => { p.shown = () => true; });
                    const wait = setInterval(() => { if (window.__nnp?.charts) { force(); clearInterval(wait); } }, 50);
                });""")
            results.append((name, render.measure(page, url + "/?dataset=mnist&hidden_sizes=16,16", seconds)))
            context.close()
        browser.close()
    return results


async def main_async(args) -> None:
    with LiveServer(create_app({})) as server:
        print(f"server {server.url}; one acking AsyncClient per measurement; {os.cpu_count()} CPUs")
        results = []
        for run in range(args.runs):
            r = await time_to_accuracy(server.url, seed=run, timeout=args.timeout)
            results.append(r)
            print(f"(a) digits {'-'.join(map(str, r['sizes']))}, seed {run}: {TARGET_ACCURACY:.0%} test accuracy "
                  f"({r['accuracy']:.3f}) {r['seconds']:.1f} s after play, at step {r['step']} (epoch {r['epoch']}), "
                  f"{r['frames']} frames received")
        print(f"    median {statistics.median(r['seconds'] for r in results):.1f} s over {args.runs} runs")
        m = await mnist_stream(server.url, args.seconds)
        print(f"(b) mnist {'-'.join(map(str, m['sizes']))} while training: {m['fps']:.1f} frames/s delivered, "
              f"{m['bytes_per_frame'] / 1000:.1f} kB/frame, {m['steps_per_s']:.0f} steps/s"
              f"{'' if m['backprop'] else ' (no backprop.* arrays in the frames)'}")
        d = await draw_latency(server.url, args.drawings)
        if "error" in d:
            print(f"(c) drawing as the probe: refused by this server ({d['error']})")
        else:
            print(f"(c) drawing → frame with its activations, mnist while training: p50 {d['p50']:.0f} ms, "
                  f"p95 {d['p95']:.0f} ms over {args.drawings} drawings")
        if args.browser:
            results = await asyncio.to_thread(page_redraws, server.url, args.seconds)
            for name, r in results:
                print(f"(d) page, mnist 784-16-16-10 while training, {name}: {r['redraws_per_s']:.1f} redraws/s "
                      f"({r['frames_received_per_s']:.1f} frames in/s, {r['steps_per_s']:.0f} steps/s)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="runs (seeds) of the time-to-90 %% measurement")
    parser.add_argument("--seconds", type=float, default=8.0, help="measuring window of the mnist stream")
    parser.add_argument("--drawings", type=int, default=40, help="drawings sent for the latency measurement")
    parser.add_argument("--timeout", type=float, default=300.0, help="give up on 90 %% after this many seconds")
    parser.add_argument("--no-browser", dest="browser", action="store_false", help="skip (d), the page in Chromium")
    asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    main()
