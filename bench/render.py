"""Frames actually redrawn per second by the page in headless Chromium, while the server trains and streams.

For the 2-8-8-8-8-1 network with every heatmap and for 784-16-16-10 on mnist, over a measured window, prints:

- canvas redraws/s: window.__nnp.redraws, one per requestAnimationFrame that drew a new server frame on the canvas
  views (network, decision boundary and every neuron's map; the digits panels);
- each Plotly chart's redraws/s and its mean JavaScript milliseconds per draw (static/scheduler.js);
- the page's own frame rate: a requestAnimationFrame loop injected by this script counts the frames the browser
  actually produced while the charts are live, with the median and 95th-percentile gap between frames. This
  includes what JavaScript timers miss: style, layout and paint that the charts' DOM changes cause.
- the same frame rate with the charts paused (window.__nnp.charts.paused), so the charts' whole cost shows as the
  difference (pages without that switch print "–").

Software rendering (--disable-gpu), so a lower bound for a classroom laptop.

    .venv/bin/python bench/render.py [--seconds 8] [--width 1920 --height 1080] [--cases 2d,mnist]
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from playwright.sync_api import sync_playwright  # noqa: E402

from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS, start_server  # noqa: E402

CASES = {
    "2d": ("2-8-8-8-8-1, every heatmap", "?dataset=spiral&hidden_sizes=8,8,8,8&features=x1,x2"),
    "mnist": ("784-16-16-10 (mnist)", "?dataset=mnist&hidden_sizes=16,16"),
    # Image datasets scroll: the first screen is the network, the pad and the outputs; this case scrolls to the end,
    # where the cost, minibatch cost, −∇C and activation charts are.
    "mnist-charts": ("784-16-16-10 (mnist), scrolled to the training charts", "?dataset=mnist&hidden_sizes=16,16"),
    # The labs' targets (issues 11 and 12): ≥ 30 frames/s drawn, with the feature maps / the character model.
    "cnn": ("CNN lab, default network on mnist, with feature maps", "?lab=cnn"),
    "rnn": ("RNN lab, character model at its defaults", "?lab=rnn&task=chars"),
}
SCROLL = {"mnist-charts": "() => { const v = document.querySelector('.views'); v.scrollTop = v.scrollHeight; }"}

# Counts every frame the browser produces (not only the page's redraws) and keeps the gaps between them.
FRAME_COUNTER = """
(() => {
  const meter = { frames: 0, gaps: [], last: null };
  window.__frameMeter = meter;
  const tick = (now) => {
    if (meter.last !== null) meter.gaps.push(now - meter.last);
    meter.last = now;
    meter.frames += 1;
    requestAnimationFrame(tick);
  };
  requestAnimationFrame(tick);
})();
"""

SNAPSHOT = """() => ({
  redraws: window.__nnp.redraws, received: window.__nnp.framesReceived, step: window.__nnp.frame.step,
  t: performance.now(), charts: {...(window.__nnp.charts.draws || {})},
  frames: window.__frameMeter.frames, gaps: window.__frameMeter.gaps.length,
})"""


def window(page, seconds: float) -> dict:
    """Rates over one measured window of `seconds`."""
    start = page.evaluate(SNAPSHOT)
    page.wait_for_timeout(seconds * 1000)  # the measurement window itself
    end = page.evaluate(SNAPSHOT)
    gaps = sorted(page.evaluate(f"() => window.__frameMeter.gaps.slice({start['gaps']}, {end['gaps']})"))
    elapsed = (end["t"] - start["t"]) / 1000

    def quantile(q: float) -> float:
        return gaps[min(len(gaps) - 1, int(q * len(gaps)))] if gaps else float("nan")

    return {
        "redraws": (end["redraws"] - start["redraws"]) / elapsed,
        "received": (end["received"] - start["received"]) / elapsed,
        "steps": (end["step"] - start["step"]) / elapsed,
        "fps": (end["frames"] - start["frames"]) / elapsed,
        "gap_median": quantile(0.5),
        "gap_p95": quantile(0.95),
        "charts": {name: (count - start["charts"].get(name, 0)) / elapsed for name, count in end["charts"].items()},
    }


def measure(page, url: str, seconds: float, scroll: str | None = None) -> dict:
    page.goto(url)
    page.wait_for_function("() => window.__nnp && window.__nnp.redraws > 0", timeout=30_000)
    if scroll:
        page.evaluate(scroll)
    page.click("#play")
    page.wait_for_function("() => window.__nnp.frame && window.__nnp.frame.status === 'running'", timeout=30_000)
    # Warm up (JIT, Plotly's first layouts) before measuring.
    page.wait_for_function("() => window.__nnp.redraws > 30", timeout=60_000)
    page.wait_for_timeout(1000)
    live = window(page, seconds)
    timings = page.evaluate("() => ({...window.__nnp.drawMs, ...window.__nnp.chartMs})")
    paint = page.evaluate("() => ({...(window.__nnp.chartPaintMs || {})})")
    paused = None
    if page.evaluate("() => 'paused' in window.__nnp.charts"):
        page.evaluate("() => { window.__nnp.charts.paused = true; }")
        paused = window(page, seconds / 2)
        page.evaluate("() => { window.__nnp.charts.paused = false; }")
    page.click("#play")
    return {"live": live, "paused": paused, "timings": timings, "paint": paint}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--width", type=int, default=1920)
    parser.add_argument("--height", type=int, default=1080)
    parser.add_argument("--cases", default=",".join(CASES), help=f"comma-separated, of: {', '.join(CASES)}")
    args = parser.parse_args()

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # no line per request
    server = start_server({})
    launch = {"args": CHROMIUM_ARGS, "headless": True}
    if os.path.exists(CHROMIUM):
        launch["executable_path"] = CHROMIUM
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(**launch)
        print(f"viewport {args.width}x{args.height}, {args.seconds:g} s per case, headless Chromium, software rendering")
        for key in args.cases.split(","):
            name, query = CASES[key]
            context = browser.new_context(viewport={"width": args.width, "height": args.height})
            context.add_init_script(FRAME_COUNTER)
            page = context.new_page()
            t0 = time.monotonic()
            result = measure(page, server.url + "/" + query, args.seconds, SCROLL.get(key))
            context.close()
            live, paused = result["live"], result["paused"]
            print(f"{name}   ({time.monotonic() - t0:.0f} s)")
            print(f"    canvas redraws/s {live['redraws']:.1f}  (server frames in/s {live['received']:.1f}, "
                  f"training steps/s {live['steps']:.0f})")
            print(f"    page frames/s with charts live {live['fps']:.1f}  (gap between frames: median "
                  f"{live['gap_median']:.0f} ms, 95th percentile {live['gap_p95']:.0f} ms)")
            if paused:
                print(f"    page frames/s with charts paused {paused['fps']:.1f}, canvas redraws/s {paused['redraws']:.1f}"
                      f"  (gap p95 {paused['gap_p95']:.0f} ms)")
            else:
                print("    page frames/s with charts paused –")
            print("    chart redraws/s: " + ", ".join(f"{k} {v:.1f}" for k, v in live["charts"].items() if v))
            print("    JS ms per draw: " + ", ".join(f"{k} {v:.1f}" for k, v in result["timings"].items()))
            if result["paint"]:
                print("    paint ms after each chart's draw (the next frame's lateness): "
                      + ", ".join(f"{k} {v:.0f}" for k, v in result["paint"].items()))
        browser.close()
    server.stop()


if __name__ == "__main__":
    main()
