"""Datasets for the playground, all offline and seeded.

- 2-D sets as TF Playground's (``make_2d``), its input features (``featurize``), ``train_test_split``;
- handwritten digits shipped with the project (``load_digits``, ``load_mnist_subset``) and a reader
  for MNIST IDX files a user already has (``load_mnist_idx``); ``center_and_scale`` makes a user's
  drawing look like those digits;
- coloured shapes, RGB images whose channels mean something (``make_color_shapes``), and random shifts to
  augment image batches (``random_shift``, ``shift_images``);
- 2-D data as CSV: ``read_points_csv`` (validated, errors name line and column), ``write_points_csv``;
- sequences for the RNN (``sine_wave``, ``sum_of_sines``, ``adding_problem``, ``char_corpus``, ``encode_chars``).

Sources and licences of the shipped data: ``engine/datasets/data/LICENSES.md``.
"""

from engine.datasets.augment import random_shift, shift_images
from engine.datasets.csv_points import CSVError, PointsTable, read_points_csv, write_points_csv
from engine.datasets.drawing import center_and_scale
from engine.datasets.images import load_digits, load_mnist_idx, load_mnist_subset
from engine.datasets.sequences import adding_problem, char_corpus, encode_chars, sine_wave, sum_of_sines
from engine.datasets.shapes import ImageSet, make_color_shapes
from engine.datasets.toy2d import DATASETS_2D, FEATURES, Dataset2D, featurize, make_2d, train_test_split

__all__ = [
    "DATASETS_2D", "FEATURES", "Dataset2D", "make_2d", "featurize", "train_test_split",
    "load_digits", "load_mnist_subset", "load_mnist_idx", "center_and_scale",
    "read_points_csv", "write_points_csv", "CSVError", "PointsTable",
    "sine_wave", "sum_of_sines", "adding_problem", "char_corpus", "encode_chars",
    "ImageSet", "make_color_shapes", "random_shift", "shift_images",
]
