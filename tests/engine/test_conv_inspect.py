"""One output pixel of a convolution or a pool, taken apart: the numbers equal the layer's own forward and
backward."""

import numpy as np
import pytest

import engine
from engine.conv_inspect import convolution_at, pooling_at

LAYERS = [{"type": "Conv2d", "out_channels": 4, "kernel_size": 3, "padding": 1}, {"type": "ReLU"},
          {"type": "MaxPool2d", "kernel_size": 2},
          {"type": "Conv2d", "out_channels": 3, "kernel_size": (3, 2), "stride": (2, 1), "padding": (1, 0)},
          {"type": "Tanh"}, {"type": "AvgPool2d", "kernel_size": 2, "stride": 1},
          {"type": "Flatten"}, {"type": "Linear", "out_features": 5}]


def probed(dtype=np.float64):
    model = engine.builders.sequential(LAYERS, (3, 10, 10), rng=0, dtype=dtype)
    images = np.random.default_rng(1).uniform(0, 1, (2, 3, 10, 10)).astype(dtype)
    loss_fn = engine.CrossEntropyLoss()
    loss_fn(model(images), np.array([1, 3]))
    model.backward(loss_fn.backward())
    return model, images


@pytest.mark.parametrize("index, channel", [(0, 2), (3, 1)])
def test_every_output_pixel_is_patch_times_kernel_plus_bias_and_equals_the_layer(index, channel):
    model, images = probed()
    conv, activation = model[index], model[index + 1]
    h_out, w_out = conv.output.shape[2:]
    for sample in range(2):
        for y in range(h_out):
            for x in range(w_out):
                at = convolution_at(model, index, channel, y, x, sample=sample)
                np.testing.assert_array_equal(at.products, at.patch * at.kernel)
                assert at.total == pytest.approx(at.products.sum(), abs=1e-12)
                assert at.pre_activation == pytest.approx(at.total + at.bias, abs=1e-12)
                assert at.pre_activation == pytest.approx(float(conv.output[sample, channel, y, x]), abs=1e-12)
                assert at.output == float(conv.output[sample, channel, y, x])
                assert at.activation == pytest.approx(float(activation.output[sample, channel, y, x]), abs=1e-12)
                assert at.activation_name == activation.name
                np.testing.assert_allclose(at.channel_sums.sum(), at.total, atol=1e-12)
    np.testing.assert_array_equal(at.kernel, conv.weight.data[channel])


def test_the_patch_shows_padding_and_reads_the_right_input_pixels():
    model, images = probed()
    at = convolution_at(model, 0, 1, 0, 9, sample=1)  # top-right corner, padding 1
    assert list(at.rows) == [-1, 0, 1] and list(at.cols) == [8, 9, 10]
    expected_padding = np.array([[True, True, True], [False, False, True], [False, False, True]])
    np.testing.assert_array_equal(at.padding, expected_padding)
    assert not at.patch[:, at.padding].any()
    np.testing.assert_array_equal(at.patch[:, 1:, :2], images[1, :, 0:2, 8:10])
    assert at.patch.shape == (3, 3, 3) and at.channel_sums.shape == (3,)
    strided = convolution_at(model, 3, 0, 1, 1)  # stride (2, 1), padding (1, 0): rows 1..3, cols 1..2
    assert list(strided.rows) == [1, 2, 3] and list(strided.cols) == [1, 2] and not strided.padding.any()
    np.testing.assert_array_equal(strided.patch, model[3].input[0, :, 1:4, 1:3])


@pytest.mark.parametrize("index", [2, 5], ids=["max", "avg"])
def test_pooling_routing_is_the_layers_own_backward(index):
    model, _ = probed()
    pool = model[index]
    n, c, h_out, w_out = pool.output.shape
    kept = dict(pool.__dict__)
    for y in range(h_out):
        for x in range(w_out):
            at = pooling_at(model, index, c - 1, y, x, sample=1)
            assert at.output == float(pool.output[1, c - 1, y, x])
            if at.kind == "max":
                assert at.window.max() == at.output and at.window[at.shares == 1][0] == at.output
            else:
                assert at.output == pytest.approx(at.window.mean(), abs=1e-12)
            one_hot = np.zeros_like(pool.output)
            one_hot[1, c - 1, y, x] = 1.0
            routed = pool.backward(one_hot)[1, c - 1]  # where the layer itself sends this pixel's gradient
            np.testing.assert_array_equal(routed[at.rows[:, None], at.cols[None, :]], at.shares)
            assert routed.sum() == pytest.approx(1.0)  # nothing lands outside the window
            pool.__dict__.update(kept)  # the model's own backward again
    at = pooling_at(model, index, 0, 0, 0)
    assert at.grad_output == float(pool.grad_output[0, 0, 0, 0])
    np.testing.assert_array_equal(at.grad_window, at.shares * at.grad_output)


def test_max_winner_is_the_layers_index_and_the_first_on_ties():
    model = engine.Sequential(engine.MaxPool2d(2))
    x = np.zeros((1, 1, 4, 4))
    x[0, 0, 2:, 2:] = [[5.0, 5.0], [1.0, 5.0]]
    model(x)
    at = pooling_at(model, 0, 0, 1, 1)
    assert at.winner == (2, 2) and at.shares[0, 0] == 1 and at.shares.sum() == 1
    assert at.grad_output is None and at.grad_window is None  # no backward since this forward


def test_a_new_forward_forgets_the_last_backwards_gradient():
    model, images = probed()
    assert pooling_at(model, 2, 0, 0, 0).grad_output is not None
    model(images)
    assert pooling_at(model, 2, 0, 0, 0).grad_output is None


@pytest.mark.parametrize("call, message", [
    (lambda m: convolution_at(m, 1, 0, 0, 0), r"convolution_at: index must be the position of a Conv2d in the "
                                              r"model, one of \[0, 3\], got 1"),
    (lambda m: convolution_at(m, 0, 4, 0, 0), r"convolution_at: out_channel must be an integer in \[0, 3\], got 4"),
    (lambda m: convolution_at(m, 0, 0, 10, 0), r"y must be an integer in \[0, 9\], got 10"),
    (lambda m: convolution_at(m, 0, 0, 0, 0, sample=2), r"sample must be an integer in \[0, 1\], got 2"),
    (lambda m: pooling_at(m, 0, 0, 0, 0), r"pooling_at: index must be the position of a MaxPool2d or AvgPool2d"),
    (lambda m: pooling_at(m, 2, 0, -1, 0), r"pooling_at: y must be an integer >= 0, got -1"),
])
def test_bad_positions_are_named(call, message):
    model, _ = probed()
    with pytest.raises(ValueError, match=message):
        call(model)


def test_before_any_forward_pass_says_so():
    model = engine.builders.sequential(LAYERS, (3, 10, 10), rng=0)
    with pytest.raises(ValueError, match="layer 0 has not run a forward pass yet"):
        convolution_at(model, 0, 0, 0, 0)
