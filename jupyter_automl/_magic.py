"""The IPython magics: thin layers that parse their line and hand off to the library API."""

from __future__ import annotations

import shlex
from typing import Any

from IPython.core.magic import Magics, cell_magic, line_cell_magic, magics_class
from traitlets import CaselessStrEnum, Int, Unicode
from traitlets.config import Configurable

from .engine._options import PARSER, parse_options
from .errors import AutomlError, OptionError


@magics_class
class Automl(Magics, Configurable):  # type: ignore[misc]
    """``%%automl``, ``%%automl_setup`` and ``%automl list|show|delete``.

    Settings (``%config Automl.runs_dir = "..."``) apply to every cell of the session.
    """

    runs_dir = Unicode("automl_runs", config=True,
                       help="Folder of the studies, relative to the notebook's directory.")
    default_trials = Int(20, config=True, help="Total trials of a study when --trials is absent.")
    display = CaselessStrEnum(["auto", "widgets", "static", "text"], default_value="auto",
                              config=True, help="How studies are shown: live widgets, static "
                              "charts (saved notebooks), text; auto picks by where it runs.")

    def __init__(self, shell: Any = None, **kwargs: Any) -> None:
        super().__init__(shell=shell, **kwargs)
        self.setup_cells: list[str] = []

    @line_cell_magic
    def automl(self, line: str, cell: str | None = None) -> None:
        if cell is None:
            return self._command(line)
        options = parse_options(line, default_runs_dir=self.runs_dir)
        if options.trials is None and not _stored_total(options):
            options.trials = self.default_trials
        from ._api import run_study

        result = run_study(cell, options, self._shell.user_ns, setup_cells=self.setup_cells,
                           display=self.display)
        if result is not None and not options.background:
            self._shell.user_ns["_automl"] = result
        return None

    @cell_magic
    def automl_setup(self, line: str, cell: str) -> None:
        """Run the cell here, and record it so worker kernels replay it before their trials."""
        if line.strip():
            raise OptionError(f"%%automl_setup takes no options, got {line.strip()!r}")
        result = self._shell.run_cell(cell, store_history=False)
        if result.success and cell not in self.setup_cells:
            self.setup_cells.append(cell)

    @property
    def _shell(self) -> Any:
        assert self.shell is not None, "the magics are registered with a shell"
        return self.shell

    # -- %automl subcommands -----------------------------------------------------------------
    def _command(self, line: str) -> None:
        words = shlex.split(line)
        command, args = (words[0], words[1:]) if words else ("list", [])
        from .results import _catalog as catalog

        if command == "list":
            print(catalog.list_text(args[0] if args else self.runs_dir))
        elif command == "show" and len(args) == 1:
            catalog.show(args[0], self.runs_dir, self.display)
        elif command in ("stop", "wait") and len(args) == 1:
            from .engine import _background as background

            run = background.get(args[0])
            if command == "stop":
                run.stop()
                print(f"study {args[0]!r}: stopping (a Keras trial checkpoints at its next "
                      "epoch); %automl wait to block until it has")
            else:
                result = run.wait()
                if result is not None:
                    self._shell.user_ns["_automl"] = result
        elif command == "delete" and args and args[0] != "--yes":
            catalog.delete(args[0], self.runs_dir, yes="--yes" in args[1:] or "-y" in args[1:],
                           ask=input)
        else:
            raise OptionError(f"%automl {line.strip()}: unknown command; use %automl list "
                              "[RUNS_DIR], show NAME, stop NAME, wait NAME or delete NAME "
                              "[--yes]")


def _stored_total(options: Any) -> bool:
    from .runs._paths import study_paths

    return bool(study_paths(options.runs_dir, options.name).read_spec().get("trials"))


Automl.automl.__doc__ = PARSER.format_help() + """
Line form: %automl list [RUNS_DIR] | show NAME | stop NAME | wait NAME | delete NAME [--yes]
"""


def register(shell: Any) -> None:
    magics = Automl(shell=shell, parent=shell)
    shell.register_magics(magics)
    shell.configurables.append(magics)
    from ._edit import transform

    if transform not in shell.input_transformers_cleanup:
        shell.input_transformers_cleanup.append(transform)
    if "hp" not in shell.user_ns:
        from .space._hp import hp

        shell.push({"hp": hp}, interactive=False)


__all__ = ["Automl", "AutomlError", "register"]
