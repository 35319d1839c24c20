"""Abuse benchmark: what each of issue 8's attacks costs ANOTHER session, and the server.

A victim (python-socketio AsyncClient, acking every frame) watches its own playing session; each attack runs in
its own process for ``--seconds`` while the victim's frames/s and steps/s are measured before, during and after
it (the "after" window starts a second after the attacker stopped). Ratios are against the victim's baseline, a
window twice as long measured alone at the start of the same run; the "before" column shows how far the load drifted. Also: the server's RSS (before, peak during, after; and the growth per
hostile connection) and CPU, and tracebacks in its log. Targets (issue 8): victim ≥ 80 % during and after,
≤ +50 MB RSS per hostile connection, 0 tracebacks.

The server runs as its own process (``python -m app``). Usage: ``python bench/abuse.py [--seconds 4]``.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import multiprocessing
import os
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "app"))  # the raw Engine.IO/Socket.IO client

from app.server import free_port  # noqa: E402
from app.server.client import Viewer  # noqa: E402


# --- the attacks: each runs in its own process until ``stop`` is set; returns how many connections it opened
def _raw(url, **kwargs):
    """A raw connection; refused ones (HTTP 429: too many new connections) are retried, as a script would."""
    from rawsocket import RawSocket

    while True:
        try:
            return RawSocket(url, **kwargs)
        except Exception:  # noqa: BLE001 - simple_websocket.ConnectionError(429), a reset, a timeout
            time.sleep(0.02)


def stray_ack(url, token, stop):
    raw = _raw(url, token=token)  # joins the victim's session, as in the report
    raw.send("430[]")
    while not stop.is_set():
        raw.send("430[]")
        time.sleep(0.05)
    raw.close()
    return 1


def reconnecting(url, stop, act) -> int:
    """Open a connection, ``act(raw)`` on it, close it; again until ``stop``. Returns the connections opened."""
    opened = 0
    while not stop.is_set():
        raw = _raw(url)
        opened += 1
        act(raw)
        raw.close()
    return opened


def connect_events(url, token, stop):
    def act(raw):
        for _ in range(150):
            raw.send('42["connect"]')
            raw.send("40")

    return reconnecting(url, stop, act)


def attachments(url, token, stop):
    blob = bytes(999_000)

    def act(raw):
        raw.send('459999999999-["set",{"_placeholder":true,"num":0}]')
        for _ in range(400):
            if not raw.send(blob) or stop.is_set():
                break

    return reconnecting(url, stop, act)


def flood(url, token, stop):
    batch = [f'42{k}["pause"]' for k in range(1, 5001)]

    def act(raw):
        while not raw.closed and not stop.is_set():
            raw.send_many(batch)

    return reconnecting(url, stop, act)


def bad_event_names(url, token, stop):
    raw, opened = _raw(url), 1
    names = ['42[123,{}]', '42[1.5]', '42[true]', '42[[],{}]', '42[{}]', '42["*"]', '42["connect"]']
    while not stop.is_set():
        for name in names:
            raw.send(name)
        time.sleep(len(names) / 90)  # just under the rate limit: every one is decoded and answered
    raw.close()
    return opened


def uploads(url, token, stop):
    import http.client

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("0.weight.npy", b"not an npy")
    bodies = [buffer.getvalue()]
    header = io.BytesIO()
    import numpy as np

    np.lib.format.write_array_header_1_0(header, {"descr": "<f8", "fortran_order": False, "shape": (10**12,)})
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("0.weight.npy", header.getvalue())
    bodies.append(buffer.getvalue())
    raw = _raw(url)
    own = raw.named("session")[0][0]["token"]
    host, port = url.split("//")[1].split(":")
    count = 0
    while not stop.is_set():
        connection = http.client.HTTPConnection(host, int(port), timeout=10)
        connection.request("POST", f"/api/session/{own}/model", body=bodies[count % 2])
        connection.getresponse().read()
        connection.close()
        count += 1
    raw.close()
    return 1


def oversized(url, token, stop):
    big = '42["set",{"noise":"' + "x" * 2_000_000 + '"}]'
    return reconnecting(url, stop, lambda raw: raw.send(big) and raw.wait_for(lambda r: r.closed, 10))


ATTACKER_ADDRESS = "127.0.0.66"  # another machine on the network (Linux routes all of 127/8 to lo)


def epoch_steps(url, token, stop):
    """Two sessions of one client (its own address), each stepping epochs of digits, 5 × 32, batch 1, at full
    speed: by docs/protocol.md ("Scheduling") that client gets ONE client's share, split over its two."""

    async def attack():
        sessions = [await Viewer(url, decode=False, keep=1, source=ATTACKER_ADDRESS).connect() for _ in range(2)]
        for viewer in sessions:
            await viewer.call("set", {"dataset": "digits", "hidden_sizes": [32] * 5, "batch_size": 1,
                                      "speed": 60_000}, timeout=60)
        while not stop.is_set():
            for viewer in sessions:
                if viewer.state["status"] != "running":
                    await viewer.call("step", {"unit": "epoch"})
            await asyncio.sleep(0.05)
        for viewer in sessions:
            await viewer.disconnect()
        return 2

    return asyncio.run(attack())


def rebinding(url, token, stop):
    import http.client

    host, port = url.split("//")[1].split(":")
    while not stop.is_set():
        connection = http.client.HTTPConnection(host, int(port), timeout=10)
        connection.putrequest("GET", "/socket.io/?EIO=4&transport=polling", skip_host=True)
        connection.putheader("Host", "evil.example")
        connection.putheader("Origin", "http://evil.example")
        connection.endheaders()
        connection.getresponse().read()
        connection.close()
    return 0


def not_reading(url, token, stop):
    raw = _raw(url, read=False, connect=False)  # never reads: what is queued for it must not grow without bound
    raw.send("40")
    k = 0
    while not stop.is_set() and raw.emit("set", {"noise": 0.1 * (k % 2)}):
        k += 1
        time.sleep(1 / 90)
    raw.close()
    return 1


def garbage_frames(url, token, stop):
    return reconnecting(url, stop, lambda raw: raw.send("\x00garbage") and raw.wait_for(lambda r: r.closed, 10))


ATTACKS = [
    ("1 stray ack 430[] (joined viewer)", stray_ack),
    ("2 connect event / 2nd CONNECT", connect_events),
    ("3 9,999,999,999 attachments, 999 KB each", attachments),
    ("4 flood (5,000 msgs at once, reconnecting)", flood),
    ("5 event names not strings", bad_event_names),
    ("7 broken npz uploads", uploads),
    ("8 oversized messages", oversized),
    ("9 two epoch steps, digits 5x32, batch 1", epoch_steps),
    ("10 DNS rebinding requests", rebinding),
    ("2 a client that never reads", not_reading),
    ("12 non-Engine.IO frames", garbage_frames),
]


def _run_attack(attack, url, token, stop, ready, result):
    # The attacker would be another machine: here it shares two cores with the server, so it gets only what the
    # server and the victim leave (nice 19). Without this the figures measure the attacker's own CPU use.
    os.nice(19)
    import numpy  # noqa: F401  (imports done before the clock starts: a process starting up is no attack)
    import rawsocket  # noqa: F401

    ready.set()
    try:
        result.put(attack(url, token, stop))
    except Exception as error:  # noqa: BLE001 - report, do not hang the benchmark
        result.put(f"{type(error).__name__}: {error}")


# --- the server process
def rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def measure(viewer, seconds: float, pid: int) -> dict:
    start = (viewer.frame_count, viewer.frame["step"], cpu_seconds(pid))
    t0 = time.perf_counter()
    peak = rss_mb(pid)
    while time.perf_counter() - t0 < seconds:
        await asyncio.sleep(0.2)
        peak = max(peak, rss_mb(pid))
    dt = time.perf_counter() - t0
    return {"fps": (viewer.frame_count - start[0]) / dt, "steps": (viewer.frame["step"] - start[1]) / dt,
            "cpu": 100 * (cpu_seconds(pid) - start[2]) / dt, "rss": rss_mb(pid), "peak": peak}


async def main(args) -> None:
    port = free_port("127.0.0.1", 5600)
    log = tempfile.NamedTemporaryFile("w+", suffix=".log", delete=False)
    server = subprocess.Popen([sys.executable, "-m", "app", "--no-browser", "--port", str(port)], cwd=ROOT,
                              stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    context = multiprocessing.get_context("spawn")
    rows = []
    try:
        for _ in range(600):  # a minute: a loaded machine starts the server slowly
            try:
                viewer = await Viewer(url, decode=False).connect()
                break
            except Exception:  # noqa: BLE001 - not listening yet
                await asyncio.sleep(0.1)
        await viewer.call("set", {"speed": args.victim_speed})
        await viewer.call("play")
        await viewer.wait_for(lambda v: v.frame["step"] > 200, timeout=20)
        baseline = await measure(viewer, 2 * args.seconds, server.pid)  # long: the figure every ratio is against
        chosen = [a for a in ATTACKS if not args.only or any(key in a[0] for key in args.only)]
        for name, attack in chosen:
            before = await measure(viewer, args.seconds, server.pid)
            stop, ready, result = context.Event(), context.Event(), context.Queue()
            process = context.Process(target=_run_attack, args=(attack, url, viewer.token, stop, ready, result))
            process.start()
            while not ready.is_set():
                await asyncio.sleep(0.05)
            await asyncio.sleep(0.5)  # let it get going
            during = await measure(viewer, args.seconds, server.pid)
            stop.set()
            # joined off the event loop: the victim's client must keep reading and writing while an attacker winds
            # down (a blocking join of up to 30 s froze it, and its Engine.IO write loop then gave up: "packet
            # queue is empty, aborting", then a frame's attachment read without its header)
            await asyncio.to_thread(process.join, 30)
            if process.is_alive():
                process.terminate()
                await asyncio.to_thread(process.join, 5)
            opened = result.get(timeout=5) if not result.empty() else "?"
            await asyncio.sleep(1.0)  # the attacker's last connections close
            after = await measure(viewer, args.seconds, server.pid)
            rows.append((name, before, during, after, opened))
            if viewer.disconnected:
                print(f"  the victim was disconnected during {name}", file=sys.stderr, flush=True)
                break
            print(f"  {name}: done", file=sys.stderr, flush=True)
        await viewer.disconnect()
        await asyncio.sleep(0.2)
    finally:
        server.terminate()
        server.wait(10)
    log.seek(0)
    text = log.read()
    tracebacks = text.count("Traceback")

    print(f"Victim (speed {args.victim_speed}) baseline (this run): {baseline['fps']:.1f} frames/s, "
          f"{baseline['steps']:.0f} steps/s; "
          f"server {baseline['rss']:.0f} MB RSS, {baseline['cpu']:.0f} % CPU. Load average at the end: "
          f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} cores. Tracebacks in the server log: {tracebacks}.")
    print()
    print("Ratios are against the baseline (victim alone, a 2× long window at the start of this run); before "
          "/ baseline shows how far the machine's load drifted.\n")
    print("| attack | victim frames/s before → during → after | before / baseline | during / baseline "
          "| after / baseline | steps/s during / baseline | after / baseline | RSS before → peak → after (MB) "
          "| MB per hostile connection | server CPU during | connections |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    base = {k: max(v, 1e-9) for k, v in baseline.items()}
    for name, before, during, after, opened in rows:
        growth = (during["peak"] - before["rss"]) / max(opened, 1) if isinstance(opened, int) else float("nan")
        print(f"| {name} | {before['fps']:.1f} → {during['fps']:.1f} → {after['fps']:.1f} "
              f"| {before['fps'] / base['fps']:.0%} | {during['fps'] / base['fps']:.0%} "
              f"| {after['fps'] / base['fps']:.0%} | {during['steps'] / base['steps']:.0%} "
              f"| {after['steps'] / base['steps']:.0%} | {before['rss']:.0f} → {during['peak']:.0f} → "
              f"{after['rss']:.0f} | {growth:+.1f} | {during['cpu']:.0f} % | {opened} |")
    closes = [line for line in text.splitlines() if "closing" in line]
    print(f"\nServer log: {len(closes)} connections closed by the guard; the first few:")
    for line in closes[:8]:
        print("    " + line.strip()[:160])
    if tracebacks:
        print("\nServer log tracebacks:\n" + text[text.index("Traceback"):][:3000])


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=4.0, help="length of each measuring window")
    parser.add_argument("--only", nargs="*", help="run only the attacks whose name contains one of these")
    parser.add_argument("--victim-speed", type=int, default=20,
                        help="the victim's steps per second (20: a class's default; 60000: as fast as its share "
                             "of the CPU allows, so its steps/s show that share)")
    asyncio.run(main(parser.parse_args()))
