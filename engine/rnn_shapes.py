"""The shapes of a recurrent layer's tensors and parameters, as numbers and as torch's documentation writes
them — what the RNN lab's shapes panel shows, computed without running the layer.

    rnn_shapes(engine.LSTM(1, 16, batch_first=True), seq_len=50, batch_size=32)
    → tensors: input (32, 50, 1) "(N, L, H_in)", h_0 (1, 32, 16) "(D·num_layers, N, H_out)", c_0 …,
      output (32, 50, 16) "(N, L, D·H_out)", h_n …, c_n …;
      parameters: weight_ih_l0 (64, 16)… "(4·H_out, H_in)"; total; notes.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from . import _checks
from .recurrent import RNNBase, dropout_note

BATCH_FIRST_NOTE = ("batch_first does not apply to h_0 and h_n (nor c_0 and c_n): they are always "
                    "(D·num_layers, N, H_out)")


@dataclass
class ShapeRow:
    name: str
    shape: tuple[int, ...]
    symbols: str  # e.g. "(L, N, H_in)"
    count: int = 0  # elements (parameters only)


@dataclass
class RecurrentShapes:
    symbols: dict[str, int]  # the letters' values: L, N, H_in, H_out, D, num_layers
    tensors: list[ShapeRow]
    parameters: list[ShapeRow]
    total: int
    notes: list[str] = field(default_factory=list)


def rnn_shapes(rnn: RNNBase, seq_len: int, batch_size: int) -> RecurrentShapes:
    """The shapes for a batch of ``batch_size`` sequences of ``seq_len`` steps through ``rnn`` (RNN, LSTM
    or GRU), with every parameter's state_dict name; ``total`` counts every parameter."""
    L = _checks.positive_int("rnn_shapes", "seq_len", seq_len)
    N = _checks.positive_int("rnn_shapes", "batch_size", batch_size)
    H_in, H, D, layers = rnn.input_size, rnn.hidden_size, rnn.num_directions, rnn.num_layers
    state = ShapeRow("", (D * layers, N, H), "(D·num_layers, N, H_out)")
    sequence = "(N, L, {})" if rnn.batch_first else "(L, N, {})"
    arrange = (lambda width: (N, L, width)) if rnn.batch_first else (lambda width: (L, N, width))
    states = ("h",) + (("c",) if len(rnn.state_names) == 2 else ())
    tensors = [ShapeRow("input", arrange(H_in), sequence.format("H_in"))]
    tensors += [ShapeRow(f"{s}_0", state.shape, state.symbols) for s in states]
    tensors += [ShapeRow("output", arrange(D * H), sequence.format("D·H_out"))]
    tensors += [ShapeRow(f"{s}_n", state.shape, state.symbols) for s in states]

    gates = "" if rnn.gate_count == 1 else f"{rnn.gate_count}·"
    parameters = []
    for name, p in rnn.named_parameters():
        layer = int(name.split("_l")[1].split("_")[0])
        if name.startswith("weight_ih"):
            symbols = f"({gates}H_out, {'H_in' if layer == 0 else 'D·H_out'})"
        elif name.startswith("weight_hh"):
            symbols = f"({gates}H_out, H_out)"
        else:
            symbols = f"({gates}H_out,)"
        parameters.append(ShapeRow(name, p.shape, symbols, p.size))
    notes = [BATCH_FIRST_NOTE]
    if rnn.dropout > 0 and layers == 1:
        notes.append(dropout_note(rnn.dropout))
    return RecurrentShapes(symbols={"L": L, "N": N, "H_in": H_in, "H_out": H, "D": D, "num_layers": layers},
                           tensors=tensors, parameters=parameters, total=sum(r.count for r in parameters),
                           notes=notes)
