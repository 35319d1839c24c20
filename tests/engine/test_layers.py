"""Layers and activations: gradients against finite differences, shapes, dtypes, references, bad input."""

import numpy as np
import pytest

import engine
from engine.activations import ACTIVATIONS, activation_from_name
from engine.builders import mlp
from engine.gradcheck import gradcheck_module, relative_error

TOL = 1e-6


def away_from_zero(rng, shape, margin=0.05):
    """Inputs with |x| ≥ margin, so ReLU's kink never sits inside a finite-difference step."""
    x = rng.standard_normal(shape)
    return np.where(x >= 0, x + margin, x - margin)


def assert_gradients(module, *inputs, h=1e-5, **kwargs):
    # h = 1e-5 rather than 1e-6: at 1e-6 float64 round-off (~1e-16·|L|/h) already shows in the smallest
    # gradient entries, while the truncation error at 1e-5 (~h² times the third derivative) stays far below TOL.
    errors = gradcheck_module(module, *inputs, h=h, **kwargs)
    assert errors, "nothing was checked"
    assert max(errors.values()) < TOL, errors


# --- gradients ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("bias", [True, False])
def test_linear_gradients(bias):
    rng = np.random.default_rng(0)
    layer = engine.Linear(4, 3, bias=bias, rng=1)
    assert_gradients(layer, rng.standard_normal((5, 4)))


def test_linear_gradients_with_leading_dimensions():
    rng = np.random.default_rng(1)
    layer = engine.Linear(3, 2, rng=2)
    x = rng.standard_normal((4, 5, 3))  # (L, N, H) as an RNN's output
    assert layer(x).shape == (4, 5, 2)
    assert_gradients(layer, x)


@pytest.mark.parametrize("name", ["linear", "relu", "leaky_relu", "tanh", "sigmoid", "swish"])
def test_elementwise_activation_gradients(name):
    x = away_from_zero(np.random.default_rng(2), (6, 5))
    assert_gradients(activation_from_name(name), x)


def test_leaky_relu_slope_gradients():
    x = away_from_zero(np.random.default_rng(3), (4, 4))
    assert_gradients(engine.LeakyReLU(negative_slope=0.2), x)


@pytest.mark.parametrize("dim", [0, 1, -1])
def test_softmax_gradients_along_any_dim(dim):
    x = np.random.default_rng(4).standard_normal((3, 4, 5))
    softmax = engine.Softmax(dim=dim)
    y = softmax(x)
    np.testing.assert_allclose(y.sum(axis=dim), 1.0)
    assert_gradients(softmax, x)


def test_softmax_does_not_overflow():
    y = engine.Softmax()(np.array([[1000.0, 0.0, -1000.0]]))
    np.testing.assert_allclose(y, [[1.0, 0.0, 0.0]])


@pytest.mark.parametrize("name", ["linear", "relu", "leaky_relu", "tanh", "sigmoid", "swish"])
def test_activation_function_and_derivative_agree(name):
    """``derivative`` is the slope of ``function`` (used to draw σ'(z) in the views)."""
    act = activation_from_name(name)
    z = away_from_zero(np.random.default_rng(5), 50) * 3
    h = 1e-5
    numeric = (act.function(z + h) - act.function(z - h)) / (2 * h)
    assert relative_error(act.derivative(z), numeric) < TOL
    np.testing.assert_array_equal(act.function(z), act(z))


def test_dropout_gradients_with_a_fixed_mask():
    x = np.random.default_rng(6).standard_normal((5, 4))
    dropout = engine.Dropout(0.3)

    def forward(x):
        dropout.rng = np.random.default_rng(7)  # the same mask at every finite-difference evaluation
        return dropout(x)

    assert_gradients(dropout, x, forward=forward)


def test_flatten_gradients_and_shape():
    x = np.random.default_rng(8).standard_normal((2, 3, 4, 5))
    flatten = engine.Flatten()
    assert flatten(x).shape == (2, 60)
    assert engine.Flatten(1, 2)(x).shape == (2, 12, 5)
    assert_gradients(flatten, x)


def test_mlp_gradients_end_to_end():
    model = mlp([3, 5, 4, 2], activation="tanh", output_activation="sigmoid", rng=9)
    assert_gradients(model, np.random.default_rng(9).standard_normal((6, 3)))


def test_backward_accumulates_until_zero_grad():
    layer = engine.Linear(2, 2, rng=0)
    x, g = np.ones((3, 2)), np.ones((3, 2))
    layer(x)
    layer.backward(g)
    once = layer.weight.grad.copy()
    layer(x)
    layer.backward(g)
    np.testing.assert_array_equal(layer.weight.grad, 2 * once)
    layer.zero_grad()
    assert not layer.weight.grad.any()


# --- semantics ----------------------------------------------------------------------------------------------

def test_linear_computes_x_wt_plus_b_with_torch_shapes():
    layer = engine.Linear(3, 2, rng=0)
    assert layer.weight.shape == (2, 3) and layer.bias.shape == (2,)
    x = np.random.default_rng(0).standard_normal((4, 3))
    np.testing.assert_allclose(layer(x), x @ layer.weight.data.T + layer.bias.data)


def test_default_init_is_torchs_uniform_bound():
    layer = engine.Linear(16, 64, rng=0)
    bound = 1 / np.sqrt(16)
    assert np.abs(layer.weight.data).max() <= bound and np.abs(layer.bias.data).max() <= bound
    assert np.abs(layer.weight.data).max() > 0.9 * bound  # uses the whole range


def test_xavier_and_kaiming_inits_have_zero_bias():
    for scheme in ("xavier_uniform", "xavier_normal", "kaiming_uniform", "kaiming_normal"):
        layer = engine.Linear(8, 8, init=scheme, nonlinearity="relu", rng=0)
        assert not layer.bias.data.any()
        assert layer.weight.data.std() > 0


def test_dropout_scales_survivors_and_is_identity_in_eval():
    x = np.ones((200, 50))
    dropout = engine.Dropout(0.25, rng=0)
    y = dropout(x)
    assert set(np.unique(y)) == {0.0, 1 / 0.75}
    assert abs((y == 0).mean() - 0.25) < 0.02
    dropout.eval()
    assert dropout(x) is x


def test_modules_keep_references_not_copies():
    model = mlp([2, 4, 1], rng=0)
    x = np.random.default_rng(0).standard_normal((3, 2))
    y = model(x)
    assert model.input is x and model.output is y
    assert model[0].input is x
    assert model[1].input is model[0].output
    assert model[2].input is model[1].output
    assert model[2].output is y


def test_engine_exports_the_torch_names():
    names = ["Module", "Parameter", "Sequential", "Linear", "Identity", "ReLU", "LeakyReLU", "Tanh", "Sigmoid",
             "SiLU", "Swish", "Softmax", "Dropout", "Flatten", "Conv2d", "MaxPool2d", "AvgPool2d", "RNN", "MSELoss", "CrossEntropyLoss", "SGD", "Adam",
             "clip_grad_norm_", "clip_grad_value_", "manual_seed", "activations", "builders", "surgery", "inspect",
             "regularization", "datasets", "init", "gradcheck"]
    assert [n for n in names if not hasattr(engine, n)] == []


def test_activation_names():
    assert list(ACTIVATIONS) == ["linear", "relu", "leaky_relu", "tanh", "sigmoid", "swish", "softmax"]
    assert engine.Swish is engine.SiLU and engine.SiLU.name == "swish"
    assert isinstance(activation_from_name("tanh"), engine.Tanh)
    assert activation_from_name("leaky_relu", negative_slope=0.1).negative_slope == 0.1


def test_sigmoid_is_stable_at_extremes():
    with np.errstate(all="raise"):
        y = engine.Sigmoid()(np.array([[-1000.0, 0.0, 1000.0]]))
    np.testing.assert_allclose(y, [[0.0, 0.5, 1.0]])


# --- Sequential ---------------------------------------------------------------------------------------------

def test_sequential_is_a_renumbered_list():
    model = engine.Sequential(engine.Linear(2, 3, rng=0), engine.Tanh())
    assert len(model) == 2 and isinstance(model[0], engine.Linear) and isinstance(model[-1], engine.Tanh)
    model.append(engine.Linear(3, 1, rng=0))
    assert list(model.state_dict()) == ["0.weight", "0.bias", "2.weight", "2.bias"]
    model.insert(0, engine.Identity())
    assert list(model.state_dict()) == ["1.weight", "1.bias", "3.weight", "3.bias"]
    popped = model.pop(0)
    assert isinstance(popped, engine.Identity)
    assert list(model.state_dict()) == ["0.weight", "0.bias", "2.weight", "2.bias"]
    assert [type(m).__name__ for m in model] == ["Linear", "Tanh", "Linear"]
    assert [name for name, _ in model.named_children()] == ["0", "1", "2"]


def test_sequential_index_errors_are_value_errors():
    model = mlp([2, 2], rng=0)
    with pytest.raises(ValueError, match=r"index must be an integer in \[-1, 0\], got 5"):
        model[5]
    with pytest.raises(ValueError, match="must be a Module"):
        model.append("tanh")


# --- dtypes and state ---------------------------------------------------------------------------------------

def test_float32_on_construction_and_by_to():
    x = np.random.default_rng(0).standard_normal((4, 2))
    model32 = mlp([2, 3, 1], dtype=np.float32, rng=0)
    assert model32.dtype == np.float32
    assert model32(x.astype(np.float32)).dtype == np.float32
    model = mlp([2, 3, 1], rng=0)
    model.to(np.float32)
    assert all(p.data.dtype == np.float32 and p.grad.dtype == np.float32 for p in model.parameters())
    y = model(x.astype(np.float32))
    assert y.dtype == np.float32
    np.testing.assert_allclose(y, model32(x.astype(np.float32)), rtol=1e-6)
    assert model.backward(np.ones_like(y)).dtype == np.float32


def test_load_state_dict_keeps_the_module_dtype():
    model = mlp([2, 3, 1], dtype=np.float32, rng=0)
    state64 = {k: v.astype(np.float64) + 1 for k, v in mlp([2, 3, 1], rng=1).state_dict().items()}
    model.load_state_dict(state64)
    assert all(p.data.dtype == np.float32 for p in model.parameters())
    np.testing.assert_allclose(model[0].weight.data, state64["0.weight"], rtol=1e-6)


def test_same_seed_builds_the_same_model():
    a = mlp([2, 8, 8, 1], rng=42).state_dict()
    b = mlp([2, 8, 8, 1], rng=42).state_dict()
    assert all(np.array_equal(a[k], b[k]) for k in a)
    engine.manual_seed(3)
    c = mlp([2, 8, 1]).state_dict()
    engine.manual_seed(3)
    d = mlp([2, 8, 1]).state_dict()
    assert all(np.array_equal(c[k], d[k]) for k in c)


# --- bad input ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("x, message", [
    (np.ones((4, 3)), r"Linear\(in_features=2.*shape \(4, 3\); expected last dimension 2"),
    (np.ones((4, 2), dtype=np.int64), r"Linear\(in_features=2.*dtype int64; expected float32 or float64"),
    (np.ones((4, 2), dtype=np.float32), r"Linear\(in_features=2.*dtype float32; expected float64"),
    ([[1.0, 2.0]], r"Linear\(in_features=2.*must be a numpy array, got list"),
    (np.ones(()), r"Linear\(in_features=2.*shape \(\); expected \(N, 2\)"),
])
def test_linear_rejects_bad_input(x, message):
    with pytest.raises(ValueError, match=message):
        engine.Linear(2, 3, rng=0)(x)


def test_sequential_names_the_layer_that_rejects():
    model = mlp([2, 4, 1], rng=0)
    with pytest.raises(ValueError, match=r"Sequential layer 0: Linear\(in_features=2.*shape \(5, 3\)"):
        model(np.ones((5, 3)))
    with pytest.raises(ValueError, match=r"layer 0 \(Linear\(in_features=2.*dtype int64; expected float64"):
        model(np.ones((5, 2), dtype=int))
    with pytest.raises(ValueError, match=r"layer 0 \(Linear\(in_features=2.*NaN"):
        model(np.array([[0.0, np.nan]]))
    with pytest.raises(ValueError, match=r"layer 0 \(Linear\(in_features=2.*infinite"):
        model(np.array([[np.inf, 0.0]]))
    broken = engine.Sequential(engine.Linear(2, 3, rng=0), engine.Tanh(), engine.Linear(4, 1, rng=0))
    with pytest.raises(ValueError, match=r"Sequential layer 2: Linear\(in_features=4.*\(5, 3\)"):
        broken(np.ones((5, 2)))


@pytest.mark.parametrize("kwargs, message", [
    (dict(in_features=0, out_features=3), "Linear: in_features must be an integer >= 1, got 0"),
    (dict(in_features=2, out_features=-1), "Linear: out_features must be an integer >= 1, got -1"),
    (dict(in_features=2.5, out_features=3), "Linear: in_features must be an integer >= 1, got 2.5"),
    (dict(in_features=2, out_features=3, init="glorot"), "Linear: init must be one of .*got 'glorot'"),
    (dict(in_features=2, out_features=3, nonlinearity="gelu"), "nonlinearity must be one of .*got 'gelu'"),
    (dict(in_features=2, out_features=3, dtype=np.int32), "Linear: dtype must be float32 or float64, got int32"),
])
def test_linear_rejects_bad_construction(kwargs, message):
    with pytest.raises(ValueError, match=message):
        engine.Linear(**kwargs)


def test_bad_activation_and_builder_arguments():
    with pytest.raises(ValueError, match=r"activation: name must be one of \['linear', 'relu'.*got 'gelu'"):
        activation_from_name("gelu")
    with pytest.raises(ValueError, match="activation: name must be one of"):
        mlp([2, 3, 1], activation="sinh")
    with pytest.raises(ValueError, match=r"mlp: sizes\[1\] must be an integer >= 1, got 0"):
        mlp([2, 0, 1])
    with pytest.raises(ValueError, match="mlp: sizes must be a list of at least two"):
        mlp([2])
    with pytest.raises(ValueError, match=r"Dropout: p must be a number in \[0, 1\], got 1.5"):
        engine.Dropout(1.5)
    with pytest.raises(ValueError, match="Softmax: dim must be an integer"):
        engine.Softmax(dim=0.5)
    with pytest.raises(ValueError, match=r"Tanh\(\): input is dtype int64; expected a float32 or float64"):
        engine.Tanh()(np.ones(3, dtype=np.int64))


# --- PyTorch, where installed -------------------------------------------------------------------------------

def test_layers_match_torch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    x = rng.standard_normal((5, 3))
    model = mlp([3, 4, 4, 2], activation="tanh", rng=0)
    reference = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Tanh(), torch.nn.Linear(4, 4), torch.nn.Tanh(),
                                    torch.nn.Linear(4, 2)).double()
    reference.load_state_dict({k: torch.from_numpy(v) for k, v in model.state_dict().items()})
    g = rng.standard_normal((5, 2))
    xt = torch.from_numpy(x.copy()).requires_grad_()
    reference(xt).backward(torch.from_numpy(g))
    np.testing.assert_allclose(model(x), reference(xt).detach().numpy(), rtol=1e-12)
    np.testing.assert_allclose(model.backward(g), xt.grad.numpy(), rtol=1e-10)
    for name, p in reference.named_parameters():
        np.testing.assert_allclose(dict(model.named_parameters())[name].grad, p.grad.numpy(), rtol=1e-10)
    for name, ref in [("relu", torch.relu), ("tanh", torch.tanh), ("sigmoid", torch.sigmoid),
                      ("swish", torch.nn.functional.silu), ("leaky_relu", torch.nn.functional.leaky_relu)]:
        np.testing.assert_allclose(activation_from_name(name)(x), ref(torch.from_numpy(x)).numpy(), rtol=1e-12,
                                   atol=1e-15)
    np.testing.assert_allclose(engine.Softmax(0)(x), torch.softmax(torch.from_numpy(x), 0).numpy(), rtol=1e-12)


# --- NaN and empty input: a module on its own checks; inside a Sequential only the model's input is checked -------
@pytest.mark.parametrize("module", [engine.Linear(3, 3, rng=0), engine.Tanh(), engine.Sigmoid(), engine.ReLU(),
                                    engine.Softmax(dim=-1), engine.Dropout(0.5), engine.Identity()],
                         ids=lambda m: type(m).__name__)
def test_a_module_called_alone_rejects_nan_naming_itself(module):
    x = np.ones((4, 3))
    x[1, 2] = np.nan
    with pytest.raises(ValueError, match=rf"{type(module).__name__}.*NaN or infinite"):
        module(x)


def test_sequential_rejects_an_empty_batch():
    model = engine.Sequential(engine.Linear(3, 2, rng=0), engine.Tanh())
    with pytest.raises(ValueError, match=r"Sequential layer 0 .*shape \(0, 3\).*non-empty batch"):
        model(np.empty((0, 3)))


def test_inside_a_sequential_overflowing_activations_reach_the_output():
    # A diverging network must reach its loss (which reports it), not fail halfway through a forward pass.
    model = engine.Sequential(engine.Linear(2, 2, rng=0), engine.Identity(), engine.Linear(2, 1, rng=0))
    model[0].weight.data[...] = 1e308
    with np.errstate(over="ignore", invalid="ignore"):
        out = model(np.ones((1, 2)))
    assert not np.isfinite(out).all()
