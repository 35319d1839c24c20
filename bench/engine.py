"""Engine speed: training steps per second for the course's networks, next to PyTorch CPU eager when installed.

    .venv/bin/python bench/engine.py [--seconds 2.5] [--threads 1]

Both run in float64 on the same batches, one thread each by default (numpy's BLAS and torch's intra-op pool
set alike). Each step is what the playground does: zero_grad, forward, loss (read back as a float),
backward, optimizer step. The two contenders alternate in ROUNDS short rounds; the table gives each one's median
rate and the median of the per-round ratios, so a burst of load from elsewhere on the machine hurts neither more
than the other. The whole table takes about 19 × 2 × --seconds plus warm-ups: under 2.5 min at the default 2.5 s.

Targets (issue 2): ≥ 3× PyTorch on (a) and (b), ≥ 2× on (c), no slower on (d) and (e).
(r), issue 12: the RNN lab's sine and character defaults for RNN, LSTM and GRU: ≥ 2×. After each id-input row, the
ceiling: that step's matrix products alone against torch's whole step.
(f), issue 11: ConvNetJS's MNIST network at batch 20 on 28×28, in float32 and in float64: ≥ 1.5×. Our step there is
``model.backward(grad, input_grad=False)``, skipping the data's gradient as torch does for an input that does not
require grad. The row after each shows the ceiling: the step's matrix products alone, as OpenBLAS computes them,
against torch's whole step (torch's convolutions run in oneDNN).
"""

from __future__ import annotations

import argparse
import itertools
import os
import sys
import time


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=2.5, help="measuring time per model and contender")
    parser.add_argument("--threads", type=int, default=1, help="BLAS / torch threads")
    parser.add_argument("--only", default="", help="run only the cases whose name contains this text, e.g. '(r)'")
    return parser.parse_args()


ARGS = parse_args() if __name__ == "__main__" else None
if ARGS is not None:
    # Before numpy is imported: OpenBLAS reads its thread count once, at load time.
    for variable in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[variable] = str(ARGS.threads)
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import numpy as np  # noqa: E402

import engine  # noqa: E402
from engine.builders import mlp, sequential  # noqa: E402
from engine.datasets import load_digits, load_mnist_subset, make_2d, sine_wave  # noqa: E402
from engine.inspect import grid_activations, make_grid  # noqa: E402

try:
    import torch
except ImportError:
    torch = None

ROUNDS = 10


def rate(step, seconds: float) -> float:
    """Calls of ``step`` per second over about ``seconds``."""
    count, start = 0, time.perf_counter()
    while True:
        for _ in range(5):
            step()
        count += 5
        elapsed = time.perf_counter() - start
        if elapsed >= seconds:
            return count / elapsed


def race(contenders: dict, seconds: float) -> tuple[dict, float | None]:
    """(median rate per contender, median of the per-round ratios ours/torch) over ROUNDS interleaved rounds
    (after a warm-up). Each round runs both contenders back to back, in alternating order, so a burst of load
    from elsewhere on the machine lands on both; the median of the paired ratios ignores the rounds it spoiled."""
    for step in contenders.values():
        for _ in range(20):
            step()
    rates = {name: [] for name in contenders}
    ratios = []
    names = list(contenders)
    for round_ in range(ROUNDS):
        for name in (names if round_ % 2 == 0 else names[::-1]):
            rates[name].append(rate(contenders[name], seconds / ROUNDS))
        if "torch" in rates:
            ratios.append(rates["ours"][-1] / rates["torch"][-1])
    return {name: float(np.median(r)) for name, r in rates.items()}, (float(np.median(ratios)) if ratios else None)


def batches(x, y, batch_size, count=64, seed=0):
    """A fixed cycle of minibatches (index arrays drawn once), so both engines see the same data."""
    rng = np.random.default_rng(seed)
    return [(x[idx], y[idx]) for idx in (rng.integers(0, len(x), batch_size) for _ in range(count))]


# --- our engine --------------------------------------------------------------------------------------------

def ours_step(model, optimizer, loss_fn, data, **backward_options):
    batches = itertools.cycle(data)

    def step():
        x, y = next(batches)
        optimizer.zero_grad()
        loss = loss_fn(model(x), y)
        model.backward(loss_fn.backward(), **backward_options)
        optimizer.step()
        return loss
    return step


class OursRNNHead:
    """RNN + Linear head, with the Sequential-like forward/backward the step loop expects."""

    def __init__(self, rnn, head):
        self.rnn, self.head = rnn, head

    def __call__(self, x):
        return self.head(self.rnn(x)[0])

    def backward(self, grad):
        return self.rnn.backward(self.head.backward(grad))[0]

    def parameters(self):
        return list(self.rnn.parameters()) + list(self.head.parameters())


# --- PyTorch -----------------------------------------------------------------------------------------------

def torch_step(model, optimizer, loss_fn, data):
    batches = itertools.cycle([(torch.from_numpy(x), torch.from_numpy(y)) for x, y in data])

    def step():
        x, y = next(batches)
        optimizer.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        optimizer.step()
        return loss.item()
    return step


def torch_mlp(sizes, activation):
    layers = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(torch.nn.Linear(a, b))
        if i < len(sizes) - 2:
            layers.append(activation())
    return torch.nn.Sequential(*layers).double()


def copy_weights(ours, theirs):
    theirs.load_state_dict({k: torch.from_numpy(v.copy()) for k, v in ours.state_dict().items()})


def torch_optimizer(kind, params, **kwargs):
    return getattr(torch.optim, kind)(params, **kwargs)


# --- the benchmarks ----------------------------------------------------------------------------------------

def mlp_case(sizes, x, y, batch_size, loss, optimizer, **opt_kwargs):
    model = mlp(sizes, activation="tanh", rng=0)
    ours_loss = engine.MSELoss() if loss == "mse" else engine.CrossEntropyLoss()
    data = batches(x, y, batch_size)
    contenders = {"ours": ours_step(model, getattr(engine, optimizer)(model.parameters(), **opt_kwargs),
                                    ours_loss, data)}
    if torch is not None:
        reference = torch_mlp(sizes, torch.nn.Tanh)
        copy_weights(model, reference)
        torch_loss = torch.nn.MSELoss() if loss == "mse" else torch.nn.CrossEntropyLoss()
        contenders["torch"] = torch_step(reference, torch_optimizer(optimizer, reference.parameters(), **opt_kwargs),
                                         torch_loss, data)
    return contenders, model


def grid_case(model):
    grid = make_grid(100)
    contenders = {"ours": lambda: grid_activations(model, grid)}
    if torch is not None:
        reference = torch_mlp([m.in_features for m in model if isinstance(m, engine.Linear)] + [1], torch.nn.Tanh)
        copy_weights(model, reference)
        grid_t = torch.from_numpy(grid)

        def every_neuron():
            with torch.no_grad():
                outputs, a = [], grid_t
                for m in reference:
                    a = m(a)
                    if isinstance(m, torch.nn.Tanh) or m is reference[-1]:
                        outputs.append(a)
            return outputs
        contenders["torch"] = every_neuron
    return contenders


def cnn_case(images, labels):
    engine.manual_seed(0)
    model = engine.Sequential(engine.Conv2d(1, 8, 3, padding=1), engine.ReLU(), engine.MaxPool2d(2),
                              engine.Flatten(), engine.Linear(8 * 4 * 4, 10))
    data = batches(images[:, None], labels, 32)
    contenders = {"ours": ours_step(model, engine.Adam(model.parameters(), lr=0.01), engine.CrossEntropyLoss(), data)}
    if torch is not None:
        reference = torch.nn.Sequential(torch.nn.Conv2d(1, 8, 3, padding=1), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
                                        torch.nn.Flatten(), torch.nn.Linear(8 * 4 * 4, 10)).double()
        copy_weights(model, reference)
        contenders["torch"] = torch_step(reference, torch.optim.Adam(reference.parameters(), lr=0.01),
                                         torch.nn.CrossEntropyLoss(), data)
    return contenders


CONVNETJS_MNIST = [  # conv 5×5×8 pad 2 → ReLU → max-pool 2 → conv 5×5×16 pad 2 → ReLU → max-pool 3 → linear 10
    {"type": "Conv2d", "out_channels": 8, "kernel_size": 5, "padding": 2}, {"type": "ReLU"},
    {"type": "MaxPool2d", "kernel_size": 2},
    {"type": "Conv2d", "out_channels": 16, "kernel_size": 5, "padding": 2}, {"type": "ReLU"},
    {"type": "MaxPool2d", "kernel_size": 3}, {"type": "Flatten"}, {"type": "Linear", "out_features": 10}]


def convnetjs_case(images, labels, dtype):
    """ConvNetJS's MNIST network (5,994 parameters), batch 20, Adam, in ``dtype`` for both contenders."""
    model = sequential(CONVNETJS_MNIST, (1, 28, 28), rng=0, dtype=dtype)
    data = batches(images[:, None].astype(dtype), labels, 20)
    contenders = {"ours": ours_step(model, engine.Adam(model.parameters(), lr=0.001), engine.CrossEntropyLoss(),
                                    data, input_grad=False)}
    if torch is not None:
        nn = torch.nn
        reference = nn.Sequential(nn.Conv2d(1, 8, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
                                  nn.Conv2d(8, 16, 5, padding=2), nn.ReLU(), nn.MaxPool2d(3), nn.Flatten(),
                                  nn.Linear(256, 10)).to(getattr(torch, np.dtype(dtype).name))
        copy_weights(model, reference)
        contenders["torch"] = torch_step(reference, torch.optim.Adam(reference.parameters(), lr=0.001),
                                         nn.CrossEntropyLoss(), data)
    return contenders


def convnetjs_products_case(images, labels, dtype):
    """The matrix products alone of the ConvNetJS step above, as numpy/OpenBLAS computes them (batch 20): each conv's
    im2col product forward, its kernel-gradient product, conv 2's input-gradient product (Wᵀ·g, before col2im), the
    linear layer's three. Against torch's whole step: the ratio no numpy engine can beat whatever else it saves."""
    rng = np.random.default_rng(0)
    f = np.dtype(dtype)

    def a(*shape):
        return rng.standard_normal(shape).astype(f)
    w1, cols1, g1 = a(8, 26), a(20, 26, 784), a(20, 8, 784)      # conv 1: 1→8, 5×5, 28×28 (+ the bias row)
    # conv 2: 8→16, 5×5, 14×14, pixel-major columns (engine.im2col) and the kernel as (rows, C_out)
    w2, cols2, g2 = a(201, 16), a(20, 196, 201), a(20, 16, 196)
    w3, x3, g3 = a(10, 256), a(20, 256), a(20, 10)               # linear 256→10

    def products():
        np.matmul(w1, cols1)
        np.matmul(g1, cols1.transpose(0, 2, 1))
        np.matmul(cols2, w2)
        np.matmul(cols2.transpose(0, 2, 1), g2.transpose(0, 2, 1))
        np.matmul(w2[:200], g2)
        x3 @ w3.T
        g3.T @ x3
        g3 @ w3
    contenders = {"ours": products}
    if torch is not None:
        contenders["torch"] = convnetjs_case(images, labels, dtype)["torch"]
    return contenders


def rnn_case():
    x, y = sine_wave(n_sequences=64, length=50, seed=0)
    engine.manual_seed(0)
    rnn, head = engine.RNN(1, 16, batch_first=True), engine.Linear(16, 1)
    model = OursRNNHead(rnn, head)
    data = batches(x, y, 16)
    contenders = {"ours": ours_step(model, engine.Adam(model.parameters(), lr=0.01), engine.MSELoss(), data)}
    if torch is not None:
        class TorchRNNHead(torch.nn.Module):
            def __init__(self):
                super().__init__()
                self.rnn, self.head = torch.nn.RNN(1, 16, batch_first=True), torch.nn.Linear(16, 1)

            def forward(self, x):
                return self.head(self.rnn(x)[0])
        reference = TorchRNNHead().double()
        state = {f"rnn.{k}": v for k, v in rnn.state_dict().items()}
        state.update({f"head.{k}": v for k, v in head.state_dict().items()})
        reference.load_state_dict({k: torch.from_numpy(v.copy()) for k, v in state.items()})
        contenders["torch"] = torch_step(reference, torch.optim.Adam(reference.parameters(), lr=0.01),
                                         torch.nn.MSELoss(), data)
    return contenders


# --- recurrent: the RNN lab's default configurations (issue 12) ------------------------------------------

def recurrent_cases() -> list:
    """(name, contenders, target) for RNN, LSTM and GRU on the lab's sine and character defaults, with a Linear
    head, Adam (lr 0.01), MSE for the sine and cross-entropy for the characters."""
    from engine.datasets import char_corpus, encode_chars
    from engine.sequence import SequenceModel, one_hot

    sine_x, sine_y = sine_wave(n_sequences=256, length=50, seed=0)
    x_ids, y_ids, vocabulary = encode_chars(char_corpus(), 32)
    V = len(vocabulary)
    char_data = batches(one_hot(x_ids, V), y_ids, 32)
    char_data = [(x, y.reshape(-1)) for x, y in char_data]  # targets flat (N·L,), as the logits are read
    # the same batches as token ids: the engine reads an integer input as its one-hot rows (a row lookup);
    # torch is given the one-hot floats either way
    id_data = [(x.argmax(axis=2), y) for x, y in char_data]
    sine_data = batches(sine_x, sine_y, 32)
    cases = []
    for task, data, input_size, hidden, output_size in (("sine", sine_data, 1, 16, 1),
                                                       ("chars", char_data, V, 64, V),
                                                       ("chars", id_data, V, 64, V)):
        for cell in ("RNN", "LSTM", "GRU"):
            model = SequenceModel(cell, input_size, hidden, output_size, batch_first=True, rng=0)
            flat = task == "chars"
            ours_loss = engine.CrossEntropyLoss() if flat else engine.MSELoss()
            ours_model = _FlatLogits(model, V) if flat else model
            contenders = {"ours": ours_step(ours_model, engine.Adam(model.parameters(), lr=0.01), ours_loss, data)}
            ids = data is id_data
            torch_data = char_data if ids else data  # torch's input: one-hot floats
            if torch is not None:
                reference = _TorchSequenceModel(cell, input_size, hidden, output_size, flat).double()
                reference.load_state_dict({k: torch.from_numpy(v.copy()) for k, v in model.state_dict().items()})
                torch_loss = torch.nn.CrossEntropyLoss() if flat else torch.nn.MSELoss()
                contenders["torch"] = torch_step(reference, torch.optim.Adam(reference.parameters(), lr=0.01),
                                                 torch_loss, torch_data)
            shape = f"hidden {hidden}, L {data[0][0].shape[1]}, batch 32" + (
                (f", ids (torch: one-hot {V})" if ids else f", one-hot {V}") if flat else "")
            cases.append((f"(r) {cell} {task}: {shape}", contenders, 2.0))
            if ids:
                products = {"ours": recurrent_products(model.rnn.gate_count * hidden, hidden, V, 32, 32)}
                if torch is not None:
                    products["torch"] = contenders["torch"]
                cases.append((f"(r) {cell} chars, ids: matrix products alone vs torch's step", products, None))
    return cases


def recurrent_products(gates: int, hidden: int, classes: int, length: int, batch: int):
    """The matrix products alone of a character model's step with id input, as numpy/OpenBLAS computes them: per
    time step the recurrent product forward ``W_hh (G·H, H) @ h (H, N)`` and back ``W_hhᵀ @ d (G·H, N)``; once,
    dW_hh over every step and the head's three (forward, weight gradient, input gradient). Against torch's whole
    step: the ratio no numpy engine that loops over time can beat, whatever else it saves."""
    rng = np.random.default_rng(0)
    w_hh, w_hh_t = rng.standard_normal((gates, hidden)), rng.standard_normal((hidden, gates))
    h, d = rng.standard_normal((hidden, batch)), rng.standard_normal((gates, batch))
    d_all, h_all = rng.standard_normal((gates, length * batch)), rng.standard_normal((length * batch, hidden))
    w_head, g_head = rng.standard_normal((classes, hidden)), rng.standard_normal((length * batch, classes))

    def products():
        for _ in range(length):
            np.dot(w_hh, h)
            np.dot(w_hh_t, d)
        d_all @ h_all
        h_all @ w_head.T
        g_head.T @ h_all
        g_head @ w_head
    return products


class _FlatLogits:
    """A character model whose (N, L, V) logits are read as (N·L, V) rows, as CrossEntropyLoss wants."""

    def __init__(self, model, vocabulary_size):
        self.model, self.size = model, vocabulary_size

    def __call__(self, x):
        self.shape = x.shape[:2] + (self.size,)  # (N, L, V) whether x is one-hot (N, L, V) or ids (N, L)
        return self.model(x).reshape(-1, self.size)

    def backward(self, grad):
        return self.model.backward(grad.reshape(self.shape))


if torch is not None:
    class _TorchSequenceModel(torch.nn.Module):
        def __init__(self, cell, input_size, hidden, output_size, flat):
            super().__init__()
            self.rnn = getattr(torch.nn, cell)(input_size, hidden, batch_first=True)
            self.head = torch.nn.Linear(hidden, output_size)
            self.flat = flat

        def forward(self, x):
            y = self.head(self.rnn(x)[0])
            return y.reshape(-1, y.shape[-1]) if self.flat else y


def main(args) -> None:
    if torch is not None:
        torch.set_num_threads(args.threads)
    circle = make_2d("circle", n_samples=500, seed=0)
    targets = np.where(circle.y == 1, 1.0, -1.0)[:, None]  # TF Playground's ±1 labels, squared error
    digits, digit_labels = load_digits()
    mnist, mnist_labels = load_mnist_subset()

    cases = []
    contenders, small = mlp_case([2, 8, 8, 8, 8, 1], circle.X, targets, 10, "mse", "SGD", lr=0.03)
    cases.append(("(a) 2-8-8-8-8-1 tanh, batch 10, MSE, SGD", contenders, 3.0))
    cases.append(("(a) 100×100 grid, every neuron (evals/s)", grid_case(small), None))
    contenders, _ = mlp_case([64, 16, 16, 10], digits.reshape(-1, 64), digit_labels, 32, "ce", "Adam", lr=0.01)
    cases.append(("(b) 64-16-16-10 tanh, batch 32, digits, Adam", contenders, 3.0))
    contenders, _ = mlp_case([784, 16, 16, 10], mnist.reshape(-1, 784), mnist_labels, 32, "ce", "SGD", lr=0.1,
                             momentum=0.9)
    cases.append(("(c) 784-16-16-10 tanh, batch 32, MNIST, SGD+momentum", contenders, 2.0))
    if hasattr(engine, "Conv2d"):
        cases.append(("(d) CNN conv3×3(8)-relu-maxpool-linear, batch 32, digits, Adam",
                      cnn_case(digits, digit_labels), 1.0))
    else:
        print("(d) skipped: engine.Conv2d is not available yet", file=sys.stderr)
    cases.append(("(e) RNN(1→16)+linear, batch 16 × 50 steps, sine, Adam", rnn_case(), 1.0))
    for dtype in (np.float32, np.float64):
        cases.append((f"(f) ConvNetJS MNIST CNN (5,994 params), batch 20, Adam, {np.dtype(dtype).name}",
                      convnetjs_case(mnist, mnist_labels, dtype), 1.5))
        cases.append((f"(f) … its matrix products alone (ours) vs torch's whole step, {np.dtype(dtype).name}",
                      convnetjs_products_case(mnist, mnist_labels, dtype), None))
    cases += recurrent_cases()

    versions = f"numpy {np.__version__}" + (f", torch {torch.__version__}" if torch else ", torch not installed")
    print(f"# engine benchmark — float64 unless the row says otherwise, {args.threads} thread(s), {versions}, ~{args.seconds:g} s per contender\n")
    print(f"| {'model (median steps/s)':<64} | {'ours /s':>9} | {'torch /s':>9} | {'ratio':>6} | target |")
    print(f"|{'-' * 66}|{'-' * 11}|{'-' * 11}|{'-' * 8}|--------|")
    for name, contenders, target in cases:
        if args.only not in name:
            continue
        median, paired = race(contenders, args.seconds)
        theirs = median.get("torch")
        ratio = f"{paired:5.2f}×" if theirs else "     –"
        mark = "" if target is None or theirs is None else (" ok" if paired >= target else " MISS")
        target_text = f"≥{target:g}×{mark}" if target else ""
        print(f"| {name:<64} | {median['ours']:9.0f} | {theirs or 0:9.0f} | {ratio:>6} | {target_text:<6} |", flush=True)


if __name__ == "__main__":
    main(ARGS)
