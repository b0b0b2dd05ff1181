"""The verbs of ``%automl VERB ...`` and ``jupyter-automl VERB ...``: one table, so both front
doors say the same words for the same things, with the same arguments and help; and what each
verb does.

A verb said where it cannot work names where it can: ``stop`` and ``wait`` act on the
background runs of the notebook's own kernel, ``run`` and ``sweep`` start kernels of their own,
``dashboard`` serves until it is stopped.
"""

from __future__ import annotations

import argparse
import ast
import shlex
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from .errors import AutomlError, OptionError
from .runs import DEFAULT_RUNS_DIR
from .ui import display_mode

if TYPE_CHECKING:
    from .batch import NotebookRun

INTERRUPTED = 130  # the exit code of a run stopped by Ctrl-C, as shells give it


@dataclass
class Door:
    """Where a verb is said: the magic (in a kernel) or the command line."""

    name: str  # "magic" | "cli"
    runs_dir: str = DEFAULT_RUNS_DIR
    display: str = "text"  # how ``show`` draws a study: the magic's setting, text on a terminal
    namespace: dict[str, Any] = field(default_factory=dict)  # where ``_automl`` lands
    ask: Callable[[str], str] = input
    command_line: str = ""  # as typed: said back in "run the same command again to resume"


@dataclass(frozen=True)
class Verb:
    name: str
    help: str
    arguments: Callable[[argparse.ArgumentParser], None]
    act: Callable[[argparse.Namespace, Door], int]
    doors: tuple[str, ...] = ("magic", "cli")
    aliases: tuple[str, ...] = ()


# -- arguments ------------------------------------------------------------------------------------
def _name(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("name", help="the study's name")


def _runs_dir(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--runs-dir", default=None, metavar="DIR",
                        help="the runs folder holding the study (default: automl_runs, or "
                             "%%config Automl.runs_dir)")


def _storage(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--storage", default=None, metavar="URL",
                        help="the study's storage URL, when spec.json cannot name it "
                             "(a database password is never kept there)")


def _front_trial(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--trial", type=int, default=None, metavar="N",
                        help="which model of a multi-objective study's Pareto front")


def _list_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("runs_dir", nargs="?", default=None, metavar="RUNS_DIR",
                        help="the runs folder (default: automl_runs)")


def _show_arguments(parser: argparse.ArgumentParser) -> None:
    _name(parser)
    _runs_dir(parser)
    _storage(parser)


def _export_arguments(parser: argparse.ArgumentParser) -> None:
    from .results import FORMATS

    _name(parser)
    parser.add_argument("--format", default=None, metavar="|".join(FORMATS),
                        help="keras: the .keras file; savedmodel: a TF SavedModel folder "
                             "(serving signature 'serve'); tflite: a TensorFlow Lite file. "
                             "With --bundle, comma-separated (default: all three)")
    parser.add_argument("--quantize", action="store_true",
                        help="tflite only: dynamic-range quantization (weights in 8 bits)")
    parser.add_argument("--output", default=None, metavar="PATH",
                        help="file or folder to write (default: named after the study, in the "
                             "current folder); an existing folder receives the default name")
    parser.add_argument("--bundle", default=None, metavar="DIR",
                        help="write a deployment bundle instead: the model in the --format(s), "
                             "model_card.md, signature.json and predict.py")
    _front_trial(parser)
    _runs_dir(parser)
    _storage(parser)


def _compress_arguments(parser: argparse.ArgumentParser) -> None:
    _name(parser)
    parser.add_argument("--data", required=True, metavar="EVAL.npz",
                        help="evaluation data: an .npz with arrays x and y (numpy.savez)")
    parser.add_argument("--quantize", default=None, metavar="MODES",
                        help="TFLite quantizations, comma-separated: dynamic, float16, int8 "
                             "(default: dynamic,float16, and int8 with --calibration)")
    parser.add_argument("--calibration", default=None, metavar="CALIB.npz",
                        help="int8: typical inputs (an .npz with an array x) for the "
                             "activations' ranges")
    parser.add_argument("--int8-io", choices=("float", "int8"), default="float",
                        help="int8: the model's input and output type (default float)")
    parser.add_argument("--prune", type=float, default=None, metavar="SPARSITY",
                        help="also prune Dense and convolution kernels by magnitude to this "
                             "share of zeros (0.8), fine-tuning on --train")
    parser.add_argument("--structured", action="store_true",
                        help="--prune: remove whole units and filters (a smaller model, not a "
                             "sparse one; Sequential models)")
    parser.add_argument("--train", default=None, metavar="TRAIN.npz",
                        help="--prune: fine-tuning data, an .npz with arrays x and y")
    parser.add_argument("--epochs", type=int, default=2,
                        help="--prune: fine-tuning epochs (default 2)")
    parser.add_argument("--learning-rate", type=float, default=None, metavar="LR",
                        help="--prune: fine-tuning learning rate (default: the model's "
                             "own)")
    parser.add_argument("--output", default=None, metavar="DIR",
                        help="folder for the files and report.json (default "
                             "RUNS_DIR/NAME/compressed)")
    _front_trial(parser)
    _runs_dir(parser)
    _storage(parser)


def _delete_arguments(parser: argparse.ArgumentParser) -> None:
    _name(parser)
    parser.add_argument("--yes", "-y", action="store_true", help="do not ask first")
    _runs_dir(parser)


def _dashboard_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("target", metavar="NAME|STORAGE",
                        help="a study name in the runs folder, an SQLite .db file, or a storage "
                             "URL (sqlite:///..., postgresql://...)")
    parser.add_argument("--port", type=int, default=None,
                        help="port to listen on (default: 8080, or a free one if it is busy; "
                             "0: a free one)")
    parser.add_argument("--host", default="127.0.0.1",
                        help="address to listen on (default: 127.0.0.1, this machine only)")
    _runs_dir(parser)


def _background_name(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("name", help="a study running in the background in this kernel")


def _kernels_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("action", nargs="?", choices=("stop",),
                        help="stop: end them (those a running study uses end with its run)")


# -- acts -----------------------------------------------------------------------------------------
def _where(args: argparse.Namespace, door: Door) -> str:
    return getattr(args, "runs_dir", None) or door.runs_dir


def _list(args: argparse.Namespace, door: Door) -> int:
    from .results import list_text

    print(list_text(_where(args, door)))
    return 0


def _show(args: argparse.Namespace, door: Door) -> int:
    show(args.name, _where(args, door), door.display, args.storage)
    return 0


def _export(args: argparse.Namespace, door: Door) -> int:
    from .results import FORMATS, export_bundle, export_model

    if args.bundle is not None:
        if args.output is not None:
            raise AutomlError("--bundle DIR is where the bundle goes: drop --output")
        formats = None if args.format is None else [
            f.strip() for f in args.format.split(",") if f.strip()]
        folder = export_bundle(args.name, args.bundle, _where(args, door), formats=formats,
                               quantize=args.quantize, trial=args.trial, storage=args.storage)
        print(f"wrote the deployment bundle of study {args.name!r} in {folder}: "
              f"{', '.join(sorted(p.name for p in folder.iterdir()))}")
        return 0
    if args.format is None or args.format not in FORMATS:
        raise AutomlError(f"--format: give one of {', '.join(FORMATS)}"
                          + (f" (not {args.format!r})" if args.format else "")
                          + "; several, comma-separated, go with --bundle DIR")
    exported = export_model(args.name, _where(args, door), args.format, output=args.output,
                            quantize=args.quantize, trial=args.trial, storage=args.storage)
    print(exported.describe())
    return 0


def _compress(args: argparse.Namespace, door: Door) -> int:
    from .results import compress_study, load_npz

    x, y = load_npz(args.data, "--data")
    if y is None:
        raise AutomlError(f"--data {args.data}: the .npz has no array y; the evaluation needs "
                          "labels (numpy.savez(path, x=..., y=...))")
    calibration = None if args.calibration is None else load_npz(args.calibration,
                                                                 "--calibration")[0]
    train = None if args.train is None else load_npz(args.train, "--train")
    quantize = None if args.quantize is None else [
        m.strip() for m in args.quantize.split(",") if m.strip()]
    report = compress_study(args.name, x, y, _where(args, door), args.storage,
                            quantize=quantize, calibration=calibration, int8_io=args.int8_io,
                            prune=args.prune, structured=args.structured, train=train,
                            epochs=args.epochs,
                            learning_rate=args.learning_rate, output=args.output,
                            trial=args.trial)
    print(report.text())
    return 0


def _delete(args: argparse.Namespace, door: Door) -> int:
    from .results import delete

    delete(args.name, _where(args, door), yes=args.yes, ask=door.ask, verb=door.name)
    return 0


def _dashboard(args: argparse.Namespace, door: Door) -> int:
    from .results import serve_dashboard

    serve_dashboard(args.target, _where(args, door), host=args.host, port=args.port)
    return 0


def _stop(args: argparse.Namespace, door: Door) -> int:
    from .engine import background

    background.get(args.name).stop()
    print(f"study {args.name!r}: stopping (a Keras trial checkpoints at its next epoch); "
          f"%automl wait {args.name} to block until it has")
    return 0


def _wait(args: argparse.Namespace, door: Door) -> int:
    from .engine import background

    result = background.get(args.name).wait()
    if result is not None:
        door.namespace["_automl"] = result
    return 0


def _kernels(args: argparse.Namespace, door: Door) -> int:
    from .workers import warm_kernels

    print(warm_kernels.stop_text() if args.action == "stop" else warm_kernels.list_text())
    return 0


def _run(args: argparse.Namespace, door: Door) -> int:
    args.command_line = door.command_line or shlex.join(["jupyter-automl", "run",
                                                         str(args.notebook)])
    return run_command(args)


def _sweep(args: argparse.Namespace, door: Door) -> int:
    return sweep_command(args)


# -- show, run and sweep --------------------------------------------------------------------
def show(name: str, runs_dir: str | Any, display: str = "auto",
         storage: str | None = None) -> Any:
    """Redraw a study from its storage: the panel, static charts or text, as ``display`` says
    (``%automl show`` / ``jupyter-automl show``). Returns the panel, in widgets mode."""
    from . import ui
    from .results import load_result, show_text

    mode = display_mode(display)
    if mode == "text":
        print(show_text(name, runs_dir, storage))
        return None
    result = load_result(name, runs_dir, storage)
    model = ui.StudyModel.from_result(result)
    print(result.summary())
    if mode == "static":
        ui.show_static(model, result.study)
        return None
    panel = ui.StudyPanel()
    panel.attach(model, result.study)
    return panel


def run_arguments(run: argparse.ArgumentParser) -> None:
    run.add_argument("notebook", type=Path)
    run.add_argument("-p", "--parameter", nargs=2, action="append", default=[],
                     metavar=("NAME", "VALUE"),
                     help="a notebook parameter (repeatable; overrides the parameters file)")
    run.add_argument("-f", "--parameters-file", type=Path, default=None, metavar="PARAMS.yaml",
                     help="a YAML mapping of notebook parameters, like 'n_trials: 20'")
    run.add_argument("--output", type=Path, default=None,
                     help="executed notebook (default: NB.out.ipynb beside NB)")
    _kernel_options(run)
    run.add_argument("--cwd", type=Path, default=None,
                     help="working directory of the kernel (default: the notebook's folder); "
                          "the runs folder is created there")


def sweep_arguments(sweep: argparse.ArgumentParser) -> None:
    sweep.add_argument("notebook", type=Path)
    sweep.add_argument("--grid", type=Path, required=True, metavar="PARAMS.yaml",
                       help="a YAML mapping of parameter names to lists of values (their "
                            "product is the grid), or 'points:', a list of mappings, one a point")
    sweep.add_argument("--parallel", type=int, default=1, metavar="K",
                       help="points run at a time (default 1)")
    sweep.add_argument("--output-dir", type=Path, default=None, metavar="DIR",
                       help="folder of the points and the summary (default: NB_sweep/ beside "
                            "NB)")
    _kernel_options(sweep)


def _kernel_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--kernel", default=None, help="kernel name (default: the notebook's)")


def run_command(args: argparse.Namespace) -> int:
    from . import batch

    notebook: Path = args.notebook
    if not notebook.exists():
        raise AutomlError(f"notebook {notebook} does not exist")
    parameters = batch.read_parameters_file(args.parameters_file) \
        if args.parameters_file else {}
    parameters.update({name: parse_value(value) for name, value in args.parameter})
    batch.check_kernel(notebook, args.kernel)
    for warning in batch.parameter_warnings(notebook, list(parameters)):
        print(f"jupyter-automl: warning: {warning}", file=sys.stderr)
    with batch.forward_interrupts():
        run = batch.run_notebook(notebook, args.output or notebook.with_suffix(".out.ipynb"),
                                 parameters, kernel=args.kernel, cwd=args.cwd, progress=True)
    _report(run, args.command_line)
    return 0 if run.ok else INTERRUPTED if run.status == "interrupted" else 1


def _report(run: NotebookRun, command: str) -> None:
    from .batch import describe_unfinished

    for result in run.studies:
        print(f"\n{result.summary()}")
    if run.status == "failed":
        _print_cell(f"notebook failed in cell {run.cell}: {run.error}", run.source)
    elif run.status == "interrupted":
        print(f"\ninterrupted in cell {run.cell}: {run.error}", file=sys.stderr)
        print(f"run the same command again to resume:\n  {command}", file=sys.stderr)
    elif run.status == "kernel died":
        _print_cell(f"the kernel died in cell {run.cell} (killed, or out of memory)", run.source)
        print(f"finished trials are kept, and a trial that was running is retried from its last "
              f"checkpoint: run the same command again to resume:\n  {command}", file=sys.stderr)
    for result in run.unfinished() if run.status == "unfinished" else []:
        print(f"\n{describe_unfinished(result)}; run the same command again to continue it:"
              f"\n  {command}", file=sys.stderr)
    label = "executed notebook" if run.status in ("finished", "unfinished") \
        else "partial output notebook"
    print(f"\n{label}: {run.output}")
    print(f"runs folder: {run.runs_dir}")


def _print_cell(headline: str, source: str, lines: int = 6) -> None:
    print(f"\n{headline}", file=sys.stderr)
    shown = source.splitlines()
    for line in shown[:lines]:
        print(f"  | {line}", file=sys.stderr)
    if len(shown) > lines:
        print(f"  | ... ({len(shown) - lines} more lines)", file=sys.stderr)


def sweep_command(args: argparse.Namespace) -> int:
    from .batch import forward_interrupts, run_sweep

    if not args.notebook.exists():
        raise AutomlError(f"notebook {args.notebook} does not exist")
    if args.parallel < 1:
        raise AutomlError(f"--parallel {args.parallel}: give at least 1 point at a time")
    with forward_interrupts():
        results = run_sweep(args.notebook, args.grid, parallel=args.parallel,
                            output_dir=args.output_dir, kernel=args.kernel)
    return 0 if all(r.ok for r in results) else 1


def parse_value(text: str) -> Any:
    """A parameter value as papermill's CLI reads it: a Python literal if it is one, else text."""
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


VERBS = (
    Verb("list", "list the studies under a runs folder: state, trials, best value, last update",
         _list_arguments, _list, aliases=("studies",)),
    Verb("show", "one study: its summary and its trials (the panel, in a notebook)",
         _show_arguments, _show),
    Verb("export", "write a study's best model as .keras, a TF SavedModel or TFLite",
         _export_arguments, _export),
    Verb("compress", "quantize and prune a study's best model, each variant measured against "
                     "it (size, accuracy, latency)", _compress_arguments, _compress),
    Verb("delete", "delete a study's folder (asks first)", _delete_arguments, _delete),
    Verb("stop", "stop a study running in the background in this kernel (its trial "
                 "checkpoints at the next epoch)", _background_name, _stop, doors=("magic",)),
    Verb("wait", "wait for a background study of this kernel to end; _automl is then its "
                 "result", _background_name, _wait, doors=("magic",)),
    Verb("kernels", "the warm worker kernels --kernels N left for the next run in this "
                    "kernel (pid, busy/idle, memory, age); 'kernels stop' ends them",
         _kernels_arguments, _kernels, doors=("magic",)),
    Verb("dashboard", "serve optuna-dashboard for a study (read-only for SQLite and "
                      "PostgreSQL; Ctrl-C stops it)", _dashboard_arguments, _dashboard,
         doors=("cli",)),
    Verb("run", "execute a notebook with papermill and report its studies", run_arguments,
         _run, doors=("cli",)),
    Verb("sweep", "run a notebook once per point of a parameter grid", sweep_arguments,
         _sweep, doors=("cli",)),
)

_ELSEWHERE = {"magic": "from a terminal: jupyter-automl {verb} ...",
              "cli": "in the notebook whose kernel runs the study: %automl {verb} NAME"}


class _MagicParser(argparse.ArgumentParser):
    """argparse that raises :class:`OptionError` (shown as a message) instead of exiting."""

    def error(self, message: str) -> NoReturn:
        raise OptionError(f"{self.prog}: {message}\n{self.format_usage()}")


def parser(door: str) -> argparse.ArgumentParser:
    """The parser of the verbs said at ``door``."""
    if door == "magic":
        top: argparse.ArgumentParser = _MagicParser(prog="%automl", add_help=False)
    else:
        top = argparse.ArgumentParser(prog="jupyter-automl",
                                      description="Run AutoML notebooks headlessly, and read, "
                                                  "export or serve their studies.")
    sub = top.add_subparsers(dest="verb", required=True, metavar="VERB",
                             parser_class=type(top))
    for verb in VERBS:
        if door in verb.doors:
            each = sub.add_parser(verb.name, aliases=list(verb.aliases), help=verb.help,
                                  description=verb.help, add_help=door == "cli")
            verb.arguments(each)
            each.set_defaults(verb_of=verb)
    return top


def say(words: list[str], door: Door) -> int:
    """Parse and act on ``words`` (a verb and its arguments) said at ``door``.

    An unknown verb, or one of the other door, is an :class:`OptionError` that says what can be
    said here, or where the verb can be."""
    if words and not words[0].startswith("-"):
        verb = next((v for v in VERBS if words[0] in (v.name, *v.aliases)), None)
        prog = "%automl" if door.name == "magic" else "jupyter-automl"
        if verb is None:
            here = ", ".join(v.name for v in VERBS if door.name in v.doors)
            raise OptionError(f"{prog}: unknown command {words[0]!r}; the commands are: {here}")
        if door.name not in verb.doors:
            raise OptionError(f"{prog}: {verb.name} cannot be done here; "
                              + _ELSEWHERE[door.name].format(verb=verb.name))
    args = parser(door.name).parse_args(words)
    return int(args.verb_of.act(args, door))


def magic_line(line: str, door: Door) -> None:
    """``%automl VERB ...`` (no verb: ``list``)."""
    try:
        words = shlex.split(line)
    except ValueError as exc:
        raise OptionError(f"%automl: cannot split the line: {exc}") from None
    say(words or ["list"], door)


def usage(door: str) -> str:
    """One line per verb said at ``door``: for ``%automl?`` and ``jupyter-automl --help``."""
    return "\n".join(f"  {v.name:<10} {v.help}" for v in VERBS if door in v.doors)

