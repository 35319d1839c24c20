"""Frames actually redrawn per second by the page in headless Chromium, while the server trains and streams.

Counts the page's own redraws (window.__nnp.redraws: one per requestAnimationFrame that drew a frame) over a
measured window, for the 2-8-8-8-8-1 network with every heatmap and for 784-16-16-10 on mnist. In each redraw the
canvas views (network, decision boundary and every neuron's map) are painted; the Plotly charts take turns
(static/scheduler.js), and the mean milliseconds per draw of each are printed too.
Software rendering (--disable-gpu), so a lower bound for a classroom laptop.

    .venv/bin/python bench/render.py [--seconds 8] [--width 1920 --height 1080]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from playwright.sync_api import sync_playwright  # noqa: E402

from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS, start_server  # noqa: E402

CASES = {
    "2-8-8-8-8-1, every heatmap": "?dataset=spiral&hidden_sizes=8,8,8,8&features=x1,x2",
    "784-16-16-10 (mnist)": "?dataset=mnist&hidden_sizes=16,16",
}


def measure(page, url: str, seconds: float) -> dict:
    page.goto(url)
    page.wait_for_function("() => window.__nnp && window.__nnp.redraws > 0", timeout=30_000)
    page.click("#play")
    page.wait_for_function("() => window.__nnp.frame && window.__nnp.frame.status === 'running'", timeout=30_000)
    # Warm up (JIT, Plotly's first layouts) before measuring.
    page.wait_for_function("() => window.__nnp.redraws > 30", timeout=60_000)
    snapshot = ("() => ({r: window.__nnp.redraws, f: window.__nnp.framesReceived, s: window.__nnp.frame.step, "
                "t: performance.now(), charts: {...window.__nnp.charts.draws}})")
    start = page.evaluate(snapshot)
    page.wait_for_timeout(seconds * 1000)  # the measurement window itself
    end = page.evaluate(snapshot)
    timings = page.evaluate("() => ({...window.__nnp.drawMs, ...window.__nnp.chartMs})")
    page.click("#play")
    elapsed = (end["t"] - start["t"]) / 1000
    return {
        "timings": timings,
        "chart_rates": {name: (count - start["charts"].get(name, 0)) / ((end["t"] - start["t"]) / 1000)
                        for name, count in end["charts"].items()},
        "redraws_per_s": (end["r"] - start["r"]) / elapsed,
        "frames_received_per_s": (end["f"] - start["f"]) / elapsed,
        "steps_per_s": (end["s"] - start["s"]) / elapsed,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--width", type=int, default=1920)
    parser.add_argument("--height", type=int, default=1080)
    args = parser.parse_args()

    server = start_server({})
    base = server.url
    launch = {"args": CHROMIUM_ARGS, "headless": True}
    if os.path.exists(CHROMIUM):
        launch["executable_path"] = CHROMIUM
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(**launch)
        print(f"viewport {args.width}x{args.height}, {args.seconds:g} s per case, headless Chromium, software rendering")
        print(f"{'case':32} {'redraws/s':>10} {'frames in/s':>12} {'steps/s':>9}")
        for name, query in CASES.items():
            context = browser.new_context(viewport={"width": args.width, "height": args.height})
            page = context.new_page()
            t0 = time.monotonic()
            result = measure(page, base + "/" + query, args.seconds)
            context.close()
            print(f"{name:32} {result['redraws_per_s']:10.1f} {result['frames_received_per_s']:12.1f} "
                  f"{result['steps_per_s']:9.0f}   ({time.monotonic() - t0:.0f} s)")
            print("    ms per draw: " + ", ".join(f"{k} {v:.1f}" for k, v in result["timings"].items()))
            print("    chart redraws/s: " + ", ".join(f"{k} {v:.1f}" for k, v in result["chart_rates"].items() if v))
        browser.close()
    server.stop()


if __name__ == "__main__":
    main()
