"""A private copy of a session: every lab it has opened, exactly as it is (weights, optimizer state, step, history).

``copy_labs(source, host)`` deep-copies each lab of ``source`` for the session ``host``, with three exceptions
found by walking the lab's objects first:

- arrays are copied keeping which shares memory with which (views of one buffer stay views of one copy);
- what is read-only is shared, not copied: numpy arrays with ``writeable`` off (the shipped datasets, full MNIST)
  and each lab's ``data`` (a lab replaces its data object on a change, never edits it in place — the caches of
  ``app/labs/*/data.py`` already share them between sessions), so a copy costs its weights, not its data;
- work in flight (a Future of an evaluation or a landscape) becomes a cancelled Future: the copy computes its own;
- threads and timers are not copied (None: "none running"); executors and locks are fresh ones.

A lab that runs something outside itself (worker processes, pipes, sockets: EXTERNAL) or still cannot be copied
is opened fresh with the source's settings: a copy must never stop, or share, what the teacher's lab runs.
"""

from __future__ import annotations

import copy
import io
import logging
import socket
import subprocess
import threading
from collections import deque
from concurrent.futures import Executor, Future
from multiprocessing.process import BaseProcess

import numpy as np

log = logging.getLogger(__name__)
# What a lab runs outside itself (worker processes, their pipes, sockets): a copy would hold the same processes
# and stop them when it closes. A lab holding one is opened fresh for the copy, with the same settings.
EXTERNAL = (subprocess.Popen, BaseProcess, socket.socket, io.IOBase)
ATOMS = (str, bytes, int, float, complex, bool, type(None), type, np.generic)
LOCKS = (type(threading.Lock()), type(threading.RLock()))


def _fresh_executor(executor: Executor) -> Executor | None:
    """An idle executor like ``executor`` (same kind, same number of workers) for the copy, or None."""
    try:
        return type(executor)(max_workers=getattr(executor, "_max_workers", None))
    except (TypeError, ValueError):
        return None


class Uncopyable(TypeError):
    """The lab runs something outside itself (EXTERNAL): it is opened fresh for the copy instead."""


def _cancelled() -> Future:
    future = Future()
    future.cancel()
    return future


def _address(array: np.ndarray) -> int:
    return array.__array_interface__["data"][0]


class _ArrayCopies:
    """Copies of writable arrays that keep which shares memory with which: a model's weights are often views of
    the optimizer's one flat buffer, and a copy must train its weights through its own buffer in the same way."""

    def __init__(self):
        self.blocks: dict[int, np.ndarray] = {}  # id of an array owning its memory → a copy of that memory

    def copy(self, array: np.ndarray) -> np.ndarray:
        root = array
        while isinstance(root.base, np.ndarray):
            root = root.base
        if not (root.flags.c_contiguous or root.flags.f_contiguous):
            return array.copy()  # memory we cannot see as one block (not made by numpy): a plain copy
        block = self.blocks.get(id(root))
        if block is None:
            block = self.blocks[id(root)] = np.ndarray((root.nbytes,), np.uint8, buffer=root).copy()
        return np.ndarray(array.shape, array.dtype, buffer=block, offset=_address(array) - _address(root),
                          strides=array.strides)


def _memo_for(lab, host) -> dict:
    """deepcopy's memo, pre-filled with what the copy shares or replaces (see the module's docstring)."""
    memo: dict = {id(lab.host): host, id(lab.config): host.config}
    keep_alive = []
    for shared in (getattr(lab, "data", None), getattr(getattr(lab, "trainer", None), "data", None)):
        if shared is not None:
            memo[id(shared)] = shared
    seen: set[int] = set(memo)
    arrays = _ArrayCopies()
    stack = [lab]
    while stack:
        obj = stack.pop()
        if id(obj) in seen or isinstance(obj, ATOMS):
            continue
        seen.add(id(obj))
        if isinstance(obj, np.ndarray):
            memo[id(obj)] = obj if not obj.flags.writeable else arrays.copy(obj)
        elif isinstance(obj, Future):
            memo[id(obj)] = _cancelled()
        elif isinstance(obj, EXTERNAL):
            raise Uncopyable(f"it holds a {type(obj).__name__}")
        elif isinstance(obj, Executor):
            memo[id(obj)] = _fresh_executor(obj)
        elif isinstance(obj, threading.Thread):
            memo[id(obj)] = None
        elif isinstance(obj, LOCKS):
            memo[id(obj)] = type(obj)()
        elif isinstance(obj, (threading.Condition, threading.Event, threading.Semaphore)):
            memo[id(obj)] = type(obj)()
        elif isinstance(obj, dict):
            stack.extend(obj.values())
        elif isinstance(obj, (list, tuple, set, frozenset, deque)):
            stack.extend(obj)
        else:
            stack.extend(getattr(obj, "__dict__", {}).values())
            for slot in getattr(type(obj), "__slots__", ()):
                if hasattr(obj, slot):
                    stack.append(getattr(obj, slot))
        keep_alive.append(obj)
    memo[id(memo)] = keep_alive  # deepcopy's own keep-alive list: the ids above stay valid while it runs
    return memo


def copy_lab(lab, host):
    """``lab`` copied for the session ``host`` (see the module's docstring); call with lab's session locked."""
    try:
        twin = copy.deepcopy(lab, _memo_for(lab, host))  # raises Uncopyable (a TypeError) for an EXTERNAL
    except (TypeError, copy.Error, AttributeError) as error:  # it holds something that cannot be copied
        log.info("the %s lab could not be copied (%s): opened fresh with the same settings", lab.name, error)
        twin = type(lab)(host)
        twin.apply_settings(dict(lab.settings))
    if twin.status == "running":
        twin.status = "paused"  # the copy starts where the teacher was; the student presses play
    twin.epoch_step_ends = None
    twin.dirty = True
    return twin


def copy_labs(source, host) -> None:
    """Give ``host`` (a new Session) a copy of every lab ``source`` has opened, showing the one it shows."""
    host.labs = {name: copy_lab(lab, host) for name, lab in source.labs.items()}
    for lab in host.labs.values():
        for sid in source.viewers:  # what the source's connections asked of a lab (e.g. to see the landscape)
            lab.viewer_left(sid)
    host.lab = host.labs[source.lab.name]
    host.config_version = source.config_version
