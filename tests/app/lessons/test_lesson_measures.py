"""The measures read the same numbers the page's frames carry, and a condition compares them safely."""

import math

import numpy as np
import pytest

from app.lessons.conditions import Condition
from app.lessons.measures import MEASURES, MeasureError
from app.lessons.runner import headless_session, restart
from app.server.bundle import decode


@pytest.fixture
def trained():
    session = headless_session()
    session.viewers.add("viewer")
    lab = session.lab
    restart(lab, {"dataset": "circle", "hidden_sizes": [6, 5], "activation": "relu", "seed": 3})
    lab._run_steps(60)
    lab.model_version += 1
    return session


def frame_of(session):
    frame, _ = session.build_frame()
    return frame.fields, decode(frame.fields)


def read(session, name, *args):
    return MEASURES[name].read(session.lab, args)


def test_measures_equal_the_frames_numbers(trained):
    fields, arrays = frame_of(trained)
    np.testing.assert_allclose([read(trained, "grad_norm", k) for k in range(3)], arrays["grad_norm"], rtol=1e-5)
    assert read(trained, "grad_norm", -1) == read(trained, "grad_norm", 2)
    assert read(trained, "test_accuracy") == pytest.approx(fields["test_accuracy"])
    assert read(trained, "train_loss") == pytest.approx(fields["train_loss"])
    assert read(trained, "test_loss") == pytest.approx(fields["test_loss"])
    assert read(trained, "step") == fields["step"] == 60
    for k in range(2):
        assert read(trained, "dead_units", k) == arrays[f"dead.{k}"].sum()
        assert read(trained, "dead_fraction", k) == pytest.approx(arrays[f"dead.{k}"].mean())
    assert read(trained, "weight", 1, 4, 5) == pytest.approx(arrays["weight.1"][4, 5])
    assert read(trained, "bias", -1, 0) == pytest.approx(arrays["bias.2"][0])
    assert read(trained, "num_parameters") == trained.state()["num_parameters"]


def test_output_is_the_neurons_activation_at_a_point():
    session = headless_session()
    lab = session.lab
    restart(lab, {"dataset": "gaussian", "hidden_sizes": [3], "activation": "tanh"})
    w0, b0 = lab.trainer.model[0].weight.data, lab.trainer.model[0].bias.data
    w1, b1 = lab.trainer.model[2].weight.data, lab.trainer.model[2].bias.data
    x = np.array([1.5, -2.0])
    hidden = np.tanh(w0 @ x + b0)
    assert read(session, "output", 0, 2, 1.5, -2.0) == pytest.approx(hidden[2])
    assert read(session, "output", 1, 0, 1.5, -2.0) == pytest.approx(np.tanh(w1 @ hidden + b1)[0])


def test_a_measure_asked_for_what_is_not_there_says_so(trained):
    with pytest.raises(MeasureError, match="layer 3 does not exist"):
        read(trained, "grad_norm", 3)
    with pytest.raises(MeasureError, match="hidden layer 2 does not exist"):
        read(trained, "dead_units", 2)
    outcome = Condition("grad_norm(7) < 1").evaluate(trained.lab)
    assert not outcome.passed and "layer 7 does not exist" in outcome.error


def test_conditions_compare_and_report_what_they_measured(trained):
    lab = trained.lab
    ratio = read(trained, "grad_norm", 0) / read(trained, "grad_norm", -1)
    outcome = Condition("grad_norm(0) / grad_norm(-1) <= 1000").evaluate(lab)
    assert outcome.passed
    assert outcome.measured["grad_norm(0) / grad_norm(-1)"] == pytest.approx(ratio)
    assert set(outcome.measured) == {"grad_norm(0)", "grad_norm(-1)", "grad_norm(0) / grad_norm(-1)"}
    flipped = Condition("1 / 1000 <= grad_norm(0) / grad_norm(-1)").evaluate(lab).measured
    assert set(flipped) == set(outcome.measured)  # a side of numbers only is not a measurement
    assert not Condition(f"grad_norm(0) / grad_norm(-1) < {ratio / 2}").evaluate(lab).passed
    assert Condition("0 <= test_accuracy <= 1").evaluate(lab).passed
    assert not Condition("0.5 <= test_accuracy <= 0.5").evaluate(lab).passed or read(trained, "test_accuracy") == 0.5
    assert Condition("-step < 0").evaluate(lab).passed
    assert Condition("step * 2 - 20 == 100").evaluate(lab).passed


def test_nan_never_passes_and_division_by_zero_is_infinite():
    session = headless_session()
    lab = session.lab
    assert math.isnan(read(session, "batch_loss"))
    assert not Condition("batch_loss < 1").evaluate(lab).passed
    assert not Condition("batch_loss >= 1").evaluate(lab).passed
    assert Condition("1 / step > 1000").evaluate(lab).passed  # step 0: +inf, not an exception


def test_median_over_seeds():
    condition = Condition("grad_norm(0) / grad_norm(-1) <= 3")
    runs = [({"grad_norm(0)": a, "grad_norm(-1)": 1.0, "grad_norm(0) / grad_norm(-1)": a}, [a, 3.0])
            for a in (1.0, 10.0, 2.0, 2.5, 100.0)]
    outcome = Condition.median(runs, condition)
    assert outcome.passed and outcome.measured["grad_norm(0)"] == 2.5
    runs[0] = ({"grad_norm(0)": 50.0, "grad_norm(-1)": 1.0, "grad_norm(0) / grad_norm(-1)": 50.0}, [50.0, 3.0])
    assert not Condition.median(runs, condition).passed  # median of 50, 10, 2, 2.5, 100 is 10
