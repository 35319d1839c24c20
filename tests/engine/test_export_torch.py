"""engine.export_torch: the exported script parses, names torch's modules, and (where PyTorch is installed)
runs in its own process and predicts what the engine predicts."""

import ast
import base64
import importlib.util
import numpy as np
import pytest

import engine
from engine import Module, builders, export_torch
from engine.datasets import featurize
from engine.sequence import SequenceModel
from tests.exported import run_exported

HAS_TORCH = importlib.util.find_spec("torch") is not None
needs_torch = pytest.mark.skipif(not HAS_TORCH, reason="PyTorch is not installed")


def _nn_modules(source: str) -> list[str]:
    """Every nn.<Name>(...) the script calls, in order."""
    names = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and \
                isinstance(node.func.value, ast.Name) and node.func.value.id == "nn":
            names.append((node.lineno, node.col_offset, node.func.attr))
    return [name for *_, name in sorted(names)]


def _state_keys(source: str) -> list[str]:
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", None) == "STATE_DICT":
            return [key.value for key in node.value.keys]
    raise AssertionError("no STATE_DICT in the script")


def _trained_mlp(features, dtype=np.float64):
    """A small MLP trained a few steps on points (so the weights are not the initial draw)."""
    rng = np.random.default_rng(1)
    points = rng.uniform(-6, 6, size=(64, 2))
    labels = (np.hypot(*points.T) < 3).astype(np.int64)
    model = builders.mlp([len(features), 6, 5, 2], activation="tanh", dropout=0.2, rng=3, dtype=dtype)
    loss_fn, optimizer = engine.CrossEntropyLoss(), engine.Adam(model.parameters(), lr=0.05)
    x = featurize(points, features).astype(dtype)
    for _ in range(20):
        optimizer.zero_grad()
        loss_fn(model(x), labels)
        model.backward(loss_fn.backward())
        optimizer.step()
    return model.eval()


def _cnn():
    engine.manual_seed(4)
    return engine.Sequential(
        engine.Conv2d(1, 4, 3, padding=1, rng=1), engine.ReLU(), engine.MaxPool2d(2),
        engine.Conv2d(4, 6, (3, 3), stride=1, rng=2), engine.LeakyReLU(0.1), engine.AvgPool2d(2, stride=1),
        engine.Flatten(), engine.Dropout(0.3), engine.Linear(6 * 3 * 3, 10, rng=3), engine.Softmax(dim=1),
    ).eval()


class SequenceHead(Module):
    """A recurrent layer and a linear read-out at every step: the shape of a next-step predictor."""

    def __init__(self, rnn, head):
        super().__init__()
        self.rnn, self.head = rnn, head

    def forward(self, x):
        output, _ = self.rnn(x)
        return self.head(output)


export_torch.register_composite(SequenceHead, """
    output, _ = self.rnn(x)
    return self.head(output)
""")


FEATURES = ["x1", "x2", "x1^2", "x1*x2", "sin(x1)", "sin(x2)"]


def test_mlp_script_parses_and_names_the_modules_in_order():
    model = _trained_mlp(FEATURES)
    source = export_torch.torch_source(model, np.array([[1.0, 2.0]]), features=FEATURES, classes=["out", "in"])
    assert _nn_modules(source) == ["Sequential", "Linear", "Tanh", "Dropout", "Linear", "Tanh", "Dropout", "Linear"]
    assert _state_keys(source) == list(model.state_dict())
    assert "torch.sin(x1)" in source and "x1 * x2" in source
    assert "example = torch.tensor([[1.0, 2.0]], dtype=DTYPE)" in source  # a small example stays editable


def test_cnn_script_names_the_modules():
    model = _cnn()
    source = export_torch.torch_source(model, np.zeros((1, 1, 12, 12)))
    assert _nn_modules(source) == ["Sequential", "Conv2d", "ReLU", "MaxPool2d", "Conv2d", "LeakyReLU",
                                   "AvgPool2d", "Flatten", "Dropout", "Linear", "Softmax"]
    assert "nn.Conv2d(1, 4, kernel_size=3, padding=1)" in source
    assert "nn.AvgPool2d(kernel_size=2, stride=1)" in source
    assert "example = tensor((1, 1, 12, 12)," in source  # 144 numbers: base64, not a list
    assert _state_keys(source) == ["0.weight", "0.bias", "3.weight", "3.bias", "8.weight", "8.bias"]


@pytest.mark.parametrize("layer", [engine.RNN, engine.LSTM, engine.GRU], ids=lambda c: c.__name__)
def test_recurrent_script_names_the_module_and_keys(layer):
    model = layer(3, 5, num_layers=2, batch_first=True, bidirectional=True, rng=2)
    source = export_torch.torch_source(model, np.zeros((2, 4, 3)))
    assert _nn_modules(source) == [layer.__name__]
    assert f"nn.{layer.__name__}(3, 5, num_layers=2, batch_first=True, bidirectional=True)" in source
    assert _state_keys(source) == list(model.state_dict())


def test_registered_composite_keeps_child_names():
    model = SequenceHead(engine.RNN(2, 6, nonlinearity="relu", rng=1), engine.Linear(6, 1, rng=2))
    source = export_torch.torch_source(model, np.zeros((4, 1, 2)))
    assert "class SequenceHead(nn.Module):" in source and 'self.rnn = nn.RNN(2, 6, nonlinearity="relu")' in source
    assert _state_keys(source) == ["rnn.weight_ih_l0", "rnn.weight_hh_l0", "rnn.bias_ih_l0", "rnn.bias_hh_l0",
                                   "head.weight", "head.bias"]


def test_sequence_model_exports_as_a_class_with_rnn_and_head():
    model = SequenceModel("LSTM", 2, 4, 3, batch_first=True, readout="last_step", rng=0)
    source = export_torch.torch_source(model, np.zeros((1, 5, 2)))
    assert "class SequenceModel(nn.Module):" in source
    assert "self.rnn = nn.LSTM(2, 4, batch_first=True)" in source and "self.head = nn.Linear(4, 3)" in source
    assert "return self.head(output[:, -1])" in source
    assert _state_keys(source) == list(model.state_dict())


@needs_torch
def test_exported_scripts_predict_as_the_engine(tmp_path):
    """MLP with features (float64 and float32), CNN, RNN/LSTM/GRU, SequenceModel and a registered composite:
    each exported script, run by torch, predicts what the engine predicts, to 1e-6."""
    rng = np.random.default_rng(5)
    points = rng.uniform(-6, 6, size=(50, 2))
    sequences = rng.standard_normal((4, 7, 3))
    engine_outputs, cases = {}, {}

    def case(name, model, inputs, example, engine_output, **options):
        cases[name] = (export_torch.torch_source(model, example, **options), inputs)
        engine_outputs[name] = engine_output

    for dtype in (np.float64, np.float32):
        mlp = _trained_mlp(FEATURES, dtype)
        case(f"mlp_{np.dtype(dtype).name}", mlp, points.astype(dtype), points[:3],
             mlp(featurize(points, FEATURES).astype(dtype)), features=FEATURES, classes=["out", "in"])
    cnn, images = _cnn(), rng.random((6, 1, 12, 12))
    case("cnn", cnn, images, images[:2], cnn(images), classes=[str(d) for d in range(10)])
    for layer in (engine.RNN, engine.LSTM, engine.GRU):
        recurrent = layer(3, 5, num_layers=2, batch_first=True, bidirectional=True, rng=2).eval()
        case(layer.__name__, recurrent, sequences, sequences[:1], recurrent(sequences)[0])
    for readout, cell in (("every_step", "GRU"), ("last_step", "LSTM")):
        sequence = SequenceModel(cell, 3, 6, 2, batch_first=readout == "last_step", readout=readout, rng=4)
        inputs = sequences if readout == "last_step" else sequences.transpose(1, 0, 2).copy()
        case(f"sequence_{readout}", sequence, inputs, inputs[:1], sequence(inputs))
    composite = SequenceHead(engine.RNN(2, 6, nonlinearity="relu", rng=1), engine.Linear(6, 1, rng=2))
    steps = rng.standard_normal((9, 3, 2))  # (L, N, H_in)
    case("composite", composite, steps, steps[:, :1], composite(steps))

    results = run_exported(cases, tmp_path)
    for name, (theirs, printed) in results.items():
        np.testing.assert_allclose(theirs, engine_outputs[name], atol=1e-6, rtol=0, err_msg=name)
        assert theirs.dtype == engine_outputs[name].dtype, name
    printed = results["mlp_float64"][1]
    predicted = engine_outputs["mlp_float64"][:3].argmax(axis=1)
    assert [line.rsplit("-> ", 1)[1] for line in printed.splitlines() if "->" in line] == \
        [["out", "in"][k] for k in predicted]
    assert results["cnn"][1].count("->") == 2


def test_large_inputs_and_weights_are_exact_base64():
    model = builders.mlp([784, 16, 10], rng=0)
    images = np.random.default_rng(0).random((1, 784))
    source = export_torch.torch_source(model, images)
    assert "torch.tensor(" not in source  # 784 numbers are base64, not a 784-number list
    # decode the embedded base64 with numpy, as torch.frombuffer would: bit-for-bit the engine's weights
    block = source.split('"0.weight": tensor((16, 784), (')[1].split(")),")[0]
    text = "".join(part.strip().strip('"') for part in block.splitlines())
    decoded = np.frombuffer(base64.b64decode(text), dtype="<f8").reshape(16, 784)
    assert np.array_equal(decoded, model.state_dict()["0.weight"])


class Unexportable(Module):
    def forward(self, x):
        return x


def test_unsupported_layer_and_bad_arguments_are_named():
    with pytest.raises(ValueError, match=r"layer '1' is Unexportable.*supported: .*Linear"):
        export_torch.torch_source(engine.Sequential(engine.Linear(2, 2), Unexportable()), np.zeros((1, 2)))
    with pytest.raises(ValueError, match="features must be distinct names of x1, x2"):
        export_torch.torch_source(builders.mlp([2, 1]), np.zeros((1, 2)), features=["x1", "cos(x1)"])
    with pytest.raises(ValueError, match=r"example_input must be a non-empty array of finite numbers"):
        export_torch.torch_source(builders.mlp([2, 1]), np.array([[np.nan, 1.0]]))
    with pytest.raises(ValueError, match="register_composite: forward_source"):
        export_torch.register_composite(SequenceHead, "self.rnn(x)")
