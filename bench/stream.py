"""Streaming benchmark: frames/s to 1 and 30 real clients, bytes per frame, control-to-frame latency,
training epochs/s — for 2-8-8-8-8-1 on a 2-D set with every heatmap, and for 64-16-16-10 on digits.

The server runs as its own process (``python -m app``); the clients are python-socketio AsyncClients in
this one. Prints a Markdown table. Usage: ``python bench/stream.py [--seconds 5] [--clients 30]``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app.server.client import SECTIONS, Viewer  # noqa: E402
from app.server import free_port  # noqa: E402

NETWORKS = {
    "2-8-8-8-8-1, circle, all heatmaps": {"dataset": "circle", "hidden_sizes": [8, 8, 8, 8], "batch_size": 10,
                                          "learning_rate": 0.03, "speed": 1000},
    "64-16-16-10, digits": {"dataset": "digits", "batch_size": 10, "speed": 1000},
}


class Meter:
    """Counts what frames carry: bytes on the wire (JSON header + binary) and their raw float32 size."""

    def __init__(self):
        self.frames = 0
        self.wire = 0
        self.raw = 0

    def __call__(self, payload):
        header = {k: v for k, v in payload.items() if k != "data" and k not in SECTIONS}
        self.frames += 1
        self.wire += len(json.dumps(header)) + len(payload["data"])
        self.raw += sum(4 * int(np.prod(d["shape"])) for d in payload["arrays"])


async def window(viewers, seconds):
    """Over the same ``seconds`` for every viewer: frames/s per viewer, epochs/s per viewer's session (each
    the change over this window, whenever its session started) and the first one's steps/s."""
    start = [(v.frame_count, v.frame["epoch"], v.frame["step"]) for v in viewers]
    t0 = time.perf_counter()
    await asyncio.sleep(seconds)
    dt = time.perf_counter() - t0
    fps = [(v.frame_count - s[0]) / dt for v, s in zip(viewers, start)]
    epochs = [(v.frame["epoch"] - s[1]) / dt for v, s in zip(viewers, start)]
    steps = (viewers[0].frame["step"] - start[0][2]) / dt
    return fps, epochs, steps


async def latency(viewer, samples=40):
    """Seconds from emitting a control to the first frame that reflects it."""
    out = []
    for i in range(samples):
        sent = time.perf_counter()
        reply = await viewer.call("set", {"learning_rate": 0.01 + 0.0001 * i})
        await viewer.wait_for(lambda v: v.frame["config_version"] >= reply["config_version"])
        out.append(time.perf_counter() - sent)
        await asyncio.sleep(0.03)
    return np.percentile(out, 50), np.percentile(out, 95)


async def connect(url, settings, token=None, meter=None):
    viewer = await Viewer(url, token, decode=False, on_payload=meter).connect()
    if token is None:
        await viewer.call("set", settings)
        await viewer.call("play")
    return viewer


async def run_network(url, name, settings, seconds, clients):
    rows = []
    meter = Meter()
    one = await connect(url, settings, meter=meter)
    await asyncio.sleep(1.0)
    fps, (epochs,), steps = await window([one], seconds)
    p50, p95 = await latency(one)
    await one.call("set", {"learning_rate": settings.get("learning_rate", 0.03)})
    rows.append((name, "1 client", f"{fps[0]:.1f}", f"{epochs:.0f} ({steps:.0f} steps/s)",
                 f"{meter.wire / meter.frames / 1024:.1f} KiB = {meter.wire / meter.raw:.2f}× raw f32 "
                 f"({meter.raw / meter.frames / 1024:.1f} KiB)", f"{p50 * 1e3:.1f} / {p95 * 1e3:.1f}"))

    slow = await Viewer(url, one.token, decode=False, ack_delay=0.1).connect()  # a laptop on bad wifi
    await asyncio.sleep(0.5)
    fps, (epochs, _), steps = await window([one, slow], seconds)
    rows.append((name, "1 client + 1 slow viewer (acks after 100 ms)", f"{fps[0]:.1f} (slow: {fps[1]:.1f})",
                 f"{epochs:.0f}", "", ""))
    await slow.disconnect()

    viewers = [one] + [await connect(url, settings, one.token) for _ in range(clients - 1)]
    await asyncio.sleep(1.0)
    fps, epochs, _ = await window(viewers, seconds)
    rows.append((name, f"{clients} viewers of one session", f"{np.mean(fps):.1f} (min {min(fps):.1f})",
                 f"{epochs[0]:.0f}", "", ""))
    for v in viewers:
        await v.disconnect()

    sessions = [await connect(url, settings) for _ in range(clients)]
    await asyncio.sleep(1.0)
    fps, epochs, _ = await window(sessions, seconds)
    rows.append((name, f"{clients} clients, one session each", f"{np.mean(fps):.1f} (min {min(fps):.1f})",
                 f"per session: {np.mean(epochs):.1f} (min {min(epochs):.1f}; all: {sum(epochs):.0f})",
                 "", ""))
    for v in sessions:
        await v.disconnect()
    return rows


def quiet_disconnect_leftovers(loop) -> list:
    """python-socketio's AsyncClient forgets a half-received binary packet when it disconnects, and the
    attachment's already-queued task then fails to parse: count those instead of printing tracebacks."""
    leftovers = []

    def handler(loop, context):
        error = context.get("exception")
        # ValueError or TypeError, depending on the attachment's first byte (parsed as a packet type)
        if isinstance(error, (ValueError, TypeError)) and "_handle_eio_message" in repr(context.get("future")):
            leftovers.append(error)
        else:
            loop.default_exception_handler(context)

    loop.set_exception_handler(handler)
    return leftovers


async def start_server(first_port: int) -> tuple[subprocess.Popen, str]:
    """``python -m app`` in its own process on a free port from ``first_port``: (the process, its URL) once a
    client can connect."""
    port = free_port("127.0.0.1", first_port)
    server = subprocess.Popen([sys.executable, "-m", "app", "--no-browser", "--port", str(port), "--fps", "60"],
                              cwd=Path(__file__).resolve().parents[1], stdout=subprocess.PIPE,
                              stderr=subprocess.DEVNULL, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    server.stdout.readline()
    url = f"http://127.0.0.1:{port}"
    for _ in range(100):
        try:
            probe = await Viewer(url, decode=False).connect()
            await probe.disconnect()
            break
        except Exception:
            await asyncio.sleep(0.1)
    return server, url


async def main(args):
    leftovers = quiet_disconnect_leftovers(asyncio.get_running_loop())
    server, url = await start_server(5150)
    try:
        rows = []
        for name, settings in NETWORKS.items():
            rows += await run_network(url, name, settings, args.seconds, args.clients)
    finally:
        server.terminate()
        server.wait(timeout=10)
    print(f"\nnnplayground stream benchmark ({os.cpu_count()} CPUs, FPS cap 60, speed 1000 steps/frame "
          f"time-capped, {args.seconds:g} s windows)\n")
    print("| network | clients | frames/s per client | epochs/s | bytes per frame | control→frame p50 / p95 ms |")
    print("|---|---|---|---|---|---|")
    for row in rows:
        print("| " + " | ".join(row) + " |")
    if leftovers:
        print(f"\n({len(leftovers)} frames cut off by a client's own disconnect were dropped by that client)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--clients", type=int, default=30)
    asyncio.run(main(parser.parse_args()))
