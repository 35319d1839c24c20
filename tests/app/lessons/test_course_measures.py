"""The measures the course's lessons add: each reads what the views show, and agrees with an independent route
to the same number (the engine's backward, a finite difference, the frames, torch's shape rules)."""

import numpy as np
import pytest

from app.lessons.measures import MEASURES, MeasureError
from app.lessons.runner import headless_session, restart
from app.server.bundle import decode


def lab_of(settings: dict, steps: int = 0, lab: str = "mlp"):
    session = headless_session(lab)
    session.viewers.add("viewer")
    restart(session.lab, settings)
    if steps:
        session.lab._run_steps(steps)
        session.lab.model_version += 1
    return session


def read(session, name, *args):
    return MEASURES[name].read(session.lab, args)


# --- backpropagation
@pytest.mark.parametrize("loss,rate", [("mse", 3.0), ("cross_entropy", 0.3)])
def test_chain_rule_engine_and_nudge_agree_for_every_output_weight(loss, rate):
    session = lab_of({"dataset": "digits", "loss": loss, "learning_rate": rate, "seed": 2}, steps=40)
    session.lab.set_probe(split="test", index=7)
    for j, k in [(0, 0), (3, 11), (9, 15), (session.lab.data.y_test[7], 4)]:
        engine = read(session, "engine_grad", j, k)
        assert read(session, "chain_rule_grad", j, k) == pytest.approx(engine, rel=1e-9, abs=1e-15)
        assert read(session, "nudge_grad", j, k) == pytest.approx(engine, rel=1e-5, abs=1e-10)
    assert read(session, "probe_label") == session.lab.data.y_test[7]


def test_engine_grad_is_the_frames_probe_gradient_and_leaves_the_lab_alone():
    session = lab_of({"dataset": "digits", "seed": 1}, steps=30)
    session.lab.set_probe(split="train", index=3)
    grads = [p.grad.copy() for p in session.lab.trainer.model.parameters()]
    weights = [p.data.copy() for p in session.lab.trainer.model.parameters()]
    ours = np.array([[read(session, "engine_grad", j, k) for k in range(16)] for j in range(10)])
    read(session, "nudge_grad", 2, 2)
    for p, g, w in zip(session.lab.trainer.model.parameters(), grads, weights):
        np.testing.assert_array_equal(p.grad, g)
        np.testing.assert_array_equal(p.data, w)
    frame, _ = session.build_frame()
    np.testing.assert_allclose(ours, decode(frame.fields)["probe.output_weight_grad"], rtol=1e-4, atol=1e-7)


def test_backprop_measures_need_a_labelled_probe():
    session = lab_of({"dataset": "circle"})
    session.lab.set_probe(point=[1.0, 2.0])
    for name in ("chain_rule_grad", "engine_grad", "nudge_grad"):
        with pytest.raises(MeasureError, match="no label"):
            read(session, name, 0, 0)
    with pytest.raises(MeasureError, match="neuron 5 does not exist"):
        read(lab_of({"dataset": "circle"}), "engine_grad", 5, 0)  # one tanh output


# --- minibatches
def test_minibatch_agreement_is_one_for_the_full_batch_and_falls_with_the_batch():
    agreement = {}
    for batch in (250, 10, 1):
        session = lab_of({"dataset": "plane", "hidden_sizes": [], "learning_rate": 0.02, "batch_size": batch}, 3)
        agreement[batch] = read(session, "minibatch_agreement")
    assert agreement[250] == pytest.approx(1.0)
    assert agreement[1] < agreement[10] < agreement[250]


# --- classes
def test_softmax_probabilities_add_up_to_one_and_sigmoids_do_not():
    softmax = lab_of({"dataset": "multi-class", "hidden_sizes": [8], "loss": "cross_entropy"}, steps=300)
    probabilities = [read(softmax, "probability", c, 3, 3) for c in range(4)]
    assert sum(probabilities) == pytest.approx(1.0) == read(softmax, "probability_sum", 3, 3)
    assert np.argmax(probabilities) == 0  # class 0's blob is around (3, 3)
    sigmoids = lab_of({"dataset": "multi-class", "hidden_sizes": [8], "loss": "mse"}, steps=1000)
    outputs = [read(sigmoids, "output", -1, c, 0, 0) for c in range(4)]  # each class's own sigmoid
    assert [read(sigmoids, "probability", c, 0, 0) for c in range(4)] == pytest.approx(outputs)
    assert read(sigmoids, "probability_sum", 0, 0) == pytest.approx(sum(outputs))
    assert abs(sum(outputs) - 1) > 0.2
    with pytest.raises(MeasureError, match="classification"):
        read(lab_of({"dataset": "plane"}), "probability", 0, 0, 0)


def test_small_weight_fraction_counts_weights_below_a_hundredth():
    session = lab_of({"dataset": "circle", "hidden_sizes": [2]})
    for neuron in range(2):
        session.lab.edit_weight(0, neuron, 0, 0.005)
        session.lab.edit_weight(0, neuron, 1, 0.5 if neuron else -0.009)
    assert read(session, "small_weight_fraction", 0) == 0.75


# --- convolutional networks
def test_layer_shapes_and_parameters_are_the_summarys():
    session = lab_of({"dataset": "digits", "architecture": "tiny"}, lab="cnn")
    rows = session.lab.table.rows
    for k, row in enumerate(rows):
        assert tuple(read(session, "layer_shape", k, a) for a in range(len(row.output_shape))) == row.output_shape
        assert read(session, "layer_parameters", k) == row.parameters
    assert read(session, "num_parameters") == sum(r.parameters for r in rows)
    with pytest.raises(MeasureError, match="axis 3"):
        read(session, "layer_shape", 0, 3)


def test_losses_and_accuracy_read_the_cnn_and_rnn_labs_too():
    cnn = lab_of({"dataset": "digits", "architecture": "tiny"}, steps=20, lab="cnn")
    loss, accuracy, _ = cnn.lab.trainer.evaluate("test")
    assert read(cnn, "test_loss") == pytest.approx(loss) and read(cnn, "test_accuracy") == pytest.approx(accuracy)
    rnn = lab_of({"task": "sine", "seq_len": 20}, steps=5, lab="rnn")
    assert read(rnn, "test_loss") == pytest.approx(rnn.lab.trainer.evaluate("test")[0])
    with pytest.raises(MeasureError, match="classification"):
        read(rnn, "test_accuracy")


# --- recurrent networks
@pytest.mark.parametrize("layers,bidirectional,batch_first", [(1, "False", "False"), (2, "True", "True"),
                                                               (3, "False", "True")])
def test_rnn_shapes_follow_torch(layers, bidirectional, batch_first):
    L, N, H = 30, 8, 12
    session = lab_of({"task": "sine", "seq_len": L, "batch_size": N, "hidden_size": H, "num_layers": layers,
                      "bidirectional": bidirectional, "batch_first": batch_first}, lab="rnn")
    D = 2 if bidirectional == "True" else 1
    first = (N, L) if batch_first == "True" else (L, N)
    assert tuple(read(session, "rnn_input_shape", a) for a in range(3)) == (*first, 1)
    assert tuple(read(session, "rnn_output_shape", a) for a in range(3)) == (*first, D * H)
    assert tuple(read(session, "h_n_shape", a) for a in range(3)) == (D * layers, N, H)  # never batch first
    per_direction = [H * 1 + H * H + 2 * H] + [H * D * H + H * H + 2 * H] * (layers - 1)
    assert read(session, "rnn_parameters") == D * sum(per_direction)
    for cell, gates in (("LSTM", 4), ("GRU", 3)):  # the same shapes; h_n without c_n
        session.lab.apply_settings({"cell_type": cell})
        assert tuple(read(session, "h_n_shape", a) for a in range(3)) == (D * layers, N, H)
        assert read(session, "rnn_parameters") == gates * D * sum(per_direction)


def test_gradient_through_time_is_the_frames():
    session = lab_of({"task": "adding", "seq_len": 15}, lab="rnn")
    with pytest.raises(MeasureError, match="train at least one step"):
        read(session, "grad_h0")
    session.lab._run_steps(3)
    arrays = decode(session.build_frame()[0].fields)
    assert read(session, "grad_h0") == pytest.approx(arrays["grad_h0"][0], rel=1e-5)
    assert read(session, "grad_h", -1) == pytest.approx(arrays["grad_h"].reshape(-1, 15)[0, -1], rel=1e-5)
    assert read(session, "grad_h", 0) == pytest.approx(arrays["grad_h"].reshape(-1, 15)[0, 0], rel=1e-5)
