"""Latest frame wins: at most one frame in flight per client (two when an ack is long overdue), a newer one
replaces the unsent one, a payload is encoded once for every client it goes to."""

import threading
import time

from app.server.bundle import Bundle, Frame
from app.server.streaming import FrameStream


class FakeSender:
    """Records sends; the test plays the clients by calling the ack callbacks."""

    def __init__(self):
        self.sent = []        # (sid, payload, callback)
        self.encodings = 0
        self.alive_sids = set()
        self.lock = threading.Lock()

    def encode(self, event, payload):
        self.encodings += 1
        return payload

    def send(self, sid, encoded, callback, steps=0):
        with self.lock:
            self.sent.append((sid, {**encoded, "steps_this_frame": steps}, callback))
        return True

    def alive(self, sid):
        return sid in self.alive_sids

    def to(self, sid):
        return [s for s in self.sent if s[0] == sid]


def frame(seq, dataset_version=1, steps=0):
    b = Bundle()
    b.add("weight.0", [[float(seq)]])
    return Frame({"seq": seq, "steps_this_frame": steps, **b.to_wire()},
                 {"dataset": (dataset_version, {"version": dataset_version})}, 4)


def stream_of(sender, *sids, ack_timeout=60.0):
    stream = FrameStream(sender, ack_timeout=ack_timeout, threaded=False)
    for sid in sids:
        stream.open(sid)
    return stream


def test_a_slow_client_gets_the_latest_frame_and_never_more_than_one_in_flight():
    sender = FakeSender()
    stream = stream_of(sender, "slow", "fast")
    for seq in range(1, 11):
        stream.publish(["slow", "fast"], frame(seq))
        stream.flush()
        sender.to("fast")[-1][2]()  # the fast client acks at once
    assert [p["seq"] for _, p, _ in sender.to("slow")] == [1]  # nothing more until it acks
    assert len(sender.to("fast")) == 10
    sender.to("slow")[0][2]()  # ack: the pending frame goes, and it is the newest
    stream.flush()
    assert [p["seq"] for _, p, _ in sender.to("slow")] == [1, 10]
    assert stream.stats("slow")["frames_dropped"] == 8


def test_publishing_sends_nothing_itself():
    sender = FakeSender()
    stream = stream_of(sender, "a")
    stream.publish(["a"], frame(1))
    assert sender.sent == []  # the scheduler's call only fills the slot; the sender thread sends
    assert stream.flush() == 1 and len(sender.sent) == 1


def test_viewers_in_step_share_one_encoding():
    sender = FakeSender()
    sids = [f"v{i}" for i in range(30)]
    stream = stream_of(sender, *sids)
    for seq in range(1, 4):
        stream.publish(sids, frame(seq, steps=5))
        stream.flush()
        for _, _, ack in sender.sent[-30:]:
            ack()
    assert len(sender.sent) == 90
    # Frame 1 carries the dataset bundle to everyone (one variant), later frames don't (one variant each).
    assert sender.encodings == 3


def test_steps_this_frame_adds_up_the_dropped_frames_per_client():
    sender = FakeSender()
    stream = stream_of(sender, "slow", "fast")
    for seq in range(1, 6):
        stream.publish(["slow", "fast"], frame(seq, steps=7))
        stream.flush()
        sender.to("fast")[-1][2]()
    sender.to("slow")[0][2]()
    stream.flush()
    assert [p["steps_this_frame"] for _, p, _ in sender.to("fast")] == [7] * 5
    assert [p["steps_this_frame"] for _, p, _ in sender.to("slow")] == [7, 28]  # 4 frames' steps in one
    assert sum(p["steps_this_frame"] for _, p, _ in sender.to("slow")) == 35


def test_versioned_bundles_are_sent_once_per_version():
    sender = FakeSender()
    stream = stream_of(sender, "a")
    for seq, version in [(1, 1), (2, 1), (3, 2)]:
        stream.publish(["a"], frame(seq, version))
        stream.flush()
        sender.sent[-1][2]()
    assert ["dataset" in p for _, p, _ in sender.sent] == [True, False, True]


def test_an_overdue_ack_allows_one_more_frame_only_to_a_live_connection_and_never_a_third():
    sender = FakeSender()
    stream = stream_of(sender, "dead", "live", ack_timeout=0.0)
    sender.alive_sids.add("live")
    for seq in range(1, 6):
        stream.publish(["dead", "live"], frame(seq))
        stream.flush()
    assert [p["seq"] for _, p, _ in sender.to("dead")] == [1]  # not known to be alive: nothing more
    assert [p["seq"] for _, p, _ in sender.to("live")] == [1, 2]  # overdue and alive: one more, no third
    assert stream.stats("live")["in_flight"] == 2
    sender.to("live")[0][2]()  # the late ack of frame 1: one in flight again, so one more may go
    stream.flush()
    assert [p["seq"] for _, p, _ in sender.to("live")] == [1, 2, 5]
    assert stream.stats("live")["in_flight"] == 2


def test_closed_channel_gets_nothing():
    sender = FakeSender()
    stream = stream_of(sender, "a")
    stream.close("a")
    stream.publish(["a", "unknown"], frame(1))
    stream.flush()
    assert sender.sent == []


def test_a_real_socketio_server_gets_the_same_bytes_as_its_own_emit():
    """The shared encoding with a spliced ack id is byte for byte what python-socketio would send."""
    import socketio
    from socketio import packet

    from app.server.encoding import Encoded

    server = socketio.Server()
    payload = {"seq": 3, "data": b"\x00\x01\x02", "nested": {"a": [1, 2]}}
    ours = Encoded(server, "frame", payload).for_ack(17).encode()
    theirs = packet.Packet(packet.EVENT, namespace="/", data=["frame", payload], id=17).encode()
    assert ours == theirs


def test_a_frame_as_websocket_bytes_is_what_wsproto_would_write_for_each_client():
    """Encoded.wire (the bytes the sender writes itself) = Engine.IO's messages framed by wsproto, for any ack id
    and steps, with attachments small and beyond 64 KiB (the three websocket length encodings)."""
    import socketio
    from wsproto.connection import Connection, ConnectionType
    from wsproto.events import BytesMessage, TextMessage

    from app.server.encoding import Encoded

    framer = Connection(ConnectionType.SERVER)
    payload = {"seq": 3, "steps_this_frame": 0, "data": bytes(range(256)) * 300, "small": b"\x01\x02"}
    encoded = Encoded(socketio.Server(), "frame", payload)
    for ack_id, steps in ((0, 0), (17, 5), (123456, 99)):
        text, *attachments = encoded.for_ack(ack_id, steps).encode()
        expected = framer.send(TextMessage(data="4" + text)) + b"".join(
            framer.send(BytesMessage(data=a)) for a in attachments)
        assert encoded.wire(ack_id, steps) == expected
        assert f'"steps_this_frame":{steps}' in text


def test_what_the_socket_does_not_take_at_once_is_written_first_by_the_writer_and_nothing_overtakes_it():
    """write_now never waits on a client: a frame larger than the socket takes is left `unwritten`; until the
    writer thread has written it, later frames are refused (they go to the queue, behind it), and the client
    reads every byte in order."""
    import queue
    import socket
    import types

    from app.server.transport import UNWRITTEN, BoundedWebSocket

    ours, client = socket.socketpair()
    ours.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
    ws = BoundedWebSocket.__new__(BoundedWebSocket)  # the writing half only: no HTTP upgrade behind it
    ws.ws = types.SimpleNamespace(sock=ours, connected=True)
    ws.closing, ws.unwritten, ws.queued, ws.queue = None, b"", 0, queue.Queue()
    ws.write_lock, ws.count_lock = threading.Lock(), threading.Lock()
    first, second = bytes(range(256)) * 4096, b"after"
    assert ws.write_now(first) and ws.unwritten  # the socket took part of it
    assert ws.queue.get_nowait() is UNWRITTEN
    assert not ws.write_now(second)  # would overtake the unwritten tail: the caller queues it instead
    received = bytearray()
    reader = threading.Thread(target=lambda: received.extend(_read_exactly(client, len(first))))
    reader.start()
    ws.queued = 1  # as engineio's queue put would have counted UNWRITTEN
    ws.send(UNWRITTEN)  # the writer thread's turn: the tail first
    reader.join(10)
    assert bytes(received) == first and not ws.unwritten and ws.queued == 0
    assert ws.write_now(second) and _read_exactly(client, len(second)) == second
    ours.close()
    client.close()


def _read_exactly(sock, n: int) -> bytes:
    out = bytearray()
    while len(out) < n:
        chunk = sock.recv(n - len(out))
        assert chunk, "closed early"
        out += chunk
    return bytes(out)


def spin(seconds):
    """Burn ``seconds`` of this thread's CPU (what sending a big frame costs)."""
    until = time.thread_time() + seconds
    while time.thread_time() < until:
        pass


def test_delivery_is_counted_per_connection_its_sends_and_what_it_sends_back():
    sender = FakeSender()
    send = sender.send
    sender.send = lambda sid, *rest: (spin(0.002), send(sid, *rest))[1]
    reading = {"a": 0.0, "b": 0.0, "c": 0.0}  # each connection's CPU reading what its client sent (acks)
    sender.received_cpu = reading.get
    stream = stream_of(sender, "a", "b", "c")
    f1, f2 = frame(1), frame(2)
    f1.account = f2.account = "a session"
    stream.publish(["a", "b"], f1)
    stream.publish(["c"], f2)
    stream.flush()
    delivered = stream.take_delivered()
    assert delivered.keys() == {"a", "b", "c"} and all(0.002 <= v < 0.004 for v in delivered.values()), delivered
    assert stream.take_delivered() == {}  # taken: not charged twice
    for _, _, ack in sender.sent:
        ack()
    reading["c"] += 0.5  # c's ack cost its connection's threads half a second
    f3 = frame(3)
    f3.account = "a session"
    stream.publish(["c"], f3)
    stream.flush()
    delivered = stream.take_delivered()
    assert delivered.keys() == {"c"} and 0.5 + 0.002 <= delivered["c"] < 0.6
    unaccounted = frame(4)  # a frame nobody is charged for (relayed from another process): nothing recorded
    stream.publish(["a"], unaccounted)
    stream.flush()
    assert stream.take_delivered() == {}
