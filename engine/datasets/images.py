"""Handwritten digits: two small sets shipped with the project, and a reader for MNIST's IDX files.

The shipped files (``data/digits.npz``, ``data/mnist_5k.npz``) hold uint8 ``images`` and ``labels``;
``build_data.py`` makes them and ``data/LICENSES.md`` says where they come from.
"""

from __future__ import annotations

import functools
import gzip
import os
import zlib

import numpy as np

from engine.datasets._common import DATA_DIR

IDX_IMAGES_MAGIC = 2051  # 0x00000803: unsigned bytes, 3 dimensions (N, rows, cols)
IDX_LABELS_MAGIC = 2049  # 0x00000801: unsigned bytes, 1 dimension (N,)


@functools.lru_cache(maxsize=None)
def _shipped(filename: str) -> tuple[np.ndarray, np.ndarray]:
    with np.load(DATA_DIR / filename) as archive:
        images, labels = archive["images"], archive["labels"]
    images.setflags(write=False)  # cached and shared: callers get float copies
    labels.setflags(write=False)
    return images, labels


def load_digits() -> tuple[np.ndarray, np.ndarray]:
    """UCI optdigits test set, 8×8: ``images`` (1797, 8, 8) float64 in [0, 1] (ink counts 0..16
    over 16), ``labels`` (1797,) int64 in 0..9. Fresh arrays on each call."""
    images, labels = _shipped("digits.npz")
    return images.astype(np.float64) / 16.0, labels.astype(np.int64)


def load_mnist_subset() -> tuple[np.ndarray, np.ndarray]:
    """5,000 MNIST digits, 28×28, 500 per class, ordered by label: ``images`` (5000, 28, 28)
    float64 in [0, 1], ``labels`` (5000,) int64 in 0..9. Fresh arrays on each call."""
    images, labels = _shipped("mnist_5k.npz")
    return images.astype(np.float64) / 255.0, labels.astype(np.int64)


def _read_idx(path, magic: int, dims: int, what: str) -> tuple[tuple[int, ...], bytes]:
    """The shape in the header and the pixel/label bytes of one IDX file (gzipped or not)."""
    with open(path, "rb") as f:
        raw = f.read()
    if raw[:2] == b"\x1f\x8b":  # gzip's magic, whatever the file is called
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError, zlib.error) as error:
            raise ValueError(f"load_mnist_idx: {what} file {os.fspath(path)!r} is a damaged gzip file: {error}")
    header_size = 4 + 4 * dims
    found = int.from_bytes(raw[:4], "big") if len(raw) >= 4 else None
    if found is not None and found != magic:
        raise ValueError(f"load_mnist_idx: {what} file {os.fspath(path)!r} has magic number {found}; "
                         f"expected {magic} (IDX {what})")
    if len(raw) < header_size:
        raise ValueError(f"load_mnist_idx: {what} file {os.fspath(path)!r} is truncated: {len(raw)} bytes, "
                         f"shorter than its {header_size}-byte header")
    shape = tuple(int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(dims))
    body = raw[header_size:]
    expected = int(np.prod(shape))
    if len(body) != expected:
        state = "truncated" if len(body) < expected else "longer than its header says"
        raise ValueError(f"load_mnist_idx: {what} file {os.fspath(path)!r} is {state}: header shape {shape} "
                         f"needs {expected} data bytes, found {len(body)}")
    return shape, body


def load_mnist_idx(images_path, labels_path) -> tuple[np.ndarray, np.ndarray]:
    """Read an MNIST-style IDX pair (e.g. ``train-images-idx3-ubyte[.gz]`` and
    ``train-labels-idx1-ubyte[.gz]``): ``images`` (N, rows, cols) float64 in [0, 1] — (N, 28, 28)
    for MNIST — and ``labels`` (N,) int64."""
    shape, pixels = _read_idx(images_path, IDX_IMAGES_MAGIC, 3, "images")
    (n_labels,), label_bytes = _read_idx(labels_path, IDX_LABELS_MAGIC, 1, "labels")
    if shape[0] != n_labels:
        raise ValueError(f"load_mnist_idx: the images file holds {shape[0]} images but the labels file "
                         f"holds {n_labels} labels; expected the same count")
    images = np.frombuffer(pixels, dtype=np.uint8).reshape(shape).astype(np.float64) / 255.0
    labels = np.frombuffer(label_bytes, dtype=np.uint8).astype(np.int64)
    return images, labels
