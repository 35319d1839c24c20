"""2-D data as CSV: read a user's file (validated, every error naming its line and column) and write one back.

Two layouts, told apart by the header (column names in any order, any case):

    x1,x2,label      classification: labels are any text or integers, numbered as classes in order of first
                     appearance (the first label seen is class 0); 2 to 6 classes
    x1,x2,y          regression: y is a finite number

Coordinates outside the plane [-6, 6]² are moved into it by one map for both axes (centre the points'
bounding box, then scale so its longer side spans 90 % of the plane, off its edges: shapes keep their
proportions), and regression values outside [-1, 1] likewise into [-0.9, 0.9]; ``PointsTable.rescaled`` says
what was done.
"""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass, field

import numpy as np

from engine.datasets.toy2d import EXTENT

MAX_BYTES = 512 * 1024  # 5,000 rows of full-precision numbers take about 250 KB
MAX_ROWS = 5_000
MIN_ROWS = 4
MIN_CLASSES, MAX_CLASSES = 2, 6
TARGET_RANGE = 1.0  # regression targets live in [-1, 1], as the generated sets'
FILL = 0.9  # rescaled data spans 90 % of its range: points stay off the plane's edges
LAYOUTS = {"label": "classification", "y": "regression"}
HEADERS = "x1,x2,label (classification) or x1,x2,y (regression)"


class CSVError(ValueError):
    """A refused file: ``line`` (1-based, the header is line 1), ``column`` (a column name, or None when the
    problem is the whole line or file), what was ``received`` and what is ``allowed``."""

    def __init__(self, line: int, column: str | None, received: str, allowed: str):
        self.line, self.column, self.received, self.allowed = line, column, received, allowed
        where = f"line {line}" + (f", column {column}" if column else "")
        super().__init__(f"{where}: got {received}; allowed: {allowed}")


@dataclass(frozen=True)
class PointsTable:
    """``X`` (N, 2) float64 in [-6, 6]²; ``y`` (N,) int64 classes 0..K-1 or float64 values in [-1, 1];
    ``class_names`` the label text of each class (empty for regression); ``rescaled`` a sentence saying how
    the values were moved into range, or None when they were used as given."""

    X: np.ndarray
    y: np.ndarray
    task: str
    class_names: list[str] = field(default_factory=list)
    rescaled: str | None = None

    @property
    def num_classes(self) -> int:
        return len(self.class_names) if self.task == "classification" else 1


def _quote(text: str, limit: int = 40) -> str:
    text = text if len(text) <= limit else text[:limit - 1] + "…"
    return '"' + text.replace('"', '\\"') + '"'


def _decode(data) -> str:
    if isinstance(data, str):
        raw = data.encode("utf-8", errors="surrogatepass")
    elif isinstance(data, (bytes, bytearray, memoryview)):
        raw = bytes(data)
    else:
        raise CSVError(1, None, type(data).__name__, "CSV text or bytes")
    if len(raw) > MAX_BYTES:
        line = raw[:MAX_BYTES].count(b"\n") + 1
        raise CSVError(line, None, f"a file of {len(raw):,} bytes (the limit is crossed on this line)",
                       f"at most {MAX_BYTES:,} bytes")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = raw[:error.start].count(b"\n") + 1
        raise CSVError(line, None, f"a byte 0x{raw[error.start]:02x} that is not UTF-8 text", "UTF-8 text") from None


def _header(row: list[str]) -> tuple[str, dict[str, int]]:
    """(task, {column name: index}) from the header row."""
    names = [name.strip().lower() for name in row]
    if len(row) == 1 and ";" in row[0]:
        raise CSVError(1, None, _quote(row[0]), f"values separated by commas: {HEADERS}")
    seen: dict[str, int] = {}
    for i, name in enumerate(names):
        if name in seen:
            raise CSVError(1, name, f"the column {_quote(name)} twice", HEADERS)
        seen[name] = i
    targets = [name for name in LAYOUTS if name in seen]
    if len(targets) != 1:
        got = "both label and y" if targets else "neither label nor y"
        raise CSVError(1, None, f"{got} in the header {_quote(','.join(row), 80)}", HEADERS)
    expected = ("x1", "x2", targets[0])
    for name in expected:
        if name not in seen:
            raise CSVError(1, name, f"no column {name} in the header {_quote(','.join(row), 80)}", HEADERS)
    for name, i in seen.items():
        if name not in expected:
            raise CSVError(1, f"{i + 1} ({_quote(row[i])})", "an extra column", f"only the columns {','.join(expected)}")
    return LAYOUTS[targets[0]], {name: seen[name] for name in expected}


def _number(text: str, line: int, column: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise CSVError(line, column, _quote(text), "a number (like -2.5 or 3e-1)") from None
    if not math.isfinite(value):
        raise CSVError(line, column, _quote(text), "a finite number (not NaN or infinity)")
    return value


def read_points_csv(data) -> PointsTable:
    """Parse and validate a CSV (bytes or text) of 2-D points; raise CSVError naming the line and column of the
    first problem. Nothing is returned for a file with any problem, so a caller changes nothing."""
    text = _decode(data)
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        task, columns, points, targets, names, rows = None, {}, [], [], {}, 0
        for row in reader:
            line = reader.line_num
            if not any(cell.strip() for cell in row):
                continue  # blank lines (a trailing newline, a gap) carry no row
            if task is None:
                task, columns = _header(row)
                target = "label" if task == "classification" else "y"
                continue
            rows += 1
            if rows > MAX_ROWS:
                raise CSVError(line, None, f"more than {MAX_ROWS:,} rows", f"at most {MAX_ROWS:,} rows of data")
            if len(row) < len(columns):
                missing = [name for name, i in columns.items() if i >= len(row)][0]
                raise CSVError(line, missing, f"{len(row)} values", f"{len(columns)} values: {','.join(columns)}")
            if len(row) > len(columns):
                raise CSVError(line, str(len(columns) + 1), f"an extra value {_quote(row[len(columns)])}",
                               f"{len(columns)} values: {','.join(columns)}")
            points.append((_number(row[columns["x1"]].strip(), line, "x1"),
                           _number(row[columns["x2"]].strip(), line, "x2")))
            cell = row[columns[target]].strip()
            if task == "regression":
                targets.append(_number(cell, line, "y"))
                continue
            if not cell:
                raise CSVError(line, "label", "an empty label", "a class name or number")
            if cell not in names:
                if len(names) == MAX_CLASSES:
                    raise CSVError(line, "label", f"a {MAX_CLASSES + 1}th class {_quote(cell)}",
                                   f"at most {MAX_CLASSES} classes (these: {', '.join(map(_quote, names))})")
                names[cell] = len(names)
            targets.append(names[cell])
    except csv.Error as error:
        raise CSVError(reader.line_num, None, f"malformed CSV ({error})", "comma-separated values, "
                       'text with commas or quotes inside "double quotes"') from None
    end = reader.line_num + 1
    if task is None:
        raise CSVError(1, None, "an empty file", f"a header {HEADERS} and at least {MIN_ROWS} rows")
    if rows < MIN_ROWS:
        raise CSVError(end, None, f"{rows} row{'s' if rows != 1 else ''} of data (the file ends here)",
                       f"at least {MIN_ROWS} rows")
    if task == "classification" and len(names) < MIN_CLASSES:
        raise CSVError(end, "label", f"only the class {_quote(next(iter(names)))} (the file ends here)",
                       f"{MIN_CLASSES} to {MAX_CLASSES} classes")
    X = np.array(points, dtype=np.float64)
    notes = []
    X, note = _into_range(X, EXTENT, "coordinates", "[-6, 6]²")
    notes += [note] if note else []
    if task == "regression":
        y, note = _into_range(np.array(targets, dtype=np.float64), TARGET_RANGE, "y values", "[-1, 1]")
        notes += [note] if note else []
    else:
        y = np.array(targets, dtype=np.int64)
    return PointsTable(X, y, task, list(names), " ".join(notes) or None)


def _into_range(values: np.ndarray, half: float, what: str, where: str) -> tuple[np.ndarray, str | None]:
    """Values unchanged if all lie in [-half, half]; else centred on their range's midpoint and scaled so the
    widest range spans FILL of [-half, half] (one scale for every column). Returns (values, sentence or None)."""
    if np.abs(values).max() <= half:
        return values, None
    low, high = values.min(axis=0), values.max(axis=0)
    centre = (low + high) / 2
    span = float(np.max(high - low))
    scale = 2 * half * FILL / span if span > 0 else 1.0
    moved = np.clip((values - centre) * scale, -half, half)  # clip: a lone value far out lands on the edge
    if np.ndim(centre):
        shift = "old − (" + ", ".join(f"{c:.4g}" for c in centre) + ")"
    else:
        shift = f"old − {centre:.4g}" if centre >= 0 else f"old + {-centre:.4g}"
    return moved, (f"The {what} went outside {where}, so they were moved into it: new = ({shift}) × {scale:.4g}.")


def write_points_csv(X: np.ndarray, y: np.ndarray, task: str, class_names=None) -> str:
    """``X`` (N, 2), ``y`` (N,) → CSV text with the header x1,x2,label or x1,x2,y; numbers as Python writes
    them (the shortest text that reads back to the same float). Rows keep their order, unless a class would
    then first appear after a later one: then they are grouped by class, so reading the file back numbers the
    classes as they are numbered here."""
    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y)
    if X.ndim != 2 or X.shape[1] != 2 or y.shape != (len(X),):
        raise ValueError(f"write_points_csv: expected X (N, 2) and y (N,), got {X.shape} and {y.shape}")
    if task not in LAYOUTS.values():
        raise ValueError(f"write_points_csv: task must be one of {list(LAYOUTS.values())}, got {task!r}")
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    if task == "regression":
        writer.writerow(["x1", "x2", "y"])
        writer.writerows([repr(a), repr(b), repr(float(v))] for (a, b), v in zip(X.tolist(), y.tolist()))
        return out.getvalue()
    labels = y.astype(np.int64)
    k = int(labels.max()) + 1 if len(labels) else 0
    names = [str(c) for c in range(k)] if class_names is None else [str(c) for c in class_names]
    if len(names) < k:
        raise ValueError(f"write_points_csv: {len(names)} class names for labels up to {k - 1}")
    _, first = np.unique(labels, return_index=True)
    order = np.arange(len(labels)) if np.all(np.diff(first) > 0) else np.argsort(labels, kind="stable")
    writer.writerow(["x1", "x2", "label"])
    writer.writerows([repr(X[i, 0].item()), repr(X[i, 1].item()), names[labels[i]]] for i in order)
    return out.getvalue()
