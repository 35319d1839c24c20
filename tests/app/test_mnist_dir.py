"""`nnplayground --mnist DIR` / the MNIST_DIR config key: MNIST's own IDX files instead of the shipped subset.

There is no full MNIST here: the tests write small IDX files of the same format (the loader reads any N)."""

from __future__ import annotations

import gzip
import subprocess
import sys

import numpy as np
import pytest

from app import DEFAULT_CONFIG, create_app
from app.labs.mlp.data import MNIST_FILES, full_mnist
from app.sessions.session import Session

TEST_CONFIG = {"TESTING": True, "ACK_TIMEOUT": 0.5}




def write_idx(path, array: np.ndarray, compress: bool) -> None:
    magic = 2051 if array.ndim == 3 else 2049
    header = magic.to_bytes(4, "big") + b"".join(n.to_bytes(4, "big") for n in array.shape)
    raw = header + array.astype(np.uint8).tobytes()
    path.write_bytes(gzip.compress(raw) if compress else raw)


def mnist_folder(folder, n_train=60, n_test=20, compress=True):
    rng = np.random.default_rng(0)
    for split, n in (("train", n_train), ("test", n_test)):
        labels = np.arange(n) % 10
        images = np.zeros((n, 28, 28), np.uint8)
        for i, label in enumerate(labels):  # a bright bar whose row says the digit: learnable
            images[i, 2 + 2 * label: 4 + 2 * label, 4:24] = 255
        images = np.maximum(images, rng.integers(0, 40, images.shape)).astype(np.uint8)
        suffix = ".gz" if compress and split == "train" else ""  # one split gzipped, one plain
        write_idx(folder / (MNIST_FILES[f"{split} images"] + suffix), images, compress and split == "train")
        write_idx(folder / (MNIST_FILES[f"{split} labels"] + suffix), labels, compress and split == "train")
    full_mnist.cache_clear()
    return folder


def test_the_mnist_dataset_is_then_mnists_own_split(tmp_path):
    folder = mnist_folder(tmp_path)
    app = create_app({**TEST_CONFIG, "MNIST_DIR": folder})
    try:
        session = Session("m" * 24, app.config)
        lab = session.lab
        lab.apply_settings({"dataset": "mnist"})
        state = session.state()
        assert (state["n_train"], state["n_test"], state["image_shape"]) == (60, 20, [28, 28])
        assert "full set" in state["data_note"] and str(folder) in state["data_note"]
        assert session.state()["layer_sizes"] == [784, 16, 16, 10]
        lab.apply_settings({"train_fraction": 0.9})  # MNIST's own split stays
        assert session.state()["n_test"] == 20
        for _ in range(1000):  # the preset (sigmoid, squared error, lr 1) learns the bars
            lab.trainer.train_step()
        assert lab.trainer.evaluate("test")[1] >= 0.9
    finally:
        app.extensions["nnplayground"].shutdown()


def test_without_it_the_page_is_told_it_is_the_subset():
    session = Session("n" * 24, dict(DEFAULT_CONFIG))
    assert session.state()["data_note"] is None  # circle
    session.lab.apply_settings({"dataset": "mnist"})
    assert "5,000-image subset" in session.state()["data_note"] and "--mnist DIR" in session.state()["data_note"]


def truncate(folder):
    path = folder / (MNIST_FILES["test images"])
    path.write_bytes(path.read_bytes()[:-100])


def wrong_magic(folder):
    labels = folder / MNIST_FILES["test labels"]
    (folder / MNIST_FILES["test images"]).write_bytes(labels.read_bytes())


@pytest.mark.parametrize("spoil, says", [
    (lambda folder: (folder / (MNIST_FILES["train labels"] + ".gz")).unlink(), "no train-labels-idx1-ubyte"),
    (truncate, "is truncated"),
    (wrong_magic, "has magic number 2049; expected 2051"),
])
def test_a_missing_truncated_or_wrong_file_is_a_one_line_error_at_start_up(tmp_path, spoil, says):
    folder = mnist_folder(tmp_path)
    spoil(folder)
    full_mnist.cache_clear()
    result = subprocess.run([sys.executable, "-m", "app", "--mnist", str(folder), "--no-browser", "--port", "0"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"nnplayground: --mnist {folder}: ") and says in lines[0], lines
    assert "Traceback" not in result.stderr and result.stdout == ""
