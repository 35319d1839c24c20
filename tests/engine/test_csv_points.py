"""engine.datasets.csv_points: every bad CSV is refused naming its line and column; good ones read back exactly."""

import numpy as np
import pytest

from engine.datasets import make_2d
from engine.datasets.csv_points import MAX_BYTES, MAX_ROWS, CSVError, read_points_csv, write_points_csv

GOOD = "x1,x2,label\n1,2,cat\n-1,0.5,dog\n3,-3,cat\n0,0,bird\n"


def _rows(n: int, label=lambda i: "ab"[i % 2]) -> str:
    return "".join(f"{i % 5 - 2},{i % 3 - 1},{label(i)}\n" for i in range(n))


def test_classes_are_numbered_in_order_of_appearance():
    table = read_points_csv(GOOD)
    assert table.task == "classification"
    assert table.class_names == ["cat", "dog", "bird"]
    assert table.y.tolist() == [0, 1, 0, 2]
    assert table.X.tolist() == [[1, 2], [-1, 0.5], [3, -3], [0, 0]]
    assert table.rescaled is None


def test_integer_labels_header_case_order_spaces_bom_and_blank_lines():
    text = "\ufeff Label , X2,x1\n\n 1 , 2.5, -1\n0,1,1\n1,0,0\n\n2,-1,3\n\n"
    table = read_points_csv(text.encode("utf-8"))
    assert table.class_names == ["1", "0", "2"]
    assert table.y.tolist() == [0, 1, 0, 2]
    assert table.X.tolist() == [[-1, 2.5], [1, 1], [0, 0], [3, -1]]


def test_quoted_labels_with_commas():
    table = read_points_csv('x1,x2,label\n0,0,"red, dark"\n1,1,blue\n2,2,"red, dark"\n3,3,blue\n')
    assert table.class_names == ["red, dark", "blue"]


def test_regression():
    table = read_points_csv("x1,x2,y\n0,0,0.5\n1,1,-0.25\n2,2,1\n3,3,-1\n")
    assert table.task == "regression" and table.num_classes == 1 and table.class_names == []
    assert table.y.dtype == np.float64 and table.y.tolist() == [0.5, -0.25, 1, -1]


# (file, line, column, words in the message): every error names where it is
BAD = {
    "missing column": ("x1,label\n" + _rows(4), 1, "x2", "no column x2"),
    "extra column": ("x1,x2,label,z\n" + _rows(4), 1, '4 ("z")', "an extra column"),
    "no target column": ("x1,x2,z\n" + _rows(4), 1, None, "neither label nor y"),
    "both targets": ("x1,x2,label,y\n" + _rows(4), 1, None, "both label and y"),
    "repeated column": ("x1,x1,label\n" + _rows(4), 1, "x1", "twice"),
    "semicolons": ("x1;x2;label\n1;2;a\n", 1, None, "separated by commas"),
    "short row": ("x1,x2,label\n" + _rows(2) + "1,2\n" + _rows(2), 4, "label", "2 values"),
    "long row": ("x1,x2,label\n" + _rows(3) + "1,2,a,9\n", 5, "4", 'extra value "9"'),
    "non-numeric x1": ("x1,x2,label\n" + _rows(4) + "one,2,a\n", 6, "x1", '"one"'),
    "non-numeric x2": ("x1,x2,label\n1,,a\n" + _rows(4), 2, "x2", "a number"),
    "NaN": ("x1,x2,label\n" + _rows(4) + "nan,1,a\n", 6, "x1", "a finite number"),
    "infinity": ("x1,x2,y\n0,0,1\n1,1,-inf\n2,2,0\n3,3,0\n", 3, "y", "a finite number"),
    "empty label": ("x1,x2,label\n" + _rows(2) + "1,1, \n" + _rows(2), 4, "label", "an empty label"),
    "too few rows": ("x1,x2,label\n1,1,a\n2,2,b\n\n3,3,a\n", 6, None, "3 rows of data"),
    "one class": ("x1,x2,label\n" + _rows(5, lambda i: "a"), 7, "label", 'only the class "a"'),
    "seven classes": ("x1,x2,label\n" + _rows(7, lambda i: f"c{i}"), 8, "label", 'a 7th class "c6"'),
    "too many rows": ("x1,x2,label\n" + _rows(MAX_ROWS + 1), MAX_ROWS + 2, None, "more than 5,000 rows"),
    "empty file": ("", 1, None, "an empty file"),
    "not UTF-8": (b"x1,x2,label\n1,2,a\n3,4,\xff\n", 3, None, "not UTF-8"),
    "unbalanced quote": ('x1,x2,label\n1,2,"a\n' + _rows(4), 6, None, "malformed CSV"),
}


@pytest.mark.parametrize("name", BAD)
def test_each_bad_file_names_its_line_and_column(name):
    text, line, column, words = BAD[name]
    with pytest.raises(CSVError) as caught:
        read_points_csv(text)
    error = caught.value
    assert (error.line, error.column) == (line, column)
    assert words in str(error)
    assert str(error).startswith(f"line {line}" + (f", column {column}" if column else "") + ":")


def test_a_file_over_the_size_limit_names_the_line_that_crosses_it():
    line = "1.2345678901234567,-2.345678901234567,a\n"
    header = "x1,x2,label\n"
    text = header + line * (MAX_BYTES // len(line) + 10)
    with pytest.raises(CSVError, match=r"^line \d+: got a file of [\d,]+ bytes.*at most 524,288 bytes") as caught:
        read_points_csv(text)
    whole_lines = (MAX_BYTES - len(header)) // len(line)  # data lines that fit before the limit
    assert caught.value.line == 1 + whole_lines + 1


def test_coordinates_outside_the_plane_are_moved_in_keeping_proportions():
    text = "x1,x2,label\n0,0,a\n100,0,b\n0,50,a\n100,50,b\n"
    table = read_points_csv(text)
    assert np.abs(table.X).max() == pytest.approx(5.4)  # 90 % of the plane: off its edges
    np.testing.assert_allclose(table.X, [[-5.4, -2.7], [5.4, -2.7], [-5.4, 2.7], [5.4, 2.7]])
    assert "coordinates went outside [-6, 6]²" in table.rescaled and "(50, 25)" in table.rescaled


def test_regression_values_outside_minus_one_one_are_moved_in():
    table = read_points_csv("x1,x2,y\n0,0,10\n1,1,30\n2,2,20\n3,3,10\n")
    np.testing.assert_allclose(table.y, [-0.9, 0.9, 0, -0.9])
    assert "y values went outside [-1, 1]" in table.rescaled and "new = (old − 20) × 0.09." in table.rescaled
    assert table.X.tolist()[1] == [1, 1]
    assert "new = (old + 5) × 0.9." in read_points_csv("x1,x2,y\n0,0,-4\n1,1,-6\n2,2,-5\n3,3,-4\n").rescaled


def test_upload_then_download_gives_the_same_text():
    text = "x1,x2,label\n1.5,-2.25,cat\n0.1,0.2,dog\n-5.999999999999,6.0,cat\n3.0,1e-07,bird\n"
    table = read_points_csv(text)
    assert write_points_csv(table.X, table.y, table.task, table.class_names) == text
    regression = "x1,x2,y\n0.1,0.2,0.30000000000000004\n1.0,1.0,-1.0\n2.0,-2.0,0.5\n3.0,3.0,0.0\n"
    table = read_points_csv(regression)
    assert write_points_csv(table.X, table.y, table.task) == regression


@pytest.mark.parametrize("name", ["circle", "multi-class", "plane"])
def test_generated_data_round_trips_exactly(name):
    data = make_2d(name, 300, noise=0.2, seed=1)
    table = read_points_csv(write_points_csv(data.X, data.y, data.task))
    assert np.array_equal(table.X[np.argsort(table.X[:, 0])], data.X[np.argsort(data.X[:, 0])])
    back = write_points_csv(table.X, table.y, table.task, table.class_names or None)
    assert read_points_csv(back).y.tolist() == table.y.tolist()
    if data.task == "classification":  # classes keep their numbers: rows were grouped so class 0 comes first
        assert table.class_names == [str(k) for k in range(data.num_classes)]
        order = np.lexsort((data.X[:, 1], data.X[:, 0]))
        theirs = np.lexsort((table.X[:, 1], table.X[:, 0]))
        assert np.array_equal(table.y[theirs], data.y[order])
    else:
        assert write_points_csv(table.X, table.y, table.task) == write_points_csv(data.X, data.y, data.task)


def test_writer_refuses_mismatched_arrays():
    with pytest.raises(ValueError, match=r"expected X \(N, 2\) and y \(N,\)"):
        write_points_csv(np.zeros((3, 2)), np.zeros(4), "classification")
