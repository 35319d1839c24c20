"""The MLP frame's cheaper parts give the numbers the plain way gives: the grids from a float32 mirror refreshed
in place (not a deep copy per frame), the histograms from one bincount, the history from a growing table."""

import copy

import numpy as np
import pytest

from app.labs.history import History
from app.labs.mlp.frames import HIST_BINS, HIST_RANGE, pre_activation_histograms, softmax
from app.server.bundle import decode, quantize
from engine.inspect import grid_activations
from tests.app.test_landscape_feed import session, train  # noqa: F401  (the fixture: a headless MLP session)


def grids_the_plain_way(session):
    """Output and neuron grids from a fresh float32 deep copy of the model (what every frame did before)."""
    lab = session.lab
    fine, _ = lab.frames._grid_inputs()
    outputs = grid_activations(copy.deepcopy(lab.trainer.model).to(np.float32), lab.frames._grid[1][2])
    r, rc = session.config["GRID_RESOLUTION"], session.config["NEURON_GRID_RESOLUTION"]
    out = outputs[-1][:len(fine)]
    if lab.trainer.output_activation == "softmax":
        out = softmax(out)
    grids = {"output_grid": quantize(out.T.reshape(-1, r, r))[0]}
    for k, out in enumerate(outputs[:-1]):
        grids[f"neuron_grid.{k}"] = quantize(out[len(fine):].T.reshape(-1, rc, rc))[0]
    return grids


def frame_grids(session):
    frame, _ = session.build_frame()
    data = frame.fields["data"]
    return {d["name"]: np.frombuffer(data, np.uint8, int(np.prod(d["shape"])), d["byte_offset"]).reshape(d["shape"])
            for d in frame.fields["arrays"] if "grid" in d["name"]}


@pytest.mark.parametrize("change", [
    lambda lab: None,
    lambda lab: lab.add_layer(),
    lambda lab: lab.add_neuron(0),
    lambda lab: lab.remove_neuron(1),
    lambda lab: lab.apply_settings({"activation": "relu"}),
    lambda lab: lab.apply_settings({"features": ["x1", "x2", "x1^2"]}),
    lambda lab: lab.apply_settings({"dropout": 0.3}),
    lambda lab: lab.apply_settings({"dataset": "multi-class", "loss": "cross_entropy"}),
])
def test_grids_follow_training_and_every_change_of_structure(session, change):
    train(session, 5)
    frame_grids(session)  # the mirror is made
    train(session, 5)
    assert all(np.array_equal(a, grids_the_plain_way(session)[name]) for name, a in frame_grids(session).items())
    change(session.lab)
    train(session, 3)
    got, expected = frame_grids(session), grids_the_plain_way(session)
    assert got.keys() == expected.keys()
    for name in expected:
        np.testing.assert_array_equal(got[name], expected[name], err_msg=name)
    np.testing.assert_array_equal(session.lab.trainer.model[0].weight.data.dtype, np.float64)  # trained one untouched


def test_histograms_are_numpys_bin_for_bin():
    rng = np.random.default_rng(3)
    edges = np.linspace(*HIST_RANGE, HIST_BINS + 1)
    awkward = np.concatenate([edges, np.nextafter(edges, 0), np.nextafter(edges, 10), [np.nan, np.inf, -np.inf]])
    for trial in range(60):
        layers = []
        for _ in range(rng.integers(1, 4)):
            z = rng.normal(0, rng.choice([0.3, 3.0, 20.0]), size=(rng.integers(0, 80), rng.integers(1, 9)))
            z.ravel()[:30] = rng.choice(awkward, size=min(30, z.size))
            layers.append(z.astype(np.float32) if trial % 5 == 0 else z)
        hist, stats = pre_activation_histograms(layers)
        for k, z in enumerate(layers):
            z = z.ravel()[np.isfinite(z.ravel())]
            if not z.size:
                assert not hist[k].any() and not stats[k].any()
                continue
            counts, _ = np.histogram(np.clip(z, *HIST_RANGE), bins=HIST_BINS, range=HIST_RANGE)
            np.testing.assert_array_equal(hist[k], counts / z.size)
            np.testing.assert_array_equal(stats[k], [z.mean(), z.std(), z.min(), z.max()])


def test_history_table_thins_and_sends_what_a_list_of_rows_did():
    h = History(("step", "loss"), capacity=10, nan_means_unknown=True)
    rows = []
    for i in range(57):
        row = (i, None if i % 5 == 0 else 1.0 / (i + 1))
        h.append(row)
        rows.append(tuple(np.nan if v is None else v for v in row))
        if len(rows) > 10:
            rows = rows[::2]
        sent = decode(h.section()[1])
        table = np.array(rows, dtype=np.float64)
        np.testing.assert_array_equal(sent["history.step"], table[:, 0].astype(np.float32))
        np.testing.assert_array_equal(sent["history.loss"], table[:, 1].astype(np.float32))
    assert len(h.rows) <= 10
    h.clear()
    assert decode(h.section()[1])["history.step"].shape == (0,)


def test_quantize_cleans_only_what_needs_it():
    a = np.array([[0.0, 1.0, np.nan], [np.inf, -1.0, 2.0], [1e300, 0.0, 3.0]])
    codes, low, high = quantize(a)
    assert low[0] == 0.0 and high[0] == 1.0 and codes[0, 2] == 0  # NaN counts as 0
    big = float(np.finfo(np.float32).max)
    assert high[1] == big and high[2] == big  # clamped to float32's range
    codes, low, high = quantize(np.array([[2.0, 2.0], [0.0, 4.0]]))
    assert codes.tolist() == [[0, 0], [0, 255]] and low == [2.0, 0.0] and high == [2.0, 4.0]
