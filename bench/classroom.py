"""Classroom capacity: one teacher's session followed by 25, 50, 100, 200 real socket clients.

The server runs as its own process (``python -m app``). The teacher's page is a python-socketio AsyncClient
(Viewer) in this process that starts a class; the followers join it with its code (``auth: {join: CODE}``),
many to an asyncio loop, in ``--processes`` client processes (neither the server nor the teacher shares a GIL
with them). So that the bench measures the server and not Python clients, the followers are lean raw websocket
clients (LeanFollower: they parse each frame's small text header and ack, leaving the binary attachments
undecoded) except ``--full`` python-socketio AsyncClients that decode every frame whole (the check that the
frames decode). Each follower connects from its own loopback address (127.0.1.x, …: on a school network every
phone has its own, and the server limits new connections per address). ``--slow`` of them ack each frame only
after ``--slow-ack`` seconds (a phone that draws slowly). The server's CPU and the client processes' CPU are
printed for each window (the machine has 2 cores: clients that take one leave the server the other).

Latency = the follower's receive time − the frame's ``time`` (the server's wall clock when the frame was
built; both processes read the same clock). Frames/s and latencies are counted over the same ``--seconds``
window for every client. Targets (issue 14, item 6; printed, not asserted): at 100 followers, each fast one
≥ 20 frames/s with p95 latency ≤ 150 ms, the teacher ≥ 50 frames/s, while 5 followers ack slowly.

Then fairness (item 7): with 30 students each training their own session from their own address while following
the class, the class's share of the time the server gave running sessions, as the server reckons it (the ``cpu``
field of the class's frames: docs/protocol.md, "Scheduling"), against its fair share; and the teacher's steps/s
(``speed`` 60,000: as fast as the scheduler lets it) alone, followed by the 30 without sessions of their own, and
with their sessions training.

Usage: ``python bench/classroom.py [--followers 25 50 100 200] [--seconds 5] [--processes 2] [--quick]``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import sys
import time
from pathlib import Path

import aiohttp
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from app.server.client import Viewer  # noqa: E402

from stream import quiet_disconnect_leftovers, start_server  # noqa: E402  (bench/stream.py)


def address(k: int) -> str:
    """The k-th client's own loopback address (Linux routes all of 127.0.0.0/8 to lo): 127.0.1.1 … 127.0.x.y."""
    return f"127.{1 + k // 250 // 250}.{1 + k // 250 % 250}.{1 + k % 250}"


class LeanFollower:
    """A follower as lean as a client can be, so the bench measures the server, not Python clients: a raw
    Engine.IO/Socket.IO websocket (aiohttp's) that answers pings, parses only each frame's small text header
    (its ``time`` and ack id), counts its binary attachments without decoding them and acks once the last one
    is in (after ``ack_delay`` s: a phone that draws slowly). ``arrivals``: (receive time, frame time) pairs."""

    def __init__(self, url: str, code: str, source: str, ack_delay: float = 0.0):
        self.url = url.replace("http://", "ws://", 1).rstrip("/") + "/socket.io/?EIO=4&transport=websocket"
        self.code, self.source, self.ack_delay = code, source, ack_delay
        self.arrivals: list[tuple[float, float]] = []
        self.joined = asyncio.Event()
        self.session = self.ws = self.reader = None

    async def connect(self) -> "LeanFollower":
        for attempt in range(50):  # new connections per address are rate-limited (HTTP 429): retry, as a page would
            self.session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(local_addr=(self.source, 0)))
            try:
                self.ws = await self.session.ws_connect(self.url, compress=0, max_msg_size=0)
                break
            except aiohttp.ClientError:
                await self.session.close()
                await asyncio.sleep(0.1 * (attempt + 1))
        else:
            raise ConnectionError(f"{self.source} could not connect")
        opened = await self.ws.receive_str()
        assert opened.startswith("0"), opened
        await self.ws.send_str("40" + json.dumps({"join": self.code}))
        self.reader = asyncio.create_task(self._read())
        await asyncio.wait_for(self.joined.wait(), 30)
        return self

    async def _read(self) -> None:
        ack, waiting, built = None, 0, 0.0  # the frame being received: its ack id, attachments to come, time
        async for message in self.ws:
            if message.type == aiohttp.WSMsgType.BINARY:
                waiting -= 1
                if waiting == 0 and ack is not None:
                    self._received(ack, built)
                continue
            if message.type != aiohttp.WSMsgType.TEXT:
                break
            data = message.data
            if data == "2":  # Engine.IO ping
                await self.ws.send_str("3")
            elif data.startswith("40"):
                self.joined.set()
            elif data.startswith("45") or data.startswith("42"):  # an event: 45<n>-<ack id>[...] or 42<ack id>[...]
                count, rest = data[2:].split("-", 1) if data[1] == "5" else (0, data[2:])
                bracket = rest.index("[")
                if not rest[:bracket] or not rest[bracket:].startswith('["frame"'):
                    continue  # not a frame (state, class, …): no ack asked for, nothing to count
                ack, waiting = int(rest[:bracket]), int(count)
                built = json.loads(rest[bracket:])[1].get("time", 0.0)
                if waiting == 0:
                    self._received(ack, built)

    def _received(self, ack: int, built: float) -> None:
        self.arrivals.append((time.time(), built))
        if self.ack_delay:
            asyncio.get_running_loop().call_later(self.ack_delay, self._ack, ack)
        else:
            self._ack(ack)

    def _ack(self, ack: int) -> None:
        if not self.ws.closed:
            asyncio.ensure_future(self.ws.send_str(f"43{ack}[true]"))

    async def disconnect(self) -> None:
        if self.ws is not None:
            await self.ws.close()
        if self.reader is not None:
            self.reader.cancel()
        if self.session is not None:
            await self.session.close()


def full_follower(url, code, source, ack_delay=0.0) -> Viewer:
    """A follower's page as python-socketio's AsyncClient, decoding every frame whole (the check that frames
    decode; too costly a client to run a hundred of)."""
    received = []
    viewer = Viewer(url, join=code, decode=True, keep=1, ack_delay=ack_delay, source=source,
                    on_payload=lambda payload: received.append((time.time(), payload.get("time", 0.0))))
    viewer.arrivals = received
    return viewer


async def _follow(url, code, first, count, slow, slow_ack, full, commands, results, own_sessions):
    leftovers = quiet_disconnect_leftovers(asyncio.get_running_loop())
    followers = [(full_follower if k - first < full else LeanFollower)(
        url, code, address(k), slow_ack if count - (k - first) <= slow else 0.0) for k in range(first, first + count)]
    for batch in range(0, count, 10):  # a few at a time: a class arriving, not one burst
        await asyncio.gather(*(f.connect() for f in followers[batch:batch + 10]))
    students = []
    if own_sessions:  # each student also trains a session of their own, from the same address
        for k in range(first, first + count):
            student = await Viewer(url, decode=False, keep=1, source=address(k)).connect()
            await student.call("set", own_sessions)
            await student.call("play")
            students.append(student)
    results.put(("ready", first, os.getpid()))
    start, seconds = await asyncio.get_running_loop().run_in_executor(None, commands.get)
    await asyncio.sleep(max(0.0, start + seconds - time.time()) + 0.3)
    end = start + seconds
    out = []
    for k, f in enumerate(followers):
        inside = [(r, t) for r, t in f.arrivals if start <= r < end]
        out.append({"slow": count - k <= slow, "full": k < full, "decoded": k >= full or bool((f.frame or {}).get("arrays")),
                    "frames": len(inside), "latency": [r - t for r, t in inside]})
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
    first, workers_wanted = 0, [p for p in range(args.processes) if per[p]]
    for p in range(args.processes):
        if not per[p]:
            continue
        commands = context.Queue()
        full = args.full // len(workers_wanted) + (len(workers) < args.full % len(workers_wanted))
        process = context.Process(target=_worker, args=(url, args.code, first, per[p], min(slow[p], per[p]),
                                                        args.slow_ack, min(full, per[p]), commands, results,
                                                        own_sessions))
        process.start()
        workers.append((process, commands))
        first += per[p]
    loop = asyncio.get_running_loop()
    client_pids = []
    for _ in workers:
        message = await loop.run_in_executor(None, results.get, True, 300)
        assert message[0] == "ready", message
        client_pids.append(message[2])
    await asyncio.sleep(1.5)  # settle
    start = time.time() + 0.2
    for _, commands in workers:
        commands.put((start, args.seconds))
    await asyncio.sleep(max(0.0, start - time.time()))
    t_count, t_step, cpu = teacher.frame_count, teacher.frame["step"], cpu_seconds(args.server_pid)
    clients_cpu = sum(cpu_seconds(pid) for pid in client_pids)
    profiler = None
    if args.py_spy:  # where the server's GIL goes during the window (py-spy from PyPI; not a dependency)
        profiler = await asyncio.create_subprocess_exec(
            str(Path(sys.executable).with_name("py-spy")), "record", "--gil", "--nonblocking", "-r", "100",
            "-d", str(int(args.seconds)), "-f", "raw", "-o", f"{args.py_spy}.{followers}", "-p",
            str(args.server_pid), stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL)
    shares, window_end = [], time.time() + args.seconds
    while time.time() < window_end:  # the server's own reckoning of the class's share (over its last 3 s)
        await asyncio.sleep(min(0.25, max(0.0, window_end - time.time())))
        if teacher.frame.get("cpu"):
            shares.append(teacher.frame["cpu"])
    teacher_fps = (teacher.frame_count - t_count) / args.seconds
    teacher_steps = (teacher.frame["step"] - t_step) / args.seconds
    share = {"share": float(np.mean([s["share"] for s in shares])), "fair": shares[-1]["fair"]} if shares else None
    server_cpu = 100 * (cpu_seconds(args.server_pid) - cpu) / args.seconds
    clients_cpu = 100 * (sum(cpu_seconds(pid) for pid in client_pids) - clients_cpu) / args.seconds
    rows, leftovers = [], 0
    for _ in workers:
        message = await loop.run_in_executor(None, results.get, True, 120)
        rows += message[2]
        leftovers += message[4]
    for process, _ in workers:
        process.join(60)
    if profiler is not None:
        await profiler.wait()
    fast = [r for r in rows if not r["slow"] and not r["full"]]
    full = [r for r in rows if r["full"]]
    slow_rows = [r for r in rows if r["slow"]]
    fps = np.array([r["frames"] / args.seconds for r in fast])
    delivered = teacher_fps + sum(r["frames"] for r in rows) / args.seconds
    latency = np.concatenate([r["latency"] for r in fast]) if fast else np.zeros(0)
    return {"followers": followers, "teacher_fps": teacher_fps, "teacher_steps": teacher_steps, "share": share,
            "fps_min": fps.min(), "fps_median": np.median(fps), "fps_mean": fps.mean(),
            "p50": np.percentile(latency, 50) if latency.size else float("nan"),
            "p95": np.percentile(latency, 95) if latency.size else float("nan"),
            "slow_fps": np.mean([r["frames"] / args.seconds for r in slow_rows]) if slow_rows else float("nan"),
            "full_fps": np.mean([r["frames"] / args.seconds for r in full]) if full else float("nan"),
            "decoded": all(r["decoded"] for r in rows), "clients_cpu": clients_cpu,
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
    args.load_before = os.getloadavg()[0]
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
            lean = argparse.Namespace(**{**vars(args), "slow": 0, "full": 0})
            followed = await measure_class(url, teacher, args.students, lean)  # its followers, no student sessions
            shared = await measure_class(url, teacher, args.students, lean, own_sessions={"speed": 60_000})
            fair = (fast_alone, followed, shared)
        await teacher.disconnect()
    finally:
        server.terminate()
        server.wait(timeout=10)

    print(f"\nnnplayground classroom benchmark: one server process, {os.cpu_count()} cores, teacher's session "
          f"mlp circle 2-8-8-1 at speed 20, FPS cap 60; followers in {args.processes} client processes, "
          f"{args.slow} of them acking after {args.slow_ack * 1000:.0f} ms, {args.full} of them python-socketio "
          f"AsyncClients decoding every frame, the rest lean raw-websocket clients; the teacher's page is a Python "
          f"AsyncClient; {args.seconds:g} s windows; load before: {args.load_before:.1f}. "
          f"Baseline (no followers, same run): teacher {base['teacher_fps']:.1f} frames/s, server CPU "
          f"{base['server_cpu']:.0f} %.\n")
    print("| followers | each lean follower: frames/s min / median | latency p50 / p95 ms | slow followers frames/s "
          "| full clients frames/s | teacher frames/s (÷ baseline) | teacher steps/s | server CPU "
          "| server CPU ms per frame sent | clients' CPU | load |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for r in curve:
        print(f"| {r['followers']} | {r['fps_min']:.1f} / {r['fps_median']:.1f} | {r['p50'] * 1e3:.0f} / "
              f"{r['p95'] * 1e3:.0f} | {r['slow_fps']:.1f} | {r['full_fps']:.1f}{'' if r['decoded'] else ' (NOT decoded)'} "
              f"| {r['teacher_fps']:.1f} ({r['teacher_fps'] / max(base['teacher_fps'], 1e-9):.0%}) "
              f"| {r['teacher_steps']:.0f} | {r['server_cpu']:.0f} % | {r['cpu_per_frame']:.2f} "
              f"| {r['clients_cpu']:.0f} % | {r['load']:.1f} |")
    if fair is not None:
        alone, followed, shared = fair
        share = shared["share"] or {"share": float("nan"), "fair": float("nan")}
        print(f"\nFairness (item 7), {args.students} students each following the class and training their own "
              f"session at speed 60,000, the class at 60,000 too: by the server's own accounting (the `cpu` of "
              f"the class's frames: CPU time spent training each session, building its frames and delivering "
              f"them, over the last 3 s, read every 0.25 s of the window and averaged) the class had **{share['share']:.0%}** of the time the running sessions "
              f"used; its fair share is {share['fair']:.0%} (by docs/protocol.md: {fair_share(args.students):.0%}). "
              f"Teacher {shared['teacher_fps']:.1f} frames/s, followers {shared['fps_median']:.1f} frames/s "
              f"median, server CPU {shared['server_cpu']:.0f} %. Load {shared['load']:.1f}.")
        print(f"Its steps/s: {alone['teacher_steps']:.0f} alone (no followers), {followed['teacher_steps']:.0f} "
              f"followed by the {args.students} (their own sessions paused), {shared['teacher_steps']:.0f} with "
              f"their sessions training = {shared['teacher_steps'] / max(alone['teacher_steps'], 1e-9):.0%} of "
              f"alone, {shared['teacher_steps'] / max(followed['teacher_steps'], 1e-9):.0%} of followed. Fewer "
              f"than the share says, because the class's own frames (at the teacher's frame rate) and its "
              f"followers' delivery cost the same however many train: they take a bigger part of a smaller share. "
              f"Load {followed['load']:.1f}.")


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
    parser.add_argument("--full", type=int, default=2,
                        help="followers that are python-socketio AsyncClients decoding every frame (the check)")
    parser.add_argument("--quick", action="store_true", help="25 and 100 followers, 3 s windows (about 2 min)")
    arguments = parser.parse_args()
    if arguments.quick:
        arguments.followers, arguments.seconds = [25, 100], 3.0
    asyncio.run(main(arguments))
