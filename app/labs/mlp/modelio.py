"""Model files: save a session's network as .npz or JSON with PyTorch state_dict names, and load one back.

Loading never unpickles (``np.load(..., allow_pickle=False)``), bounds the decompressed size before reading,
and checks names, shapes, dtypes, finiteness and the chain of layer sizes; any problem is a ControlError
naming the key. See docs/protocol.md, "Model files".
"""

from __future__ import annotations

import io
import json
import re
import zipfile

import numpy as np

from app.server.errors import ControlError

from engine import export_torch

from . import network
from .points import Points
from .schema import DATASETS_CUSTOM, HIDDEN_ACTIVATIONS, LIMITS

FORMAT = "nnplayground.model"
KEY = re.compile(r"^(\d{1,4})\.(weight|bias)$")
MAX_UNCOMPRESSED = 16 * LIMITS.max_parameters * 8  # generous: float64 arrays plus .npy headers


def state_dict(session) -> dict[str, np.ndarray]:
    return {name: array.astype(np.float32) for name, array in session.trainer.model.state_dict().items()}


def check_exportable(session) -> None:
    """ControlError unless every parameter is finite in float32: the server offers no file it would refuse to
    load back (a diverged network's weights may be NaN, or finite in float64 yet infinite in float32)."""
    if not session.trainer.parameters_finite():
        raise ControlError("", "<weights that are not finite in float32>", "a network with finite weights",
                           "the network diverged: its weights are no longer finite numbers, so there is no model "
                           "file to save; press reset (or load a model) first")


def _own_points(session) -> Points | None:
    """The drawn or uploaded points, saved with the model when they are the dataset shown."""
    return session.points if session.settings["dataset"] in DATASETS_CUSTOM else None


def to_npz(session) -> bytes:
    buffer = io.BytesIO()
    arrays = state_dict(session)
    points = _own_points(session)
    if points is not None:  # float64 and text arrays: np.load reads them back without pickles
        arrays.update({"points.x": points.X, "points.y": points.y,
                       "points.class_names": np.array(points.class_names or [], dtype="<U64"),
                       "points.task": np.array(points.task)})
    np.savez(buffer, **arrays)
    return buffer.getvalue()


def to_py(session) -> str:
    """The network as a PyTorch script (engine.export_torch): an example from the data, the input features,
    the class names."""
    d, t = session.data, session.trainer
    points = _own_points(session)
    if d.input_kind == "points":
        example = np.concatenate([d.points_test, d.points_train])[:3]
        example = example if len(example) else np.array([[1.0, 2.0]])
        features = d.feature_names
    else:
        example, features = np.concatenate([d.X_test, d.X_train])[:1], None
    classes = None
    if d.task == "classification":
        classes = list(points.class_names) if points is not None else [str(k) for k in range(d.num_classes)]
    description = f"{session.settings['dataset']} ({d.task}), {t.step} steps"
    return export_torch.torch_source(t.model, example, features=features, classes=classes, description=description)


def to_json(session) -> str:
    model = session.trainer.model
    s = session.settings
    return json.dumps({
        "format": FORMAT, "version": 1,
        "layer_sizes": network.layer_sizes(model),
        "hidden_activations": network.hidden_activations(model),
        "output_activation": session.trainer.output_activation,
        "loss": s["loss"], "dataset": s["dataset"], "features": list(session.data.feature_names),
        "state_dict": {name: array.astype(np.float64).tolist() for name, array in model.state_dict().items()},
        **_points_json(_own_points(session)),
    })


def _points_json(points: Points | None) -> dict:
    if points is None:
        return {}
    return {"points": {"task": points.task, "class_names": list(points.class_names), "x": points.X.tolist(),
                       "y": points.y.tolist()}}


def parse(data, format: str | None = None):
    """A model file → (layer sizes, [(weight (out, in), bias (out,))] per layer, hidden activations or None,
    the saved drawn or uploaded points or None).

    ``format`` "npz" or "json"; None tells them apart by content (a zip starts with "PK")."""
    if format is None:
        format = "npz" if isinstance(data, (bytes, bytearray)) and bytes(data[:2]) == b"PK" else "json"
    if format == "npz":
        arrays, activations = _read_npz(bytes(data)), None
        saved = {name[len("points."):]: arrays.pop(name) for name in list(arrays) if name.startswith("points.")}
        points = _points(saved.get("task"), saved.get("class_names"), saved.get("x"), saved.get("y")) \
            if saved else None
    else:
        arrays, activations, saved = _read_json(data)
        points = None
        if saved is not None:
            if not isinstance(saved, dict):
                raise ControlError("points", "<not an object>", '{"task", "class_names", "x", "y"}')
            points = _points(saved.get("task"), saved.get("class_names"), saved.get("x"), saved.get("y"))
    return _chain(arrays) + (activations, points)


def _points(task, class_names, x, y) -> Points:
    try:
        return Points.checked(task.item() if isinstance(task, np.ndarray) else task,
                              [] if class_names is None else list(np.asarray(class_names).tolist()),
                              np.asarray(x), np.asarray(y))
    except (ValueError, TypeError) as error:
        raise ControlError("points", "<the saved points>", "the points a model file was saved with",
                           f"the saved points are not valid ({error})") from None


def _read_npz(data: bytes) -> dict[str, np.ndarray]:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            members = archive.infolist()
            total = sum(info.file_size for info in members)
            if total > MAX_UNCOMPRESSED:
                raise ControlError("data", f"<{total} bytes uncompressed>", f"at most {MAX_UNCOMPRESSED} bytes")
            for info in members:  # each header, before numpy allocates what it declares
                with archive.open(info) as member:
                    _check_npy_header(info.filename, member)
        with np.load(io.BytesIO(data), allow_pickle=False) as npz:
            return {name: npz[name] for name in npz.files}
    except ControlError:
        raise
    except (ValueError, OSError, zipfile.BadZipFile, EOFError, KeyError, RuntimeError, NotImplementedError) as error:
        raise ControlError("data", f"<{len(data)} bytes>", "an .npz file of numeric arrays (no pickles)",
                           f"not a readable .npz of numeric arrays ({error}); allowed: numpy's np.savez output")


def _check_npy_header(filename: str, member) -> None:
    """A member of the .npz must be an .npy file whose declared size is within the limits."""
    name = filename[:-4] if filename.endswith(".npy") else filename
    field = f"state_dict.{name}"
    if not filename.endswith(".npy") or member.read(6) != np.lib.format.MAGIC_PREFIX:
        raise ControlError(field, f"<{filename}: not an .npy file>", "an .npy array (numpy's np.savez output)")
    try:
        version = tuple(member.read(2))
        read_header = {(1, 0): np.lib.format.read_array_header_1_0,
                       (2, 0): np.lib.format.read_array_header_2_0}.get(version)
        if read_header is None:
            raise ValueError(f"unsupported .npy version {version}")
        shape, _, dtype = read_header(member)
    except (ValueError, TypeError, SyntaxError, EOFError) as error:
        raise ControlError(field, f"<{filename}: a broken .npy header>", "an .npy array (numpy's np.savez output)",
                           f"{field}: not a readable .npy header ({str(error)[:100]})") from None
    count = int(np.prod(shape, dtype=object))
    if count > LIMITS.max_parameters:
        raise ControlError(field, f"shape {shape}", f"at most {LIMITS.max_parameters} numbers in all")
    if dtype.hasobject:
        raise ControlError(field, f"dtype {dtype}", "real numbers (float or int); pickles are never loaded")


def _read_json(text) -> tuple[dict[str, np.ndarray], list[str] | None, object]:
    if isinstance(text, (bytes, bytearray)):
        try:
            text = bytes(text).decode("utf-8")
        except UnicodeDecodeError:
            raise ControlError("data", f"<{len(text)} bytes>", "an .npz file or UTF-8 JSON") from None
    try:
        document = json.loads(text)
    except (ValueError, RecursionError) as error:
        raise ControlError("data", f"<{len(text)} characters>", "a JSON model file", f"not valid JSON ({error})")
    if not isinstance(document, dict) or not isinstance(document.get("state_dict"), dict):
        raise ControlError("data", "<JSON without state_dict>",
                           '{"format": "nnplayground.model", "state_dict": {"0.weight": [[...]], ...}, ...}')
    arrays = {}
    for name, value in document["state_dict"].items():
        try:
            arrays[name] = np.asarray(value)
        except (ValueError, TypeError, OverflowError, RecursionError):  # ragged lists
            raise ControlError(f"state_dict.{name}", "<ragged lists>", "a rectangular array of numbers") from None
    activations = document.get("hidden_activations")
    if activations is not None:
        if not isinstance(activations, list) or any(a not in HIDDEN_ACTIVATIONS for a in activations):
            raise ControlError("hidden_activations", activations,
                               "a list of " + ", ".join(f'"{a}"' for a in HIDDEN_ACTIVATIONS))
    return arrays, activations, document.get("points")


def _chain(arrays: dict[str, np.ndarray]) -> tuple[list[int], list[tuple[np.ndarray, np.ndarray]]]:
    layers: dict[int, dict[str, np.ndarray]] = {}
    for name, array in arrays.items():
        match = KEY.match(name)
        if not match:
            raise ControlError(f"state_dict.{name}", name, 'keys like "0.weight" and "0.bias" (PyTorch Sequential)')
        if array.dtype.kind not in "fiu" or array.dtype.itemsize > 8:
            raise ControlError(f"state_dict.{name}", f"dtype {array.dtype}", "real numbers (float or int)")
        if not np.isfinite(array).all():
            raise ControlError(f"state_dict.{name}", "NaN or infinite values", "finite numbers")
        layers.setdefault(int(match.group(1)), {})[match.group(2)] = array.astype(np.float64)
    if not layers:
        raise ControlError("state_dict", "no arrays", "at least one layer's weight and bias")
    if len(layers) > LIMITS.max_hidden_layers + 1:
        raise ControlError("state_dict", f"{len(layers)} layers", f"at most {LIMITS.max_hidden_layers + 1} layers")
    sizes, pairs = [], []
    for index in sorted(layers):
        layer = layers[index]
        weight, bias = layer.get("weight"), layer.get("bias")
        if weight is None or bias is None:
            missing = "weight" if weight is None else "bias"
            raise ControlError(f"state_dict.{index}.{missing}", "missing", f'both "{index}.weight" and "{index}.bias"')
        if weight.ndim != 2 or bias.shape != (weight.shape[0],) or 0 in weight.shape:
            raise ControlError(f"state_dict.{index}.weight", f"shapes {weight.shape} and {bias.shape}",
                               "a weight (out, in) and a bias (out,)")
        if not sizes:
            sizes.append(weight.shape[1])
        elif weight.shape[1] != sizes[-1]:
            raise ControlError(f"state_dict.{index}.weight", f"shape {weight.shape}",
                               f"(out, {sizes[-1]}): the previous layer has {sizes[-1]} outputs")
        sizes.append(weight.shape[0])
        pairs.append((weight, bias))
    if network.count_parameters(sizes) > LIMITS.max_parameters:
        raise ControlError("state_dict", f"{network.count_parameters(sizes)} parameters",
                           f"at most {LIMITS.max_parameters}")
    return sizes, pairs
