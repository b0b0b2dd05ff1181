"""The ``%%automl`` option line: parsing, validation and the resulting :class:`StudyOptions`.

The parser is plain :mod:`argparse` so the library works without IPython; errors become
:class:`~jupyter_automl.errors.OptionError` with the list of valid options and a
"did you mean" hint instead of argparse's ``SystemExit``.
"""

from __future__ import annotations

import argparse
import difflib
import math
import os
import re
import shlex
from dataclasses import dataclass, field
from typing import Literal, NamedTuple, NoReturn

from .._utils.constraints import Constraint, parse_constraint
from .._utils.duration import parse_duration
from ..deploy import COSTS
from ..errors import OptionError
from ..runs import DEFAULT_RUNS_DIR, check_store_url
from ..search import DEFAULT_BETA
from ..training import STRATEGIES
from ._algorithms import (
    DEFAULT_EVOLUTION_POPULATION,
    PRUNERS,
    SAMPLERS,
)

DEFAULT_STUDY = "automl"
# TPE with one trial in three an evolution step: the best average rank on 15 public tables
# (benchmarks/search_quality.py) and no worse against KerasTuner (benchmarks/vs_kerastuner.py)
DEFAULT_SAMPLER = "tpe+evolution"
DEFAULT_TRIALS = 20  # a new study's total when --trials is absent (%config Automl.default_trials)
DEFAULT_POPULATION = 8  # --scheduler pbt
DEFAULT_INTERVAL = 2  # --scheduler pbt: epochs between exploits
SCHEDULERS = ("pbt",)
DEFAULT_TEMPERATURE = "4"  # --distill-from
DEFAULT_SOFT_WEIGHT = "0.5"
SEARCH = "search"  # --temperature / --soft-weight: a parameter of the study
Direction = Literal["maximize", "minimize"]
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")


@dataclass(frozen=True)
class Objective:
    """One optimisation target: a metric name and whether to maximize it."""

    metric: str | None
    direction: Direction


@dataclass
class StudyOptions:
    """Everything the option line of an ``%%automl`` cell says."""

    name: str = DEFAULT_STUDY
    trials: int | None = None  # None: the stored total of a resumed study, else default_trials
    default_trials: int = DEFAULT_TRIALS
    timeout: float | None = None
    objectives: list[Objective] = field(default_factory=list)
    constraints: list[Constraint] = field(default_factory=list)  # --constraint, in line order
    # deployment costs measured after each trial (deploy.COSTS): --measure's, and those an
    # objective or a constraint names
    measures: list[str] = field(default_factory=list)
    sampler: str = DEFAULT_SAMPLER
    seed: int | None = None
    pruner: str | None = None  # None: the default for the study's number of objectives
    early_stopping: int | None = None
    # --executions-per-trial: the cell runs this many times per trial, each on a seed of its
    # own; the trial's values are their mean (see results/_executions.py)
    executions: int = 1
    storage: str | None = None
    runs_dir: str = DEFAULT_RUNS_DIR
    checkpoint_dir: str | None = None  # where the trials' checkpoints go (a shared disk)
    checkpoint_store: str | None = None  # also there: s3://BUCKET[/PREFIX] or a folder
    checkpoint_every: float | None = None  # seconds: fit also saves inside an epoch
    warm_start: str | None = None  # --warm-start OTHER[:topN][,...] (see _warm)
    fresh: bool = False
    check: bool = False
    background: bool = False
    space: str | None = None  # a saved space whose ranges replace the cell's, by name
    edit: bool = False
    kernels: int = 0  # local worker kernels; 0 (and no gateway) runs trials in this kernel
    gateways: list[tuple[str, int]] = field(default_factory=list)  # (URL, kernels) each
    ray: tuple[str, int] | None = None  # (the cluster's address, or "local"; its actors)
    ship: list[str] = field(default_factory=list)
    listen: str = "127.0.0.1"
    strategy: str | None = None  # None: no strategy scope at all
    trial_timeout: float | None = None  # a worker silent for longer is taken for dead
    gpus_per_trial: float | None = None
    max_failures: int = 3
    scheduler: str | None = None  # "pbt": population-based training (see _pbt)
    population: int = DEFAULT_POPULATION  # --scheduler pbt: members trained side by side;
    # --sampler evolution: the last P finished trials parents are drawn from
    tournament: int | None = None  # --sampler evolution: a parent is the best of S (None:
    # half the population)
    interval: int = DEFAULT_INTERVAL  # --scheduler pbt: epochs of a generation
    darts: bool = False  # differentiable search: each trial a search, then its retrain
    darts_beta: float = DEFAULT_BETA  # --darts: beta-decay's weight (0: plain DARTS)
    darts_lr: float | None = None  # --darts: the architecture weights' learning rate (None:
    # set by the search's number of batches, search/_darts.py's default_lr)
    distill_from: str | None = None  # --distill-from TEACHER[:TRIAL]
    temperature: str = DEFAULT_TEMPERATURE  # a number, or "search"
    soft_weight: str = DEFAULT_SOFT_WEIGHT  # a number in [0, 1], or "search"
    teacher: str | None = None  # the teacher's model file, found when the study is prepared
    # --tensorboard: the log folder ("" for RUNS_DIR/NAME/tensorboard); None writes none (a
    # TensorBoard callback in the cell's fit still gets its per-trial folders and records)
    tensorboard: str | None = None
    # --mlflow: the tracking URI ("" for MLFLOW_TRACKING_URI's); None logs nothing
    mlflow: str | None = None
    mlflow_experiment: str | None = None  # None: the study's name

    @property
    def pbt(self) -> bool:
        return self.scheduler == "pbt"

    @property
    def directions(self) -> list[Direction]:
        return [o.direction for o in self.objectives] or ["minimize"]

    @property
    def metrics(self) -> list[str | None]:
        return [o.metric for o in self.objectives] or [None]

    @property
    def effective_pruner(self) -> str:
        if self.pruner is not None:
            return self.pruner
        return "median" if len(self.directions) == 1 and not self.pbt else "none"


class _ObjectiveAction(argparse.Action):
    """``--maximize`` / ``--minimize`` append to one ordered list of objectives."""

    def __call__(self, parser, namespace, values, option_string=None):  # type: ignore[no-untyped-def]
        objectives = list(getattr(namespace, "objectives", None) or [])
        objectives.append(Objective(str(values), self.const))
        namespace.objectives = objectives


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise OptionError(f"%%automl: {message}\n{self.format_usage()}{_valid_options(self)}")


def _valid_options(parser: argparse.ArgumentParser) -> str:
    names = sorted(s for a in parser._actions for s in a.option_strings if s.startswith("--"))
    return "valid options: " + ", ".join(names)


_TOP = re.compile(r"^(?P<target>.+):top(?P<n>\d+)$")


@dataclass(frozen=True)
class WarmSource:
    """One ``--warm-start`` item: a study, and how many of its best to train again (or None:
    every finished trial, as observations)."""

    target: str
    top: int | None = None

    @classmethod
    def parse(cls, text: str) -> WarmSource:
        match = _TOP.match(text)
        if match is None:
            return cls(text)
        if int(match["n"]) < 1:
            raise OptionError(f"--warm-start {text}: top N needs N >= 1")
        return cls(match["target"], int(match["n"]))


DURATION_OPTIONS = ("--timeout", "--checkpoint-every", "--trial-timeout")


def _joined_durations(argv: list[str]) -> list[str]:
    """``--timeout -5m`` as ``--timeout=-5m``: argparse would take ``-5m`` for an option and say
    only that ``--timeout`` expects an argument, where the duration's own check says why."""
    out: list[str] = []
    words = iter(argv)
    for word in words:
        if word in DURATION_OPTIONS:
            value = next(words, None)
            if value is not None and value.startswith("-") and value[1:2].isdigit():
                out.append(f"{word}={value}")
                continue
            out.append(word)
            if value is not None:
                out.append(value)
            continue
        out.append(word)
    return out


def parse_warm(text: str) -> list[WarmSource]:
    return [WarmSource.parse(item.strip()) for item in text.split(",") if item.strip()]


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{text!r}: give a whole number, at least 1")
    return value


_positive_int.__name__ = "positive integer"


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if not value > 0:
        raise argparse.ArgumentTypeError(f"{text!r}: give a number above 0 (0.5, 2)")
    return value


_positive_float.__name__ = "positive number"


def _non_negative_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not (value >= 0 and math.isfinite(value)):
        raise argparse.ArgumentTypeError(f"{text!r}: give a number, 0 or above (0, 0.5, 2)")
    return value


_non_negative_float.__name__ = "number >= 0"


def _duration(text: str) -> float:
    try:
        return parse_duration(text)
    except ValueError as exc:  # argparse shows an ArgumentTypeError's words, not a ValueError's
        raise argparse.ArgumentTypeError(str(exc)) from None


_duration.__name__ = "duration (90s, 30m, 1.5h)"


class KernelSpecs(NamedTuple):
    """What ``--kernels`` names: local kernels, gateways' kernels, or a Ray cluster's actors."""

    local: int = 0
    gateways: list[tuple[str, int]] = []  # noqa: RUF012 - a NamedTuple's default, never mutated
    ray: tuple[str, int] | None = None  # (address or "local", actors)


def _kernel_specs(text: str) -> KernelSpecs:
    local, gateways, ray = 0, [], None
    for part in filter(None, (p.strip() for p in text.split(","))):
        if part == "ray" or part.startswith(("ray*", "ray:")):  # a Ray cluster (or a local one)
            spec, _, count = part.partition("*")
            address = spec[len("ray:"):] if spec.startswith("ray:") else "local"
            if address.startswith("//"):  # Ray Client: ray:ray://HOST:PORT
                address = "ray:" + address
            if not address or ray is not None:
                raise ValueError
            ray = (address, _positive_int(count) if count else 1)
        elif part.startswith("gateway:"):
            url, _, count = part[len("gateway:"):].partition("*")
            if not url.startswith(("http://", "https://")):
                raise ValueError
            gateways.append((url, _positive_int(count) if count else 1))
        else:
            local += _positive_int(part)
    if not local and not gateways and ray is None:
        raise ValueError
    if ray is not None and (local or gateways):
        raise argparse.ArgumentTypeError(
            "a Ray cluster's workers cannot share a study run with local or gateway kernels: "
            "give ray*N (or ray:ADDRESS*N) alone")
    return KernelSpecs(local, gateways, ray)


_kernel_specs.__name__ = ("kernels (N, gateway:http://HOST:PORT[*N], comma-separated; or "
                          "ray*N, ray:ADDRESS*N)")


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="%%automl", add_help=False, description="Run the cell as an AutoML study.")
    p.add_argument("name", nargs="?", default=DEFAULT_STUDY,
                   help=f"study name (default {DEFAULT_STUDY!r}); its folder is RUNS_DIR/NAME")
    p.add_argument("--trials", type=_positive_int, default=None, metavar="N",
                   help="the study's total of finished trials; a rerun runs only the rest")
    p.add_argument("--timeout", type=_duration, default=None, metavar="DURATION",
                   help="start no new trial after this long (90s, 30m, 2h)")
    p.add_argument("--maximize", action=_ObjectiveAction, const="maximize", metavar="METRIC",
                   dest="objectives", help="maximize METRIC; repeat for several objectives")
    p.add_argument("--minimize", action=_ObjectiveAction, const="minimize", metavar="METRIC",
                   dest="objectives", help="minimize METRIC; repeat for several objectives")
    p.add_argument("--constraint", action="append", default=[], metavar="EXPR",
                   dest="constraints",
                   help='a bound on a metric every trial is checked against: "params <= 50000", '
                        '"val_accuracy >= 0.9" (quoted); repeat for several. The best trial is '
                        "the best feasible one, and the sampler steers towards feasible trials")
    p.add_argument("--measure", action="append", default=[], metavar="COSTS",
                   help=f"deployment costs to measure on each trial's model once it has "
                        f"trained, comma-separated: {', '.join(COSTS)}, or all. Each becomes a "
                        "metric of the trial (table, charts, --constraint, --minimize); one "
                        "that an objective or a constraint names is measured without it")
    p.add_argument("--sampler", choices=tuple(SAMPLERS), default=DEFAULT_SAMPLER,
                   help=f"search algorithm (default {DEFAULT_SAMPLER}: TPE, one trial in three "
                        "an evolution step)")
    p.add_argument("--seed", type=int, default=None, help="sampler seed, for repeatable studies")
    p.add_argument("--pruner", choices=tuple(PRUNERS), default=None,
                   help="stops unpromising trials early (default median; none for several "
                        "objectives)")
    p.add_argument("--scheduler", choices=SCHEDULERS, default=None,
                   help="pbt: population-based training; --population members train in "
                        "generations of --interval epochs, the worst quarter copying the "
                        "checkpoint of the best quarter and perturbing its mutable parameters")
    p.add_argument("--population", type=_positive_int, default=None, metavar="P",
                   help=f"--scheduler pbt: members trained side by side (default "
                        f"{DEFAULT_POPULATION}, at least 4); --sampler evolution: the last P "
                        f"finished trials, parents are drawn from (default "
                        f"{DEFAULT_EVOLUTION_POPULATION})")
    p.add_argument("--tournament", type=_positive_int, default=None, metavar="S",
                   help="--sampler evolution: each parent is the best of S members drawn at "
                        "random (default: half the population)")
    p.add_argument("--interval", type=_positive_int, default=None, metavar="K",
                   help=f"--scheduler pbt: epochs of a generation (default {DEFAULT_INTERVAL})")
    p.add_argument("--darts", action="store_true",
                   help="differentiable architecture search: every hp.choice of layers is a "
                        "mixed operation whose architecture weights train on fit's validation "
                        "data; each search trial is followed by a trial that trains the "
                        "architecture it found from scratch")
    p.add_argument("--darts-beta", type=_non_negative_float, default=None, metavar="B",
                   help=f"--darts: the weight of the beta-decay regularization against the "
                        f"collapse onto skip connections (default {DEFAULT_BETA:g}: plain DARTS; "
                        "1 is the setting benchmarks/darts.py measures)")
    p.add_argument("--darts-lr", type=_positive_float, default=None, metavar="LR",
                   help="--darts: the architecture weights' Adam learning rate (default: 8 "
                        "divided by the search's training batches, within 0.0003-0.1: 0.03 "
                        "for 12 epochs of 22 batches)")
    p.add_argument("--distill-from", default=None, metavar="TEACHER[:TRIAL]",
                   help="knowledge distillation: each trial's model learns from the best "
                        "model of the study TEACHER (its Pareto trial TRIAL) as well as from "
                        "the labels")
    p.add_argument("--temperature", default=None, metavar="T|search",
                   help=f"--distill-from: the softmax temperature (default "
                        f"{DEFAULT_TEMPERATURE}); search: a parameter, 1..10")
    p.add_argument("--soft-weight", default=None, metavar="W|search",
                   help=f"--distill-from: the weight of the teacher's targets against the "
                        f"labels, 0..1 (default {DEFAULT_SOFT_WEIGHT}); search: a parameter")
    p.add_argument("--early-stopping", type=_positive_int, default=None, metavar="PATIENCE",
                   help="stop a trial's training after PATIENCE epochs without improvement")
    p.add_argument("--executions-per-trial", type=_positive_int, default=None, metavar="N",
                   help="train each trial N times, each with a seed of its own (Keras, NumPy, "
                        "Python; drawn from --seed when given), and score it by the mean of "
                        "the N values, for noisy objectives; the table shows their spread "
                        "(0.912 ± 0.008 (3 runs)). Default 1")
    p.add_argument("--storage", default=None, metavar="URL",
                   help="SQLAlchemy URL or .db path (default: RUNS_DIR/NAME/study.db)")
    p.add_argument("--runs-dir", default=None, metavar="PATH",
                   help="folder of the studies (default automl_runs next to the notebook)")
    p.add_argument("--checkpoint-dir", default=None, metavar="PATH",
                   help="keep the trials' checkpoints in PATH/NAME/trials (a disk every runner "
                        "of the study shares, so that a trial resumes on another machine)")
    p.add_argument("--checkpoint-store", default=None, metavar="URL",
                   help="also keep the trials' checkpoints and the best model in a store every "
                        "machine reaches: s3://BUCKET[/PREFIX] (S3-compatible, through boto3; "
                        "endpoint and credentials from its environment) or a folder, so that "
                        "a trial retried on any machine resumes from its last checkpoint")
    p.add_argument("--checkpoint-every", type=_duration, default=None, metavar="DURATION",
                   help="also save a trial inside an epoch of fit, this often (10m, 30s): a "
                        "kill loses at most one epoch or DURATION, whichever is shorter")
    p.add_argument("--warm-start", default=None, metavar="OTHER[:topN],...",
                   help="start informed: the finished trials of the studies OTHER (names in "
                        "the runs folder, or storage URLs) as observations; OTHER:top5 trains "
                        "its 5 best parameter sets again first")
    p.add_argument("--fresh", action="store_true",
                   help="start over; the old study folder is kept under a new name")
    p.add_argument("--check", action="store_true",
                   help="smoke-test the cell: one short trial, the study is not touched")
    p.add_argument("--space", default=None, metavar="NAME",
                   help="use the ranges of the space saved as NAME (space builder) instead of "
                        "the cell's own, parameter by parameter")
    p.add_argument("--edit", action="store_true",
                   help="open the space builder on the cell's hp calls; 'Write to cell' writes "
                        "the edited ranges back into the cell")
    p.add_argument("--kernels", type=_kernel_specs, default=KernelSpecs(),
                   metavar="N|gateway:URL[*N]|ray[:ADDRESS]*N",
                   help="run the trials on worker kernels: N local ones, and/or N on a Kernel "
                        "Gateway (comma-separated, e.g. 2,gateway:http://host:8888*4); or N Ray "
                        "actors, on a Ray started for the run (ray*N) or a cluster's "
                        "(ray:auto*N, ray:HOST:PORT*N); this kernel owns the study")
    p.add_argument("--ship", default="", metavar="X,Y",
                   help="notebook variables to send to the worker kernels")
    p.add_argument("--listen", default="127.0.0.1", metavar="HOST",
                   help="address the study is served on for worker kernels (default loopback)")
    p.add_argument("--strategy", choices=STRATEGIES,
                   default=None, help="TensorFlow distribution strategy of each trial (auto: "
                   "OneDevice on one GPU, Mirrored on several, default on CPU; multi-worker: "
                   "each trial across all the --kernels)")
    p.add_argument("--gpus-per-trial", type=_positive_float, default=None, metavar="K",
                   help="GPUs of each local worker kernel (0.5: two kernels share a GPU); "
                        "memory growth is on")
    p.add_argument("--trial-timeout", type=_duration, default=None, metavar="DURATION",
                   help="a worker kernel that has not finished a trial after DURATION is "
                        "taken for dead: the trial is retried, the kernel replaced")
    p.add_argument("--tensorboard", nargs="?", const="", default=None, metavar="DIR",
                   help="write each trial's per-epoch curves to DIR/trial-N with TensorBoard's "
                        "HParams records (its parameters, state and result), so TensorBoard's "
                        "HParams dashboard shows the study (default DIR: RUNS_DIR/NAME/"
                        "tensorboard). Without it, a keras.callbacks.TensorBoard in the cell's "
                        "fit gets a subfolder trial-N of its log_dir and the same records")
    p.add_argument("--mlflow", nargs="?", const="", default=None, metavar="URI",
                   help="log each trial as an MLflow run (parameters, per-epoch metrics, its "
                        "state) and the best model as an artifact of its run, on the tracking "
                        "server URI (http://host:5000, a folder, sqlite:///file.db); without "
                        "URI, MLFLOW_TRACKING_URI's. Credentials come from MLflow's own "
                        "environment (MLFLOW_TRACKING_TOKEN, ..._USERNAME/_PASSWORD)")
    p.add_argument("--mlflow-experiment", default=None, metavar="NAME",
                   help="the MLflow experiment of --mlflow's runs (default: the study's name)")
    p.add_argument("--background", action="store_true",
                   help="run the trials in a thread: the cell returns at once; Stop/Resume in "
                        "the panel, %%automl stop/wait NAME")
    return p


PARSER = build_parser()


def parse_options(line: str, *,
              default_runs_dir: str = DEFAULT_RUNS_DIR) -> StudyOptions:
    """Parse an ``%%automl`` option line into :class:`StudyOptions`."""
    try:
        argv = shlex.split(line)
    except ValueError as exc:
        raise OptionError(f"%%automl: cannot split the option line: {exc}") from None
    args, unknown = PARSER.parse_known_args(_joined_durations(argv))
    if unknown:
        PARSER.error(_unknown_message(unknown))
    if not _NAME.match(args.name):
        PARSER.error(f"study name {args.name!r} must start with a letter or digit and use only "
                     "letters, digits, '_', '-' and '.'")
    objectives = args.objectives or []
    metrics = [o.metric for o in objectives]
    if len(set(metrics)) != len(metrics):
        PARSER.error(f"each metric may appear once in --maximize/--minimize, got {metrics}")
    if args.pruner not in (None, "none") and len(objectives) > 1:
        PARSER.error(f"--pruner {args.pruner} needs a single objective; Optuna cannot prune "
                     "multi-objective studies (drop --pruner or keep one --maximize/--minimize)")
    if args.gpus_per_trial and not (args.kernels.local or args.kernels.ray):
        PARSER.error("--gpus-per-trial splits GPUs between worker kernels: add --kernels N "
                     "(local kernels) or --kernels ray*N (Ray's fractional GPUs)")
    if args.ship and args.kernels == KernelSpecs():
        PARSER.error("--ship sends variables to worker kernels: add --kernels N")
    if args.strategy == "multi-worker" and (args.kernels.local < 2 or args.kernels.gateways
                                            or args.kernels.ray):
        PARSER.error("--strategy multi-worker runs each trial across local worker kernels: add "
                     "--kernels N with N >= 2 (gateway kernels cannot join; the workers talk "
                     "over loopback ports)")
    if args.background and args.check:
        PARSER.error("--check runs one short trial in the foreground; drop --background")
    if args.warm_start is not None:
        try:
            parse_warm(args.warm_start)
        except OptionError as exc:
            PARSER.error(str(exc))
    if args.fresh and args.check:
        PARSER.error("--check never touches the study, so it cannot be combined with --fresh")
    _check_evolution(args)
    _check_darts(args)
    _check_pbt(args, objectives)
    _check_distill(args)
    _check_tracking(args)
    _check_executions(args)
    return StudyOptions(
        name=args.name,
        trials=args.trials,
        timeout=args.timeout,
        objectives=list(objectives),
        constraints=(constraints := _constraints(args.constraints)),
        measures=_measures(args.measure, objectives, constraints),
        sampler=args.sampler,
        seed=args.seed,
        pruner=args.pruner,
        early_stopping=args.early_stopping,
        executions=args.executions_per_trial or 1,
        storage=args.storage,
        runs_dir=args.runs_dir or default_runs_dir,
        checkpoint_dir=args.checkpoint_dir,
        checkpoint_store=_store(args.checkpoint_store),
        checkpoint_every=args.checkpoint_every,
        warm_start=args.warm_start,
        fresh=args.fresh,
        check=args.check,
        background=args.background,
        space=args.space,
        edit=args.edit,
        kernels=args.kernels.local,
        gateways=args.kernels.gateways,
        ray=args.kernels.ray,
        strategy=args.strategy or ("auto" if args.gpus_per_trial else None),
        gpus_per_trial=args.gpus_per_trial,
        trial_timeout=args.trial_timeout,
        ship=[n.strip() for n in args.ship.split(",") if n.strip()],
        listen=args.listen,
        distill_from=args.distill_from,
        temperature=args.temperature or DEFAULT_TEMPERATURE,
        soft_weight=args.soft_weight or DEFAULT_SOFT_WEIGHT,
        scheduler=args.scheduler,
        population=args.population or (DEFAULT_EVOLUTION_POPULATION
                                       if args.sampler == "evolution" else DEFAULT_POPULATION),
        tournament=args.tournament,
        interval=args.interval or DEFAULT_INTERVAL,
        darts=args.darts,
        darts_beta=DEFAULT_BETA if args.darts_beta is None else args.darts_beta,
        darts_lr=args.darts_lr,
        tensorboard=args.tensorboard,
        mlflow=args.mlflow,
        mlflow_experiment=args.mlflow_experiment,
    )


def _check_tracking(args: argparse.Namespace) -> None:
    """``--mlflow`` without a URI needs MLFLOW_TRACKING_URI; ``--mlflow-experiment`` needs
    ``--mlflow``. (Whether the server answers is checked before the first trial.)"""
    if args.mlflow_experiment is not None and args.mlflow is None:
        PARSER.error("--mlflow-experiment names the experiment of --mlflow's runs: add --mlflow "
                     "URI (or --mlflow alone, with MLFLOW_TRACKING_URI set)")
    if args.mlflow_experiment is not None and not args.mlflow_experiment.strip():
        PARSER.error("--mlflow-experiment needs a name, e.g. --mlflow-experiment digits")
    if args.mlflow == "" and not os.environ.get("MLFLOW_TRACKING_URI"):
        PARSER.error("--mlflow without a URI logs to MLFLOW_TRACKING_URI, which is not set: give "
                     "the tracking server, e.g. --mlflow http://127.0.0.1:5000, or set "
                     "MLFLOW_TRACKING_URI in the kernel's environment")


def _constraints(texts: list[str]) -> list[Constraint]:
    """``--constraint``'s expressions, each checked; the same one twice is an error."""
    constraints = []
    for text in texts:
        try:
            constraints.append(parse_constraint(text))
        except ValueError as exc:
            PARSER.error(f"--constraint {exc}")
    written = [c.text for c in constraints]
    if len(set(written)) != len(written):
        PARSER.error(f"--constraint: each constraint may appear once, got {written}")
    return constraints


def _store(url: str | None) -> str | None:
    """``--checkpoint-store``'s URL, checked (its scheme, its bucket, boto3 installed)."""
    if url is None:
        return None
    try:
        return check_store_url(url)
    except OptionError as exc:
        PARSER.error(str(exc))


def _measures(texts: list[str], objectives: list[Objective],
              constraints: list[Constraint]) -> list[str]:
    """The deployment costs to measure: ``--measure``'s, and those the objectives or the
    constraints name, in :data:`~jupyter_automl.deploy.COSTS`'s order."""
    asked = {name.strip() for text in texts for name in text.split(",") if name.strip()}
    if "all" in asked:
        asked = (asked - {"all"}) | set(COSTS)
    unknown = sorted(asked - set(COSTS))
    if unknown:
        PARSER.error(f"--measure: unknown cost {', '.join(map(repr, unknown))}; choose among "
                     f"{', '.join(COSTS)} (comma-separated), or all")
    named = {o.metric for o in objectives} | {c.metric for c in constraints}
    return [name for name in COSTS if name in asked or name in named]


def _check_distill(args: argparse.Namespace) -> None:
    if args.distill_from is None:
        for option in ("temperature", "soft_weight"):
            if getattr(args, option) is not None:
                PARSER.error(f"--{option.replace('_', '-')} is an option of distillation: add "
                             "--distill-from TEACHER (or drop it)")
        return
    for option, low, high in (("temperature", 0.0, None), ("soft_weight", 0.0, 1.0)):
        text = getattr(args, option)
        if text is None or text == SEARCH:
            continue
        try:
            value = float(text)
        except ValueError:
            value = float("nan")
        if not (value > low if high is None else low <= value <= high):
            need = "a positive number" if high is None else f"a number from {low} to {high}"
            PARSER.error(f"--{option.replace('_', '-')} {text}: give {need}, or 'search' to "
                         "tune it as a parameter")


def _check_evolution(args: argparse.Namespace) -> None:
    """``--sampler evolution``'s population and tournament."""
    if args.sampler != "evolution":
        if args.tournament is not None:
            PARSER.error("--tournament is an option of --sampler evolution: add it (or drop "
                         "--tournament)")
        return
    if args.scheduler is not None:
        PARSER.error(f"--sampler evolution cannot be combined with --scheduler "
                     f"{args.scheduler}: both keep a population of their own; drop one")
    population = args.population or DEFAULT_EVOLUTION_POPULATION
    if population < 2:
        PARSER.error(f"--population {population}: evolution needs at least 2 members (20 to "
                     "100 is usual)")
    if args.tournament is not None and args.tournament > population:
        PARSER.error(f"--tournament {args.tournament} is larger than --population "
                     f"{population}: a parent is the best of S members drawn from the "
                     "population; give S <= P")


def _check_darts(args: argparse.Namespace) -> None:
    """``--darts`` and the options it cannot be combined with."""
    if not args.darts:
        for option in ("darts_beta", "darts_lr"):
            if getattr(args, option) is not None:
                PARSER.error(f"--{option.replace('_', '-')} is an option of differentiable "
                             "search: add --darts (or drop it)")
        return
    if args.scheduler is not None:
        PARSER.error(f"--darts cannot be combined with --scheduler {args.scheduler}: a DARTS "
                     "search trains its architecture weights within one trial; drop one")
    if args.strategy == "multi-worker":
        PARSER.error("--darts cannot be combined with --strategy multi-worker: the "
                     "architecture step runs in the trial's own kernel; drop one")


def _check_pbt(args: argparse.Namespace, objectives: list[Objective]) -> None:
    """``--scheduler pbt`` and the options it cannot be combined with."""
    if args.scheduler != "pbt":
        for option in ("interval",) if args.sampler == "evolution" else ("population",
                                                                           "interval"):
            if getattr(args, option) is not None:
                PARSER.error(f"--{option} is an option of population-based training: add "
                             "--scheduler pbt (or drop it)" + (
                                 ", or of evolution: add --sampler evolution"
                                 if option == "population" else ""))
        return
    if len(objectives) > 1:
        PARSER.error("--scheduler pbt ranks its members by one objective, but the cell names "
                     f"{len(objectives)}; keep one --maximize/--minimize (a Pareto front has "
                     "no 'bottom quarter' to replace)")
    if args.population is not None and args.population < 4:
        PARSER.error(f"--population {args.population}: population-based training needs at "
                     "least 4 members (the worst quarter copies the best quarter); use 4 or "
                     "more, 8 to 32 is usual")
    if args.pruner is not None:
        PARSER.error(f"--pruner {args.pruner} cannot be combined with --scheduler pbt: PBT "
                     "keeps every member training and replaces the worst quarter at each "
                     "generation instead; drop --pruner")
    if args.early_stopping is not None:
        PARSER.error("--early-stopping cannot be combined with --scheduler pbt: a member's "
                     "training runs its generations to the end; drop --early-stopping")
    if args.trials is not None:
        PARSER.error(f"--trials {args.trials} cannot be combined with --scheduler pbt: the "
                     "study is --population members each trained for the epochs its fit asks "
                     "for, a trial per member and generation (P x epochs/--interval); drop "
                     "--trials and set the length with fit's epochs")


def _check_executions(args: argparse.Namespace) -> None:
    """``--executions-per-trial`` and the options it cannot be combined with."""
    n = args.executions_per_trial
    if n is None or n == 1:
        return
    if args.scheduler == "pbt":
        PARSER.error(f"--executions-per-trial {n} cannot be combined with --scheduler pbt: a "
                     "PBT trial is one generation of one member, which the next generation "
                     "continues from its weights; N seeds would leave N members. Drop one "
                     "(a larger --population averages out the seeds' noise)")
    if args.darts:
        PARSER.error(f"--executions-per-trial {n} cannot be combined with --darts: a search "
                     "trial derives one architecture from its own architecture weights, which "
                     "N seeds cannot average. Drop one")
    if args.strategy == "multi-worker":
        PARSER.error(f"--executions-per-trial {n} cannot be combined with --strategy "
                     "multi-worker: its kernels train one execution in step, and running "
                     "several is not supported. Use --kernels N without the strategy (each "
                     "kernel runs a trial's executions), or drop --executions-per-trial")


def _unknown_message(unknown: list[str]) -> str:
    known = [s for a in PARSER._actions for s in a.option_strings]
    first = unknown[0]
    if first.startswith("-"):
        close = difflib.get_close_matches(first.split("=")[0], known, n=1)
        hint = f" (did you mean {close[0]}?)" if close else ""
        return f"unknown option {first}{hint}"
    return f"unexpected argument {first!r}: only one study name may be given"
