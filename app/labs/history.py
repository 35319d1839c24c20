"""A lab's history of evaluations — the loss (and accuracy) curve — shared by the labs' frame builders.

One row per evaluation, thinned to every other row when over ``capacity``, sent to the page as a versioned bundle
section (``app.server.bundle.Frame``: a client is sent a section again only when its version changed).
"""

from __future__ import annotations

import numpy as np

from app.server.bundle import Bundle


class History:
    """Rows of ``fields`` (``history.<field>`` arrays on the wire; None is sent as NaN, "not measured").

    ``resend_on_change``: every new row makes a new version, so the page gets the whole curve again (the CNN and RNN
    labs draw it from the bundle); without it only ``clear`` does (the MLP's cost chart grows from the frames'
    metrics and reads the history only to start over).
    """

    def __init__(self, fields: tuple[str, ...], capacity: int = 1000, *, resend_on_change: bool = True,
                 nan_means_unknown: bool = False):
        self.fields = tuple(fields)
        self.capacity = capacity
        self.resend_on_change = resend_on_change
        self.nan_means_unknown = nan_means_unknown
        self.version = 0
        self.clear()

    def clear(self) -> None:
        """Forget every row (a fresh model): a new version."""
        # Rows live in a float64 table grown by doubling, so a section is a slice of it, not a list of tuples
        # turned into an array again at every frame.
        self._table = np.empty((16, len(self.fields)))
        self._count = 0
        self.version += 1
        self._wire = None

    @property
    def rows(self) -> np.ndarray:
        """The rows so far, (n, len(fields)), NaN where a value was None."""
        return self._table[:self._count]

    def append(self, row: tuple) -> None:
        if self._count == len(self._table):
            self._table = np.concatenate([self._table, np.empty_like(self._table)])
        self._table[self._count] = [np.nan if v is None else v for v in row]
        self._count += 1
        if self._count > self.capacity:
            kept = self._table[:self._count:2].copy()
            self._count = len(kept)
            self._table[:self._count] = kept
        self._wire = None
        if self.resend_on_change:
            self.version += 1

    def section(self) -> tuple[int, dict]:
        """(version, wire bundle) of the rows so far, built once per change."""
        if self._wire is None:
            b = Bundle()
            table = self.rows
            for j, name in enumerate(self.fields):
                b.add(f"history.{name}", table[:, j], nan_means_unknown=self.nan_means_unknown)
            self._wire = b.to_wire(version=self.version)
        return self.version, self._wire
