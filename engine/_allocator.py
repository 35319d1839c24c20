"""Keep a training step's large temporaries in the C heap instead of fresh pages from the kernel.

A step allocates and frees the same few arrays of 0.1–4 MB again and again (im2col columns, gate activations,
their gradients). glibc serves each array above its mmap threshold (128 kB at start) with a fresh mmap, and
touching that memory costs a page fault per 4 kB, every step: on the course's networks that is 10–25 % of a
step. Raising the threshold, and keeping freed memory at the top of the heap instead of handing it back at
once, lets the next step reuse the same memory. The process keeps the memory of its largest step
(what it needed anyway); only glibc's malloc is tuned, and only once, on import of engine. Elsewhere
(macOS, musl, Windows) this does nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys

# mallopt parameters (glibc's malloc.h)
_M_TRIM_THRESHOLD = -1
_M_TOP_PAD = -2
_M_MMAP_THRESHOLD = -3

MMAP_THRESHOLD = 32 * 1024 * 1024  # glibc's ceiling on 64-bit (HEAP_MAX_SIZE / 2)
TRIM_THRESHOLD = 64 * 1024 * 1024  # free memory kept at the top of the heap: several steps of a large model
TOP_PAD = 16 * 1024 * 1024

tuned = False


def tune() -> bool:
    """Apply the settings above once; True when glibc accepted them."""
    global tuned
    if tuned or not sys.platform.startswith("linux"):
        return tuned
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # not glibc
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    tuned = all(mallopt(parameter, value) == 1 for parameter, value in (
        (_M_MMAP_THRESHOLD, MMAP_THRESHOLD), (_M_TRIM_THRESHOLD, TRIM_THRESHOLD), (_M_TOP_PAD, TOP_PAD)))
    return tuned
