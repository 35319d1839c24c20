"""app.backprop: the output layer's step-through equals the engine's own backward, weight by weight."""

import numpy as np
import pytest

from app.labs.mlp.backprop import output_layer_step, step_through
from engine import CrossEntropyLoss, MSELoss, builders
from engine.datasets import load_digits
from engine.inspect import linear_positions


def digit_network(output_activation="sigmoid", hidden="sigmoid", dropout=0.0, sizes=(64, 16, 16, 10)):
    """3Blue1Brown's network on the 8×8 digits, with weights made large enough that every σ′ matters."""
    model = builders.mlp(list(sizes), activation=hidden, output_activation=output_activation,
                         dropout=dropout, rng=7)
    for p in model.parameters():
        p.data *= 3.0
    return model


def example(index=5):
    images, labels = load_digits()
    return images[index].reshape(64), int(labels[index])


def engine_gradients(model, x, target, loss_fn):
    """The engine's ∂C/∂W and ∂C/∂b of the output Linear, and ∂C/∂a_prev from its backward, for one example."""
    model.eval()
    model.zero_grad()
    output = model(x[None, :])
    cost = loss_fn(output, target)
    model.backward(loss_fn.backward())  # the whole network: the gradients the optimizer would use
    last = linear_positions(model)[-1]
    linear = model[last]
    weight_grad, bias_grad = linear.weight.grad.copy(), linear.bias.grad.copy()
    grad = loss_fn.backward()
    for module in reversed(list(model)[last:]):  # back through the output Linear and what follows it
        grad = module.backward(grad)
    return cost, weight_grad, bias_grad, grad[0]


def test_every_output_weight_gradient_equals_the_engines_under_3b1b_cost():
    model = digit_network()
    x, label = example()
    y = np.eye(10)[label]
    step = step_through(model, x, y)
    cost, weight_grad, bias_grad, prev_grad = engine_gradients(model, x, y[None, :], MSELoss(reduction="sum"))
    assert step.cost == "mse" and step.output_activation == "sigmoid"
    assert step.weight_grad.shape == (10, 16)
    np.testing.assert_allclose(step.weight_grad, weight_grad, rtol=0, atol=1e-9)
    np.testing.assert_allclose(step.bias_grad, bias_grad, rtol=0, atol=1e-9)
    np.testing.assert_allclose(step.prev_activation_grad, prev_grad, rtol=0, atol=1e-9)
    assert step.cost_value == pytest.approx(cost, abs=1e-12)
    assert np.abs(step.weight_grad).max() > 1e-3  # not a vacuous comparison of zeros


def test_each_weight_is_the_chain_rule_product_written_out():
    model = digit_network()
    x, label = example(11)
    step = step_through(model, x, np.eye(10)[label])
    for j in range(10):
        z = step.weight[j] @ step.prev_activation + step.bias[j]
        a = 1.0 / (1.0 + np.exp(-z))
        sigma_prime = a * (1.0 - a)
        assert step.pre_activation[j] == pytest.approx(z, abs=1e-12)
        assert step.output[j] == pytest.approx(a, abs=1e-12)
        assert step.activation_slope[j] == pytest.approx(sigma_prime, abs=1e-12)
        assert step.output_grad[j] == pytest.approx(2 * (a - step.target[j]), abs=1e-12)
        assert step.cost_terms[j] == pytest.approx((a - step.target[j]) ** 2, abs=1e-12)
        for k in range(16):
            expected = step.prev_activation[k] * sigma_prime * 2 * (a - step.target[j])
            assert step.weight_grad[j, k] == pytest.approx(expected, abs=1e-12)
            assert step.prev_activation_grad_parts[j, k] == pytest.approx(
                step.weight[j, k] * sigma_prime * 2 * (a - step.target[j]), abs=1e-12)
    np.testing.assert_allclose(step.prev_activation_grad, step.prev_activation_grad_parts.sum(axis=0), atol=1e-15)


@pytest.mark.parametrize("target", ["index", "one_hot"])
def test_cross_entropy_with_softmax_matches_the_engine(target):
    model = digit_network(output_activation=None, hidden="relu")
    x, label = example(3)
    step = step_through(model, x, label if target == "index" else np.eye(10)[label], cost="cross_entropy")
    cost, weight_grad, bias_grad, prev_grad = engine_gradients(model, x, np.array([label]), CrossEntropyLoss())
    assert step.cost == "cross_entropy" and step.output_activation == "softmax"
    assert step.activation_slope is None and step.output_grad is None
    np.testing.assert_allclose(step.output.sum(), 1.0)
    np.testing.assert_allclose(step.delta, step.output - np.eye(10)[label], atol=1e-15)  # ∂C/∂z = p − y
    np.testing.assert_allclose(step.weight_grad, weight_grad, rtol=0, atol=1e-9)
    np.testing.assert_allclose(step.bias_grad, bias_grad, rtol=0, atol=1e-9)
    np.testing.assert_allclose(step.prev_activation_grad, prev_grad, rtol=0, atol=1e-9)
    assert step.cost_value == pytest.approx(cost, abs=1e-12)


@pytest.mark.parametrize("output_activation, target", [("tanh", [-1.0]), (None, [0.4])])
def test_one_output_networks_tanh_and_regression_match_the_engine(output_activation, target):
    model = builders.mlp([2, 8, 8, 1], activation="tanh", output_activation=output_activation, rng=1)
    x = np.array([1.5, -2.0])
    step = step_through(model, x, target[0])  # a scalar target is fine for one output
    _, weight_grad, bias_grad, prev_grad = engine_gradients(model, x, np.array([target]), MSELoss(reduction="sum"))
    assert step.output_activation == (output_activation or "linear")
    np.testing.assert_allclose(step.weight_grad, weight_grad, rtol=0, atol=1e-9)
    np.testing.assert_allclose(step.bias_grad, bias_grad, rtol=0, atol=1e-9)
    np.testing.assert_allclose(step.prev_activation_grad, prev_grad, rtol=0, atol=1e-9)


def test_the_model_is_left_as_it_was():
    model = digit_network(dropout=0.3)  # dropout: the step-through reads the network in eval mode
    model.train()
    batch = np.stack([example(i)[0] for i in range(4)])
    model(batch)
    kept = {id(m): dict(m.__dict__) for m in model.modules()}
    grads = [p.grad.copy() for p in model.parameters()]
    step = step_through(model, example(9)[0], np.eye(10)[0])
    assert model.training
    for m in model.modules():
        assert all(m.__dict__[key] is value for key, value in kept[id(m)].items())
    for p, g in zip(model.parameters(), grads):
        np.testing.assert_array_equal(p.grad, g)
    eval_output = digit_network(dropout=0.3).eval()(example(9)[0][None, :])[0]
    np.testing.assert_allclose(step.output, eval_output, atol=1e-12)


@pytest.mark.parametrize("kwargs, words", [
    (dict(cost="hinge"), "cost must be one of ['mse', 'cross_entropy']"),
    (dict(activation="softmax"), "goes with cost 'cross_entropy'"),
    (dict(activation="cubic"), "name must be one of"),
    (dict(target=np.zeros(3)), "target has shape (3,); expected (2,)"),
    (dict(cost="cross_entropy", target=2), "target class is 2; expected an integer in [0, 1]"),
    (dict(cost="cross_entropy", target=[0.5, 0.5]), "must be one-hot"),
    (dict(prev_activation=np.zeros(4)), "prev_activation has shape (4,); expected (3,)"),
    (dict(weight=np.ones(3)), "weight has shape (3,); expected (C, H)"),
])
def test_bad_arguments_are_value_errors(kwargs, words):
    arguments = dict(prev_activation=np.ones(3), weight=np.ones((2, 3)), bias=np.zeros(2),
                     target=np.array([0.0, 1.0]), activation="sigmoid", cost="mse")
    arguments.update(kwargs)
    with pytest.raises(ValueError) as error:
        output_layer_step(**arguments)
    assert words in str(error.value)


def test_a_wrong_input_size_is_a_value_error():
    with pytest.raises(ValueError, match="x has 10 values; expected 64"):
        step_through(digit_network(), np.zeros(10), np.eye(10)[0])
