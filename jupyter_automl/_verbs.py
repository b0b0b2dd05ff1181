"""The verbs of ``%automl VERB ...`` and ``jupyter-automl VERB ...``: one table, so both front
doors say the same words for the same things, with the same arguments and help; and what each
verb does.

A verb said where it cannot work names where it can: ``stop`` and ``wait`` act on the
background runs of the notebook's own kernel, ``run`` and ``sweep`` start kernels of their own,
``dashboard`` serves until it is stopped.
"""

from __future__ import annotations

import argparse
import shlex
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn

from .errors import AutomlError, OptionError, path_error
from .runs import DEFAULT_RUNS_DIR
from .ui import DISPLAYS, display_mode

MAGIC, CLI = "magic", "cli"  # the two places a verb is said


@dataclass
class Invocation:
    """One verb said: where (the magic, in a kernel, or the command line), and what that place
    gives the verb."""

    where: str  # MAGIC | CLI
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
    act: Callable[[argparse.Namespace, Invocation], int]
    where: tuple[str, ...] = (MAGIC, CLI)  # where it can be said
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
    from .deploy import base_formats, quantizable

    formats = base_formats()
    _name(parser)
    parser.add_argument("--format", default=None, metavar="|".join(f.name for f in formats),
                        help="; ".join(f"{f.name}: {f.help}" for f in formats)
                        + ". With --bundle, comma-separated (default: "
                        + ", ".join(f.name for f in formats if f.bundled) + ")")
    parser.add_argument("--quantize", action="store_true",
                        help=f"{' or '.join(quantizable())} only: dynamic-range quantization "
                             "(weights in 8 bits)")
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


def _restore_arguments(parser: argparse.ArgumentParser) -> None:
    _name(parser)
    _runs_dir(parser)


def _delete_arguments(parser: argparse.ArgumentParser) -> None:
    _name(parser)
    parser.add_argument("--yes", "-y", action="store_true", help="do not ask first")
    _runs_dir(parser)


def _trial_arguments(parser: argparse.ArgumentParser) -> None:
    _name(parser)
    parser.add_argument("trial", type=_trial_number, metavar="TRIAL",
                        help="the trial's number (the first column of show's table)")


def _trial_number(text: str) -> int:
    try:
        number = int(text)
    except ValueError:
        number = -1
    if number < 0:
        raise argparse.ArgumentTypeError(f"{text!r}: a trial is named by its number (0, 1, "
                                         "...), the first column of show's table")
    return number


def _reason(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--reason", default=None, metavar="TEXT",
                        help="why, kept with the trial and shown in its row ('a noisy run')")


def _discard_arguments(parser: argparse.ArgumentParser) -> None:
    _trial_arguments(parser)
    _reason(parser)
    parser.add_argument("--undo", action="store_true",
                        help="take the discard back: the trial's state and values as they were")
    _runs_dir(parser)
    _storage(parser)


def _rerun_arguments(parser: argparse.ArgumentParser) -> None:
    _trial_arguments(parser)
    parser.add_argument("--discard", action="store_true",
                        help="discard the old trial too, so that the rerun takes its place in "
                             "the total (default: both are kept, the rerun one more trial)")
    _reason(parser)
    _runs_dir(parser)
    _storage(parser)


def _dashboard_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("target", metavar="NAME|STORAGE",
                        help="a study name in the runs folder, an SQLite .db file, or a storage "
                             "URL (sqlite:///..., postgresql://...)")
    parser.add_argument("--port", type=_port, default=None,
                        help="port to listen on (default: 8080, or a free one if it is busy; "
                             "0: a free one)")
    parser.add_argument("--host", default="127.0.0.1",
                        help="address to listen on (default: 127.0.0.1, this machine only)")
    _runs_dir(parser)


def _port(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        port = -1
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"{text!r}: a port is a number from 0 to 65535 (0: any "
                                         "free one)")
    return port


def _background_name(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("name", help="a study running in the background in this kernel")


def _kernels_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("action", nargs="?", choices=("stop",),
                        help="stop: end them (those a running study uses end with its run)")


# -- acts -----------------------------------------------------------------------------------------
def _where(args: argparse.Namespace, said: Invocation) -> str:
    return getattr(args, "runs_dir", None) or said.runs_dir


def _list(args: argparse.Namespace, said: Invocation) -> int:
    from .results import list_text

    if args.runs_dir is not None and not Path(args.runs_dir).expanduser().is_dir():
        raise AutomlError(f"{args.runs_dir}: there is no such folder; give the runs folder the "
                          "studies ran in (automl_runs, next to their notebook)")
    print(list_text(_where(args, said)))
    return 0


def _show(args: argparse.Namespace, said: Invocation) -> int:
    show(args.name, _where(args, said), said.display, args.storage)
    return 0


def _export(args: argparse.Namespace, said: Invocation) -> int:
    from .deploy import base_formats
    from .results import export_bundle, export_model

    if args.bundle is not None:
        if args.output is not None:
            raise AutomlError("--bundle DIR is where the bundle goes: drop --output")
        formats = None if args.format is None else [
            f.strip() for f in args.format.split(",") if f.strip()]
        folder = export_bundle(args.name, args.bundle, _where(args, said), formats=formats,
                               quantize=args.quantize, trial=args.trial, storage=args.storage)
        print(f"wrote the deployment bundle of study {args.name!r} in {folder}: "
              f"{', '.join(sorted(p.name for p in folder.iterdir()))}")
        return 0
    names = [f.name for f in base_formats()]
    if args.format is None or args.format not in names:
        raise AutomlError(f"--format: give one of {', '.join(names)}"
                          + (f" (not {args.format!r})" if args.format else "")
                          + "; several, comma-separated, go with --bundle DIR")
    exported = export_model(args.name, _where(args, said), args.format, output=args.output,
                            quantize=args.quantize, trial=args.trial, storage=args.storage)
    print(exported.describe())
    return 0


def _compress(args: argparse.Namespace, said: Invocation) -> int:
    from .deploy import load_npz
    from .results import compress_study

    x, y = load_npz(args.data, "--data")
    if y is None:
        raise AutomlError(f"--data {args.data}: the .npz has no array y; the evaluation needs "
                          "labels (numpy.savez(path, x=..., y=...))")
    calibration = None if args.calibration is None else load_npz(args.calibration,
                                                                 "--calibration")[0]
    train = None if args.train is None else load_npz(args.train, "--train")
    quantize = None if args.quantize is None else [
        m.strip() for m in args.quantize.split(",") if m.strip()]
    report = compress_study(args.name, x, y, _where(args, said), args.storage,
                            quantize=quantize, calibration=calibration, int8_io=args.int8_io,
                            prune=args.prune, structured=args.structured, train=train,
                            epochs=args.epochs,
                            learning_rate=args.learning_rate, output=args.output,
                            trial=args.trial)
    print(report.text())
    return 0


def _restore(args: argparse.Namespace, said: Invocation) -> int:
    from .runs import live_claims, restore, study_paths

    paths = study_paths(_where(args, said), args.name)
    if not paths.spec.exists():
        raise AutomlError(f"no study {args.name!r} in {paths.root.parent}")
    if live_claims(paths)[1]:
        raise AutomlError(f"study {args.name!r} is running: stop it before restoring its "
                          "database")
    print(restore(paths).describe(args.name))
    return 0


def _delete(args: argparse.Namespace, said: Invocation) -> int:
    from .results import delete

    delete(args.name, _where(args, said), yes=args.yes, ask=said.ask, verb=said.where)
    return 0


def _discard(args: argparse.Namespace, said: Invocation) -> int:
    from .results import discard_trial

    if args.undo and args.reason is not None:
        raise AutomlError("--undo takes a discard back: drop --reason")
    print(discard_trial(args.name, args.trial, _where(args, said), args.storage,
                        reason=args.reason, undo=args.undo, prog=_prog(said)).said)
    return 0


def _rerun(args: argparse.Namespace, said: Invocation) -> int:
    from .results import rerun_trial

    if args.reason is not None and not args.discard:
        raise AutomlError("--reason goes with --discard (the old trial's discard)")
    print(rerun_trial(args.name, args.trial, _where(args, said), args.storage,
                      discard=args.discard, reason=args.reason, prog=_prog(said)).said)
    return 0


def _prog(said: Invocation) -> str:
    return "%automl" if said.where == MAGIC else "jupyter-automl"


def _dashboard(args: argparse.Namespace, said: Invocation) -> int:
    from .results import serve_dashboard

    serve_dashboard(args.target, _where(args, said), host=args.host, port=args.port)
    return 0


def _stop(args: argparse.Namespace, said: Invocation) -> int:
    from .engine import background

    background.get(args.name).stop()
    print(f"study {args.name!r}: stopping (a Keras trial checkpoints at its next epoch); "
          f"%automl wait {args.name} to block until it has")
    return 0


def _wait(args: argparse.Namespace, said: Invocation) -> int:
    from .engine import background

    result = background.get(args.name).wait()
    if result is not None:
        said.namespace["_automl"] = result
    return 0


def _kernels(args: argparse.Namespace, said: Invocation) -> int:
    from .workers import warm_kernels

    print(warm_kernels.stop_text() if args.action == "stop" else warm_kernels.list_text())
    return 0


def _run_arguments(parser: argparse.ArgumentParser) -> None:
    from .batch import run_arguments  # batch loads numpy and jupyter_client: not at %load_ext

    run_arguments(parser)


def _run(args: argparse.Namespace, said: Invocation) -> int:
    from .batch import run_command

    args.command_line = said.command_line or shlex.join(["jupyter-automl", "run",
                                                         str(args.notebook)])
    return run_command(args)


def _sweep_arguments(parser: argparse.ArgumentParser) -> None:
    from .batch import sweep_arguments

    sweep_arguments(parser)


def _sweep(args: argparse.Namespace, said: Invocation) -> int:
    from .batch import sweep_command

    return sweep_command(args)


# -- show --------------------------------------------------------------------------------------
def show(name: str, runs_dir: str | Any, display: str = "auto",
         storage: str | None = None) -> Any:
    """Redraw a study from its storage as ``display`` says (a row of :data:`.ui.DISPLAYS`:
    the panel, static charts or text; ``%automl show`` / ``jupyter-automl show``). Returns the
    panel, in widgets mode."""
    return DISPLAYS[display_mode(display)].show(name, runs_dir, storage)


VERBS = (
    Verb("list", "list the studies under a runs folder: state, trials, best value, last update",
         _list_arguments, _list, aliases=("studies",)),
    Verb("show", "one study: its summary and its trials (the panel, in a notebook)",
         _show_arguments, _show),
    Verb("export", "write a study's best model as .keras, a TF SavedModel or TFLite",
         _export_arguments, _export),
    Verb("compress", "quantize and prune a study's best model, each variant measured against "
                     "it (size, accuracy, latency)", _compress_arguments, _compress),
    Verb("discard", "keep a trial out of the study's best, its total and what its sampler "
                    "learns (it stays in the storage as FAIL, marked discarded); --undo takes "
                    "it back", _discard_arguments, _discard),
    Verb("rerun", "queue a trial's parameters to be trained again: the study's next run "
                  "trains them first (--discard: in the old trial's place)",
         _rerun_arguments, _rerun),
    Verb("delete", "delete a study's folder (asks first)", _delete_arguments, _delete),
    Verb("restore", "put back the copy of a study's database kept beside it (a damaged "
                    "study.db is kept aside): the trials since the copy are lost",
         _restore_arguments, _restore),
    Verb("stop", "stop a study running in the background in this kernel (its trial "
                 "checkpoints at the next epoch)", _background_name, _stop, where=(MAGIC,)),
    Verb("wait", "wait for a background study of this kernel to end; _automl is then its "
                 "result", _background_name, _wait, where=(MAGIC,)),
    Verb("kernels", "the warm worker kernels --kernels N left for the next run in this "
                    "kernel (pid, busy/idle, memory, age); 'kernels stop' ends them",
         _kernels_arguments, _kernels, where=(MAGIC,)),
    Verb("dashboard", "serve optuna-dashboard for a study (read-only for SQLite and "
                      "PostgreSQL; Ctrl-C stops it)", _dashboard_arguments, _dashboard,
         where=(CLI,)),
    Verb("run", "execute a notebook with papermill and report its studies", _run_arguments,
         _run, where=(CLI,)),
    Verb("sweep", "run a notebook once per point of a parameter grid", _sweep_arguments,
         _sweep, where=(CLI,)),
)

_ELSEWHERE = {MAGIC: "from a terminal: jupyter-automl {verb} ...",
              CLI: "in the notebook whose kernel runs the study: %automl {verb} NAME"}


class _MagicParser(argparse.ArgumentParser):
    """argparse that raises :class:`OptionError` (shown as a message) instead of exiting."""

    def error(self, message: str) -> NoReturn:
        raise OptionError(f"{self.prog}: {message}\n{self.format_usage()}")


def parser(where: str) -> argparse.ArgumentParser:
    """The parser of the verbs said ``where`` (:data:`MAGIC` or :data:`CLI`)."""
    if where == MAGIC:
        top: argparse.ArgumentParser = _MagicParser(prog="%automl", add_help=False)
    else:
        top = argparse.ArgumentParser(prog="jupyter-automl",
                                      description="Run AutoML notebooks headlessly, and read, "
                                                  "export or serve their studies.")
    sub = top.add_subparsers(dest="verb", required=True, metavar="VERB",
                             parser_class=type(top))
    for verb in VERBS:
        if where in verb.where:
            each = sub.add_parser(verb.name, aliases=list(verb.aliases), help=verb.help,
                                  description=verb.help, add_help=where == CLI)
            verb.arguments(each)
            each.set_defaults(verb_of=verb)
    return top


def dispatch(words: list[str], said: Invocation) -> int:
    """Parse ``words`` (a verb and its arguments) and do what they say.

    An unknown verb, or one that is said at the other place, is an :class:`OptionError` that
    says what can be said here, or where the verb can be."""
    if words and not words[0].startswith("-"):
        verb = next((v for v in VERBS if words[0] in (v.name, *v.aliases)), None)
        prog = "%automl" if said.where == MAGIC else "jupyter-automl"
        if verb is None:
            here = ", ".join(v.name for v in VERBS if said.where in v.where)
            raise OptionError(f"{prog}: unknown command {words[0]!r}; the commands are: {here}")
        if said.where not in verb.where:
            raise OptionError(f"{prog}: {verb.name} cannot be done here; "
                              + _ELSEWHERE[said.where].format(verb=verb.name))
    args = parser(said.where).parse_args(words)
    try:
        return int(args.verb_of.act(args, said))
    except OSError as exc:  # a path the user named: a message saying which and what to do
        if exc.filename is None:
            raise
        raise path_error(exc) from None


def magic_line(line: str, said: Invocation) -> None:
    """``%automl VERB ...`` (no verb: ``list``)."""
    try:
        words = shlex.split(line)
    except ValueError as exc:
        raise OptionError(f"%automl: cannot split the line: {exc}") from None
    dispatch(words or ["list"], said)


def usage(where: str) -> str:
    """One line per verb said ``where``: for ``%automl?`` and ``jupyter-automl --help``."""
    return "\n".join(f"  {v.name:<10} {v.help}" for v in VERBS if where in v.where)
