"""Search that respects a deployment budget, on NAS-Bench-201's tables: our constrained and
two-objective searches through the real ``%%automl`` path, against Optuna's defaults, random
search and "search unconstrained, then filter", with the same evaluations and seeds.

Run from the repository root::

    .venv/bin/python benchmarks/constrained_search.py                 # 3 tables, 20 seeds
    .venv/bin/python benchmarks/constrained_search.py --quick         # 1 table, 2 seeds

It extends ``search_quality.py`` (its tables, its sides' plumbing and its noise: a lookup
draws one of the table's repeated runs, reseeded per run) with what NAS-Bench-201's tables
carry beside the accuracy: each architecture's ``latency`` and ``model_size``.

**Constrained** (``--maximize val_acc --constraint "latency <= L"``, L the table's median
latency, so half the 15,625 cells are feasible). The regret of a run after k evaluations is
the best feasible architecture's mean accuracy less the mean accuracy of the run's incumbent:
the feasible configuration with the best value it observed in its first k (a run with no
feasible observation yet counts the worst feasible architecture's). Sides:

- ``automl``, ``automl-evolution``: the cell with ``--constraint`` (our default sampler,
  TPE with evolution steps; and evolution alone);
- ``automl-filter``: our default searching without the constraint, its trials then filtered;
- ``optuna-tpe``: ``TPESampler()``, the constraint given through ``trial.set_constraint``;
- ``optuna-random``: ``RandomSampler()``, filtered.

**Two objectives** (``--maximize val_acc --minimize latency``). A run's front after k
evaluations is the non-dominated set of the architectures it observed, taken at their mean
values; its hypervolume is measured with both objectives scaled to [0, 1] over the table
(accuracy up from the table's worst, latency down from its slowest), and reported as the
hypervolume regret: the table's true front's less the run's. Sides: ``automl`` (our default:
multivariate TPE for several objectives), Optuna's ``NSGAIISampler()`` and ``TPESampler()``,
and ``RandomSampler()``.

Results go, one run per line, to ``--out`` (a rerun skips the runs already there).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import math
import os
import statistics
import sys
import tempfile
from functools import cache
from pathlib import Path
from typing import Any

import search_quality as sq

HERE = Path(__file__).resolve().parent
TASKS = [f"nb201/{d}" for d in sq.NB201]
BUDGETS = (25, 50, 100)
CONSTRAINED = ["automl", "automl-evolution", "automl-filter", "optuna-tpe", "optuna-random"]
# --kinds trained: the same searches, counting the models they train. A study with a bound on
# a cost it measures knows a model's cost before training it and does not train one that
# misses (the trial is pruned at once), so only feasible evaluations count; a search that
# does not know the bound (automl-filter) trains every one. Random search is granted the
# same as ours: a user who knows the cost function rejects a draw that misses it untrained.
KNOWS_BOUND = {"automl", "automl-evolution", "optuna-tpe", "optuna-random"}
EVALS = {"constrained": 100, "trained": 250, "front": 100}  # trained: enough for 100 trained
FRONT = ["automl", "optuna-nsga2", "optuna-tpe", "optuna-random"]
OURS = {"automl": "", "automl-evolution": "--sampler evolution", "automl-filter": ""}
CELL = sq.CELL  # its lookup returns {"val_acc": ..., "latency": ...} here


class Costs:
    """A table's latency per architecture, its median (the bound), and its true front."""

    def __init__(self, task: str) -> None:
        self.table = sq.table(task)
        data = self.table.bench._dataset
        self.latency = {k: float(v["latency"][0]) for k, v in data.items()}
        self.bound = statistics.median(self.latency.values())
        feasible = [self.table.means[k] for k, lat in self.latency.items() if lat <= self.bound]
        self.best_feasible, self.worst_feasible = max(feasible), min(feasible)
        means = self.table.means
        self.acc_range = (min(means.values()), max(means.values()))
        self.lat_range = (min(self.latency.values()), max(self.latency.values()))
        self.true_hv = self.hypervolume(list(means))

    def of(self, params: dict[str, Any]) -> float:
        return self.latency[self.table.key(params)]

    def hypervolume(self, keys: list[str]) -> float:
        """The scaled hypervolume of the architectures ``keys`` (their mean accuracy up,
        their latency down), against the table's worst accuracy and slowest latency."""
        (a0, a1), (l0, l1) = self.acc_range, self.lat_range
        points = sorted(((self.latency[k] - l0) / (l1 - l0),
                         (self.table.means[k] - a0) / (a1 - a0)) for k in set(keys))
        volume, best = 0.0, 0.0
        for i, (lat, acc) in enumerate(points):
            best = max(best, acc)
            right = points[i + 1][0] if i + 1 < len(points) else 1.0
            volume += (right - lat) * best
        return volume


@cache
def costs(task: str) -> Costs:
    return Costs(task)


# -- the sides -------------------------------------------------------------------------------
def lookup_with_latency(task: str) -> Any:
    c = costs(task)

    def lookup(params: dict[str, Any]) -> dict[str, float]:
        return {"val_acc": c.table.value(params), "latency": c.of(params)}

    return lookup


def run_ours(task: str, side: str, kind: str, seed: int, evals: int) -> list[dict[str, Any]]:
    """The real cell, its ``hp`` calls indexing the table, returning accuracy and latency."""
    c = costs(task)
    table = c.table
    ip = sq.shell()
    ip.user_ns.update(VALUES=table.space, lookup=lookup_with_latency(task),
                      NUMERIC={n for n in table.space if table.numeric(n)})
    if kind == "front":
        goal = "--maximize val_acc --minimize latency"
    elif side == "automl-filter" or (kind == "trained" and side not in KNOWS_BOUND):
        goal = "--maximize val_acc"
    else:
        goal = f'--maximize val_acc --constraint "latency <= {c.bound!r}"'
    with tempfile.TemporaryDirectory(prefix="constrained-search-") as runs, \
            contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        ip.run_cell_magic("automl", f"q --trials {evals} --seed {seed} {OURS[side]} {goal} "
                          f"--runs-dir {runs}", CELL)
        trials = sorted(ip.user_ns["_automl"].study.trials, key=lambda t: t.number)
    return [{n: sq.by_index(table, n, t.params[n]) for n in table.space} for t in trials
            if t.state.name == "COMPLETE"]


def run_optuna(task: str, side: str, kind: str, seed: int, evals: int) -> list[dict[str, Any]]:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    c = costs(task)
    table = c.table
    seen: list[dict[str, Any]] = []

    def objective(trial: optuna.Trial) -> Any:
        params = {n: table.space[n][trial.suggest_int(n, 0, len(o) - 1)] if table.numeric(n)
                  else trial.suggest_categorical(n, o) for n, o in table.space.items()}
        seen.append(params)
        if kind == "front":
            return table.value(params), c.of(params)
        if side == "optuna-tpe":  # (its constraint is the only one Optuna's TPE is given)
            trial.set_constraint("latency", c.of(params) - c.bound)
        return table.value(params)

    sampler = {"optuna-tpe": optuna.samplers.TPESampler, "optuna-nsga2":
               optuna.samplers.NSGAIISampler, "optuna-random": optuna.samplers.RandomSampler
               }[side](seed=seed)
    directions = ["maximize", "minimize"] if kind == "front" else ["maximize"]
    study = optuna.create_study(directions=directions, sampler=sampler)
    study.optimize(objective, n_trials=evals)
    return seen


def run_one(unit: tuple[str, str, str, int, int]) -> dict[str, Any]:
    """One run: after each evaluation, the constrained regret or the hypervolume regret."""
    task, kind, side, seed, evals = unit
    c = costs(task)
    table = c.table
    table.bench.reseed(seed)
    run = run_ours if side in OURS else run_optuna
    seen = run(task, side, kind, seed, evals)
    table.bench.reseed(seed)  # the values the side observed, replayed in its order
    regrets: list[float] = []
    if kind == "front":
        keys: list[str] = []
        for params in seen:
            keys.append(table.key(params))
            regrets.append(c.true_hv - c.hypervolume(keys))
    else:
        incumbent, best_seen = None, -math.inf
        for params in seen:
            observed = table.value(params)
            if c.of(params) <= c.bound and observed > best_seen:
                best_seen, incumbent = observed, params
            regrets.append(c.best_feasible - (c.worst_feasible if incumbent is None
                                              else table.mean(incumbent)))
        if kind == "trained" and side in KNOWS_BOUND:  # the evaluations that trained a model
            regrets = [r for r, params in zip(regrets, seen) if c.of(params) <= c.bound]
    return {"task": task, "kind": kind, "side": side, "seed": seed, "evals": evals,
            "regret": regrets}


# -- the report ------------------------------------------------------------------------------
def summarize(runs: list[dict[str, Any]], kind: str, sides: list[str], tasks: list[str],
              budgets: tuple[int, ...]) -> dict[tuple[str, str], dict[int, tuple[float, float,
                                                                                 int]]]:
    cells = {}
    for task in tasks:
        for side in sides:
            mine = [r for r in runs if r["task"] == task and r["side"] == side
                    and r["kind"] == kind]
            if not mine:
                continue
            cells[task, side] = {}
            for b in budgets:
                values = [sq.at(r, b) for r in mine]
                se = statistics.stdev(values) / math.sqrt(len(values)) if len(values) > 1 else 0
                cells[task, side][b] = (statistics.fmean(values), se, len(values))
    return cells


def report(cells: dict[Any, Any], kind: str, sides: list[str], tasks: list[str],
           budgets: tuple[int, ...]) -> str:
    lines = []
    for task in tasks:
        c = costs(task)
        if kind == "trained":
            lines.append(f"\n{task}, latency <= {c.bound:.4g}, by models trained (a model that "
                         "misses the bound is not trained by a search that knows it): mean "
                         "regret ± standard error, runs")
        elif kind == "front":
            lines.append(f"\n{task}, two objectives (val_acc up, latency down): hypervolume "
                         f"regret (true front {c.true_hv:.4f}) ± standard error, runs")
        else:
            lines.append(f"\n{task}, latency <= {c.bound:.4g} (the median; best feasible "
                         f"val_acc {c.best_feasible:.4g}): mean regret ± standard error, runs")
        lines.append(f"  {'side':18s}" + "".join(f"{'@' + str(b):>22s}" for b in budgets))
        for side in sides:
            if (task, side) in cells:
                row = cells[task, side]
                lines.append(f"  {side:18s}" + "".join(
                    f"{row[b][0]:>13.4g} ± {row[b][1]:<6.2g}" for b in budgets)
                    + f"  {row[budgets[0]][2]}")
    return "\n".join(lines)


def goals(cells: dict[str, dict[Any, Any]], tasks: list[str], last: int) -> list[str]:
    """The issue's goals at the last budget, per table: met or missed, with the figures."""
    def mean(kind: str, task: str, side: str) -> float | None:
        row = cells[kind].get((task, side))
        return None if row is None else row[last][0]

    lines = []
    for task in tasks:
        for kind in ("constrained", "trained"):
            ours = mean(kind, task, "automl")
            for other in ("automl-filter", "optuna-random"):
                theirs = mean(kind, task, other)
                if ours is not None and theirs is not None:
                    lines.append(f"{task} {kind}: automl {ours:.4g} < {other} {theirs:.4g}: "
                                 f"{'met' if ours < theirs else 'MISSED'}")
        ours, theirs = mean("front", task, "automl"), mean("front", task, "optuna-nsga2")
        if ours is not None and theirs is not None:
            lines.append(f"{task} front: automl's hypervolume regret {ours:.4g} <= NSGA-II's "
                         f"{theirs:.4g}: {'met' if ours <= theirs else 'MISSED'}")
    return lines


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--tasks", nargs="*", default=TASKS, choices=TASKS)
    p.add_argument("--kinds", nargs="*", default=list(EVALS), choices=list(EVALS))
    p.add_argument("--seeds", type=int, default=20, help="seeds 0 to SEEDS-1")
    p.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    p.add_argument("--out", type=Path, default=HERE / "constrained_search.jsonl")
    p.add_argument("--evals", type=int, default=None,
                   help="evaluations of every kind's runs (default: 100, and 250 for trained)")
    p.add_argument("--quick", action="store_true",
                   help="one table, 2 seeds, 20 evaluations")
    args = p.parse_args(argv)
    tasks, seeds = args.tasks, args.seeds
    evals = dict(EVALS) if args.evals is None else {kind: args.evals for kind in EVALS}
    if args.quick:
        tasks, seeds, evals = tasks[:1], 2, {kind: 20 for kind in EVALS}
    last = min(100, min(evals.values()))
    budgets = tuple(b for b in BUDGETS if b < last) + (last,)
    sides = {"constrained": CONSTRAINED, "trained": CONSTRAINED, "front": FRONT}
    runs = [r for r in sq.load(args.out) if r["evals"] == evals[r["kind"]]]
    done = {(r["task"], r["kind"], r["side"], r["seed"]) for r in runs}
    todo = [(t, k, s, seed, evals[k]) for t in tasks for seed in range(seeds)
            for k in args.kinds for s in sides[k] if (t, k, s, seed) not in done]
    runs += sq.run_all(run_one, todo, args.out, args.jobs, len(done))
    runs = [r for r in runs if r["task"] in tasks and r["seed"] < seeds]
    cells = {k: summarize(runs, k, sides[k], tasks, budgets) for k in EVALS}
    for kind in args.kinds:
        print(report(cells[kind], kind, sides[kind], tasks, budgets))
    print("\ngoals:")
    for line in goals(cells, tasks, budgets[-1]) or ["(none measured by this selection)"]:
        print("  " + line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
