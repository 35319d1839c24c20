"""What the views read: per-layer records after a pass, and every neuron over a grid in one pass."""

import numpy as np
import pytest

import engine
from engine.builders import mlp
from engine.inspect import grid_activations, make_grid, mlp_records


def test_records_are_references_to_the_last_pass():
    model = mlp([2, 4, 3, 1], activation="relu", output_activation="sigmoid", rng=0)
    x = np.random.default_rng(0).standard_normal((5, 2))
    y = model(x)
    records = mlp_records(model)
    assert [r.index for r in records] == [0, 1, 2]
    assert [r.activation_name for r in records] == ["relu", "relu", "sigmoid"]
    first, second, last = records
    assert first.input is x
    assert first.pre_activation is model[0].output and first.activation is model[1].output
    assert second.input is first.activation
    assert last.activation is y
    assert first.weight is model[0].weight and first.bias is model[0].bias
    assert [r.pre_activation.shape for r in records] == [(5, 4), (5, 3), (5, 1)]
    np.testing.assert_allclose(first.activation, np.maximum(first.pre_activation, 0))


def test_records_of_a_linear_output_use_z():
    model = mlp([2, 3, 2], rng=0)
    model(np.ones((1, 2)))
    last = mlp_records(model)[-1]
    assert last.activation is last.pre_activation and last.activation_name == "linear"


def test_records_before_any_pass_explain_themselves():
    with pytest.raises(ValueError, match="has not run a forward pass yet"):
        mlp_records(mlp([2, 2], rng=0))


def test_make_grid_is_row_major_y_outer():
    grid = make_grid(resolution=3, extent=(-1.0, 1.0))
    assert grid.shape == (9, 2)
    np.testing.assert_array_equal(grid[:3], [[-1, -1], [0, -1], [1, -1]])
    np.testing.assert_array_equal(grid[3:6, 1], [0, 0, 0])
    assert make_grid().shape == (10000, 2)
    assert make_grid()[0].tolist() == [-6.0, -6.0] and make_grid()[-1].tolist() == [6.0, 6.0]
    with pytest.raises(ValueError, match=r"make_grid: extent must have lo < hi"):
        make_grid(4, (1.0, -1.0))


def test_grid_activations_are_every_neuron_in_one_eval_pass_and_restore_the_training_pass():
    model = mlp([2, 4, 3, 1], dropout=0.5, rng=0)
    x = np.random.default_rng(1).standard_normal((6, 2))
    y = model(x)
    kept_mask = model[2].mask
    grid = make_grid(resolution=20)
    outputs = grid_activations(model, grid)
    assert [o.shape for o in outputs] == [(400, 4), (400, 3), (400, 1)]
    # eval mode: no dropout, so neuron outputs are the plain deterministic functions of the grid
    w0, b0 = model[0].weight.data, model[0].bias.data
    np.testing.assert_allclose(outputs[0], np.tanh(grid @ w0.T + b0))
    for a, b in zip(outputs, grid_activations(model, grid)):
        np.testing.assert_array_equal(a, b)
    # the training pass is as it was: mode, references, dropout mask — backward still works on it
    assert model.training and model[2].training
    assert model.output is y and model[0].input is x and model[2].mask is kept_mask
    assert model.backward(np.ones_like(y)).shape == x.shape


def test_grid_activations_cast_to_the_model_dtype():
    model = mlp([2, 3, 1], dtype=np.float32, rng=0)
    assert all(o.dtype == np.float32 for o in grid_activations(model, make_grid(5)))
    with pytest.raises(ValueError, match=r"grid_activations: input has shape \(25, 2\); expected last dimension 3"):
        grid_activations(mlp([3, 1], rng=0), make_grid(5))
