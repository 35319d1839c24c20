"""A lesson file's shape (docs/lessons.md): strict pydantic models of the YAML a teacher writes.

Only the shape is checked here; app.lessons.loader then checks each step against its lab (settings through the
lab's own `set` model, events through the lab's event models, highlights against the controls and the page's
element ids, conditions against the measures) and names the file, step, field and line of any problem.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, Optional

from pydantic import BaseModel, ConfigDict, Field, model_validator

MAX_STEPS = 40
MAX_RUN_STEPS = 100_000
MAX_SEEDS = 9

Text = Annotated[str, Field(min_length=1, max_length=20_000)]
Short = Annotated[str, Field(min_length=1, max_length=200)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class Predict(Strict):
    """A multiple-choice question answered before the run; ``answer`` is the text of the right choice."""

    question: Text
    choices: Annotated[list[Short], Field(min_length=2, max_length=6)]
    answer: Short
    explain: Optional[Text] = None  # shown once the run has answered it

    @model_validator(mode="after")
    def _answer_is_a_choice(self):
        if self.answer not in self.choices:
            raise ValueError(f"answer must be one of the choices ({', '.join(repr(c) for c in self.choices)}); "
                             f"got {self.answer!r}")
        if len(set(self.choices)) != len(self.choices):
            raise ValueError("the choices must differ")
        return self


class Run(Strict):
    """Train for ``steps`` minibatches or ``epochs`` passes (one of them: the cap), stopping early once ``until``
    holds (tested every ``every`` steps, so the page and the command line stop at the same step) — or, in the
    search lab, ``race: true``: race the samplers to the end of their budget."""

    steps: Optional[Annotated[int, Field(ge=1, le=MAX_RUN_STEPS)]] = None
    epochs: Optional[Annotated[int, Field(ge=1, le=1000)]] = None
    race: Optional[Literal[True]] = None
    until: Optional[Short] = None
    every: Annotated[int, Field(ge=1, le=10_000)] = 10

    @model_validator(mode="after")
    def _one_cap(self):
        if sum(x is not None for x in (self.steps, self.epochs, self.race)) != 1:
            raise ValueError("give exactly one of steps (minibatches), epochs (passes over the training set) and "
                             "race: true (the search lab's samplers, to the end of their budget): the run's cap")
        if self.race and self.until is not None:
            raise ValueError("a race runs to the end of its budget: no until")
        return self


class Check(Strict):
    """A condition on the session's numbers after the run, stated in words for the class."""

    that: Short                 # the condition: app.lessons.conditions
    text: Short                 # what it says, in words ("The first layer learns 100 times slower")
    explain: Optional[Text] = None  # why, shown with the measured numbers
    seeds: Optional[Annotated[list[Annotated[int, Field(ge=0, le=2**31 - 1)]],
                              Field(min_length=3, max_length=MAX_SEEDS)]] = None  # median over these seeds


class Step(Strict):
    title: Short
    text: Text
    lab: Optional[Short] = None               # default: the previous step's lab (the first: "mlp")
    settings: dict[str, Any] = {}             # the lab's controls, on top of the previous steps' settings
    start: Annotated[str, Field(pattern="^(fresh|continue)$")] = "fresh"  # fresh: the seeded network built anew
    do: Annotated[list[dict[str, dict[str, Any]]], Field(max_length=50)] = []  # the lab's own events, in order
    highlight: Annotated[list[Short], Field(max_length=6)] = []  # control names, or "#id" of a view
    predict: Optional[Predict] = None
    run: Optional[Run] = None
    check: Annotated[list[Check], Field(max_length=8)] = []

    @model_validator(mode="after")
    def _events_one_each(self):
        for item in self.do:
            if len(item) != 1:
                raise ValueError("each item of do is one event: {event_name: {fields}}")
        return self


class Lesson(Strict):
    title: Short
    concept: Short                            # what the menu groups lessons by
    summary: Optional[Annotated[str, Field(max_length=500)]] = None
    order: Annotated[int, Field(ge=0, le=10_000)] = 1000   # position in the menu (then the title)
    steps: Annotated[list[Step], Field(min_length=1, max_length=MAX_STEPS)]
