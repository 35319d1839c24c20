"""Latest frame wins: at most one frame in flight per client, a newer one replaces the unsent one."""

import threading

from app.bundle import Bundle, Frame
from app.streaming import FrameStream


class FakeServer:
    """Records emits; the test plays the client by calling the ack callbacks."""

    def __init__(self):
        self.sent = []
        self.lock = threading.Lock()

    def emit(self, event, payload, to, namespace, callback):
        with self.lock:
            self.sent.append((to, payload, callback))


def frame(seq, dataset_version=1):
    b = Bundle()
    b.add("weight.0", [[float(seq)]])
    return Frame({"seq": seq, **b.to_wire()}, {"dataset": (dataset_version, {"version": dataset_version})}, 4)


def test_a_slow_client_gets_the_latest_frame_and_never_more_than_one_in_flight():
    server = FakeServer()
    stream = FrameStream(server, ack_timeout=60)
    stream.open("slow")
    stream.open("fast")
    for seq in range(1, 11):
        stream.publish(["slow", "fast"], frame(seq))
        fast = [s for s in server.sent if s[0] == "fast"]
        fast[-1][2]()  # the fast client acks at once
    slow = [s for s in server.sent if s[0] == "slow"]
    assert [p["seq"] for _, p, _ in slow] == [1]  # nothing more until it acks
    assert len([s for s in server.sent if s[0] == "fast"]) == 10
    slow[0][2]()  # ack: the pending frame goes, and it is the newest
    slow = [s for s in server.sent if s[0] == "slow"]
    assert [p["seq"] for _, p, _ in slow] == [1, 10]
    assert stream.stats("slow")["frames_dropped"] == 8


def test_versioned_bundles_are_sent_once_per_version():
    server = FakeServer()
    stream = FrameStream(server, ack_timeout=60)
    stream.open("a")
    for seq, version in [(1, 1), (2, 1), (3, 2)]:
        stream.publish(["a"], frame(seq, version))
        server.sent[-1][2]()
    assert ["dataset" in p for _, p, _ in server.sent] == [True, False, True]


def test_an_unacknowledged_frame_counts_as_lost_after_the_timeout():
    server = FakeServer()
    stream = FrameStream(server, ack_timeout=0.0)
    stream.open("a")
    stream.publish(["a"], frame(1))
    stream.publish(["a"], frame(2))
    assert [p["seq"] for _, p, _ in server.sent] == [1, 2]


def test_closed_channel_gets_nothing():
    server = FakeServer()
    stream = FrameStream(server)
    stream.open("a")
    stream.close("a")
    stream.publish(["a", "unknown"], frame(1))
    assert server.sent == []
