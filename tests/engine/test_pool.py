"""MaxPool2d and AvgPool2d: gradients against finite differences, torch's output shapes, hand-computed values,
ties, overlapping windows, bad input, and the ReLU + max-pool backward run as one."""

import numpy as np
import pytest

import engine
from engine.conv import AvgPool2d, Conv2d, MaxPool2d
from tests.engine.test_conv import assert_gradients, distinct_values, torch_output_size


@pytest.mark.parametrize("kernel_size, stride", [(2, None), (3, 2), (2, 1), ((2, 3), (3, 1)), (2, 3), ((3, 1), (2, 1))],
                         ids=["k2", "k3-s2-overlap", "k2-s1-overlap", "non-square", "k2-s3-gaps", "one-column"])
@pytest.mark.parametrize("pool", [MaxPool2d, AvgPool2d])
def test_pool_gradients(pool, kernel_size, stride):
    x = distinct_values(np.random.default_rng(2), (2, 3, 7, 8))
    assert_gradients(pool(kernel_size, stride), x)


def test_overlapping_max_windows_accumulate_on_a_shared_winner():
    x = np.zeros((1, 1, 3, 3))
    x[0, 0, 1, 1] = 5.0  # the centre is the max of all four 2×2 windows
    pool = MaxPool2d(2, stride=1)
    assert pool(x).tolist() == [[[[5.0, 5.0], [5.0, 5.0]]]]
    grad = pool.backward(np.array([[[[1.0, 2.0], [3.0, 4.0]]]]))
    expected = np.zeros((1, 1, 3, 3))
    expected[0, 0, 1, 1] = 10.0
    np.testing.assert_array_equal(grad, expected)


def test_max_pool_tie_has_one_winner_the_first_in_row_major_order():
    x = np.array([[[[1.0, 3.0, 0.0, 0.0],
                    [3.0, 3.0, 0.0, 0.0]]]])
    pool = MaxPool2d(2)
    assert pool(x).tolist() == [[[[3.0, 0.0]]]]
    np.testing.assert_array_equal(pool.indices, [[[[1, 2]]]])  # torch's return_indices: y·W + x in the plane
    grad = pool.backward(np.array([[[[7.0, 9.0]]]]))
    np.testing.assert_array_equal(grad, [[[[0.0, 7.0, 9.0, 0.0],
                                           [0.0, 0.0, 0.0, 0.0]]]])


@pytest.mark.parametrize("h, w, kernel, stride", [(8, 8, 2, None), (7, 7, 2, None), (7, 8, 3, 2), (6, 9, (2, 3), (1, 2)),
                                                   (5, 5, 5, None), (9, 4, (3, 1), 3)])
@pytest.mark.parametrize("pool", [MaxPool2d, AvgPool2d])
def test_pool_output_shape_follows_torch_formula(pool, h, w, kernel, stride):
    layer = pool(kernel, stride)
    pair = lambda v: v if isinstance(v, tuple) else (v, v)  # noqa: E731
    (kh, kw), (sh, sw) = pair(kernel), pair(kernel if stride is None else stride)
    expected = (2, 3, torch_output_size(h, kh, sh), torch_output_size(w, kw, sw))
    assert layer.output_shape((2, 3, h, w)) == expected
    assert layer(np.random.default_rng(0).standard_normal((2, 3, h, w))).shape == expected


def test_pool_values_by_hand():
    x = np.array([[[[1.0, 2.0, 5.0, 6.0],
                    [3.0, 4.0, 7.0, 8.0],
                    [-1.0, -2.0, 0.0, 0.5],
                    [-3.0, -4.0, 0.5, 0.0]]]])
    np.testing.assert_array_equal(MaxPool2d(2)(x), [[[[4.0, 8.0], [-1.0, 0.5]]]])
    np.testing.assert_array_equal(AvgPool2d(2)(x), [[[[2.5, 6.5], [-2.5, 0.25]]]])
    np.testing.assert_array_equal(MaxPool2d(3, stride=1)(x), [[[[7.0, 8.0], [7.0, 8.0]]]])


@pytest.mark.parametrize("pool", [MaxPool2d, AvgPool2d])
def test_pools_reject_bad_sizes_and_input(pool):
    name = pool.__name__
    for kwargs, message in [(dict(kernel_size=0), "kernel_size must be an integer >= 1, got 0"),
                            (dict(kernel_size=2, stride=-1), "stride must be an integer >= 1, got -1"),
                            (dict(kernel_size=(2,)), "kernel_size must be an int or a pair")]:
        with pytest.raises(ValueError, match=f"^{name}: {message}"):
            pool(**kwargs)
    layer = pool(3)
    prefix = rf"^{name}\(kernel_size=3, stride=3\): "
    for x, message in [(np.zeros((4, 4)), r"input has shape \(4, 4\); expected \(N, C, H, W\)"),
                       (np.zeros((1, 1, 2, 4)), r"input of spatial size \(H, W\) = \(2, 4\) is smaller than kernel"),
                       (np.full((1, 1, 3, 3), np.inf), "input contains NaN or infinite values"),
                       (np.zeros((1, 1, 3, 3), bool), "input has dtype bool; expected float32 or float64")]:
        with pytest.raises(ValueError, match=prefix + message):
            layer(x)


@pytest.mark.parametrize("kernel, stride", [(2, None), (3, 2), (2, 1)], ids=["k2", "k3-s2-overlap", "k2-s1-overlap"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_relu_then_max_pool_backward_in_one_gives_what_the_two_give_one_by_one(kernel, stride, dtype):
    # Sequential runs MaxPool2d's backward and the ReLU's before it in one (MaxPool2d.backward_with): every
    # gradient, the pool's kept grad_output and the gradient for the input must be the layer-by-layer ones, bit for
    # bit, with many windows whose values are all <= 0 (ties at zero after the ReLU) and negative gradients.
    rng = np.random.default_rng(12)
    layers = [Conv2d(2, 3, 3, padding=1, rng=13, dtype=dtype), engine.ReLU(), MaxPool2d(kernel, stride),
              engine.Tanh(), engine.Flatten()]
    layers[0].bias.data[...] = -1.0  # many windows all <= 0
    model = engine.Sequential(*layers)
    x = rng.standard_normal((4, 2, 9, 8)).astype(dtype)
    out = model(x)
    g = rng.standard_normal(out.shape).astype(dtype)
    fused = model.backward(g)
    relu, pool = layers[1], layers[2]
    assert relu.input.min() < 0 and (pool.output == 0).any(), "no window is all <= 0: the case is not exercised"
    fused_grads = [p.grad.copy() for p in model.parameters()]
    pool_grad_output = pool.grad_output
    model.zero_grad()
    step = g
    for layer in layers[:0:-1]:
        step = layer.backward(step)
    np.testing.assert_array_equal(pool.grad_output, pool_grad_output)
    one_by_one = layers[0].backward(step)
    np.testing.assert_array_equal(fused, one_by_one)
    assert fused.dtype == dtype
    for p, grad in zip(model.parameters(), fused_grads):
        np.testing.assert_array_equal(p.grad, grad)


def test_max_pool_runs_its_own_backward_after_a_relu_that_did_not_feed_it():
    # The probe and the training batch pass through the same layers: a ReLU whose output is not the pool's input
    # (another forward ran since) must not be fused.
    relu, pool = engine.ReLU(), MaxPool2d(2)
    x = np.random.default_rng(14).standard_normal((1, 1, 4, 4))
    pool(relu(x))
    relu(x.copy())
    assert pool.backward_with(relu, np.ones((1, 1, 2, 2))) is None
    assert pool.backward_with(engine.Tanh(), np.ones((1, 1, 2, 2))) is None
