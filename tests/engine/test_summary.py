"""The parameter and shape summary: its filled-in formulas evaluate to its numbers, it equals num_parameters()
and PyTorch's shapes and counts, and an architecture that cannot run is refused naming the layer and numbers."""

import math
import re

import numpy as np
import pytest

import engine
from engine.builders import sequential
from engine.summary import LAYER_TYPES, summary

CONVNETJS_MNIST = [
    {"type": "Conv2d", "out_channels": 8, "kernel_size": 5, "padding": 2}, {"type": "ReLU"},
    {"type": "MaxPool2d", "kernel_size": 2},
    {"type": "Conv2d", "out_channels": 16, "kernel_size": 5, "padding": 2}, {"type": "ReLU"},
    {"type": "MaxPool2d", "kernel_size": 3},
    {"type": "Flatten"}, {"type": "Linear", "out_features": 10},
]


def evaluate(formula: str) -> list[int]:
    """Every ``lhs = rhs`` step of a filled-in formula, evaluated: ⌊·⌋ is floor, · is ×, − is minus."""
    python = formula.replace("·", "*").replace("−", "-").replace("⌊", "math.floor(").replace("⌋", ")")
    python = re.sub(r"[A-Z]_out = ", "", python.replace(",", "")) if "_out" in formula else python.replace(",", "")
    return [eval(part, {"math": math}) for part in python.split(" = ")]


def assert_formula(formula: str, value: int) -> None:
    """The formula's expression and its stated result both equal ``value`` (the row's own number)."""
    steps = evaluate(formula)
    assert steps and all(step == value for step in steps), (formula, steps, value)


def test_convnetjs_mnist_network_shows_its_arithmetic():
    table = summary(CONVNETJS_MNIST, (1, 28, 28))
    rows = {row.name: row for row in table.rows}
    assert [row.shape_text for row in table.rows] == [
        "(N, 8, 28, 28)", "(N, 8, 28, 28)", "(N, 8, 14, 14)", "(N, 16, 14, 14)", "(N, 16, 14, 14)",
        "(N, 16, 4, 4)", "(N, 256)", "(N, 10)"]
    assert rows["0"].shape_formula == "H_out = W_out = ⌊(28 + 2·2 − 5)/1⌋ + 1 = 28"
    assert rows["0"].parameter_formula == "(5·5·1 + 1)·8 = 208"
    assert rows["3"].parameter_formula == "(5·5·8 + 1)·16 = 3,216"
    assert rows["5"].shape_formula == "H_out = W_out = ⌊(14 − 3)/3⌋ + 1 = 4"
    assert rows["6"].shape_formula == "C·H·W = 16·4·4 = 256"
    assert rows["7"].parameter_formula == "(256 + 1)·10 = 2,570"
    assert rows["3"].mult_adds == 16 * 14 * 14 * 5 * 5 * 8
    assert table.total_parameters == 5994 and table.total_formula == "208 + 3,216 + 2,570 = 5,994"
    assert table.total_parameters == sequential(CONVNETJS_MNIST, (1, 28, 28), rng=0).num_parameters()
    assert "5,994" in str(table)


def test_non_square_sizes_get_one_formula_per_axis_and_no_bias_drops_the_plus_one():
    table = summary([{"type": "Conv2d", "in_channels": 3, "out_channels": 4, "kernel_size": (3, 2),
                      "stride": (2, 1), "padding": (1, 0), "bias": False}], (3, 9, 7))
    row = table.rows[0]
    assert row.output_shape == (4, 5, 6)
    assert row.shape_formula == "H_out = ⌊(9 + 2·1 − 3)/2⌋ + 1 = 5, W_out = ⌊(7 + 2·0 − 2)/1⌋ + 1 = 6"
    assert row.parameter_formula == "3·2·3·4 = 72" and row.parameters == 72


def random_architecture(rng) -> tuple[tuple[int, ...], list[dict]]:
    """A random image network, not always a valid one: sizes are drawn independently of the input."""
    channels, size = int(rng.integers(1, 4)), int(rng.integers(5, 20))
    layers = []
    for _ in range(int(rng.integers(1, 4))):
        kind = rng.choice(["conv", "conv", "max", "avg"])
        if kind == "conv":
            layers.append({"type": "Conv2d", "out_channels": int(rng.integers(1, 6)),
                           "kernel_size": int(rng.integers(1, 6)), "stride": int(rng.integers(1, 3)),
                           "padding": int(rng.integers(0, 3)), "bias": bool(rng.integers(0, 4) > 0)})
            layers.append({"type": str(rng.choice(["ReLU", "Tanh", "Sigmoid", "LeakyReLU"]))})
        else:
            layers.append({"type": "MaxPool2d" if kind == "max" else "AvgPool2d",
                           "kernel_size": int(rng.integers(1, 4)), "stride": int(rng.integers(1, 4))})
        if rng.random() < 0.3:
            layers.append({"type": "Dropout", "p": 0.25})
    layers.append({"type": "Flatten"})
    for _ in range(int(rng.integers(1, 3))):
        layers.append({"type": "Linear", "out_features": int(rng.integers(1, 12))})
    return (channels, size, size), layers


def torch_layer(torch, spec, shape):
    kind, args = spec["type"], {k: v for k, v in spec.items() if k != "type"}
    if kind == "Conv2d":
        return torch.nn.Conv2d(shape[0], **args)
    if kind == "Linear":
        return torch.nn.Linear(shape[-1], **args)
    return getattr(torch.nn, kind)(**args)


def test_formulas_and_engine_agree_on_random_architectures_and_so_does_torch_where_installed():
    """Against the formulas always; against torch's shapes, counts and refusals when it is installed."""
    try:
        import torch
    except ImportError:
        torch = None
    rng = np.random.default_rng(0)
    valid = invalid = 0
    while valid < 12 or invalid < 5:
        input_shape, layers = random_architecture(rng)
        try:
            table = summary(layers, input_shape)
        except ValueError as error:
            invalid += 1
            assert re.match(r"layer \d+ \w+", str(error)), error
            if torch is not None:  # torch cannot run it either
                with pytest.raises(RuntimeError):
                    x, shape = torch.zeros((2, *input_shape)), input_shape
                    for spec in layers:
                        x = torch_layer(torch, spec, shape)(x)
                        shape = tuple(x.shape[1:])
            continue
        valid += 1
        model = sequential(layers, input_shape, rng=1)
        assert table.total_parameters == model.num_parameters()
        output = model(np.zeros((2, *input_shape)))
        assert output.shape[1:] == table.output_shape
        for row, module in zip(table.rows, model):
            assert module.output.shape == (2, *row.output_shape)
            assert row.parameters == sum(p.data.size for p in module.parameters())
            if row.type == "Conv2d":
                assert_formula(row.parameter_formula, row.parameters)
                assert_formula(row.mult_adds_formula, row.mult_adds)
                sizes = [int(s) for s in re.findall(r"= (\d+)(?:,|$)", row.shape_formula)]
                assert sizes in ([row.output_shape[1]], list(row.output_shape[1:]))
                for part in re.split(r", (?=W_out)", row.shape_formula):
                    assert_formula(part.replace("H_out = W_out = ", ""), int(part.rsplit(" = ", 1)[1]))
            if row.type == "Linear":
                assert_formula(row.parameter_formula, row.parameters)
        if torch is not None:
            x, shape = torch.zeros((2, *input_shape)), input_shape
            for spec, row in zip(layers, table.rows):
                layer = torch_layer(torch, spec, shape)
                x = layer(x)
                shape = tuple(x.shape[1:])
                assert shape == row.output_shape, (spec, shape, row)
                assert sum(p.numel() for p in layer.parameters()) == row.parameters


def test_a_built_sequential_summarises_as_its_spec_does():
    model = sequential(CONVNETJS_MNIST, (1, 28, 28), rng=0)
    assert summary(model, (1, 28, 28)).as_dict() == summary(CONVNETJS_MNIST, (1, 28, 28)).as_dict()
    mlp = engine.builders.mlp([64, 16, 10])
    table = summary(mlp, (64,))
    assert [row.parameter_formula for row in table.rows if row.parameters] == ["(64 + 1)·16 = 1,040",
                                                                               "(16 + 1)·10 = 170"]
    assert table.total_parameters == mlp.num_parameters()


@pytest.mark.parametrize("layers, input_shape, message", [
    ([{"type": "Conv2d", "out_channels": 4, "kernel_size": 7}], (1, 5, 5),
     "layer 0 Conv2d: kernel 7 is larger than the padded input H = 5 + 2·0 = 5, "
     "so H_out = ⌊(5 + 2·0 − 7)/1⌋ + 1 = -1 < 1"),
    ([{"type": "Conv2d", "out_channels": 4, "kernel_size": 3}, {"type": "MaxPool2d", "kernel_size": 2},
      {"type": "MaxPool2d", "kernel_size": 3}], (1, 6, 6),
     "layer 2 MaxPool2d: kernel 3 is larger than the input H = 2, so H_out = ⌊(2 − 3)/3⌋ + 1 = 0 < 1"),
    ([{"type": "Conv2d", "in_channels": 1, "out_channels": 4, "kernel_size": 3}], (3, 8, 8),
     "layer 0 Conv2d: in_channels is 1 but its input has 3 channels (the input, shape (N, 3, 8, 8)); "
     "expected in_channels = 3"),
    ([{"type": "Conv2d", "out_channels": 4, "kernel_size": 3}, {"type": "Flatten"},
      {"type": "Linear", "in_features": 100, "out_features": 10}], (1, 8, 8),
     "layer 2 Linear: in_features is 100 but its input has 144 features (from layer 1 Flatten, shape (N, 144)); "
     "expected in_features = 144"),
    ([{"type": "Linear", "out_features": 10}, {"type": "Conv2d", "out_channels": 2, "kernel_size": 1}], (4,),
     "layer 1 Conv2d: expects an input (N, C, H, W) but gets (N, 10)"),
    ([{"type": "Conv2d", "out_channels": 2, "kernal_size": 3}], (1, 8, 8), "unknown argument ['kernal_size']"),
    ([{"type": "Conv3d"}], (1, 8, 8), "layer 0 Conv3d: type must be one of"),
])
def test_architectures_that_cannot_run_are_refused_naming_layer_formula_and_numbers(layers, input_shape, message):
    with pytest.raises(ValueError) as error:
        sequential(layers, input_shape)
    assert message in str(error.value)


def test_too_many_parameters_is_refused_before_any_weight_is_drawn():
    layers = [{"type": "Flatten"}, {"type": "Linear", "out_features": 100_000}]
    with pytest.raises(ValueError, match=r"the network has 1,228,900,000 parameters .*more than the limit of "
                                         r"1,000,000; the largest is layer 1 Linear: \(12288 \+ 1\)·100000"):
        sequential(layers, (3, 64, 64), max_parameters=1_000_000)  # 9.8 GB of float64 if it were allocated
    assert summary(CONVNETJS_MNIST, (1, 28, 28), max_parameters=5994).total_parameters == 5994


def test_input_shape_and_model_are_checked():
    with pytest.raises(ValueError, match=r"input_shape must be \(C, H, W\) .* got \(1, 2\)"):
        summary(CONVNETJS_MNIST, (1, 2))
    with pytest.raises(ValueError, match="model must be a Sequential"):
        summary("conv", (1, 8, 8))
    assert set(LAYER_TYPES) >= {"Conv2d", "MaxPool2d", "AvgPool2d", "Dropout", "Flatten", "Linear", "ReLU"}
