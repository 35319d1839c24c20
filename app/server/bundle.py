"""Binary frame encoding: many arrays packed into ONE bytes attachment, described by JSON descriptors.

One attachment per bundle (not one per array) keeps a frame to two websocket messages whatever the
network's size. Offsets are multiples of 8 so the page makes typed-array views without copying.
See docs/protocol.md, "Frames".
"""

from __future__ import annotations

import math

import numpy as np

ALIGN = 8
DTYPES = {"f4": np.dtype("<f4"), "u1": np.dtype("u1"), "i4": np.dtype("<i4")}


def finite_or_none(x) -> float | None:
    """A float for JSON, or None for NaN/inf (JSON has no NaN and the browser's JSON.parse rejects it)."""
    if x is None:
        return None
    x = float(x)
    return x if math.isfinite(x) else None


def quantize(array: np.ndarray) -> tuple[np.ndarray, list[float], list[float]]:
    """(C, ...) floats → uint8 codes with per-index-of-axis-0 ``low``/``high``:
    value = low[i] + (high[i] − low[i])·q/255. NaN counts as 0 and values beyond float32's range are clamped."""
    flat = np.asarray(array, dtype=np.float64).reshape(len(array), -1)
    biggest = float(np.finfo(np.float32).max)  # the page decodes in float32
    low = flat.min(axis=1)
    high = flat.max(axis=1)
    # NaN fails both comparisons: only a NaN or a value beyond float32 needs the (costlier) cleaning pass
    if not (np.all(low >= -biggest) and np.all(high <= biggest)):
        flat = np.clip(np.nan_to_num(flat, nan=0.0), -biggest, biggest)
        low = flat.min(axis=1)
        high = flat.max(axis=1)
    span = high - low
    scale = np.divide(255.0, span, out=np.zeros_like(span), where=span > 0)
    scaled = flat - low[:, None]
    scaled *= scale[:, None]
    codes = np.rint(scaled, out=scaled).astype(np.uint8).reshape(np.shape(array))
    return codes, low.tolist(), high.tolist()


class Bundle:
    """Arrays packed into one buffer: ``add`` them, then ``to_wire()`` → {arrays: [descriptor], data: bytes}."""

    def __init__(self):
        self.descriptors: list[dict] = []
        self._parts: list[bytes] = []
        self._size = 0
        self.raw_f4_bytes = 0  # what the same arrays would weigh as float32 (for the benchmark's ratio)
        self.nonfinite = 0     # NaNs and infinities added (a frame may carry them only when the session diverged)

    def add(self, name: str, array, dtype: str = "f4", nan_means_unknown: bool = False, **quantization) -> None:
        """Add ``array`` as ``dtype`` ("f4", "u1", "i4"). ``nan_means_unknown``: NaN is a value of the protocol
        there (the history's "not measured"), so only infinities count in ``nonfinite``."""
        target = DTYPES[dtype]
        if array.__class__ is np.ndarray and array.dtype == target and array.flags.c_contiguous:
            values = array
        else:
            with np.errstate(over="ignore"):  # a diverged run's weights beyond float32's range travel as ±inf
                values = np.ascontiguousarray(array, dtype=target)
        if dtype == "f4":
            self.nonfinite += int(np.count_nonzero(np.isinf(values) if nan_means_unknown else ~np.isfinite(values)))
        descriptor = {"name": name, "dtype": dtype, "shape": list(values.shape), "byte_offset": self._size}
        descriptor.update(quantization)
        self.descriptors.append(descriptor)
        data = values.tobytes()
        self._parts.append(data)
        self._size += len(data)
        pad = -self._size % ALIGN
        if pad:
            self._parts.append(b"\0" * pad)
            self._size += pad
        self.raw_f4_bytes += values.size * 4

    def add_quantized(self, name: str, array: np.ndarray) -> None:
        """Add (C, ...) floats as uint8 with per-channel ``low``/``high`` (see ``quantize``)."""
        codes, low, high = quantize(array)
        self.add(name, codes, "u1", low=low, high=high)

    def to_wire(self, **meta) -> dict:
        return {**meta, "arrays": self.descriptors, "data": b"".join(self._parts)}


def decode(bundle: dict) -> dict[str, np.ndarray]:
    """A received bundle → {name: array} (quantized arrays turned back into float32). For tests and tools."""
    data = bundle["data"]
    out = {}
    for d in bundle["arrays"]:
        count = int(np.prod(d["shape"], dtype=np.int64))
        a = np.frombuffer(data, DTYPES[d["dtype"]], count, d["byte_offset"]).reshape(d["shape"])
        if "low" in d:
            low = np.asarray(d["low"], np.float64).reshape((-1,) + (1,) * (a.ndim - 1))
            high = np.asarray(d["high"], np.float64).reshape((-1,) + (1,) * (a.ndim - 1))
            a = (low + (high - low) * (a / 255.0)).astype(np.float32)
        out[d["name"]] = a
    return out


class Frame:
    """One built frame: its fields (with the per-frame bundle) and the versioned bundles a client may lack."""

    def __init__(self, fields: dict, sections: dict[str, tuple[int, dict]], raw_f4_bytes: int, nonfinite: int = 0):
        self.fields = fields
        self.sections = sections
        self.raw_f4_bytes = raw_f4_bytes
        self.nonfinite = nonfinite  # NaNs and infinities in its arrays (see Bundle.nonfinite)
        self.account = None  # whom its delivery is charged to (the scheduler's session; app.server.streaming)

    def again(self) -> "Frame":
        """The same frame to send once more (nothing changed): no new steps, a new time stamp."""
        fields = {k: v for k, v in self.fields.items() if k != "time"}
        fields["steps_this_frame"] = 0
        return Frame(fields, self.sections, self.raw_f4_bytes, self.nonfinite)

    def sections_for(self, sent_versions: dict) -> tuple[str, ...]:
        """The bundles a client that has been sent ``sent_versions`` lacks; updates it to what this one carries."""
        lacking = []
        for name, (version, _) in self.sections.items():
            if sent_versions.get(name) != version:
                lacking.append(name)
                sent_versions[name] = version
        return tuple(lacking)

    def payload(self, sections: tuple[str, ...] = ()) -> dict:
        """The fields with the bundles ``sections`` (names from ``sections_for``)."""
        return {**self.fields, **{name: self.sections[name][1] for name in sections}}
