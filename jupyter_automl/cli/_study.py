"""``jupyter-automl show|export|dashboard``: one study from the command line.

Each subcommand maps option for option onto a library function: :func:`.catalog.show_text`,
:func:`.model_export.export_model` and :func:`.dashboard.serve`. Heavy imports (TensorFlow,
optuna-dashboard) happen inside the subcommand that needs them.
"""

from __future__ import annotations

import argparse
from typing import Any

RUNS_DIR = "automl_runs"


def add_commands(sub: Any) -> None:
    """Add this module's subcommands to the ``jupyter-automl`` parser's ``sub``."""
    _add_show(sub)
    _add_export(sub)
    _add_dashboard(sub)


def _runs_dir(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--runs-dir", default=RUNS_DIR, metavar="DIR",
                        help=f"the runs folder holding the study (default: {RUNS_DIR})")


def _storage(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--storage", default=None, metavar="URL",
                        help="the study's storage URL, when spec.json cannot name it "
                             "(a database password is never kept there)")


def _add_show(sub: Any) -> None:
    show = sub.add_parser("show", help="print one study: summary and trial table")
    show.add_argument("name", help="the study's name")
    _runs_dir(show)
    _storage(show)
    show.set_defaults(func=_show)


def _add_export(sub: Any) -> None:
    from ..results._model_export import FORMATS

    export = sub.add_parser("export", help="write a study's best model as .keras, a TF "
                                           "SavedModel or TFLite")
    export.add_argument("name", help="the study's name")
    export.add_argument("--format", required=True, choices=FORMATS,
                        help="keras: the .keras file; savedmodel: a TF SavedModel folder "
                             "(serving signature 'serve'); tflite: a TensorFlow Lite file")
    export.add_argument("--quantize", action="store_true",
                        help="tflite only: dynamic-range quantization (weights in 8 bits)")
    export.add_argument("--output", default=None, metavar="PATH",
                        help="file or folder to write (default: named after the study, in the "
                             "current folder); an existing folder receives the default name")
    export.add_argument("--trial", type=int, default=None, metavar="N",
                        help="which model of a multi-objective study's Pareto front")
    _runs_dir(export)
    _storage(export)
    export.set_defaults(func=_export)


def _add_dashboard(sub: Any) -> None:
    dash = sub.add_parser("dashboard", help="serve optuna-dashboard for a study (read-only for "
                                            "SQLite and PostgreSQL; Ctrl-C stops it)")
    dash.add_argument("target", metavar="NAME|STORAGE",
                      help="a study name in the runs folder, an SQLite .db file, or a storage "
                           "URL (sqlite:///..., postgresql://...)")
    dash.add_argument("--port", type=int, default=None,
                      help="port to listen on (default: 8080, or a free one if it is busy; "
                           "0: a free one)")
    dash.add_argument("--host", default="127.0.0.1",
                      help="address to listen on (default: 127.0.0.1, this machine only)")
    _runs_dir(dash)
    dash.set_defaults(func=_dashboard)


def _show(args: argparse.Namespace) -> int:
    from ..results._catalog import show_text

    print(show_text(args.name, args.runs_dir, args.storage))
    return 0


def _export(args: argparse.Namespace) -> int:
    from ..results._model_export import export_model

    exported = export_model(args.name, args.runs_dir, args.format, output=args.output,
                            quantize=args.quantize, trial=args.trial, storage=args.storage)
    print(exported.describe())
    return 0


def _dashboard(args: argparse.Namespace) -> int:
    from ..results._dashboard import serve

    serve(args.target, args.runs_dir, host=args.host, port=args.port)
    return 0
