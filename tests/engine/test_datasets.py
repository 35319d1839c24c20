"""engine.datasets: 2-D sets, features, split, shipped digits, IDX reader, sequences, text."""

import fnmatch
import gzip
import hashlib
import tomllib
from pathlib import Path

import numpy as np
import pytest

from engine import datasets
from engine.datasets import (DATASETS_2D, FEATURES, adding_problem, char_corpus, encode_chars, featurize,
                             load_digits, load_mnist_idx, load_mnist_subset, make_2d, sine_wave, train_test_split)

CLASSIFICATION = [name for name, task in DATASETS_2D.items() if task == "classification"]
REGRESSION = [name for name, task in DATASETS_2D.items() if task == "regression"]
ROOT = Path(__file__).resolve().parents[2]


# --- 2-D sets -------------------------------------------------------------------------------------

def test_the_seven_sets_are_listed_in_order():
    assert list(DATASETS_2D) == ["circle", "xor", "gaussian", "spiral", "multi-class", "plane", "multi-gaussian"]
    assert set(REGRESSION) == {"plane", "multi-gaussian"}


@pytest.mark.parametrize("noise", [0.0, 0.5])
@pytest.mark.parametrize("name", CLASSIFICATION)
def test_classification_sets_are_balanced_labelled_points_in_the_plane(name, noise):
    data = make_2d(name, n_samples=301, noise=noise, seed=3)
    k = 4 if name == "multi-class" else 2
    assert data.task == "classification" and data.num_classes == k
    assert data.X.shape == (301, 2) and data.X.dtype == np.float64
    assert data.y.shape == (301,) and data.y.dtype == np.int64
    assert np.abs(data.X).max() <= 6.0
    counts = np.bincount(data.y, minlength=k)
    assert len(counts) == k and counts.max() - counts.min() <= 1


@pytest.mark.parametrize("noise", [0.0, 0.5])
@pytest.mark.parametrize("name", REGRESSION)
def test_regression_sets_have_targets_in_minus_one_one(name, noise):
    data = make_2d(name, n_samples=400, noise=noise, seed=3)
    assert data.task == "regression" and data.num_classes == 1
    assert data.X.shape == (400, 2) and data.y.shape == (400,) and data.y.dtype == np.float64
    assert np.abs(data.X).max() <= 6.0
    assert -1.0 <= data.y.min() < 0 < data.y.max() <= 1.0


def test_without_noise_the_classes_follow_tf_playgrounds_rules():
    circle = make_2d("circle", 400, seed=1)
    radius = np.hypot(*circle.X.T)
    assert radius[circle.y == 1].max() < 2.5 and radius[circle.y == 0].min() >= 3.5
    xor = make_2d("xor", 400, seed=1)
    np.testing.assert_array_equal(xor.y, (xor.X[:, 0] * xor.X[:, 1] >= 0).astype(np.int64))
    plane = make_2d("plane", 400, seed=1)
    np.testing.assert_allclose(plane.y, np.clip(plane.X.sum(axis=1) / 10, -1, 1))
    blobs = make_2d("multi-class", 400, seed=1)
    quadrant = {0: (1, 1), 1: (-1, 1), 2: (-1, -1), 3: (1, -1)}
    for label, signs in quadrant.items():
        assert np.all(np.sign(blobs.X[blobs.y == label].mean(axis=0)) == signs)


@pytest.mark.parametrize("name", list(DATASETS_2D))
def test_same_seed_gives_identical_arrays_and_another_seed_does_not(name):
    a, b, c = make_2d(name, 200, 0.2, seed=7), make_2d(name, 200, 0.2, seed=7), make_2d(name, 200, 0.2, seed=8)
    np.testing.assert_array_equal(a.X, b.X)
    np.testing.assert_array_equal(a.y, b.y)
    assert not np.array_equal(a.X, c.X)


@pytest.mark.parametrize("name", list(DATASETS_2D))
def test_noise_changes_the_data(name):
    clean, noisy = make_2d(name, 200, 0.0, seed=0), make_2d(name, 200, 0.3, seed=0)
    assert not (np.array_equal(clean.X, noisy.X) and np.array_equal(clean.y, noisy.y))


def test_make_2d_rejects_an_unknown_name_listing_the_allowed_ones():
    with pytest.raises(ValueError, match="name must be one of.*'circle'.*'multi-gaussian'.*got 'moons'"):
        make_2d("moons")


@pytest.mark.parametrize("n_samples", [0, 1, -5, 2.5, True, "500", 10**7])
def test_make_2d_rejects_bad_n_samples(n_samples):
    with pytest.raises(ValueError, match="make_2d: n_samples must be an integer in"):
        make_2d("circle", n_samples=n_samples)


def test_multi_class_needs_a_sample_per_class():
    with pytest.raises(ValueError, match=r"n_samples must be an integer in \[4, "):
        make_2d("multi-class", n_samples=3)


@pytest.mark.parametrize("noise", [-0.1, 0.51, float("nan"), "0.1", None])
def test_make_2d_rejects_noise_outside_zero_to_half(noise):
    with pytest.raises(ValueError, match=r"make_2d: noise must be a finite number in \[0.0, 0.5\]"):
        make_2d("spiral", noise=noise)


@pytest.mark.parametrize("seed", [-1, 1.5, "0"])
def test_make_2d_rejects_a_bad_seed(seed):
    with pytest.raises(ValueError, match="make_2d: seed must be a non-negative integer"):
        make_2d("xor", seed=seed)


# --- features ---------------------------------------------------------------------------------------

def test_featurize_computes_each_feature_in_the_order_asked():
    X = np.array([[1.0, 2.0], [-3.0, 0.5]])
    out = featurize(X, FEATURES)
    x1, x2 = X.T
    expected = np.column_stack([x1, x2, x1**2, x2**2, x1 * x2, np.sin(x1), np.sin(x2)])
    np.testing.assert_allclose(out, expected)
    np.testing.assert_allclose(featurize(X, ["sin(x2)", "x1"]), np.column_stack([np.sin(x2), x1]))
    assert featurize(X, "x1*x2").shape == (2, 1)


@pytest.mark.parametrize("features, message", [
    (["x1", "x3"], r"unknown feature 'x3'; allowed: x1, x2, x1\^2, x2\^2, x1\*x2, sin\(x1\), sin\(x2\)"),
    ([], "features must name at least one of"),
    (["x1", "x1"], "features must not repeat"),
])
def test_featurize_rejects_bad_feature_lists(features, message):
    with pytest.raises(ValueError, match=message):
        featurize(np.zeros((3, 2)), features)


def test_featurize_rejects_points_that_are_not_n_by_2():
    with pytest.raises(ValueError, match=r"featurize: X has shape \(3, 3\)"):
        featurize(np.zeros((3, 3)), ["x1"])


# --- split ------------------------------------------------------------------------------------------

def test_split_sizes_are_disjoint_cover_everything_and_keep_rows_paired():
    X = np.arange(40.0).reshape(20, 2)
    y = np.arange(20)
    X_train, y_train, X_test, y_test = train_test_split(X, y, train_fraction=0.7, seed=2)
    assert len(X_train) == len(y_train) == 14 and len(X_test) == len(y_test) == 6
    assert set(y_train).isdisjoint(y_test) and set(y_train) | set(y_test) == set(range(20))
    np.testing.assert_array_equal(X_train[:, 0], 2 * y_train)
    np.testing.assert_array_equal(X_test[:, 0], 2 * y_test)
    again = train_test_split(X, y, train_fraction=0.7, seed=2)
    np.testing.assert_array_equal(again[1], y_train)
    assert not np.array_equal(train_test_split(X, y, train_fraction=0.7, seed=3)[1], y_train)


def test_split_works_on_images_too():
    images, labels = np.zeros((10, 8, 8)), np.arange(10)
    X_train, y_train, X_test, y_test = train_test_split(images, labels, 0.8)
    assert X_train.shape == (8, 8, 8) and X_test.shape == (2, 8, 8)


@pytest.mark.parametrize("fraction", [0.0, 1.0, 1.2, -0.1, float("nan"), 0.01, 0.99])
def test_split_rejects_fractions_that_leave_a_split_empty(fraction):
    with pytest.raises(ValueError, match="train_test_split: train_fraction must be"):
        train_test_split(np.zeros((10, 2)), np.zeros(10), train_fraction=fraction)


def test_split_rejects_mismatched_rows():
    with pytest.raises(ValueError, match="X has 10 rows but y has 9"):
        train_test_split(np.zeros((10, 2)), np.zeros(9))


# --- shipped digits -----------------------------------------------------------------------------------
# Checksums of the source CSVs' pixels and labels as uint8 (computed from the CSVs themselves).

def _sha(array) -> str:
    return hashlib.sha256(np.ascontiguousarray(array, dtype=np.uint8).tobytes()).hexdigest()


def test_digits_are_the_1797_optdigits_test_images():
    images, labels = load_digits()
    assert images.shape == (1797, 8, 8) and images.dtype == np.float64
    assert labels.shape == (1797,) and labels.dtype == np.int64
    assert images.min() == 0.0 and images.max() == 1.0
    assert set(labels) == set(range(10))
    assert labels[0] == 0 and np.isclose(images[0].sum() * 16, 294)  # first CSV row: ink 294, label 0
    assert _sha(np.rint(images * 16)) == "8f26b2bd9d135c256808f68f14fdabddde6d9c7f869ae419704b051f0f14b3b3"
    assert _sha(labels) == "8ba4f891220f5e4c9c819638d1602d74b83618f167043c6da52a2a247841ddf0"


def test_mnist_subset_is_5000_images_500_per_digit():
    images, labels = load_mnist_subset()
    assert images.shape == (5000, 28, 28) and images.dtype == np.float64
    assert labels.shape == (5000,) and labels.dtype == np.int64
    assert images.min() == 0.0 and images.max() == 1.0
    np.testing.assert_array_equal(np.bincount(labels), [500] * 10)
    assert labels[0] == 0 and np.isclose(images[0].sum() * 255, 31095)
    assert _sha(np.rint(images * 255)) == "2913c6b6527114b7307e1086335a7665e3f94c74aba3d67525e6f116bf5ae20f"
    assert _sha(labels) == "41b7b0a9d94690a3a2f54a1d01a9f1cc1b9512e3954fb737ad5ed9f66972403d"


def test_loaded_digits_are_fresh_copies():
    images, labels = load_digits()
    images[:] = 0.5
    labels[:] = 3
    again, again_labels = load_digits()
    assert again[0].sum() * 16 == pytest.approx(294) and again_labels[1] == 1


def test_every_shipped_data_file_is_in_the_package_data():
    patterns = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]["engine"]
    shipped = [p for p in (ROOT / "engine" / "datasets" / "data").iterdir() if p.is_file()]
    assert {"digits.npz", "mnist_5k.npz", "devils_dictionary.txt", "LICENSES.md"} <= {p.name for p in shipped}
    for path in shipped:
        relative = path.relative_to(ROOT / "engine").as_posix()
        assert any(fnmatch.fnmatch(relative, pattern) for pattern in patterns), relative


# --- IDX reader -------------------------------------------------------------------------------------

def _idx(magic: int, shape, body: bytes) -> bytes:
    header = magic.to_bytes(4, "big") + b"".join(int(s).to_bytes(4, "big") for s in shape)
    return header + body


@pytest.fixture
def idx_pair(tmp_path):
    """Three 2×4 images with labels 7, 0, 9."""
    pixels = np.arange(24, dtype=np.uint8).reshape(3, 2, 4) * 10
    labels = np.array([7, 0, 9], dtype=np.uint8)
    images_path, labels_path = tmp_path / "images-idx3-ubyte", tmp_path / "labels-idx1-ubyte.gz"
    images_path.write_bytes(_idx(2051, (3, 2, 4), pixels.tobytes()))
    labels_path.write_bytes(gzip.compress(_idx(2049, (3,), labels.tobytes())))
    return images_path, labels_path, pixels, labels


def test_idx_round_trip_plain_and_gzipped(idx_pair):
    images_path, labels_path, pixels, labels = idx_pair
    images, read_labels = load_mnist_idx(images_path, labels_path)
    assert images.shape == (3, 2, 4) and images.dtype == np.float64 and read_labels.dtype == np.int64
    np.testing.assert_allclose(images, pixels / 255.0)
    np.testing.assert_array_equal(read_labels, labels)
    gz_images = images_path.with_name("images.gz")
    gz_images.write_bytes(gzip.compress(images_path.read_bytes()))
    np.testing.assert_array_equal(load_mnist_idx(str(gz_images), str(labels_path))[0], images)


def test_idx_rejects_a_bad_magic_number(idx_pair):
    images_path, labels_path, _, _ = idx_pair
    with pytest.raises(ValueError, match="images file .* has magic number 2049; expected 2051"):
        load_mnist_idx(labels_path, images_path)


def test_idx_rejects_mismatched_counts(idx_pair, tmp_path):
    images_path, _, _, _ = idx_pair
    two_labels = tmp_path / "two-labels"
    two_labels.write_bytes(_idx(2049, (2,), bytes([1, 2])))
    with pytest.raises(ValueError, match="holds 3 images but the labels file holds 2 labels"):
        load_mnist_idx(images_path, two_labels)


@pytest.mark.parametrize("cut", [2, 5, 30])
def test_idx_rejects_truncated_files(idx_pair, cut):
    images_path, labels_path, _, _ = idx_pair
    images_path.write_bytes(images_path.read_bytes()[:cut])
    with pytest.raises(ValueError, match="images file .* is truncated"):
        load_mnist_idx(images_path, labels_path)


def test_idx_rejects_a_truncated_labels_file_and_a_damaged_gzip(idx_pair):
    images_path, labels_path, _, _ = idx_pair
    plain_labels = labels_path.with_name("labels-plain")
    plain_labels.write_bytes(gzip.decompress(labels_path.read_bytes())[:-1])
    with pytest.raises(ValueError, match="labels file .* is truncated"):
        load_mnist_idx(images_path, plain_labels)
    labels_path.write_bytes(labels_path.read_bytes()[:-6])
    with pytest.raises(ValueError, match="labels file .* is a damaged gzip file"):
        load_mnist_idx(images_path, labels_path)


def test_idx_rejects_bytes_past_the_end(idx_pair):
    images_path, labels_path, _, _ = idx_pair
    images_path.write_bytes(images_path.read_bytes() + b"\0")
    with pytest.raises(ValueError, match="longer than its header says"):
        load_mnist_idx(images_path, labels_path)


# --- sequences ----------------------------------------------------------------------------------------

def test_sine_wave_target_is_the_next_step():
    x, y = sine_wave(n_sequences=8, length=30, seed=1)
    assert x.shape == y.shape == (8, 30, 1) and x.dtype == y.dtype == np.float64
    np.testing.assert_array_equal(y[:, :-1], x[:, 1:])
    assert np.abs(x).max() <= 1.0
    assert not np.allclose(x[0], x[1])  # each sequence has its own phase and period
    np.testing.assert_array_equal(sine_wave(8, 30, seed=1)[0], x)
    assert not np.array_equal(sine_wave(8, 30, seed=2)[0], x)


def test_adding_problem_marks_two_positions_and_sums_them():
    x, y = adding_problem(n_sequences=64, length=20, seed=4)
    assert x.shape == (64, 20, 2) and y.shape == (64, 1)
    values, markers = x[:, :, 0], x[:, :, 1]
    assert values.min() >= 0.0 and values.max() < 1.0
    assert set(np.unique(markers)) == {0.0, 1.0}
    np.testing.assert_array_equal(markers[:, :10].sum(axis=1), 1)  # one marker in each half
    np.testing.assert_array_equal(markers[:, 10:].sum(axis=1), 1)
    np.testing.assert_allclose(y[:, 0], (values * markers).sum(axis=1))
    np.testing.assert_array_equal(adding_problem(64, 20, seed=4)[0], x)


@pytest.mark.parametrize("call, message", [
    (lambda: sine_wave(n_sequences=0), "sine_wave: n_sequences must be an integer in"),
    (lambda: sine_wave(length=-1), "sine_wave: length must be an integer in"),
    (lambda: sine_wave(seed=-3), "sine_wave: seed must be"),
    (lambda: adding_problem(length=1), r"adding_problem: length must be an integer in \[2, "),
    (lambda: adding_problem(n_sequences=2.0), "adding_problem: n_sequences must be an integer in"),
])
def test_sequence_makers_reject_bad_sizes(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_char_corpus_is_the_shipped_public_domain_text():
    text = char_corpus()
    assert isinstance(text, str) and 20_000 < len(text) < 60_000
    assert "THE DEVIL'S DICTIONARY" in text and "A Public Domain Text" in text


def test_encode_chars_round_trips_to_the_text():
    text = char_corpus()
    x_ids, y_ids, vocabulary = encode_chars(text, seq_len=64)
    n = (len(text) - 1) // 64
    assert x_ids.shape == y_ids.shape == (n, 64) and x_ids.dtype == np.int64
    assert vocabulary == "".join(sorted(set(text)))
    assert "".join(vocabulary[i] for i in x_ids.ravel()) == text[: n * 64]
    assert "".join(vocabulary[i] for i in y_ids.ravel()) == text[1: n * 64 + 1]


def test_encode_chars_small_example():
    x_ids, y_ids, vocabulary = encode_chars("hello!", 2)
    assert vocabulary == "!ehlo"
    np.testing.assert_array_equal(x_ids, [[2, 1], [3, 3]])  # "he", "ll"
    np.testing.assert_array_equal(y_ids, [[1, 3], [3, 4]])  # "el", "lo"


@pytest.mark.parametrize("text, seq_len, message", [
    ("abc", 3, "text has 3 characters; seq_len=3 needs at least 4"),
    ("abcdef", 0, "encode_chars: seq_len must be an integer >= 1"),
    (b"abcdef", 2, "encode_chars: text must be a str, got bytes"),
])
def test_encode_chars_rejects_bad_input(text, seq_len, message):
    with pytest.raises(ValueError, match=message):
        encode_chars(text, seq_len)


def test_package_exports_the_contracted_names():
    for name in ("make_2d", "featurize", "FEATURES", "train_test_split", "load_digits", "load_mnist_subset",
                 "load_mnist_idx", "sine_wave", "adding_problem", "char_corpus", "encode_chars", "DATASETS_2D"):
        assert hasattr(datasets, name), name
