"""A seeded fuzz of the wire: thousands of messages, protocol-blind and schema-aware, over real sockets.

Protocol-blind: random Engine.IO/Socket.IO packets (types, ids, namespaces, attachment counts, nesting, sizes,
unicode, binary blobs, text that is not a packet at all). Schema-aware: every event of the protocol with a valid
payload, then each field mutated (wrong types, out of range, NaN, huge, unicode, extra and missing fields).

Asserted for every message: it is answered (an `error`, the ack it asked for, or a `state`) or its socket is
closed — acks, which the protocol never answers, excepted; after every refusal the session's state and weights
are as they were; the server logged no traceback; and afterwards the session still trains.
"""

from __future__ import annotations

import json
import random
import time

import pytest

from app import create_app
from app.server import LiveServer
from app.server.client import Viewer
from conftest import TEST_CONFIG
from rawsocket import RawSocket
from test_hardening import quiet_server  # noqa: F401  (the fixture)

SEED = 8
MESSAGES = 2000
PER_SOCKET = 150  # under the rate limit's burst: every message is judged on its content
TIME_BUDGET = 120.0  # s: a safety net (~20 s on an idle machine; several helpers' suites at once slow it)

EVENT_TEMPLATES = {
    "play": {}, "pause": {}, "reset": {}, "step": {"unit": "batch"}, "set_lab": {"lab": "mlp"},
    "add_layer": {"position": 1, "width": 3}, "remove_layer": {"layer": 0}, "add_neuron": {"layer": 0},
    "remove_neuron": {"layer": 0, "neuron": 1}, "set_activation": {"activation": "relu", "layer": 0},
    "edit_weight": {"layer": 0, "neuron": 0, "input": 1, "value": 0.5},
    "edit_bias": {"layer": 1, "neuron": 0, "value": -0.25},
    "probe": {"split": "test", "index": 3}, "landscape": {"show": False, "weights": None},
    "load_model": {"format": "json", "data": "{}"},
}
WEIRD = [None, True, False, 0, -1, 1.5, 1e308, -1e308, 10**40, float("nan"), float("inf"), "", "0.1", "x" * 5000,
         "\u00e9\u6f22\U0001f600\u202e", "\x00", [], [1, 2], {}, {"a": {"b": [None]}}, [[[[[]]]]], "NaN"]


def random_json(rng: random.Random, depth: int = 0):
    kind = rng.randrange(8 if depth < 6 else 5)
    if kind == 0:
        return rng.choice(WEIRD)
    if kind == 1:
        return rng.choice(list(EVENT_TEMPLATES) + ["connect", "disconnect", "*", "frame", "error", "state"])
    if kind == 2:
        return rng.uniform(-1e6, 1e6)
    if kind == 3:
        return "".join(chr(rng.randrange(0x20, 0x2FFF)) for _ in range(rng.randrange(12)))
    if kind == 4:
        return rng.randrange(-5, 10**6)
    if kind == 5:
        return [random_json(rng, depth + 1) for _ in range(rng.randrange(5))]
    if kind == 6:
        return {f"k{rng.randrange(99)}": random_json(rng, depth + 1) for _ in range(rng.randrange(4))}
    return {"_placeholder": True, "num": rng.choice([0, 1, -1, "0", None, 10**9])}


def blind_message(rng: random.Random) -> tuple[list, bool]:
    """A random packet as the websocket messages that carry it, and whether it is an ack (never answered)."""
    roll = rng.random()
    if roll < 0.05:  # not Engine.IO at all
        return [rng.choice(["", "x", "{}", "0", "07", "\u00e9", "b@@", "9" * rng.randrange(1, 5)])], False
    if roll < 0.1:  # a binary message no event announced
        return [rng.randbytes(rng.randrange(0, 64_000))], False
    sio_type = rng.choice("0222222223333567") if rng.random() < 0.9 else rng.choice("489/x[")
    attachments = rng.choice([0, 0, 0, 1, 1, 2, 40]) if sio_type in "56" else 0
    head = "4" + sio_type + (f"{attachments}-" if attachments or (sio_type in "56" and rng.random() < .3) else "")
    if rng.random() < 0.1:
        head += rng.choice(["/", "/admin,", "/x?y=1,", "/\u00e9,"])
    if sio_type == "3":  # (the schema-aware half sends its events with ids)
        head += str(rng.choice([0, 1, 7, 10**12, 999999999999999]))
    body = rng.random()
    if body < 0.1:
        tail = rng.choice(['["set"', "[" * 3000, '{"a":', "NaN", "\u00e9", "[1,2]]"])
    elif body < 0.6:
        tail = json.dumps([random_json(rng)] + [random_json(rng) for _ in range(rng.randrange(3))])
    else:
        tail = json.dumps(random_json(rng))
    blobs = [rng.randbytes(rng.randrange(0, 50_000)) for _ in range(min(attachments, 3))]
    return [head + tail, *blobs], sio_type == "3"


def mutations(rng: random.Random, controls: list[dict]):
    """Every event with a valid payload, then each of its fields mutated: (event, payload) pairs, forever."""
    set_template = {c["name"]: c["default"] for c in controls if c["name"] not in ("dataset", "problem")}
    templates = {**EVENT_TEMPLATES, "set": set_template}
    while True:
        for event, template in templates.items():
            yield event, dict(template)
            fields = list(template) or ["extra"]
            for field in rng.sample(fields, min(len(fields), 3)):
                payload = dict(template)
                mutation = rng.randrange(4)
                if mutation == 0:
                    payload[field] = rng.choice(WEIRD)
                elif mutation == 1:
                    payload.pop(field, None)
                    payload[f"{field}\u00e9"] = 1
                elif mutation == 2:
                    payload[field] = random_json(rng)
                else:
                    yield event, rng.choice([[payload], "x", 3, None, [1, 2, 3]])
                    continue
                yield event, payload


def snapshot(session) -> str:
    """What a refusal must not change: the state (but the viewer count) and every weight."""
    with session.lock:
        state = session.state()
        state.pop("viewers", None)
        if (state.get("landscape") or {}).get("auto"):  # the steepest pair is chosen as frames are built
            state.pop("landscape")
        weights = {k: v.tobytes() for k, v in session.lab.trainer.model.state_dict().items()}
    return json.dumps(state, sort_keys=True, default=str) + repr(sorted(weights.items()))


def answers(raw: RawSocket) -> int:
    return len(raw.events) + len(raw.acks)


@pytest.mark.slow
def test_fuzz_every_message_is_answered_or_closes_and_refusals_change_nothing(quiet_server):  # noqa: F811
    rng = random.Random(SEED)
    app = create_app({**TEST_CONFIG, "SESSION_IDLE_TIMEOUT": 0.5, "CONNECTS_PER_SECOND": 0})  # it reconnects a lot
    stats = {"sent": 0, "closed": 0, "refused": 0, "accepted": 0, "acks": 0}
    with LiveServer(app) as server:
        manager = app.extensions["nnplayground"]
        raw, sent_here, schema_aware = None, 0, None
        started = time.monotonic()
        while stats["sent"] < MESSAGES and time.monotonic() - started < TIME_BUDGET:
            if raw is None or raw.closed or sent_here >= PER_SOCKET:
                if raw is not None:
                    raw.close()
                raw, sent_here = RawSocket(server.url, ack_frames=False), 0
                session = manager.get(raw.named("session")[0][0]["token"])
                controls = raw.wait_for(lambda r: r.named("schema"))[0][0]["controls"]
                schema_aware = mutations(rng, controls) if schema_aware is None else schema_aware
                before = snapshot(session)
            blind = stats["sent"] % 2 == 0
            if blind:
                messages, is_ack = blind_message(rng)
                label = messages[0][:80] if isinstance(messages[0], str) else f"<{len(messages[0])} bytes>"
            else:
                event, payload = next(schema_aware)
                seq = 1000 + stats["sent"]
                messages, is_ack = [f"42{seq}{json.dumps([event, payload])}"], False
                label = messages[0][:80]
            events, count = len(raw.events), answers(raw)
            for message in messages:
                raw.send(message)
            stats["sent"] += 1
            sent_here += 1
            if is_ack:
                stats["acks"] += 1
                continue
            if blind:  # one answer: an error, a state, or the close
                raw.wait_for(lambda r: r.closed or answers(r) > count, 5.0)
                accepted = any(name == "state" for name, _ in raw.events[events:])
            else:  # the ack it asked for (after its error or state)
                reply = raw.wait_for(lambda r: r.closed or r.acks.pop(seq, None), 5.0)
                accepted = isinstance(reply, list) and reply[0]["ok"]
            if raw.closed:
                stats["closed"] += 1
            elif accepted:
                stats["accepted"] += 1
                with session.controlled():  # paused again, so the next refusal has a still state to compare
                    session.lab.pause()
                before = snapshot(session)
            else:
                stats["refused"] += 1
                assert snapshot(session) == before, label
        raw.close()
        assert stats["sent"] >= MESSAGES, stats  # within the time budget
        assert stats["refused"] > MESSAGES // 3 and stats["closed"] > 10 and stats["accepted"] > 20, stats

        async def still_trains():
            viewer = await Viewer(server.url).connect()
            await viewer.call("play")
            await viewer.wait_for(lambda v: v.frame["status"] == "running" and v.frame["step"] > 200, timeout=20)
            await viewer.disconnect()

        import asyncio

        asyncio.run(still_trains())
    print("fuzz:", stats)
