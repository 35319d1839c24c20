"""The loss landscape: the grid is the session's cost with two weights moved, the arrows are its gradient,
and computing it never changes the model."""

from __future__ import annotations

import copy
import re

import numpy as np
import pytest

from app.labs.mlp import network
from engine import landscape
from app.labs.mlp.landscape_path import LandscapePath, spans_with_path
from app.labs.mlp.data import load
from app.labs.mlp.schema import default_settings
from app.labs.mlp.training import Trainer


def trained(dataset="circle", loss="mse", hidden=(8, 8), activation="tanh", dropout=0.0, steps=60):
    settings = {**default_settings(), "dataset": dataset, "loss": loss, "hidden_sizes": list(hidden),
                "activation": activation, "dropout": dropout}
    data = load(settings)
    rng = np.random.default_rng(1)
    from app.labs.mlp.data import output_layout

    width, out_act = output_layout(data.task, data.num_classes, loss)
    model = network.build([data.input_width, *hidden, width], activation, out_act, dropout, rng)
    trainer = Trainer(model, data, settings, rng)
    for _ in range(steps):
        trainer.train_step()
    return trainer


def cost_with(trainer, changes: dict) -> float:
    """Brute force: a copy of the model with weights set directly, the session's own cost over the train set."""
    model = copy.deepcopy(trainer.model)
    for (layer, neuron, *inp), value in changes.items():
        linear = network.linears(model)[layer]
        if inp:
            linear.weight.data[neuron, inp[0]] = value
        else:
            linear.bias.data[neuron] = value
    model.eval()
    loss, _ = trainer.cost(model(trainer.data.X_train), trainer.T_train)
    return loss


def engine_gradient(trainer, refs) -> np.ndarray:
    """dC/dw of the two weights by the engine's own backward over the whole training set (on a copy)."""
    model = copy.deepcopy(trainer.model)
    model.eval()
    model.zero_grad()
    _, grad = trainer.cost(model(trainer.data.X_train), trainer.T_train)
    model.backward(grad)
    layers = network.linears(model)
    return np.array([layers[r.layer].bias.grad[r.neuron] if r.is_bias else
                     layers[r.layer].weight.grad[r.neuron, r.input] for r in refs])


def loss_name(trainer) -> str:
    return "cross_entropy" if trainer.output_activation == "softmax" else "mse"


CASES = {
    "tanh, same layer": dict(weights=((0, 3, 1), (0, 5, 0))),
    "tanh, same neuron": dict(weights=((0, 2, 0), (0, 2, 1))),
    "relu, layers 0 and 2": dict(activation="relu", weights=((0, 1, 0), (2, 0, 4))),
    "sigmoid, later layer first": dict(activation="sigmoid", weights=((1, 6, 2), (0, 4, 1))),
    "cross-entropy, 4 classes": dict(dataset="multi-class", loss="cross_entropy", activation="swish",
                                     weights=((1, 0, 3), (2, 3, 7))),
    "mse, 4 sigmoid outputs, dropout": dict(dataset="multi-class", dropout=0.3, weights=((0, 0, 0), (2, 2, 5))),
    "swish, a bias and a weight": dict(activation="swish", weights=((1, 2), (0, 3, 1))),
    "leaky relu, two biases": dict(activation="leaky_relu", weights=((2, 0), (0, 1))),
    "regression, no hidden layer": dict(dataset="plane", hidden=(), weights=((0, 0, 0), (0, 0, 1))),
}


@pytest.fixture(params=list(CASES), scope="module")
def case(request):
    spec = dict(CASES[request.param])
    weights = spec.pop("weights")
    return trained(**spec), weights


def test_the_grid_centre_is_the_cost_at_the_current_weights(case):
    trainer, weights = case
    X, T = trainer.data.X_train, trainer.T_train
    view = landscape.compute(trainer.model, X, T, loss_name(trainer), weights, resolution=11, arrows=5)
    expected, _, _ = trainer.evaluate("train")
    assert view.loss.shape == (11, 11)
    assert view.loss[5, 5] == pytest.approx(expected, abs=1e-12)
    assert view.current_loss == pytest.approx(expected, abs=1e-12)
    layers = network.linears(trainer.model)
    assert view.centre.tolist() == [layers[w[0]].weight.data[w[1], w[2]] if len(w) == 3 else layers[w[0]].bias.data[w[1]]
                                    for w in weights]


def test_a_grid_value_is_the_cost_with_that_weight_set(case):
    trainer, weights = case
    X, T = trainer.data.X_train, trainer.T_train
    view = landscape.compute(trainer.model, X, T, loss_name(trainer), weights, resolution=7, arrows=3)
    for i, j in [(0, 0), (6, 6), (1, 4), (5, 2)]:
        w1, w2 = view.axes[0][j], view.axes[1][i]  # row i is w2, column j is w1
        expected = cost_with(trainer, {weights[0]: w1, weights[1]: w2})
        assert view.loss[i, j] == pytest.approx(expected, rel=1e-10, abs=1e-12)


def test_the_arrows_are_the_gradient_of_the_cost(case):
    trainer, weights = case
    X, T, name = trainer.data.X_train, trainer.T_train, loss_name(trainer)
    view = landscape.compute(trainer.model, X, T, name, weights, resolution=5, arrows=5)
    refs = landscape.check_weights(trainer.model, weights)
    np.testing.assert_allclose(view.gradient[2, 2], engine_gradient(trainer, refs), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(view.current_gradient, view.gradient[2, 2])
    # Away from the centre, against central differences of the grid's own cost.
    h = 1e-5
    for i, j in [(0, 4), (3, 1)]:
        d = np.array([view.arrow_axes[0][j], view.arrow_axes[1][i]]) - view.centre
        steps = np.array([d + [h, 0], d - [h, 0], d + [0, h], d - [0, h]])
        c = landscape.losses(trainer.model, X, T, name, weights, steps)
        numeric = [(c[0] - c[1]) / (2 * h), (c[2] - c[3]) / (2 * h)]
        np.testing.assert_allclose(view.gradient[i, j], numeric, rtol=1e-6, atol=1e-8)


def test_computing_the_landscape_leaves_the_model_untouched():
    trainer = trained(dropout=0.2)
    model = trainer.model
    model.train()
    model(trainer.data.X_train[:10])  # what the frame builder's records read
    before = {k: v.copy() for k, v in model.state_dict().items()}
    grads = [p.grad.copy() for p in model.parameters()]
    kept = [(m, m.__dict__.get("input"), m.__dict__.get("output")) for m in model]
    landscape.compute(model, trainer.data.X_train, trainer.T_train, "mse", ((0, 1, 1), (1, 2, 3)))
    landscape.default_weights(model, trainer.data.X_train, trainer.T_train, "mse")
    after = model.state_dict()
    assert all(np.array_equal(before[k], after[k]) and before[k].tobytes() == after[k].tobytes() for k in before)
    assert all(np.array_equal(g, p.grad) for g, p in zip(grads, model.parameters()))
    assert all(m.__dict__.get("input") is x and m.__dict__.get("output") is y for m, x, y in kept)
    assert model.training


@pytest.mark.parametrize("weights, field", [
    (((2, 0, 0), (0, 0, 1)), "weights[0].layer"),
    (((0, 0, 0), (3, 0, 0)), "weights[1].layer"),
    (((0, 8, 0), (0, 0, 1)), "weights[0].neuron"),
    (((0, 0, 0), (1, 0, 8)), "weights[1].input"),
    (((0, -1, 0), (0, 0, 1)), "weights[0].neuron"),
    (((0, 0, 1.5), (0, 0, 1)), "weights[0].input"),
    (((0, 0, True), (0, 0, 1)), "weights[0].input"),
    (((0, 0, "1"), (0, 0, 1)), "weights[0].input"),
    (((0, 0, None), (0, 0)), "weights[1]"),
    (((0,), (0, 0, 1)), "weights[0]"),
    (((0, 0, 1), (0, 0, 1)), "weights[1]"),
    (((0, 0, 1),), "weights"),
])
def test_a_weight_that_does_not_exist_is_refused_naming_the_field(weights, field):
    trainer = trained(hidden=(8,), steps=0)
    with pytest.raises(ValueError, match=re.escape(f"landscape: {field} is")) as info:
        landscape.compute(trainer.model, trainer.data.X_train, trainer.T_train, "mse", weights)
    assert info.value.field == field


def test_bad_sizes_and_costs_are_refused():
    trainer = trained(hidden=(4,), steps=0)
    X, T = trainer.data.X_train, trainer.T_train
    with pytest.raises(ValueError, match="resolution"):
        landscape.compute(trainer.model, X, T, "mse", ((0, 0, 0), (0, 0, 1)), resolution=10)
    with pytest.raises(ValueError, match="loss"):
        landscape.compute(trainer.model, X, T, "hinge", ((0, 0, 0), (0, 0, 1)))
    with pytest.raises(ValueError, match="spans"):
        landscape.compute(trainer.model, X, T, "mse", ((0, 0, 0), (0, 0, 1)), spans=[1.0, -1.0])


def test_the_default_weights_are_the_first_layers_steepest():
    trainer = trained(steps=30)
    refs = landscape.default_weights(trainer.model, trainer.data.X_train, trainer.T_train, "mse")
    model = copy.deepcopy(trainer.model)
    model.eval()
    model.zero_grad()
    _, grad = trainer.cost(model(trainer.data.X_train), trainer.T_train)
    model.backward(grad)
    g = np.abs(network.linears(model)[0].weight.grad)
    top = sorted(g.ravel(), reverse=True)[:2]
    assert [r.layer for r in refs] == [0, 0]
    assert [g[r.neuron, r.input] for r in refs] == pytest.approx(top, rel=1e-9)


def test_the_spans_follow_the_weight_and_the_path():
    assert landscape.default_span(0.2) == 1.0
    assert landscape.default_span(-1.2) == 3.0  # 2·1.2 = 2.4, rounded up to a nice step
    assert landscape.default_span(1e9) == landscape.MAX_SPAN
    path = LandscapePath()
    path.record(0, 0.0, 0.0)
    path.record(1, 4.0, 0.1)
    spans = spans_with_path(np.array([0.0, 0.0]), path)
    assert spans[0] >= 4.4 and spans[1] == 1.0


def test_the_path_stays_bounded_and_keeps_its_ends():
    path = LandscapePath(capacity=100)
    for step in range(1, 5001):
        path.record(step, np.sin(step / 100), np.cos(step / 100))
    steps, values = path.arrays()
    assert len(steps) <= 101
    assert steps[0] == 1 and steps[-1] == 5000
    assert np.all(np.diff(steps) > 0)
    assert values[-1].tolist() == [np.sin(50.0), np.cos(50.0)]
    path.clear()
    assert len(path.arrays()[0]) == 0
