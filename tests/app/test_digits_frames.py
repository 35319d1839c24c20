"""What the digits views read from frames: the evaluation bundle (gallery, confusion matrix) keeps up with training."""

import numpy as np

from app import DEFAULT_CONFIG
from app.bundle import decode
from app.session import Session


def evaluation(frame) -> tuple[dict, dict]:
    _, wire = frame.sections["evaluation"]
    return wire, decode(wire)


def test_the_confusion_matrix_catches_up_with_the_accuracy_when_training_pauses():
    session = Session("d" * 24, dict(DEFAULT_CONFIG))
    session.viewers.add("viewer")
    session.apply_settings({"dataset": "digits"})
    session.status = "running"
    session.build_frame()  # the first evaluation, of the untrained network
    for _ in range(300):  # trained between two frames, well within the bundle's refresh interval while running
        session.trainer.train_step()
    session.model_version += 1
    session.build_frame()
    session.pause()
    frame, _ = session.build_frame()
    wire, arrays = evaluation(frame)
    assert wire["step"] == frame.fields["metrics_step"] == 300
    confusion = arrays["confusion"]
    assert np.trace(confusion) / confusion.sum() == frame.fields["test_accuracy"]
    wrong = int(confusion.sum() - np.trace(confusion))
    assert len(arrays["misclassified.index"]) == min(32, wrong)
