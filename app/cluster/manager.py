"""The owner side's Socket.IO client manager: python-socketio's, plus what is emitted to a virtual client (a
browser connected to another process: app.cluster.node) goes to that process."""

from __future__ import annotations

import socketio

from . import wire


class ClusterClientManager(socketio.Manager):
    """python-socketio's client manager, plus: what is emitted to a virtual client (to its sid or a room it is
    in) goes to its edge process, one message per process and emit."""

    def __init__(self, node):
        super().__init__()
        self.node = node

    def emit(self, event, data, namespace, room=None, skip_sid=None, callback=None, to=None, **kwargs):
        room = to or room
        if self.node.virtual:
            skip = skip_sid if isinstance(skip_sid, list) else [skip_sid]
            by_worker: dict[str, list[str]] = {}
            for sid, eio_sid in self.get_participants(namespace, room):
                remote = self.node.virtual.get(eio_sid)
                if remote is not None and sid not in skip:
                    by_worker.setdefault(remote.worker, []).append(remote.sid)
            for worker, sids in by_worker.items():
                self.node.link.send(wire.inbox(worker), {"op": "emit", "event": event, "data": data,
                                                         "multi": isinstance(data, tuple), "to": sids})
        return super().emit(event, data, namespace, room=room, skip_sid=skip_sid, callback=callback, **kwargs)
