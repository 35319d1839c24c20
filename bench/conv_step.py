"""Where one training step of ConvNetJS's MNIST CNN (bench/engine.py's (f) case) spends its time, op by op.

    .venv/bin/python bench/conv_step.py [--dtype float32] [--steps 600]

For each layer's forward and backward (run as Sequential runs them: a MaxPool2d after a ReLU does both backwards in
one), the loss, zero_grad and Adam: the median µs per call over --steps steps (this thread's CPU time, so that load
from elsewhere on the machine does not count), and how many Python-level operations
(calls, arithmetic operators, indexing: each one numpy call or more, or a Python call) it executes inside engine/,
counted over one step with an opcode tracer. The sum of the medians is near the whole step; a step run in the
middle of the others is slower than the same op timed alone (the large im2col arrays push everything else out of
the caches), so time ops here, in place, rather than one at a time.
"""

from __future__ import annotations

import argparse
import dis
import importlib.util
import itertools
import os
import sys
import time

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # as bench/engine.py: one thread, before numpy loads
ROOT = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
sys.path.insert(0, ROOT)

import numpy as np  # noqa: E402

import engine  # noqa: E402
from engine.builders import sequential  # noqa: E402
from engine.datasets import load_mnist_subset  # noqa: E402


def _engine_bench():
    """bench/engine.py as a module (its name would clash with the engine package): the (f) network lives there."""
    spec = importlib.util.spec_from_file_location("engine_bench", os.path.join(ROOT, "bench", "engine.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


ENGINE = os.path.join(ROOT, "engine")
COUNTED = {"CALL", "BINARY_OP", "BINARY_SUBSCR", "STORE_SUBSCR", "COMPARE_OP"}


def step_ops(model, optimizer, loss_fn, x, y, run):
    """One training step as ``run(name, function, *args)`` calls, in the order a step makes them."""
    chain = list(model)
    run("zero_grad", optimizer.zero_grad)
    run("input check", engine._checks.all_finite, x)  # Sequential.forward's check of the model's input
    run("release kept", lambda: [m.release_kept() for m in chain])  # as Sequential.forward, before the pass
    for i, m in enumerate(chain):
        x = run(f"{i} {type(m).__name__} forward", m.forward, x)
    run("loss forward", loss_fn.forward, x, y)
    g = run("loss backward", loss_fn.backward)
    k = len(chain) - 1
    while k > 0:  # Sequential.backward's order, fused pairs included
        m, before = chain[k], chain[k - 1]
        # a MaxPool2d after the ReLU that fed it answers backward_with (as Sequential.backward asks); else None
        fused = before.__class__ is engine.ReLU and before.__dict__.get("output") is m.__dict__.get("input")
        if k > 1 and hasattr(m, "backward_with") and fused:
            g = run(f"{k - 1}+{k} {type(before).__name__}+{type(m).__name__} backward", m.backward_with, before, g)
            k -= 2
        else:
            g = run(f"{k} {type(m).__name__} backward", m.backward, g)
            k -= 1
    run(f"0 {type(chain[0]).__name__} backward (no input grad)", chain[0].backward, g, input_grad=False)
    run("Adam step", optimizer.step)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    parser.add_argument("--steps", type=int, default=600)
    args = parser.parse_args()
    dtype = np.dtype(args.dtype)
    images, labels = load_mnist_subset()
    rng = np.random.default_rng(0)
    data = itertools.cycle([(images[i][:, None].astype(dtype), labels[i])
                            for i in (rng.integers(0, len(images), 20) for _ in range(64))])
    model = sequential(_engine_bench().CONVNETJS_MNIST, (1, 28, 28), rng=0, dtype=dtype)
    optimizer, loss_fn = engine.Adam(model.parameters(), lr=0.001), engine.CrossEntropyLoss()

    times: dict[str, list[float]] = {}

    def timed(name, function, *args, **kwargs):
        start = time.thread_time()
        result = function(*args, **kwargs)
        times.setdefault(name, []).append(time.thread_time() - start)
        return result
    for _ in range(50):
        step_ops(model, optimizer, loss_fn, *next(data), timed)
    times.clear()
    for _ in range(args.steps):
        step_ops(model, optimizer, loss_fn, *next(data), timed)

    counts: dict[str, int] = {}
    current = [""]

    def trace_opcodes(frame, event, arg):
        if event == "opcode" and frame.f_code.co_filename.startswith(ENGINE):
            if dis.opname[frame.f_code.co_code[frame.f_lasti]] in COUNTED:
                counts[current[0]] = counts.get(current[0], 0) + 1
        return trace_opcodes

    def trace_calls(frame, event, arg):
        frame.f_trace_opcodes = True
        return trace_opcodes

    def counted(name, function, *args, **kwargs):
        current[0] = name
        sys.settrace(trace_calls)
        try:
            return function(*args, **kwargs)
        finally:
            sys.settrace(None)
    step_ops(model, optimizer, loss_fn, *next(data), counted)

    medians = {name: float(np.median(t)) * 1e6 for name, t in times.items()}
    products = products_alone(model, args.steps)
    print(f"# ConvNetJS MNIST CNN, batch 20, Adam, {dtype.name}: median over {args.steps} steps, "
          f"sum {sum(medians.values()):.0f} µs\n")
    print(f"| {'op':<40} | {'µs':>7} | {'ops':>5} | {'products µs':>11} |\n|{'-' * 42}|{'-' * 9}|{'-' * 7}|{'-' * 13}|")
    for name, value in medians.items():
        alone = f"{products[name]:11.1f}" if name in products else " " * 11
        print(f"| {name:<40} | {value:7.1f} | {counts.get(name, 0):5d} | {alone} |")
    print(f"\nproducts alone: {sum(products.values()):.0f} µs of the step's {sum(medians.values()):.0f} µs")


def products_alone(model, steps: int) -> dict[str, float]:
    """Median µs of each op's matrix products alone, as engine.conv computes them, on arrays of the shapes the last
    step used (kept hot: a lower bound for that op)."""
    rng = np.random.default_rng(0)
    chain = list(model)
    dtype = model.dtype

    def like(shape):
        return rng.standard_normal(shape).astype(dtype)
    ops = {}
    for i, m in enumerate(chain):
        if isinstance(m, engine.Conv2d):
            cols, out = like(m._cols.shape), like(m.output.shape)
            n, c_out = out.shape[:2]
            g = out.reshape(n, c_out, -1)
            if m._pixel_major:  # (N, P, rows) @ (rows, C_out); Σ_n (cols_nᵀ · g_nᵀ) in float32, Σ_n g_n · cols_n
                kernel = like((cols.shape[2], c_out))
                forward = (lambda cols=cols, kernel=kernel: np.matmul(cols, kernel))
                weight_grad = ((lambda cols=cols, g=g: np.matmul(cols.transpose(0, 2, 1), g.transpose(0, 2, 1)))
                               if dtype == np.float32 else (lambda cols=cols, g=g: np.matmul(g, cols)))
            else:  # (C_out, rows) @ (N, rows, P)
                kernel = like((c_out, cols.shape[1]))
                forward = (lambda cols=cols, kernel=kernel: np.matmul(kernel, cols))
                weight_grad = ((lambda cols=cols, g=g: np.matmul(cols, g.transpose(0, 2, 1)))
                               if dtype == np.float32 else (lambda cols=cols, g=g: np.matmul(g, cols.transpose(0, 2, 1))))
            ops[f"{i} Conv2d forward"] = [forward]
            ops[f"{i} Conv2d backward" if i else f"{i} Conv2d backward (no input grad)"] = [weight_grad]
            if i:  # the input gradient's products (Conv2d._grad_input): one per kernel offset, or per kernel row
                (kh, kw), c = m.kernel_size, m.in_channels
                _, _, h, w = m.input.shape
                length = n * (h + m.padding[0]) * (w + m.padding[1]) + kw - 1
                starts = like((c_out, length))
                if dtype == np.float32:
                    taps = like((kh * kw, c, c_out))
                    ops[f"{i} Conv2d backward"].append(lambda taps=taps, starts=starts: [t @ starts for t in taps])
                else:
                    rows, stacked = like((kh * c, kw * c_out)), like((kw * c_out, length))
                    ops[f"{i} Conv2d backward"].append(lambda rows=rows, stacked=stacked: rows @ stacked)
        elif isinstance(m, engine.Linear):
            x, w, g = like(m.input.shape), like(m.weight.data.shape), like(m.output.shape)
            ops[f"{i} Linear forward"] = [lambda x=x, w=w: x @ w.T]
            ops[f"{i} Linear backward"] = [lambda x=x, g=g: g.T @ x, lambda w=w, g=g: g @ w]
    result = {}
    for name, calls in ops.items():
        for call in calls * 20:
            call()
        samples = []
        for _ in range(max(50, steps // 4)):
            start = time.perf_counter()
            for call in calls:
                call()
            samples.append(time.perf_counter() - start)
        result[name] = float(np.median(samples)) * 1e6
    return result


if __name__ == "__main__":
    main()
