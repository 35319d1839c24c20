"""A session's landscape feed without sockets: computed only when shown, off the lock, with a growing path."""

from __future__ import annotations

import time

import numpy as np
import pytest

from app import DEFAULT_CONFIG
from app.labs.mlp import landscape_feed
from app.server.bundle import decode
from app.server.errors import ControlError
from app.labs.mlp.landscape_feed import LandscapeFeed
from app.sessions.session import Session


@pytest.fixture
def session():
    s = Session("f" * 24, dict(DEFAULT_CONFIG))
    s.viewers.add("viewer")
    return s


def train(session, steps):
    for _ in range(steps):
        session.lab.trainer.train_step()
    session.lab.model_version += 1


def next_section(feed, session, timeout=20.0):
    """section() until the worker's landscape newer than the current one arrives."""
    with session.lock:
        current = feed.section()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with session.lock:
            section = feed.section()
        if section is not None and (current is None or section[0] != current[0]):
            return section
        time.sleep(0.01)  # polling for the worker's result, with a deadline
    raise AssertionError("no landscape arrived")


def test_nothing_is_computed_until_a_viewer_shows_it(session):
    feed = LandscapeFeed(session.lab)
    assert feed.section() is None and feed.version == 0
    feed.control("someone-else", session.lab.trainer.model, show=True)
    assert feed.section() is None and feed.version == 0  # not a viewer of this session


def test_the_landscape_is_the_cost_around_the_steepest_pair(session):
    train(session, 100)
    feed = LandscapeFeed(session.lab)
    feed.control("viewer", session.lab.trainer.model, show=True)
    version, wire = next_section(feed, session)
    arrays = decode(wire)
    train_loss, _, _ = session.lab.trainer.evaluate("train")
    assert arrays["landscape.loss"].shape == (25, 25)
    assert arrays["landscape.grad"].shape == (9, 9, 2)
    assert arrays["landscape.loss"][12, 12] == pytest.approx(train_loss, rel=1e-6)
    assert wire["loss"] == pytest.approx(train_loss, rel=1e-12)
    assert wire["auto"] is True and [w[0] for w in wire["weights"]] == [0, 0]
    assert wire["labels"][0].startswith(f"w[0][{wire['weights'][0][1]},{wire['weights'][0][2]}] · 0.weight[")
    assert feed.state() == {"weights": wire["weights"], "auto": True}


def test_the_path_grows_while_training(session):
    feed = LandscapeFeed(session.lab)
    feed.control("viewer", session.lab.trainer.model, show=True)
    lengths = []
    for _ in range(3):
        train(session, 20)
        _, wire = next_section(feed, session)
        arrays = decode(wire)
        lengths.append(len(arrays["landscape.path_step"]))
        assert arrays["landscape.path_step"][-1] == wire["step"] == session.lab.trainer.step
    assert lengths[0] < lengths[1] < lengths[2]


def test_a_chosen_pair_is_validated_and_kept(session):
    feed = LandscapeFeed(session.lab)
    model = session.lab.trainer.model
    with pytest.raises(ControlError) as info:
        feed.control("viewer", model, weights=[[0, 1, 0], [1, 8, 0]])
    assert info.value.field == "weights.1.neuron" and "[0, 7]" in info.value.allowed
    assert feed.chosen is None
    feed.control("viewer", model, show=True, weights=[[1, 2, 3], [2, 0]])
    _, wire = next_section(feed, session)
    assert wire["weights"] == [[1, 2, 3], [2, 0]] and wire["auto"] is False
    assert wire["labels"][1] == "b[2][0] · 4.bias[0]"
    session.lab.apply_settings({"hidden_sizes": [8, 2]})  # neuron 2 of layer 1 is gone: back to the steepest pair
    _, wire = next_section(feed, session)
    assert wire["auto"] is True


def test_the_grid_gets_coarser_for_big_data():
    assert landscape_feed.resolution_for(250, 8) == 25
    assert landscape_feed.resolution_for(900, 16) == 13
    assert landscape_feed.resolution_for(2500, 16) == landscape_feed.MIN_RESOLUTION
    r = landscape_feed.resolution_for(250, 20)
    assert r % 2 == 1 and r * r * 250 * 20 <= landscape_feed.CELL_BUDGET


def test_a_new_landscape_waits_for_the_rate_limit(session):
    feed = LandscapeFeed(session.lab)
    feed.control("viewer", session.lab.trainer.model, show=True)
    first, _ = next_section(feed, session)
    train(session, 5)
    with session.lock:
        feed.section()
    assert feed.version == first  # moved, but the last one is newer than 1 / MAX_PER_SECOND
    _, wire = next_section(feed, session)  # ... and then it comes
    assert wire["step"] == session.lab.trainer.step
    assert np.isfinite(decode(wire)["landscape.loss"]).all()
