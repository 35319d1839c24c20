"""The MLP lab's "your own data" events: draw, erase, clear and upload 2-D points (the `custom` dataset).

A mixin of MlpLab, like app.labs.mlp.edits. Each event builds the new ``Points`` first (validating everything),
then hands it to the lab's ``_apply``, which switches the dataset to `custom` and keeps the network training
on it: the output layer is replaced only when the number of classes changes. A refused event changes nothing.
The first edit of a generated 2-D dataset starts from its points (both splits): a class can add to a spiral.
"""

from __future__ import annotations

import numpy as np

from app.server.errors import ControlError
from engine.datasets import CSVError

from .points import MAX_POINTS, Points
from .schema import DATASETS_CUSTOM


def parse_upload(message) -> Points:
    """The `upload_data` event's CSV or link → Points, before the session's lock is taken (parsing 5,000 rows
    takes a while). ControlError names the line and column of a bad CSV."""
    if message.csv is not None:
        try:
            return Points.from_csv(message.csv)
        except CSVError as error:
            where = f"line {error.line}" + (f", column {error.column}" if error.column else "")
            raise ControlError("csv", f"<{where}>", error.allowed, f"{where}: got {error.received}; "
                               f"allowed: {error.allowed}") from None
    try:
        return Points.from_link(message.link)
    except ValueError as error:
        raise ControlError("link", f"<{len(message.link)} characters>", str(error)) from None


class DataEdits:
    """add_points, remove_points, clear_points, upload_points; the `points` part of the state; the CSV."""

    def _own_points(self, event: str) -> Points:
        """The points an edit starts from: the custom set, or a copy of the generated 2-D dataset shown."""
        d = self.data
        if self.settings["dataset"] in DATASETS_CUSTOM and self.points is not None:
            return self.points
        if d.input_kind != "points":
            raise ControlError("dataset", self.settings["dataset"], "a 2-D dataset (points are drawn on the plane)",
                               event=event)
        return Points.of(np.concatenate([d.points_train, d.points_test]), np.concatenate([d.y_train, d.y_test]),
                         d.task, d.num_classes)

    def _use_points(self, points: Points) -> None:
        self._apply({"dataset": DATASETS_CUSTOM[0], "problem": points.task}, points=points)

    def add_points(self, points: list, label: int | None, value: float | None) -> None:
        own = self._own_points("add_points")
        if own.task == "classification" and label is None:
            raise ControlError("value", value, "a label (a class 0-5) instead: this dataset is a classification")
        if own.task == "regression" and value is None:
            raise ControlError("label", label, "a value in [-1, 1] instead: this dataset is a regression")
        if len(own) + len(points) > MAX_POINTS:
            raise ControlError("points", f"<{len(points)} more points>",
                               f"at most {MAX_POINTS} points in all ({len(own)} now)")
        self._use_points(own.added(points, label=label if own.task == "classification" else None,
                                   value=value if own.task == "regression" else None))

    def remove_points(self, at: list, radius: float) -> None:
        own = self._own_points("remove_points")
        fewer, gone = own.removed(at, radius)
        if gone or self.settings["dataset"] not in DATASETS_CUSTOM:
            self._use_points(fewer)

    def clear_points(self, task: str | None) -> None:
        self._use_points(Points.empty(task or self.data.task))

    def upload_points(self, points: Points) -> None:
        self._use_points(points)

    def points_state(self) -> dict | None:
        """The `state` event's `points`: the custom set shown, or null."""
        if self.settings["dataset"] not in DATASETS_CUSTOM or self.points is None:
            return None
        p = self.points
        return {"count": len(p), "task": p.task, "class_names": list(p.class_names), "note": p.note,
                "link": p.link()}

    def data_csv(self) -> str:
        """The dataset shown (generated, drawn or uploaded; both splits) as CSV (engine.datasets.write_points_csv)."""
        if self.settings["dataset"] in DATASETS_CUSTOM and self.points is not None:
            return self.points.csv()
        return self._own_points("download_data").csv()
