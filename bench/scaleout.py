"""Several server processes (docs/deploy.md): what ``--workers 2`` buys on this machine.

1. **Students**: ``--students`` (30) sessions, each a student's own, training as fast as the scheduler lets it
   (speed 60,000) and watched by its student — served by ONE process (``nnplayground``, as always), then by TWO
   (``nnplayground --workers 2``: one address, the kernel spreads the connections). Per session: frames/s
   received; in all: training steps/s. Targets (issue 15; printed, not asserted): with 2 processes ≥ 10 frames/s
   per session and ≥ 1.7× the total steps/s of one.
2. **A class**: one teacher (default pace, speed 20) followed by ``--followers`` (200) over the same two
   processes: frames/s per follower (min / median) and p95 latency (the follower's receive time − the frame's
   server ``time``; one machine, one clock).

The clients are lean — python-socketio AsyncClients that parse the event and ack, no array decoding — in
``--processes`` separate processes (each from its own loopback addresses, like a class's devices), and they share
the cores with the servers: their own CPU is printed beside the servers'. Baselines are measured in the same run.

Usage: ``python bench/scaleout.py [--quick] [--students 30] [--followers 200] [--seconds 8]``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from app.server.client import Viewer  # noqa: E402
from app.server.live import free_port  # noqa: E402

from classroom import address, cpu_seconds  # noqa: E402  (bench/classroom.py)
from stream import quiet_disconnect_leftovers  # noqa: E402  (bench/stream.py)


# --- the servers
def start_servers(workers: int, first_port: int) -> tuple[subprocess.Popen, str, str | None]:
    """``nnplayground --workers N`` in its own process: (the process, its URL, the private Redis URL or None)
    once it prints its address (the launcher prints it when every process has joined)."""
    port = free_port("127.0.0.1", first_port)
    server = subprocess.Popen([sys.executable, "-m", "app", "--no-browser", "--port", str(port), "--workers",
                               str(workers)], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                              env={**os.environ, "PYTHONUNBUFFERED": "1"})
    banner = server.stdout.readline()
    redis_url = None
    if workers > 1:
        banner += server.stdout.readline()
        redis_url = banner.rsplit(", ", 1)[1].strip()
    return server, f"http://127.0.0.1:{port}", redis_url


def server_pids(server: subprocess.Popen, workers: int) -> list[int]:
    """The processes that serve: the server itself, or the launcher's server children (not its redis-server)."""
    if workers == 1:
        return [server.pid]
    listing = subprocess.run(["ps", "-o", "pid=,args=", "--ppid", str(server.pid)], capture_output=True,
                             text=True).stdout
    return [int(line.split()[0]) for line in listing.splitlines() if "--worker-fd" in line]


def owners(redis_url: str | None, tokens: list[str]) -> list:
    """The process that holds each session (the directory in Redis, by the sessions' public ids), or all 0."""
    if redis_url is None:
        return [0] * len(tokens)
    import redis

    from app.cluster.wire import public_id, session_key

    store = redis.Redis.from_url(redis_url)
    try:
        entries = store.mget([session_key(public_id(token)) for token in tokens])
    finally:
        store.close()
    return [json.loads(entry)["worker"] if entry else None for entry in entries]


# --- the clients: each process runs many lean viewers on one asyncio loop
async def _clients(url, kind, first, count, settings, join, commands, results):
    loop = asyncio.get_running_loop()
    quiet_disconnect_leftovers(loop)
    viewers = []
    for k in range(first, first + count):
        arrivals: list = []
        viewer = Viewer(url, join=join, decode=False, keep=1, source=address(k),
                        on_payload=lambda p, arrivals=arrivals: arrivals.append((time.time(), p.get("time", 0.0))))
        viewer.arrivals = arrivals
        viewers.append(viewer)
    for batch in range(0, count, 10):  # a few at a time: a class arriving, not one burst
        await asyncio.gather(*(v.connect() for v in viewers[batch:batch + 10]))
    if kind == "student":
        for viewer in viewers:
            await viewer.call("set", settings)
            await viewer.call("play")
    results.put(("ready", first))
    start, seconds = await loop.run_in_executor(None, commands.get)
    await asyncio.sleep(max(0.0, start - time.time()))
    cpu, steps = time.process_time(), [v.frame["step"] for v in viewers]
    await asyncio.sleep(seconds)
    cpu, steps = time.process_time() - cpu, [v.frame["step"] - s for v, s in zip(viewers, steps)]
    end = start + seconds
    rows = []
    for viewer, trained in zip(viewers, steps):
        inside = [(r, t) for r, t in viewer.arrivals if start <= r < end]
        rows.append({"frames": len(inside), "steps": trained, "latency": [r - t for r, t in inside],
                     "token": viewer.token})
    results.put(("done", first, rows, cpu))
    for viewer in viewers:
        await viewer.disconnect()


def _client_process(*args):
    asyncio.run(_clients(*args))


async def measure(url, kind, count, args, pids, first_address=0, join=None) -> dict:
    """``count`` clients of ``kind`` ("student": its own session, playing; "follower": of ``join``) over
    ``args.processes`` client processes; one window of ``args.seconds``."""
    context = multiprocessing.get_context("spawn")
    results, processes = context.Queue(), []
    per = [count // args.processes + (p < count % args.processes) for p in range(args.processes)]
    first = first_address
    for n in per:
        commands = context.Queue()
        process = context.Process(target=_client_process, args=(url, kind, first, n, {"speed": 60_000}, join,
                                                                 commands, results))
        process.start()
        processes.append((process, commands))
        first += n
    loop = asyncio.get_running_loop()
    for _ in processes:
        message = await loop.run_in_executor(None, results.get, True, 600)
        assert message[0] == "ready", message
    await asyncio.sleep(args.settle)
    start = time.time() + 0.3
    for _, commands in processes:
        commands.put((start, args.seconds))
    await asyncio.sleep(max(0.0, start - time.time()))
    server_cpu = sum(cpu_seconds(pid) for pid in pids)
    await asyncio.sleep(args.seconds)
    server_cpu = sum(cpu_seconds(pid) for pid in pids) - server_cpu
    rows, client_cpu = [], 0.0
    for _ in processes:
        message = await loop.run_in_executor(None, results.get, True, 300)
        rows += message[2]
        client_cpu += message[3]
    for process, _ in processes:
        process.join(60)
    fps = np.array([r["frames"] / args.seconds for r in rows])
    latency = np.concatenate([r["latency"] for r in rows]) if rows else np.zeros(0)
    return {"count": count, "fps_min": fps.min(), "fps_median": np.median(fps),
            "steps": sum(r["steps"] for r in rows) / args.seconds,
            "p95": np.percentile(latency, 95) if latency.size else float("nan"),
            "server_cpu": 100 * server_cpu / args.seconds, "client_cpu": 100 * client_cpu / args.seconds,
            "load": os.getloadavg()[0], "rows": rows}


async def students(workers: int, args) -> dict:
    server, url, redis_url = start_servers(workers, 5800)
    try:
        result = await measure(url, "student", args.students, args, server_pids(server, workers))
        by_owner: dict = {}
        for row, owner in zip(result["rows"], owners(redis_url, [r["token"] for r in result["rows"]])):
            by_owner.setdefault(owner, []).append(row)
        result["processes"] = sorted(({"sessions": len(rows),
                                       "fps": [r["frames"] / args.seconds for r in rows],
                                       "steps": sum(r["steps"] for r in rows) / args.seconds}
                                      for rows in by_owner.values()), key=lambda p: -p["sessions"])
        result["split"] = [p["sessions"] for p in result["processes"]]
        return result
    finally:
        server.terminate()
        server.wait(30)


async def a_class(args) -> dict:
    server, url, _ = start_servers(2, 5900)
    try:
        teacher = await Viewer(url, decode=False, keep=1).connect()
        code = (await teacher.call("class_start"))["class"]["code"]
        await teacher.call("play")
        result = await measure(url, "follower", args.followers, args, server_pids(server, 2), join=code)
        await teacher.disconnect()
        return result
    finally:
        server.terminate()
        server.wait(30)


async def main(args):
    quiet_disconnect_leftovers(asyncio.get_running_loop())
    one = await students(1, args)
    print("  students, 1 process: done", file=sys.stderr, flush=True)
    two = await students(2, args)
    print("  students, 2 processes: done", file=sys.stderr, flush=True)
    klass = await a_class(args) if args.followers else None

    print(f"\nnnplayground scale-out benchmark: {os.cpu_count()} cores (shared with other work: load shown), "
          f"clients in {args.processes} processes of their own, {args.seconds:g} s windows.\n")
    print(f"{args.students} student sessions (mlp circle 2-8-8-1, speed 60,000, each watched by its student):\n")
    print("| server processes | sessions per process | frames/s per session min / median | total steps/s "
          "(÷ 1 process) | server CPU | clients' CPU | load |")
    print("|---|---|---|---|---|---|---|")
    for workers, r in ((1, one), (2, two)):
        print(f"| {workers} | {' + '.join(map(str, r['split']))} | {r['fps_min']:.1f} / {r['fps_median']:.1f} | "
              f"{r['steps']:,.0f} ({r['steps'] / max(one['steps'], 1e-9):.2f}×) | {r['server_cpu']:.0f} % | "
              f"{r['client_cpu']:.0f} % | {r['load']:.1f} |")
    print("\nPer process, with 2: " + "; ".join(
        f"{p['sessions']} sessions: frames/s min {min(p['fps']):.1f} / median {np.median(p['fps']):.1f}, "
        f"steps/s {p['steps']:,.0f}" for p in two["processes"]) + ".")
    print(f"\nTargets with 2 processes: ≥ 10 frames/s per session (median {two['fps_median']:.1f}), ≥ 1.7× the total "
          f"steps/s of one ({two['steps'] / max(one['steps'], 1e-9):.2f}×).")
    if klass is not None:
        print(f"\nA class: the teacher's session (speed 20) in one of 2 processes, {args.followers} followers "
              f"spread over both by the kernel:\n")
        print("| followers | frames/s per follower min / median | p95 latency ms | server CPU | clients' CPU | load |")
        print("|---|---|---|---|---|---|")
        print(f"| {klass['count']} | {klass['fps_min']:.1f} / {klass['fps_median']:.1f} | {klass['p95'] * 1e3:.0f} | "
              f"{klass['server_cpu']:.0f} % | {klass['client_cpu']:.0f} % | {klass['load']:.1f} |")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--students", type=int, default=30, help="student sessions (default 30)")
    parser.add_argument("--followers", type=int, default=200, help="followers of the class (0: skip)")
    parser.add_argument("--seconds", type=float, default=8.0, help="measuring window, s")
    parser.add_argument("--settle", type=float, default=3.0, help="s after everyone connected, before measuring")
    parser.add_argument("--processes", type=int, default=2, help="client processes")
    parser.add_argument("--quick", action="store_true", help="short windows: about two minutes in all")
    arguments = parser.parse_args()
    if arguments.quick:
        arguments.seconds, arguments.settle = 4.0, 1.5
    asyncio.run(main(arguments))
