"""Classroom capacity: one teacher's session followed by 25, 50, 100, 200 real socket clients.

The server runs as its own process (``python -m app``). The teacher's page is a Viewer in this process that
starts a class; the followers join it with its code (``auth: {join: CODE}``), python-socketio AsyncClients, many to an asyncio loop, in ``--processes`` worker processes (so
neither the server nor the teacher shares a GIL with them). Each follower connects from its own loopback
address (127.0.1.x, …: on a school network every phone has its own, and the server limits new connections per
address) and, like a browser, offers permessage-deflate. ``--slow`` of them ack each frame only after
``--slow-ack`` seconds (a phone that draws slowly).

Latency = the follower's receive time − the frame's ``time`` (the server's wall clock when the frame was
built; both processes read the same clock). Frames/s and latencies are counted over the same ``--seconds``
window for every client. Targets (issue 14, item 6; printed, not asserted): at 100 followers, each fast one
≥ 20 frames/s with p95 latency ≤ 150 ms, the teacher ≥ 50 frames/s, while 5 followers ack slowly.

Then fairness (item 7): the teacher's steps/s (``speed`` 60,000: as fast as the scheduler lets it) alone, and
with 30 students each training their own session from their own address while following the class.

Usage: ``python bench/classroom.py [--followers 25 50 100 200] [--seconds 5] [--processes 2]``.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from app.server.client import Viewer  # noqa: E402

from stream import quiet_disconnect_leftovers, start_server  # noqa: E402  (bench/stream.py)


def address(k: int) -> str:
    """The k-th client's own loopback address (Linux routes all of 127.0.0.0/8 to lo): 127.0.1.1 … 127.0.x.y."""
    return f"127.{1 + k // 250 // 250}.{1 + k // 250 % 250}.{1 + k % 250}"


def follower(url, code, source, ack_delay=0.0, deflate=True) -> Viewer:
    """A follower's page (joined with the class's code), as lean as a Viewer can be; ``arrivals`` holds
    (receive time, frame time) pairs."""
    received = []
    viewer = Viewer(url, join=code, decode=False, keep=1, ack_delay=ack_delay, source=source, deflate=deflate,
                    on_payload=lambda payload: received.append((time.time(), payload.get("time", 0.0))))
    viewer.arrivals = received
    return viewer


async def _follow(url, code, first, count, slow, slow_ack, deflate, commands, results, own_sessions):
    leftovers = quiet_disconnect_leftovers(asyncio.get_running_loop())
    followers = [follower(url, code, address(k), slow_ack if k - first < slow else 0.0, deflate)
                 for k in range(first, first + count)]
    for batch in range(0, count, 10):  # a few at a time: a class arriving, not one burst
        await asyncio.gather(*(f.connect() for f in followers[batch:batch + 10]))
    students = []
    if own_sessions:  # each student also trains a session of their own, from the same address
        for k in range(first, first + count):
            student = await Viewer(url, decode=False, keep=1, source=address(k), deflate=deflate).connect()
            await student.call("set", own_sessions)
            await student.call("play")
            students.append(student)
    results.put(("ready", first))
    start, seconds = await asyncio.get_running_loop().run_in_executor(None, commands.get)
    await asyncio.sleep(max(0.0, start + seconds - time.time()) + 0.3)
    end = start + seconds
    out = []
    for k, f in enumerate(followers):
        inside = [(r, t) for r, t in f.arrivals if start <= r < end]
        out.append({"slow": k < slow, "frames": len(inside), "latency": [r - t for r, t in inside]})
    student_steps = [s.frame["step"] for s in students]
    results.put(("done", first, out, student_steps, len(leftovers)))
    for viewer in followers + students:
        await viewer.disconnect()


def _worker(*args):
    asyncio.run(_follow(*args))


async def measure_class(url, teacher, followers, args, own_sessions=None):
    """Connect ``followers`` to the teacher's session across the worker processes, measure one window."""
    context = multiprocessing.get_context("spawn")
    results = context.Queue()
    workers = []
    per = [followers // args.processes + (p < followers % args.processes) for p in range(args.processes)]
    slow = [args.slow // args.processes + (p < args.slow % args.processes) for p in range(args.processes)]
    first = 0
    for p in range(args.processes):
        if not per[p]:
            continue
        commands = context.Queue()
        process = context.Process(target=_worker, args=(url, args.code, first, per[p], min(slow[p], per[p]),
                                                        args.slow_ack, not args.no_deflate, commands, results,
                                                        own_sessions))
        process.start()
        workers.append((process, commands))
        first += per[p]
    loop = asyncio.get_running_loop()
    for _ in workers:
        message = await loop.run_in_executor(None, results.get, True, 300)
        assert message[0] == "ready", message
    await asyncio.sleep(1.5)  # settle
    start = time.time() + 0.2
    for _, commands in workers:
        commands.put((start, args.seconds))
    await asyncio.sleep(max(0.0, start - time.time()))
    t_count, t_step, cpu = teacher.frame_count, teacher.frame["step"], cpu_seconds(args.server_pid)
    profiler = None
    if args.py_spy:  # where the server's GIL goes during the window (py-spy from PyPI; not a dependency)
        profiler = await asyncio.create_subprocess_exec(
            str(Path(sys.executable).with_name("py-spy")), "record", "--gil", "--nonblocking", "-r", "100",
            "-d", str(int(args.seconds)), "-f", "raw", "-o", f"{args.py_spy}.{followers}", "-p",
            str(args.server_pid), stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL)
    await asyncio.sleep(args.seconds)
    teacher_fps = (teacher.frame_count - t_count) / args.seconds
    teacher_steps = (teacher.frame["step"] - t_step) / args.seconds
    server_cpu = 100 * (cpu_seconds(args.server_pid) - cpu) / args.seconds
    rows, leftovers = [], 0
    for _ in workers:
        message = await loop.run_in_executor(None, results.get, True, 120)
        rows += message[2]
        leftovers += message[4]
    for process, _ in workers:
        process.join(60)
    if profiler is not None:
        await profiler.wait()
    fast = [r for r in rows if not r["slow"]]
    slow_rows = [r for r in rows if r["slow"]]
    fps = np.array([r["frames"] / args.seconds for r in fast])
    delivered = teacher_fps + sum(r["frames"] for r in rows) / args.seconds
    latency = np.concatenate([r["latency"] for r in fast]) if fast else np.zeros(0)
    return {"followers": followers, "teacher_fps": teacher_fps, "teacher_steps": teacher_steps,
            "fps_min": fps.min(), "fps_median": np.median(fps), "fps_mean": fps.mean(),
            "p50": np.percentile(latency, 50) if latency.size else float("nan"),
            "p95": np.percentile(latency, 95) if latency.size else float("nan"),
            "slow_fps": np.mean([r["frames"] / args.seconds for r in slow_rows]) if slow_rows else float("nan"),
            "server_cpu": server_cpu, "cpu_per_frame": server_cpu * 10 / max(delivered, 1e-9),
            "load": os.getloadavg()[0]}


def cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def teacher_alone(teacher, seconds, pid):
    await asyncio.sleep(1.0)
    count, step, cpu = teacher.frame_count, teacher.frame["step"], cpu_seconds(pid)
    await asyncio.sleep(seconds)
    return {"followers": 0, "teacher_fps": (teacher.frame_count - count) / seconds,
            "teacher_steps": (teacher.frame["step"] - step) / seconds,
            "server_cpu": 100 * (cpu_seconds(pid) - cpu) / seconds, "load": os.getloadavg()[0]}


async def main(args):
    quiet_disconnect_leftovers(asyncio.get_running_loop())
    server, url = await start_server(5700)
    args.server_pid = server.pid
    try:
        teacher = await Viewer(url, decode=False).connect()
        args.code = (await teacher.call("class_start"))["class"]["code"]  # followers join with it
        await teacher.call("play")
        base = await teacher_alone(teacher, args.seconds, server.pid)
        curve = []
        for n in args.followers:
            curve.append(await measure_class(url, teacher, n, args))
            print(f"  {n} followers: done", file=sys.stderr, flush=True)
        fair = None
        if args.students:
            await teacher.call("set", {"speed": 60_000})
            fast_alone = await teacher_alone(teacher, args.seconds, server.pid)
            shared = await measure_class(url, teacher, args.students, argparse.Namespace(
                **{**vars(args), "slow": 0}), own_sessions={"speed": 60_000})
            fair = (fast_alone, shared)
        await teacher.disconnect()
    finally:
        server.terminate()
        server.wait(timeout=10)

    print(f"\nnnplayground classroom benchmark: one server process, {os.cpu_count()} cores, teacher's session "
          f"mlp circle 2-8-8-1 at speed 20, FPS cap 60; followers in {args.processes} client processes, "
          f"{args.slow} of them acking after {args.slow_ack * 1000:.0f} ms; {args.seconds:g} s windows. "
          f"Baseline (no followers, same run): teacher {base['teacher_fps']:.1f} frames/s, server CPU "
          f"{base['server_cpu']:.0f} %.\n")
    print("| followers | each fast follower: frames/s min / median | latency p50 / p95 ms | slow followers frames/s "
          "| teacher frames/s (÷ baseline) | teacher steps/s | server CPU | server CPU ms per frame sent | load |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in curve:
        print(f"| {r['followers']} | {r['fps_min']:.1f} / {r['fps_median']:.1f} | {r['p50'] * 1e3:.0f} / "
              f"{r['p95'] * 1e3:.0f} | {r['slow_fps']:.1f} | {r['teacher_fps']:.1f} "
              f"({r['teacher_fps'] / max(base['teacher_fps'], 1e-9):.0%}) | {r['teacher_steps']:.0f} "
              f"| {r['server_cpu']:.0f} % | {r['cpu_per_frame']:.2f} | {r['load']:.1f} |")
    if fair is not None:
        alone, shared = fair
        print(f"\nFairness: the teacher's session at speed 60,000 trains {alone['teacher_steps']:.0f} steps/s alone; "
              f"with {args.students} students following it and each training their own session at speed 60,000: "
              f"{shared['teacher_steps']:.0f} steps/s = {shared['teacher_steps'] / max(alone['teacher_steps'], 1e-9):.0%} "
              f"of alone (its fair share by docs/protocol.md: "
              f"{fair_share(args.students):.0%}); teacher {shared['teacher_fps']:.1f} frames/s, followers "
              f"{shared['fps_median']:.1f} frames/s median. Load {shared['load']:.1f}.")


def fair_share(students: int) -> float:
    """The class's share of the training time by the rule in docs/protocol.md ("Scheduling"): each address
    weighs 1, split over the sessions it watches; the teacher's address watches only the class."""
    class_weight = 1 + students * 0.5
    return class_weight / (class_weight + students * 0.5)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--followers", type=int, nargs="*", default=[25, 50, 100, 200])
    parser.add_argument("--slow", type=int, default=5, help="followers that ack slowly")
    parser.add_argument("--slow-ack", type=float, default=0.5, help="their delay before each ack, s")
    parser.add_argument("--seconds", type=float, default=5.0, help="measuring window")
    parser.add_argument("--processes", type=int, default=2, help="client processes the followers are spread over")
    parser.add_argument("--students", type=int, default=30, help="students training their own sessions (0: skip)")
    parser.add_argument("--py-spy", metavar="FILE", help="profile the server in each window (FILE.<followers>)")
    parser.add_argument("--no-deflate", action="store_true", help="followers do not offer permessage-deflate")
    asyncio.run(main(parser.parse_args()))
