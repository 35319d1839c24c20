"""Lesson measures of the CNN and RNN labs: what one input becomes layer by layer, and the gradient through time.

Registered in app.lessons.measures' registry on import (that module imports this one at its end).
"""

from __future__ import annotations

from .registry import MeasureError, index_in, measure


# --- convolutional networks: what one image becomes, layer by layer (the CNN lab's layer list)
def _axis(shape: tuple, axis) -> int:
    if not -len(shape) <= int(axis) < len(shape):
        raise MeasureError(f"axis {int(axis)} does not exist: the shape is {tuple(shape)} (axes 0 … {len(shape) - 1})")
    return shape[int(axis)]


def _module(lab, layer):
    model = lab.trainer.model
    return model[index_in(int(layer), len(model), "layer")]


@measure("layer_shape", labs=("cnn",), args=("layer", "axis"))
def layer_shape(lab, layer, axis):
    """Size of axis ``axis`` of layer ``layer``'s output for one image, measured by running one: (C, H, W) after a
    convolution or pooling (axis 0, 1, 2), (features,) after Flatten or Linear. Layers count the layer list from 0."""
    model = lab.trainer.model
    k = index_in(int(layer), len(model), "layer")
    x = lab.data.X_train[:1]
    model.eval()
    try:
        for module in list(model)[:k + 1]:
            x = module(x)
    finally:
        model.train()
    return _axis(x.shape[1:], axis)  # one image: the batch axis N left out


@measure("layer_parameters", labs=("cnn",), args=("layer",))
def layer_parameters(lab, layer):
    """Weights and biases of layer ``layer`` of the layer list (0 for activations, pooling, dropout, Flatten)."""
    return sum(p.data.size for p in _module(lab, layer).parameters())


# --- recurrent networks: shapes of one real pass, and the gradient through time
def _rnn_pass(lab):
    """(input, output, h_n) of the recurrent layer on a minibatch of ``batch_size`` training sequences, in the
    layout the settings ask for (batch_first or not): the shapes PyTorch would give."""
    t = lab.trainer
    rnn = t.model.rnn
    n = min(lab.settings["batch_size"], len(t.data.x_train))
    x = t.data.inputs(t.data.x_train[:n], rnn.batch_first)
    rnn.eval()
    try:
        output, state = rnn(x)
    finally:
        rnn.train()
    h_n = state[0] if isinstance(state, tuple) else state  # an LSTM returns (h_n, c_n)
    if x.ndim == 2:  # characters: ids (·, ·) the engine reads as one-hot rows of the vocabulary
        x = x[..., None].repeat(rnn.input_size, axis=-1)
    return x, output, h_n




@measure("rnn_input_shape", labs=("rnn",), args=("axis",))
def rnn_input_shape(lab, axis):
    """Size of axis ``axis`` of the recurrent layer's input for one minibatch: (L, N, H_in), or (N, L, H_in) with
    batch_first."""
    return _axis(_rnn_pass(lab)[0].shape, axis)


@measure("rnn_output_shape", labs=("rnn",), args=("axis",))
def rnn_output_shape(lab, axis):
    """Size of axis ``axis`` of the recurrent layer's output, measured on one minibatch: (L, N, D·H_out), or
    (N, L, D·H_out) with batch_first."""
    return _axis(_rnn_pass(lab)[1].shape, axis)


@measure("h_n_shape", labs=("rnn",), args=("axis",))
def h_n_shape(lab, axis):
    """Size of axis ``axis`` of h_n, the final hidden state, measured on one minibatch: (D·num_layers, N, H_out),
    with or without batch_first."""
    return _axis(_rnn_pass(lab)[2].shape, axis)


@measure("rnn_parameters", labs=("rnn",))
def rnn_parameters(lab):
    """Weights and biases of the recurrent layer (nn.RNN / LSTM / GRU), without the linear head."""
    return lab.trainer.model.rnn.num_parameters()


def _gradient_through_time(lab):
    from app.labs.rnn.frames import gradient_through_time

    gradients = gradient_through_time(lab.trainer.model.rnn)
    if gradients is None:
        raise MeasureError("no gradient yet: train at least one step")
    return gradients


@measure("grad_h", labs=("rnn",), args=("t",))
def grad_h(lab, t):
    """‖∂C/∂h_t‖ of the first layer (forward direction) at time step ``t`` (0 … L−1, −1 the last), from the last
    minibatch, averaged over its sequences: how much step t's state still matters to the cost."""
    per_step = _gradient_through_time(lab)[0][0, 0]
    return per_step[index_in(int(t), len(per_step), "time step")]


@measure("grad_h0", labs=("rnn",))
def grad_h0(lab):
    """‖∂C/∂h_0‖ of the first layer's initial state (forward direction), from the last minibatch: what reaches the
    very start of the sequence."""
    return _gradient_through_time(lab)[1][0]
