"""What the digits views read from frames: the evaluation bundle (gallery, confusion matrix) keeps up with training."""

import numpy as np

from app import DEFAULT_CONFIG
from app.server.bundle import decode
from app.sessions.session import Session


def evaluation(frame) -> tuple[dict, dict]:
    _, wire = frame.sections["evaluation"]
    return wire, decode(wire)


def test_the_confusion_matrix_catches_up_with_the_accuracy_when_training_pauses():
    session = Session("d" * 24, dict(DEFAULT_CONFIG))
    session.viewers.add("viewer")
    session.lab.apply_settings({"dataset": "digits"})
    session.lab.status = "running"
    session.build_frame()  # the first evaluation, of the untrained network
    for _ in range(300):  # trained between two frames, well within the bundle's refresh interval while running
        session.lab.trainer.train_step()
    session.lab.model_version += 1
    session.build_frame()
    session.lab.pause()
    frame, _ = session.build_frame()
    wire, arrays = evaluation(frame)
    assert wire["step"] == frame.fields["metrics_step"] == 300
    confusion = arrays["confusion"]
    assert np.trace(confusion) / confusion.sum() == frame.fields["test_accuracy"]
    wrong = int(confusion.sum() - np.trace(confusion))
    assert len(arrays["misclassified.index"]) == min(32, wrong)


def test_the_streamed_step_through_equals_the_engines_gradient_for_every_output_weight():
    # What the page shows (backprop.*) against what the engine's own backward gives for the same probe; float32 on
    # the wire, hence 1e-5 (tests/app/test_backprop.py checks the float64 maths to 1e-9).
    for loss in ("mse", "cross_entropy"):
        session = Session("b" * 24, dict(DEFAULT_CONFIG))
        session.viewers.add("viewer")
        session.lab.apply_settings({"dataset": "digits", "loss": loss})
        for _ in range(50):
            session.lab.trainer.train_step()
        frame, _ = session.build_frame()
        arrays = decode(frame.fields)
        engine_grad = arrays["probe.output_weight_grad"]
        assert engine_grad.shape == (10, 16) and np.abs(engine_grad).max() > 0
        np.testing.assert_allclose(arrays["backprop.weight_grad"], engine_grad, rtol=1e-5, atol=1e-9)
        np.testing.assert_allclose(arrays["backprop.delta"], arrays["probe.output_bias_grad"], rtol=1e-5,  # ∂C/∂b = δ
                                   atol=1e-9)
