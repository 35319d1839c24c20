"""app.labs.mlp.points: drawn and uploaded data — edits, a stable split, the link and the CSV."""

import numpy as np
import pytest

from app.labs.mlp.points import MAX_LINK_CHARS, Points, split_keys


def _drawn(n: int, seed: int = 0) -> Points:
    rng = np.random.default_rng(seed)
    points = Points.empty("classification")
    for label in range(3):
        points = points.added(rng.uniform(-6, 6, size=(n, 2)).tolist(), label=label)
    return points


def test_adding_rounds_to_thousandths_clips_to_the_plane_and_widens_the_classes():
    points = Points.empty("classification").added([[1.23456, 9.0]], label=0).added([[0, 0]], label=4)
    assert points.X.tolist() == [[1.235, 6.0], [0.0, 0.0]]
    assert points.y.tolist() == [0, 4]
    assert points.class_names == ("0", "1", "2", "3", "4")


def test_removing_takes_every_point_within_the_radius():
    points = Points.empty("regression").added([[0, 0], [0.5, 0], [3, 3]], value=0.5)
    fewer, gone = points.removed([[0.1, 0], [5, 5]], radius=0.45)
    assert gone == 2 and fewer.X.tolist() == [[3, 3]] and fewer.y.tolist() == [0.5]


def test_the_split_follows_the_training_ratio_and_is_stable_as_points_come():
    points = _drawn(40)
    train, test = points.split(0.7, seed=3)
    assert len(train) == round(120 * 0.7) and len(test) == 120 - len(train)
    assert sorted(np.concatenate([train, test]).tolist()) == list(range(120))
    more = points.added([[0.123, 0.456]], label=1)
    train2, _ = more.split(0.7, seed=3)
    moved = set(train.tolist()) ^ (set(train2.tolist()) - {120})
    assert len(moved) <= 1  # one new point moves at most one other across the split
    assert not np.array_equal(points.split(0.7, seed=4)[0], train)  # another seed, another split


def test_tiny_sets_keep_a_training_point():
    assert [len(part) for part in Points.empty("classification").split(0.5, 0)] == [0, 0]
    one = Points.empty("classification").added([[1, 1]], label=1)
    assert [len(part) for part in one.split(0.1, 0)] == [1, 0]
    two = one.added([[2, 2]], label=0)
    assert [len(part) for part in two.split(0.9, 0)] == [1, 1]


def test_split_keys_depend_on_the_point_not_its_position():
    X = np.array([[1.0, 2.0], [3.0, -4.0], [0.0, 0.0]])
    assert split_keys(X, 7)[1] == split_keys(X[1:2], 7)[0]
    assert len(set(split_keys(X, 7).tolist())) == 3


@pytest.mark.parametrize("task", ["classification", "regression"])
def test_the_link_round_trips_drawn_points_exactly(task):
    rng = np.random.default_rng(1)
    points = Points.empty(task)
    for i in range(4):
        kind = {"label": i} if task == "classification" else {"value": float(rng.uniform(-1, 1))}
        points = points.added(rng.uniform(-6, 6, size=(20, 2)).tolist(), **kind)
    back = Points.from_link(points.link())
    assert back.task == task and back.class_names == points.class_names
    assert np.array_equal(back.X, points.X) and np.array_equal(back.y, points.y)


def test_a_large_set_has_no_link_and_bad_links_are_refused():
    assert _drawn(200).link() is None  # 600 points: share the model file instead
    assert len(_drawn(50).link()) <= MAX_LINK_CHARS
    for text, words in [("x2.AAAA", "c<2-6>"), ("c2.!!", "c<2-6>"), ("c2.AAAA", "whole number"),
                        ("c2." + "AAAAAAM", "a class 3 for 2 classes"), ("c2.WBsAAAA", r"outside \[-6, 6\]")]:
        with pytest.raises(ValueError, match=words):
            Points.from_link(text)


def test_csv_upload_and_download():
    points = Points.from_csv("x1,x2,label\n1,2,cat\n-1,0.5,dog\n3,-3,cat\n0,0,bird\n")
    assert points.class_names == ("cat", "dog", "bird") and points.note is None
    assert points.csv() == "x1,x2,label\n1.0,2.0,cat\n-1.0,0.5,dog\n3.0,-3.0,cat\n0.0,0.0,bird\n"
