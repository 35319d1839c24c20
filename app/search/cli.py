"""``nnplayground search`` and ``nnplayground search-worker``: a hyperparameter search from the command line.

    nnplayground search --lab mlp --dataset spiral --sampler tpe --trials 30 --epochs 20 \\
        --param learning_rate=1e-4:1:log --param activation=relu,tanh [--json]

A progress bar on a terminal (stderr: trials done of the budget, best so far, time left); with ``--json`` the last
line on stdout is one JSON object (the summary: sampler, n_trials, best_value, best_params, objective, trials).
docs/search.md has the rest.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import sys

from .run import SearchRun
from .space import searchable
from .spec import LIMITS, OBJECTIVES, SAMPLERS, SearchError, SearchSpec


def _param_help() -> str:
    return ("NAME=LOW:HIGH[:log] (a range; log: sampled in log space) or NAME=a,b,c (choices); repeatable. "
            "The mlp lab's hyperparameters: " + ", ".join(searchable("mlp")))


def search_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="nnplayground search",
                                     description="Search a lab's hyperparameters with Optuna (docs/search.md).")
    parser.add_argument("--lab", default="mlp", help="the lab whose controls are searched (default mlp)")
    parser.add_argument("--dataset", required=True, help="the lab's dataset (the RNN lab's task)")
    parser.add_argument("--sampler", required=True, choices=SAMPLERS,
                        help="grid, random, tpe (Bayesian), or gp (Bayesian; needs torch and scipy)")
    parser.add_argument("--trials", type=int, required=True, help=f"the budget, at most {LIMITS.max_trials}")
    parser.add_argument("--epochs", type=int, required=True, help=f"epochs per trial, at most {LIMITS.max_epochs}")
    parser.add_argument("--param", action="append", default=[], metavar="SPEC", help=_param_help())
    parser.add_argument("--objective", default="test_loss", choices=tuple(OBJECTIVES),
                        help="what the search optimises after the last epoch (default test_loss)")
    parser.add_argument("--workers", type=int, default=1, help="worker processes on this machine (default 1)")
    parser.add_argument("--storage", default=None, metavar="URL",
                        help="where the study lives: a journal file path (default: a temporary one), "
                             "redis://host:port/db, sqlite:///PATH or postgresql://... (docs/search.md)")
    parser.add_argument("--study", default=None, metavar="NAME", help="the study's name (default: a fresh one)")
    parser.add_argument("--seed", type=int, default=0, help="the sampler's seed (default 0)")
    parser.add_argument("--pruning", action="store_true", help="stop trials worse than the median early")
    parser.add_argument("--set", action="append", default=[], metavar="NAME=VALUE", dest="base",
                        help="another lab setting every trial uses (a JSON value: --set batch_size=32); repeatable")
    parser.add_argument("--json", action="store_true", help="print the summary as one JSON line at the end")
    return parser


def parse_param(text: str) -> tuple[str, dict]:
    """"lr=1e-4:1:log" -> ("lr", {"low": 0.0001, "high": 1.0, "log": True}); "act=relu,tanh" -> choices."""
    name, sep, value = text.partition("=")
    if not sep or not name or not value:
        raise SearchError("param", text, "NAME=LOW:HIGH[:log] or NAME=a,b,c")
    if ":" in value:
        parts = value.split(":")
        log = len(parts) == 3 and parts[2] == "log"
        if len(parts) not in (2, 3) or (len(parts) == 3 and not log):
            raise SearchError(f"params.{name}", value, "LOW:HIGH or LOW:HIGH:log")
        try:
            low, high = (_number(p) for p in parts[:2])
        except ValueError:
            raise SearchError(f"params.{name}", value, "LOW:HIGH[:log] with numbers LOW and HIGH") from None
        return name, {"low": low, "high": high, "log": log}
    return name, {"choices": [_scalar(v) for v in value.split(",")]}


def _number(text: str) -> int | float:
    number = float(text)
    return int(number) if number.is_integer() and "." not in text and "e" not in text.lower() else number


def _scalar(text: str):
    try:
        return _number(text)
    except ValueError:
        return text


def _base(items: list[str]) -> dict:
    out = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep:
            raise SearchError("set", item, "NAME=VALUE")
        try:
            out[name] = json.loads(value)
        except ValueError:
            out[name] = value
    return out


def _storage(url: str | None) -> str | None:
    """A journal file named by a relative path is made absolute: the workers may start elsewhere."""
    if url is None or "://" in url:
        return url
    path = url[len("file:"):] if url.startswith("file:") else url
    return os.path.abspath(path)


def search(argv=None) -> None:
    args = search_parser().parse_args(argv)
    try:
        params = dict(parse_param(p) for p in args.param)
        spec = SearchSpec.from_dict({
            "lab": args.lab, "dataset": args.dataset, "sampler": args.sampler, "trials": args.trials,
            "epochs": args.epochs, "params": params, "objective": args.objective, "seed": args.seed,
            "workers": args.workers, "pruning": args.pruning, "base": _base(args.base)})
        run = SearchRun(spec, _storage(args.storage), args.study)
    except SearchError as error:
        raise SystemExit(f"nnplayground search: {error}") from None
    with run:
        _follow(run, args.json)


def worker_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="nnplayground search-worker",
                                     description="Join a running search from this machine: take trials from its "
                                                 "study until the budget is spent (docs/search.md).")
    parser.add_argument("--storage", required=True, metavar="URL",
                        help="the study's storage, e.g. redis://host:6379/0 or postgresql://user:pass@host/db")
    parser.add_argument("--study", required=True, metavar="NAME", help="the study's name")
    parser.add_argument("--workers", type=int, default=1, help="worker processes on this machine (default 1)")
    parser.add_argument("--json", action="store_true", help="print the study's summary as one JSON line at the end")
    return parser


def search_worker(argv=None) -> None:
    args = worker_parser().parse_args(argv)
    if not 1 <= args.workers <= LIMITS.max_workers:
        raise SystemExit(f"nnplayground search-worker: --workers: got {args.workers}; allowed: an integer in "
                         f"[1, {LIMITS.max_workers}]")
    try:
        # Worker numbers seed the samplers (seed + number): far from the starting machine's 0..W-1.
        run = SearchRun.join(_storage(args.storage), args.study, args.workers,
                             first_index=1024 + secrets.randbelow(1 << 20))
    except SearchError as error:
        raise SystemExit(f"nnplayground search-worker: {error}") from None
    with run:
        _follow(run, args.json)


def _follow(run: SearchRun, as_json: bool) -> None:
    """Start the run, show its progress until it ends (Ctrl+C stops it, keeping finished trials), print the
    result."""
    from tqdm import tqdm

    bar = tqdm(total=run.spec.budget, unit="trial", file=sys.stderr, disable=not sys.stderr.isatty(),
               dynamic_ncols=True)
    run.start()
    try:
        while not run.done:
            events = run.events(timeout=0.5)
            if any(e["type"] in ("trial_finished", "search_finished") for e in events):
                progress = run.progress()
                bar.update(progress["done"] - bar.n)
                if progress["best_value"] is not None:
                    bar.set_postfix_str(f"best {run.spec.objective} {progress['best_value']:.4g}")
            for event in events:
                if event["type"] == "worker_failed":
                    bar.write(f"nnplayground search: {event['reason']}", file=sys.stderr)
    except KeyboardInterrupt:
        bar.write("nnplayground search: stopping (finished trials are kept)…", file=sys.stderr)
        run.stop()
    finally:
        bar.close()
    summary = run.summary()
    if as_json:
        print(json.dumps(summary))
    else:
        print(describe(summary))


def describe(summary: dict) -> str:
    """The summary in a few lines for a person."""
    states: dict[str, int] = {}
    for t in summary["trials"]:
        states[t["state"]] = states.get(t["state"], 0) + 1
    counts = ", ".join(f"{n} {state.lower()}" for state, n in sorted(states.items()))
    lines = [f"{summary['sampler']} search on {summary['lab']} / {summary['dataset']}: {summary['n_trials']} trials "
             f"({counts or 'none finished'}), study {summary['study']}"]
    if summary["best_value"] is None:
        lines.append("no trial finished")
    else:
        params = ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}"
                           for k, v in summary["best_params"].items())
        lines.append(f"best {summary['objective']} {summary['best_value']:.4g}: {params}")
    for t in summary["trials"]:
        if t["state"] == "FAIL" and t["reason"]:
            lines.append(f"  trial {t['number']} failed: {t['reason']}")
    return "\n".join(lines)
