"""The IPython magics: thin layers that parse their line and hand off to the library API."""

from __future__ import annotations

from typing import Any

from IPython.core.magic import Magics, cell_magic, line_cell_magic, magics_class
from traitlets import Bool, CaselessStrEnum, Int, Unicode
from traitlets.config import Configurable

from ._verbs import MAGIC, usage
from .engine import DEFAULT_TRIALS, PARSER, parse_options
from .errors import AutomlError, OptionError
from .runs import DEFAULT_RUNS_DIR
from .ui import AUTO, DISPLAYS


@magics_class
class Automl(Magics, Configurable):  # type: ignore[misc]
    """``%%automl``, ``%%automl_setup`` and ``%automl VERB`` (list, show, export, delete, stop,
    wait, kernels).

    Settings (``%config Automl.runs_dir = "..."``) apply to every cell of the session.
    """

    runs_dir = Unicode(DEFAULT_RUNS_DIR, config=True,
                       help="Folder of the studies, relative to the notebook's directory.")
    default_trials = Int(DEFAULT_TRIALS, config=True,
                         help="Total trials of a new study when --trials is absent.")
    display = CaselessStrEnum([AUTO, *DISPLAYS], default_value=AUTO,
                              config=True, help="How studies are shown: live widgets, static "
                              "charts (saved notebooks), text; auto picks by where it runs.")
    tensorflow_startup_logs = Bool(False, config=True, help="Show TensorFlow's C++ start-up "
                                   "lines (absl, oneDNN, CUDA probe, CPU features) under the "
                                   "cell that first imports it; other stderr lines always show.")

    def __init__(self, shell: Any = None, **kwargs: Any) -> None:
        super().__init__(shell=shell, **kwargs)
        self.setup_cells: list[str] = []

    @line_cell_magic
    def automl(self, line: str, cell: str | None = None) -> None:
        if cell is None:
            return self._verb(line)
        options = parse_options(line, default_runs_dir=self.runs_dir)
        options.default_trials = self.default_trials
        from ._api import run_study

        result = run_study(cell, options, self._shell.user_ns, setup_cells=self.setup_cells,
                           display=self.display)
        if result is not None and not options.background:
            self._shell.user_ns["_automl"] = result
        return None

    @cell_magic
    def automl_setup(self, line: str, cell: str) -> None:
        """Run the cell here, and record it so worker kernels replay it before their trials.

        Put there what every trial needs and a worker kernel (``--kernels``) does not have:
        imports, data loading, helper functions. The cells are replayed in order on each
        worker kernel before its first trial, and kept in the study's ``setup/`` folder. It
        takes no options; a cell that fails is not recorded."""
        if line.strip():
            raise OptionError(f"%%automl_setup takes no options, got {line.strip()!r}")
        result = self._shell.run_cell(cell, store_history=False)
        if result.success and cell not in self.setup_cells:
            self.setup_cells.append(cell)

    @property
    def _shell(self) -> Any:
        assert self.shell is not None, "the magics are registered with a shell"
        return self.shell

    def _verb(self, line: str) -> None:
        """``%automl VERB ...``: the verbs of :mod:`jupyter_automl._verbs`."""
        from ._verbs import Invocation, magic_line

        magic_line(line, Invocation(MAGIC, self.runs_dir, self.display, self._shell.user_ns,
                                    ask=input))


Automl.automl.__doc__ = PARSER.format_help() + "\nLine form: %automl VERB ...\n" + \
    usage(MAGIC)


def register(shell: Any) -> None:
    magics = Automl(shell=shell, parent=shell)
    shell.register_magics(magics)
    shell.configurables.append(magics)
    from ._utils import tf_startup  # no TensorFlow import: a finder waiting for its first one

    tf_startup.install(lambda: not magics.tensorflow_startup_logs)
    from ._edit import transform

    if transform not in shell.input_transformers_cleanup:
        shell.input_transformers_cleanup.append(transform)
    if "hp" not in shell.user_ns:
        from .space import hp

        shell.push({"hp": hp}, interactive=False)


__all__ = ["Automl", "AutomlError", "register"]
