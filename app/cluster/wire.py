"""What travels between server processes through Redis: names of keys and channels, and one packing of any
JSON-like value with bytes in it (a frame's attachments, an upload) — JSON for the structure, the bytes as they
are after it, so nothing is base64-encoded and nothing is pickled (a message from Redis is data, never code)."""

from __future__ import annotations

import hashlib
import json
import struct

import numpy as np

PREFIX = "nnp"
TTL = 10           # s a directory entry lives without a heartbeat (a dead process's entries expire)
HEARTBEAT = 2.0    # s between two heartbeats: entries refreshed, dead peers noticed
BLOB = "\x00blob"  # {BLOB: i}: the i-th bytes value


def public_id(token: str) -> str:
    """A session's name between processes: sha256 of its token (as reveal.js's multiplex derives its public id),
    so the directory and the frame channels never carry the token that controls it."""
    return hashlib.sha256(token.encode()).hexdigest()[:32]


def inbox(worker: str) -> str:
    """The channel a process listens on: requests for its sessions, replies, and what it relays to its clients."""
    return f"{PREFIX}:inbox:{worker}"


def frames(session_id: str) -> str:
    """The channel a session's frames are published on while another process has viewers of it."""
    return f"{PREFIX}:frames:{session_id}"


def session_key(session_id: str) -> str:
    return f"{PREFIX}:session:{session_id}"


def class_key(code: str) -> str:
    return f"{PREFIX}:class:{code}"


def alive_key(worker: str) -> str:
    return f"{PREFIX}:alive:{worker}"


def load_key(worker: str) -> str:
    """The connections a process has open now (take_turns evens them out over the processes)."""
    return f"{PREFIX}:load:{worker}"


def pack(value) -> bytes:
    """``value`` (dicts, lists, str, numbers, None, bytes, numpy scalars) as bytes; ``unpack`` inverts it
    (tuples come back as lists)."""
    blobs: list[bytes] = []

    def default(item):
        if isinstance(item, (bytes, bytearray, memoryview)):
            blobs.append(bytes(item))
            return {BLOB: len(blobs) - 1}
        if isinstance(item, np.generic):
            return item.item()
        if isinstance(item, np.ndarray):
            return item.tolist()
        raise TypeError(f"cannot send a {type(item).__name__} between processes")

    header = json.dumps(value, default=default, separators=(",", ":")).encode()
    sizes = struct.pack(f"<I{len(blobs)}Q", len(blobs), *(len(b) for b in blobs))
    return struct.pack("<I", len(header)) + sizes + header + b"".join(blobs)


def unpack(data: bytes):
    view = memoryview(data)
    (header_size,) = struct.unpack_from("<I", view, 0)
    (count,) = struct.unpack_from("<I", view, 4)
    sizes = struct.unpack_from(f"<{count}Q", view, 8)
    start = 8 + 8 * count
    header = bytes(view[start:start + header_size])
    blobs, offset = [], start + header_size
    for size in sizes:
        blobs.append(bytes(view[offset:offset + size]))
        offset += size

    def hook(item: dict):
        if len(item) == 1 and BLOB in item and isinstance(item[BLOB], int) and 0 <= item[BLOB] < len(blobs):
            return blobs[item[BLOB]]
        return item

    return json.loads(header, object_hook=hook)
