"""Optimizers against hand-computed steps (torch.optim's rules), clipping, regularization, reproducibility."""

import math

import numpy as np
import pytest

import engine
from engine.builders import mlp
from engine.parameter import Parameter
from engine.regularization import l1_, l2_


def param(values, grad):
    p = Parameter(np.array(values, dtype=np.float64))
    p.grad[...] = grad
    return p


def run(optimizer, p, grads):
    """Apply ``grads`` one per step; return the parameter after each step."""
    seen = []
    for g in grads:
        p.grad[...] = g
        optimizer.step()
        seen.append(p.data.copy())
    return seen


G1, G2, G3 = np.array([0.5, -1.0]), np.array([0.25, 2.0]), np.array([-1.0, 0.5])
W0 = np.array([1.0, 2.0])


# --- SGD ----------------------------------------------------------------------------------------------------

def test_sgd_plain_step():
    p = param(W0, G1)
    engine.SGD([p], lr=0.1).step()
    np.testing.assert_array_equal(p.data, [1.0 - 0.05, 2.0 + 0.1])


def test_sgd_momentum_first_buffer_is_the_gradient():
    p = param(W0, 0)
    after = run(engine.SGD([p], lr=0.1, momentum=0.9), p, [G1, G2])
    buf1 = G1
    buf2 = 0.9 * buf1 + G2
    np.testing.assert_allclose(after[0], W0 - 0.1 * buf1, rtol=1e-15)
    np.testing.assert_allclose(after[1], W0 - 0.1 * buf1 - 0.1 * buf2, rtol=1e-15)


def test_sgd_dampening():
    p = param(W0, 0)
    after = run(engine.SGD([p], lr=0.1, momentum=0.9, dampening=0.5), p, [G1, G2])
    buf1 = G1  # torch: no dampening on the first step
    buf2 = 0.9 * buf1 + 0.5 * G2
    np.testing.assert_allclose(after[1], W0 - 0.1 * buf1 - 0.1 * buf2, rtol=1e-15)


def test_sgd_nesterov():
    p = param(W0, 0)
    after = run(engine.SGD([p], lr=0.1, momentum=0.9, nesterov=True), p, [G1, G2])
    buf1 = G1
    buf2 = 0.9 * buf1 + G2
    w1 = W0 - 0.1 * (G1 + 0.9 * buf1)
    np.testing.assert_allclose(after[0], w1, rtol=1e-15)
    np.testing.assert_allclose(after[1], w1 - 0.1 * (G2 + 0.9 * buf2), rtol=1e-15)


def test_sgd_weight_decay_leaves_grad_untouched():
    p = param(W0, G1)
    engine.SGD([p], lr=0.1, weight_decay=0.01).step()
    np.testing.assert_allclose(p.data, W0 - 0.1 * (G1 + 0.01 * W0), rtol=1e-15)
    np.testing.assert_array_equal(p.grad, G1)


def test_lr_can_change_between_steps():
    p = param(W0, 0)
    opt = engine.SGD([p], lr=0.1, momentum=0.5)
    p.grad[...] = G1
    opt.step()
    opt.lr = 0.01
    assert opt.param_groups[0]["lr"] == 0.01
    p.grad[...] = G2
    opt.step()
    opt.param_groups[0]["lr"] = 1.0  # torch's spelling works too
    assert opt.lr == 1.0
    p.grad[...] = G3
    opt.step()
    buf1, buf2 = G1, 0.5 * G1 + G2
    buf3 = 0.5 * buf2 + G3
    np.testing.assert_allclose(p.data, W0 - 0.1 * buf1 - 0.01 * buf2 - 1.0 * buf3, rtol=1e-15)


def test_momentum_switched_on_midway_starts_its_buffer_then():
    p = param(W0, 0)
    opt = engine.SGD([p], lr=0.1)
    run(opt, p, [G1])
    opt.momentum = 0.9
    after = run(opt, p, [G2, G3])
    w1 = W0 - 0.1 * G1
    np.testing.assert_allclose(after[1], w1 - 0.1 * G2 - 0.1 * (0.9 * G2 + G3), rtol=1e-15)


# --- Adam ---------------------------------------------------------------------------------------------------

def adam_by_hand(w, grads, lr, beta1, beta2, eps, weight_decay=0.0, lrs=None):
    m = np.zeros_like(w)
    v = np.zeros_like(w)
    out = []
    for t, g in enumerate(grads, start=1):
        lr_t = lrs[t - 1] if lrs else lr
        g = g + weight_decay * w
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g * g
        m_hat, v_hat = m / (1 - beta1 ** t), v / (1 - beta2 ** t)
        w = w - lr_t * m_hat / (np.sqrt(v_hat) + eps)
        out.append(w)
    return out


def test_adam_bias_corrected_steps():
    p = param(W0, 0)
    after = run(engine.Adam([p], lr=0.01), p, [G1, G2, G3])
    expected = adam_by_hand(W0, [G1, G2, G3], 0.01, 0.9, 0.999, 1e-8)
    np.testing.assert_allclose(after, expected, rtol=1e-14)
    # the first step moves each weight by lr·sign(g): m̂/√v̂ = g/|g|
    np.testing.assert_allclose(after[0], W0 - 0.01 * np.sign(G1), rtol=1e-9)  # up to eps/abs(g)


def test_adam_weight_decay_betas_eps_and_changing_lr():
    p = param(W0, 0)
    opt = engine.Adam([p], lr=0.1, betas=(0.5, 0.9), eps=1e-3, weight_decay=0.1)
    p.grad[...] = G1
    opt.step()
    opt.lr = 0.02
    p.grad[...] = G2
    opt.step()
    expected = adam_by_hand(W0, [G1, G2], None, 0.5, 0.9, 1e-3, weight_decay=0.1, lrs=[0.1, 0.02])
    np.testing.assert_allclose(p.data, expected[-1], rtol=1e-14)
    state = opt.state_of(p)
    assert set(state) == {"exp_avg", "exp_avg_sq"} and opt.step_count == 2


# --- the flat buffer ----------------------------------------------------------------------------------------

def test_optimizer_flattens_parameters_and_zero_grad_clears_all():
    model = mlp([2, 3, 1], rng=0)
    before = model.state_dict()
    opt = engine.SGD(model.parameters(), lr=0.1)
    assert opt.flat.data.size == model.num_parameters()
    assert all(np.shares_memory(p.data, opt.flat.data) for p in model.parameters())
    assert all(np.array_equal(before[k], v) for k, v in model.state_dict().items())
    model(np.ones((4, 2)))
    model.backward(np.ones((4, 1)))
    assert opt.flat.grad.any()
    opt.zero_grad()
    assert not any(p.grad.any() for p in model.parameters())


def test_state_of_and_set_params_carry_state():
    a, b = param([1.0, 2.0], [1.0, 1.0]), param([[3.0]], [[2.0]])
    opt = engine.SGD([a, b], lr=0.1, momentum=0.9)
    opt.step()
    np.testing.assert_array_equal(opt.state_of(b)["momentum_buffer"], [[2.0]])
    c = param([5.0, 6.0, 7.0], [0.0, 0.0, 0.0])
    opt.set_params([a, c], {c: {"momentum_buffer": np.array([1.0, 2.0, 3.0])}})
    np.testing.assert_array_equal(opt.state_of(a)["momentum_buffer"], [1.0, 1.0])  # kept
    np.testing.assert_array_equal(opt.state_of(c)["momentum_buffer"], [1.0, 2.0, 3.0])  # given
    np.testing.assert_array_equal(c.data, [5.0, 6.0, 7.0])
    with pytest.raises(ValueError, match=r"state 'momentum_buffer' has shape \(2,\); expected .* \(3,\)"):
        opt.set_params([c], {id(c): {"momentum_buffer": np.zeros(2)}})


# --- clipping -----------------------------------------------------------------------------------------------

def test_clip_grad_norm_returns_the_norm_before_and_scales_like_torch():
    a, b = param([0.0], [3.0]), param([0.0], [4.0])
    total = engine.clip_grad_norm_([a, b], max_norm=1.0)
    assert total == pytest.approx(5.0)
    np.testing.assert_allclose([a.grad[0], b.grad[0]], np.array([3.0, 4.0]) * (1.0 / (5.0 + 1e-6)), rtol=1e-15)
    assert engine.clip_grad_norm_([a, b], max_norm=10.0) == pytest.approx(1.0, rel=1e-5)
    np.testing.assert_allclose(a.grad, [3.0 / (5.0 + 1e-6)])  # unchanged below max_norm
    assert engine.clip_grad_norm_([a, b], 1.0, norm_type=math.inf) == pytest.approx(4.0 / (5.0 + 1e-6))


def test_clip_grad_norm_over_an_optimizers_flat_buffer_and_a_subset():
    model = mlp([2, 3, 1], rng=0)
    engine.SGD(model.parameters(), lr=0.1)
    for p in model.parameters():
        p.grad[...] = 1.0
    weights = [p for name, p in model.named_parameters() if name.endswith("weight")]
    assert engine.clip_grad_norm_(weights, 1.0) == pytest.approx(math.sqrt(9))
    total = engine.clip_grad_norm_(model.parameters(), 1.0)
    assert total == pytest.approx(math.sqrt(3 * (1 / 3.000001) ** 2 * 3 + 4))
    assert math.sqrt(sum((p.grad ** 2).sum() for p in model.parameters())) == pytest.approx(1.0, rel=1e-5)


def test_clip_grad_value():
    p = param([0.0, 0.0, 0.0], [-3.0, 0.5, 2.0])
    engine.clip_grad_value_([p], 1.0)
    np.testing.assert_array_equal(p.grad, [-1.0, 0.5, 1.0])


# --- regularization -----------------------------------------------------------------------------------------

def test_l1_and_l2_add_their_gradient_and_return_the_penalty():
    p = param([1.0, -2.0, 0.0], [0.0, 0.0, 0.0])
    assert l1_([p], 0.1) == pytest.approx(0.1 * 3.0)
    np.testing.assert_allclose(p.grad, [0.1, -0.1, 0.0])
    p.grad[...] = 0
    assert l2_([p], 0.1) == pytest.approx(0.05 * 5.0)
    np.testing.assert_allclose(p.grad, [0.1, -0.2, 0.0])


# --- bad input and reproducibility --------------------------------------------------------------------------

@pytest.mark.parametrize("make, message", [
    (lambda p: engine.SGD([p], lr=-1), r"SGD: lr must be a finite number in \[0.0, inf\], got -1"),
    (lambda p: engine.SGD([p], lr=float("nan")), "SGD: lr must be a finite number"),
    (lambda p: engine.SGD([p], lr=0.1, nesterov=True), "SGD: nesterov=True needs momentum > 0"),
    (lambda p: engine.Adam([p], betas=(0.9, 1.0)), r"Adam: betas must be a pair of numbers in \[0, 1\)"),
    (lambda p: engine.Adam([p], eps=0), "Adam: eps must be > 0"),
    (lambda p: engine.SGD([], lr=0.1), "optimizer: got an empty parameter list"),
    (lambda p: engine.clip_grad_norm_([p], -1.0), "clip_grad_norm_: max_norm must be a finite number"),
    (lambda p: l2_([p], -0.5), "l2_: rate must be a finite number"),
])
def test_bad_hyperparameters(make, message):
    with pytest.raises(ValueError, match=message):
        make(param([1.0], [0.0]))


def test_setting_a_bad_lr_later_is_rejected_and_keeps_the_old_one():
    opt = engine.Adam([param([1.0], [0.0])], lr=0.01)
    with pytest.raises(ValueError, match="Adam: lr must be"):
        opt.lr = "fast"
    assert opt.lr == 0.01


def train_briefly(seed):
    engine.manual_seed(seed)
    model = mlp([2, 6, 6, 1], dropout=0.2)
    opt = engine.Adam(model.parameters(), lr=0.01)
    loss_fn = engine.MSELoss()
    x = np.random.default_rng(seed).standard_normal((16, 2))
    y = np.sin(x[:, :1])
    losses = []
    for _ in range(20):
        opt.zero_grad()
        losses.append(loss_fn(model(x), y))
        model.backward(loss_fn.backward())
        opt.step()
    return losses, model.state_dict()


def test_same_seed_gives_an_identical_run():
    losses_a, state_a = train_briefly(7)
    losses_b, state_b = train_briefly(7)
    losses_c, _ = train_briefly(8)
    assert losses_a == losses_b
    assert all(np.array_equal(state_a[k], state_b[k]) for k in state_a)
    assert losses_a != losses_c


# --- PyTorch, where installed -------------------------------------------------------------------------------

@pytest.mark.parametrize("kind, kwargs", [
    ("SGD", dict(lr=0.1, momentum=0.9, weight_decay=0.01)),
    ("SGD", dict(lr=0.1, momentum=0.9, nesterov=True)),
    ("SGD", dict(lr=0.1, momentum=0.8, dampening=0.3)),
    ("Adam", dict(lr=0.05, weight_decay=0.01)),
    ("Adam", dict(lr=0.05, betas=(0.3, 0.9))),
])
def test_optimizers_match_torch(kind, kwargs):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    w0 = rng.standard_normal((3, 4))
    p = Parameter(w0.copy())
    tp = torch.nn.Parameter(torch.from_numpy(w0.copy()))
    ours, theirs = getattr(engine, kind)([p], **kwargs), getattr(torch.optim, kind)([tp], **kwargs)
    for step in range(6):
        if step == 3:
            ours.lr = theirs.param_groups[0]["lr"] = kwargs["lr"] / 4
        g = rng.standard_normal((3, 4))
        p.grad[...] = g
        tp.grad = torch.from_numpy(g.copy())
        ours.step()
        theirs.step()
    np.testing.assert_allclose(p.data, tp.detach().numpy(), rtol=1e-14, atol=1e-15)
    total = engine.clip_grad_norm_([p], 0.5)
    assert total == pytest.approx(float(torch.nn.utils.clip_grad_norm_([tp], 0.5)), rel=1e-14)
    np.testing.assert_allclose(p.grad, tp.grad.numpy(), rtol=1e-14)
