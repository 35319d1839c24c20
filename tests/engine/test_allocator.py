"""engine._allocator: a training step's temporaries come back from the heap, not as fresh pages each step."""

import resource
import sys

import numpy as np
import pytest

import engine
from engine import _allocator
from engine.builders import sequential

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt: Linux only")


def test_importing_engine_tunes_glibc_malloc():
    assert _allocator.tuned, "engine's import should have tuned glibc's malloc"
    assert _allocator.tune() is True  # idempotent


def test_a_cnn_step_does_not_fault_in_fresh_pages_every_step():
    # ConvNetJS's MNIST network at batch 20: ~4 MB of temporaries a step, served by mmap before the tuning
    layers = [{"type": "Conv2d", "out_channels": 8, "kernel_size": 5, "padding": 2}, {"type": "ReLU"},
              {"type": "MaxPool2d", "kernel_size": 2},
              {"type": "Conv2d", "out_channels": 16, "kernel_size": 5, "padding": 2}, {"type": "ReLU"},
              {"type": "MaxPool2d", "kernel_size": 3}, {"type": "Flatten"}, {"type": "Linear", "out_features": 10}]
    model = sequential(layers, (1, 28, 28), rng=0)
    optimizer, loss_fn = engine.Adam(model.parameters(), lr=0.001), engine.CrossEntropyLoss()
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((20, 1, 28, 28)), rng.integers(0, 10, 20)

    def step():
        optimizer.zero_grad()
        loss_fn(model(x), y)
        model.backward(loss_fn.backward(), input_grad=False)
        optimizer.step()

    for _ in range(5):
        step()
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(20):
        step()
    faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before
    # untuned: ~1,000 page faults a step (every large temporary mmapped afresh); tuned: a handful in all
    assert faults < 20 * 100, f"{faults} minor page faults in 20 steps"
