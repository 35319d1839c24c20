"""A lesson's conditions: comparisons of measures and numbers, parsed into a small tree — never ``eval``.

    test_accuracy >= 0.9
    grad_norm(0) / grad_norm(-1) <= 1/100
    0.4 <= test_accuracy <= 0.6
    diverged == 1

The grammar is Python's expression syntax cut down to: numbers; measures (app.lessons.measures), bare or called
with numbers (or, where a measure takes one, a name from its list: ``distinct_values(grid, learning_rate)``); ``+ - * /`` and unary minus; one comparison (``< <= > >= == !=``, chained allowed) at the top.
Python's ``ast`` parses the text and anything else (names that are not measures, attributes, strings, calls of
other things, ``and``, subscripts…) is refused with the column where it starts.
"""

from __future__ import annotations

import ast
import math
import operator
import statistics
from dataclasses import dataclass

from .measures import MEASURES, MeasureError

MAX_CHARS = 300
_COMPARE = {ast.Lt: ("<", operator.lt), ast.LtE: ("<=", operator.le), ast.Gt: (">", operator.gt),
            ast.GtE: (">=", operator.ge), ast.Eq: ("==", operator.eq), ast.NotEq: ("!=", operator.ne)}
_ARITHMETIC = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv}


class ConditionError(ValueError):
    """A condition's text is not in the vocabulary; ``column`` (1-based) is where the problem starts."""

    def __init__(self, message: str, column: int | None = None):
        super().__init__(message)
        self.column = column


def _divide(a: float, b: float) -> float:
    if b == 0:
        return math.copysign(math.inf, a) if a else math.nan
    return a / b


class Expression:
    """A parsed arithmetic expression over measures; ``value(lab, measured)`` records each measure it reads."""

    def __init__(self, node: ast.AST, text: str):
        self.node = node
        self.text = text  # its source, as written

    def value(self, lab, measured: dict) -> float:
        return self._value(self.node, lab, measured)

    def _value(self, node, lab, measured: dict) -> float:
        if isinstance(node, ast.Constant):
            return float(node.value)
        if isinstance(node, ast.UnaryOp):
            v = self._value(node.operand, lab, measured)
            return -v if isinstance(node.op, ast.USub) else v
        if isinstance(node, ast.BinOp):
            a, b = self._value(node.left, lab, measured), self._value(node.right, lab, measured)
            if isinstance(node.op, ast.Div):
                return _divide(a, b)
            return _ARITHMETIC[type(node.op)](a, b)
        name, args = _call_parts(node)
        value = MEASURES[name].read(lab, args)
        measured[ast.unparse(node)] = value
        return value

    def measures(self) -> list[tuple[str, tuple]]:
        return [_call_parts(n) for n in _measure_nodes(self.node)]

    @property
    def is_measure(self) -> bool:
        return isinstance(self.node, (ast.Name, ast.Call))


def _measure_nodes(node) -> list:
    """The measures read in ``node``: bare names and calls (a call's name arguments are not measures)."""
    if isinstance(node, (ast.Name, ast.Call)):
        return [node]
    return [m for child in ast.iter_child_nodes(node) for m in _measure_nodes(child)]


def _call_parts(node) -> tuple[str, tuple]:
    if isinstance(node, ast.Name):
        return node.id, ()
    return node.func.id, tuple(a.id if isinstance(a, ast.Name) else _number(a) for a in node.args)


def _number(node) -> float | int:
    if isinstance(node, ast.UnaryOp):
        return -_number(node.operand) if isinstance(node.op, ast.USub) else _number(node.operand)
    return node.value


@dataclass
class Outcome:
    passed: bool
    measured: dict  # "grad_norm(0)": 0.0012, ... and the compound sides: "grad_norm(0) / grad_norm(-1)": 0.03
    error: str | None = None  # a measure could not be read (the check fails, saying why)


class Condition:
    """``a op b [op c …]``: each side an Expression."""

    def __init__(self, text: str):
        self.text = text
        if len(text) > MAX_CHARS:
            raise ConditionError(f"a condition has at most {MAX_CHARS} characters; this one has {len(text)}")
        try:
            tree = ast.parse(text.strip(), mode="eval")
        except SyntaxError as error:
            raise ConditionError(f"not a comparison of measures and numbers: {error.msg}", error.offset) from None
        body = tree.body
        if not isinstance(body, ast.Compare):
            raise ConditionError("a condition compares: write e.g. `test_accuracy >= 0.9` "
                                 "(one of < <= > >= == !=)", body.col_offset + 1)
        self.sides = [Expression(n, ast.unparse(n)) for n in [body.left, *body.comparators]]
        for op in body.ops:
            if type(op) not in _COMPARE:
                raise ConditionError("compare with one of < <= > >= == !=", body.col_offset + 1)
        self.ops = [_COMPARE[type(op)] for op in body.ops]
        for side in self.sides:
            _check(side.node)

    def measures(self) -> list[tuple[str, tuple]]:
        return [m for side in self.sides for m in side.measures()]

    def labs(self) -> set[str] | None:
        """The labs every measure it names can read (None: any lab)."""
        allowed = None
        for name, _ in self.measures():
            labs = MEASURES[name].labs
            if labs:
                allowed = set(labs) if allowed is None else allowed & set(labs)
        return allowed

    def sides_on(self, lab, measured: dict) -> list[float]:
        values = []
        for side in self.sides:
            value = side.value(lab, measured)
            if not side.is_measure and side.measures():  # a compound side (a ratio): its value too
                measured[side.text] = value
            values.append(value)
        return values

    def decide(self, values: list[float]) -> bool:
        return all(not math.isnan(a) and not math.isnan(b) and op(a, b)
                   for (_, op), a, b in zip(self.ops, values, values[1:]))

    def evaluate(self, lab) -> Outcome:
        measured: dict = {}
        try:
            values = self.sides_on(lab, measured)
        except MeasureError as error:
            return Outcome(False, measured, str(error))
        return Outcome(self.decide(values), measured)

    @staticmethod
    def median(outcomes_and_sides: list[tuple[dict, list[float]]], condition: "Condition") -> Outcome:
        """The condition on the median of each side (and each measure) over several runs (seeds)."""
        sides = [statistics.median(values) for values in zip(*(s for _, s in outcomes_and_sides))]
        measured = {key: statistics.median(m[key] for m, _ in outcomes_and_sides if key in m)
                    for key in outcomes_and_sides[0][0]}
        return Outcome(condition.decide(sides), measured)


def _check(node) -> None:
    """Refuse anything outside the vocabulary, naming it and where it starts."""
    column = getattr(node, "col_offset", 0) + 1
    if isinstance(node, ast.Constant):
        if isinstance(node.value, bool) or not isinstance(node.value, (int, float)):
            raise ConditionError(f"only numbers and measures; {ast.unparse(node)} is neither", column)
        return
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        return _check(node.operand)
    if isinstance(node, ast.BinOp) and type(node.op) in _ARITHMETIC:
        _check(node.left)
        return _check(node.right)
    if isinstance(node, ast.Name):
        return _check_measure(node.id, [], column)
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
        if node.keywords:
            raise ConditionError(f"{node.func.id}(...) takes its arguments by position", column)
        _check_measure(node.func.id, node.args, column)
        m = MEASURES[node.func.id]
        for arg_name, a in zip(m.args, node.args):
            if arg_name in m.names:
                allowed = m.names[arg_name]
                if not (isinstance(a, ast.Name) and a.id in allowed):
                    raise ConditionError(f"{m.signature()}: {arg_name} is one of {', '.join(allowed)}; "
                                         f"{ast.unparse(a)} is not", a.col_offset + 1)
                continue
            inner = a.operand if isinstance(a, ast.UnaryOp) and isinstance(a.op, (ast.USub, ast.UAdd)) else a
            if not (isinstance(inner, ast.Constant) and isinstance(inner.value, (int, float))
                    and not isinstance(inner.value, bool)):
                raise ConditionError(f"{m.signature()}: {arg_name} is a number; {ast.unparse(a)} is not",
                                     a.col_offset + 1)
        return
    raise ConditionError(f"{ast.unparse(node)!r} is not a measure, a number or + - * /", column)


def _check_measure(name: str, args: list, column: int) -> None:
    if name not in MEASURES:
        raise ConditionError(f"unknown measure {name!r}; the measures are: {', '.join(sorted(MEASURES))}", column)
    m = MEASURES[name]
    if len(args) != len(m.args):
        raise ConditionError(f"{m.signature()} takes {len(m.args)} argument(s); got {len(args)}", column)
