"""Losses: values by hand, gradients against finite differences, numerical stability, bad input."""

import math

import numpy as np
import pytest

import engine
from engine.gradcheck import gradcheck_loss

TOL = 1e-6


def test_mse_mean_and_sum_by_hand():
    pred = np.array([[1.0, 2.0], [3.0, 4.0]])
    target = np.array([[0.0, 2.0], [5.0, 4.5]])
    squares = 1.0 + 0.0 + 4.0 + 0.25
    assert engine.MSELoss()(pred, target) == pytest.approx(squares / 4)
    assert engine.MSELoss("sum")(pred, target) == pytest.approx(squares)
    fn = engine.MSELoss("sum")
    fn(pred, target)
    np.testing.assert_allclose(fn.backward(), 2 * (pred - target))
    fn = engine.MSELoss()
    fn(pred, target)
    np.testing.assert_allclose(fn.backward(), 2 * (pred - target) / 4)


@pytest.mark.parametrize("reduction", ["mean", "sum"])
@pytest.mark.parametrize("shape", [(5, 1), (4, 3), (3, 2, 1)])
def test_mse_gradients(reduction, shape):
    rng = np.random.default_rng(0)
    assert gradcheck_loss(engine.MSELoss(reduction), rng.standard_normal(shape), rng.standard_normal(shape)) < TOL


def test_mse_returns_a_python_float():
    assert type(engine.MSELoss()(np.ones((2, 1)), np.zeros((2, 1)))) is float


def test_cross_entropy_by_hand():
    logits = np.array([[2.0, 1.0, 0.1], [0.5, 2.5, 0.3]])
    target = np.array([0, 2])
    log_softmax = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
    expected = -(log_softmax[0, 0] + log_softmax[1, 2]) / 2
    fn = engine.CrossEntropyLoss()
    assert fn(logits, target) == pytest.approx(expected, rel=1e-14)
    onehot = np.eye(3)[target]
    np.testing.assert_allclose(fn.backward(), (np.exp(log_softmax) - onehot) / 2)
    assert engine.CrossEntropyLoss("sum")(logits, target) == pytest.approx(2 * expected, rel=1e-14)


@pytest.mark.parametrize("reduction", ["mean", "sum"])
@pytest.mark.parametrize("shape", [(6, 4), (3, 4, 5), (2, 4, 3, 2)])
def test_cross_entropy_gradients(reduction, shape):
    rng = np.random.default_rng(1)
    logits = rng.standard_normal(shape) * 2
    target = rng.integers(0, 4, size=shape[:1] + shape[2:])
    # h = 1e-4: the loss sums a log over every position, whose roundoff a smaller step would amplify
    assert gradcheck_loss(engine.CrossEntropyLoss(reduction), logits, target, h=1e-4) < TOL


def _laid_out(a: np.ndarray, memory_order: tuple) -> np.ndarray:
    """``a``'s values in a view whose memory holds the axes in ``memory_order`` (outermost first)."""
    return np.ascontiguousarray(a.transpose(memory_order)).transpose(np.argsort(memory_order))


# (N, C) rows; torch's (N, C, d1, …) form: a sequence model's (N, C, L), in the memory layouts a model hands over
# (per step (L, C, N), time-major (L, N, C), class-major (C, N, L))
@pytest.mark.parametrize("shape, memory_order", [
    ((7, 5), (0, 1)), ((7, 5), (1, 0)), ((3, 5, 4), (0, 1, 2)), ((3, 5, 4), (2, 1, 0)), ((3, 5, 4), (2, 0, 1)),
    ((3, 5, 4), (1, 0, 2)), ((2, 5, 3, 2), (2, 3, 0, 1)),
])
def test_cross_entropy_matches_torch_in_any_layout(shape, memory_order):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(3)
    values = rng.standard_normal(shape) * 10
    target = rng.integers(0, shape[1], size=shape[:1] + shape[2:])
    logits = _laid_out(values, memory_order)
    for reduction in ("mean", "sum"):
        lt = torch.from_numpy(values.copy()).requires_grad_()
        ref = torch.nn.functional.cross_entropy(lt, torch.from_numpy(target), reduction=reduction)
        ref.backward()
        fn = engine.CrossEntropyLoss(reduction)
        assert fn(logits, target) == pytest.approx(ref.item(), rel=1e-13)
        grad = fn.backward()
        np.testing.assert_allclose(grad, lt.grad.numpy(), rtol=1e-12, atol=1e-15)  # p − 1: an ulp of 1
        assert grad.strides == logits.strides  # handed back in the logits' layout: nothing copied to reorder it
        np.testing.assert_allclose(fn.probs.sum(axis=1), 1.0, rtol=1e-14)
        np.testing.assert_allclose(fn.probs, torch.softmax(lt.detach(), dim=1).numpy(), rtol=1e-12, atol=1e-300)


def test_cross_entropy_is_stable_for_huge_logits():
    fn = engine.CrossEntropyLoss()
    with np.errstate(over="raise", divide="raise", invalid="raise"):  # underflow to 0 is the right answer
        confident = fn(np.array([[1000.0, 0.0, -1000.0]]), np.array([0]))
        wrong = fn(np.array([[1000.0, 0.0, -1000.0]]), np.array([2]))
        grad = fn.backward()
    assert confident == 0.0
    assert wrong == pytest.approx(2000.0)
    np.testing.assert_allclose(grad, [[1.0, 0.0, -1.0]])
    # shifting every logit by the same amount changes nothing
    logits = np.array([[1.0, 2.0, 3.0]])
    assert fn(logits + 1000, np.array([1])) == pytest.approx(fn(logits, np.array([1])), rel=1e-12)
    # rows thousands apart in one batch (one shift for all would underflow the low row): each row as if alone
    with np.errstate(over="raise", divide="raise", invalid="raise"):
        apart = fn(np.vstack([logits + 5000, logits - 5000]), np.array([1, 2]))
        grad = fn.backward()
    alone = [fn(logits, np.array([1])), fn(logits, np.array([2]))]
    assert apart == pytest.approx(sum(alone) / 2, rel=1e-12)
    np.testing.assert_allclose(grad[1], fn.backward()[0] / 2, rtol=1e-12)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("offset", [-600.0, -95.0, 95.0, 300.0, 550.0, 800.0])
def test_cross_entropy_of_large_logits_is_finite_and_exact_in_either_dtype(dtype, offset):
    # float32's exp overflows above ~88.7 and underflows below ~−103, float64's at ~709 and ~−745: whatever shift
    # the loss saves passes with must hold for the dtype it is given
    small = np.array([[0.5, -1.0, 2.0, 0.0], [1.5, 0.25, -0.75, 3.0]])
    target = np.array([2, 1])
    fn = engine.CrossEntropyLoss()
    expected = fn(small, target)
    expected_grad = fn.backward()
    with np.errstate(over="raise", invalid="raise", divide="raise", under="ignore"):
        loss = fn((small + offset).astype(dtype), target)
        grad = fn.backward()
    tol = 1e-5 if dtype == np.float32 else 1e-12
    assert loss == pytest.approx(expected, rel=tol)
    assert grad.dtype == dtype
    np.testing.assert_allclose(grad, expected_grad, rtol=tol, atol=tol)


def test_cross_entropy_keeps_probabilities_for_the_views():
    fn = engine.CrossEntropyLoss()
    fn(np.zeros((2, 4)), np.array([1, 3]))
    np.testing.assert_allclose(fn.probs, 0.25)


def test_diverged_prediction_gives_a_non_finite_loss_not_an_error():
    assert math.isnan(engine.MSELoss()(np.array([[np.nan]]), np.array([[0.0]])))
    with np.errstate(over="ignore"):
        assert math.isinf(engine.MSELoss()(np.array([[1e300]]), np.array([[0.0]])))


@pytest.mark.parametrize("pred, target, message", [
    (np.ones((3, 1)), np.ones((3,)), r"MSELoss: target has shape \(3,\); expected pred's shape \(3, 1\)"),
    (np.ones((3, 1)), np.ones((3, 1), dtype=np.int64), "MSELoss: target has dtype int64; expected float32 or"),
    (np.ones((3, 1)), np.ones((3, 1), dtype=np.float32), "MSELoss: target has dtype float32; expected pred's dtype"),
    (np.ones((3, 1)), np.array([[0.0], [np.nan], [1.0]]), "MSELoss: target contains NaN"),
    ([1.0], np.ones(1), "MSELoss: pred must be a numpy array, got list"),
])
def test_mse_rejects_bad_input(pred, target, message):
    with pytest.raises(ValueError, match=message):
        engine.MSELoss()(pred, target)


@pytest.mark.parametrize("logits, target, message", [
    (np.zeros((2, 3)), np.array([0, 3]), r"CrossEntropyLoss: target holds classes 0..3; expected classes in \[0, 2\]"),
    (np.zeros((2, 3)), np.array([-1, 0]), r"target holds classes -1..0; expected classes in \[0, 2\]"),
    (np.zeros((2, 3)), np.array([0.0, 1.0]), r"CrossEntropyLoss: target has dtype float64; expected integer class"),
    (np.zeros((2, 3)), np.array([0, 1, 2]), r"CrossEntropyLoss: target has shape \(3,\); expected \(2,\)"),
    (np.zeros((2, 3, 4)), np.zeros((2, 3), dtype=int),
     r"CrossEntropyLoss: target has shape \(2, 3\); expected \(2, 4\) to match logits \(2, 3, 4\)"),
    (np.zeros((2, 3, 4)), np.array([[0, 1, 2, 3], [0, 0, 0, 0]]), r"target holds classes 0..3; expected classes in \[0, 2\]"),
    (np.zeros(3), np.array([0]), r"CrossEntropyLoss: logits have shape \(3,\) .*expected a float array \(N, C\)"),
    (np.zeros((2, 3), dtype=int), np.array([0, 1]), "CrossEntropyLoss: logits have shape .* dtype int64"),
])
def test_cross_entropy_rejects_bad_input(logits, target, message):
    with pytest.raises(ValueError, match=message):
        engine.CrossEntropyLoss()(logits, target)


def test_unknown_reduction():
    with pytest.raises(ValueError, match=r"MSELoss: reduction must be one of \['mean', 'sum'\], got 'max'"):
        engine.MSELoss("max")


def test_losses_match_torch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(2)
    logits, target = rng.standard_normal((7, 5)) * 10, rng.integers(0, 5, size=7)
    lt = torch.from_numpy(logits.copy()).requires_grad_()
    ref = torch.nn.functional.cross_entropy(lt, torch.from_numpy(target))
    ref.backward()
    fn = engine.CrossEntropyLoss()
    assert fn(logits, target) == pytest.approx(ref.item(), rel=1e-13)
    np.testing.assert_allclose(fn.backward(), lt.grad.numpy(), rtol=1e-12, atol=1e-17)
    for reduction in ("mean", "sum"):
        pred, y = rng.standard_normal((4, 3)), rng.standard_normal((4, 3))
        pt = torch.from_numpy(pred.copy()).requires_grad_()
        ref = torch.nn.functional.mse_loss(pt, torch.from_numpy(y), reduction=reduction)
        ref.backward()
        fn = engine.MSELoss(reduction)
        assert fn(pred, y) == pytest.approx(ref.item(), rel=1e-13)
        np.testing.assert_allclose(fn.backward(), pt.grad.numpy(), rtol=1e-13)
