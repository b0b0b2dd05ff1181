"""jupyter-automl: a notebook cell as a deep-learning AutoML study.

``%load_ext jupyter_automl`` registers ``%%automl``, ``%%automl_setup`` and ``%automl``. Nothing
here imports tensorflow, keras, plotly or optuna: they load when a study first needs them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from .errors import AutomlError
from .runs import DEFAULT_RUNS_DIR
from .space import hp
from .version import __version__

if TYPE_CHECKING:
    from .engine import Listener, StudyOptions
    from .results import AutomlResult
    from .ui.space_builder import SpaceBuilder

__all__ = ["AutomlError", "SpaceBuilder", "__version__", "hp", "load_ipython_extension", "result",
           "run_study"]


def __getattr__(name: str) -> Any:
    # The builder imports ipywidgets: load it on first use, never with the package.
    if name == "SpaceBuilder":
        from .ui.space_builder import SpaceBuilder

        return SpaceBuilder
    raise AttributeError(f"module 'jupyter_automl' has no attribute {name!r}")


def _jupyter_server_extension_points() -> list[dict[str, str]]:
    """The Jupyter server extension (JupyterLab's AutoML sidebar): :mod:`jupyter_automl.lab`."""
    return [{"module": "jupyter_automl.lab"}]


def _jupyter_labextension_paths() -> list[dict[str, str]]:
    return [{"src": "labextension", "dest": "jupyter-automl"}]


def load_ipython_extension(ipython: Any) -> None:
    # Imported here so that `import jupyter_automl` stays free of IPython's magic machinery.
    from ._magic import register

    register(ipython)


def result(name: str, runs_dir: str = DEFAULT_RUNS_DIR) -> AutomlResult:
    """The study ``name`` in ``runs_dir``, read back from its storage.

    The same object as ``_automl`` after an ``%%automl`` cell and ``%automl show``: best
    parameters and value(s), the trials, the best model, the state. A study that is still
    running is read as it stands.

    Args:
        name: The study's name (the first word of its ``%%automl`` line).
        runs_dir: The runs folder it ran in (``--runs-dir``; default ``automl_runs``, relative
            to the current folder).

    Returns:
        The study's :class:`~jupyter_automl.results.AutomlResult`.

    Raises:
        StudyNotFoundError: There is no study ``name`` in ``runs_dir``; the message lists the
            studies there are, or says the folder does not exist.

    Example:
        >>> import jupyter_automl
        >>> _ = jupyter_automl.run_study('hp.int("x", 0, 9) ** 2', "squares --trials 3 --seed 1",
        ...                              listeners=[])  # doctest: +ELLIPSIS
        study 'squares': 3/3 trials (3 complete, 0 pruned, 0 failed)
        ...
        >>> result = jupyter_automl.result("squares")
        >>> result.status, result.done, len(result.trials)
        ('finished', 3, 3)
        >>> jupyter_automl.result("cubes")
        Traceback (most recent call last):
        ...
        jupyter_automl.errors.StudyNotFoundError: no study 'cubes' in ...; studies there: squares
    """
    from .results import AutomlResult

    return AutomlResult.load(name, runs_dir)


def run_study(source: str, options: str | StudyOptions = "",
              namespace: dict[str, Any] | None = None,
              listeners: Sequence[Listener] | None = None, setup_cells: Sequence[str] = (),
              display: str = "auto") -> Any:
    """Run ``source`` (a cell body) as the study ``options`` describe: ``%%automl`` without
    IPython.

    The study is stored in its runs folder as the magic's is: a rerun with the same name
    resumes it (a finished one runs only what a larger ``--trials`` adds), and
    :func:`result` reads it back from anywhere. The best model (or best parameters, for a cell
    that trains no Keras model) is kept in the study's ``best/`` folder. A summary of the run
    is printed as it ends.

    Args:
        source: The cell's body: Python code that uses ``hp`` for its parameters and ends with
            the value to optimize (a number, a tuple of numbers for several objectives, or a
            Keras ``fit`` history); or trains with ``fit``, or reports through ``trial``.
        options: The option line, as after ``%%automl`` (``"NAME --trials 20 --maximize
            val_accuracy"``; every option is in the reference of the magic), or parsed
            :class:`~jupyter_automl.engine.StudyOptions`.
        namespace: Where the cell's free names are looked up and its assignments go (the
            notebook's namespace, in the magic); default a new empty one.
        listeners: What follows the run (:class:`~jupyter_automl.engine.Listener` objects);
            default: those of ``display``. ``[]`` runs silently but for the closing summary.
        setup_cells: Code that worker kernels (``--kernels``) run before their first trial,
            as ``%%automl_setup`` cells do; recorded in the study's ``setup/`` folder.
        display: How the run shows itself, a row of :data:`jupyter_automl.ui.DISPLAYS`
            (``widgets``, ``static``, ``text``) or ``auto`` (the panel in a notebook, a
            progress line elsewhere).

    Returns:
        The study's :class:`~jupyter_automl.results.AutomlResult`; None with ``--check`` (one
        short trial in memory, the study untouched); the running background run with
        ``--background`` (``wait()`` returns the result).

    Raises:
        OptionError: The option line has an unknown or malformed option, or a combination
            that cannot work; the message names it and the fix.
        SpaceError: A parameter's range cannot be sampled (``low`` above ``high``, an empty
            ``hp.choice``...), found before any trial runs.
        StudyConflictError: The stored study of that name has other objectives.
        TooManyFailuresError: Trials failed in a row (the cell is broken for every parameter
            set); the first failure's traceback is in the message.
        PathError: A file of the study cannot be written (the runs folder read-only, the disk
            full); what finished is kept.

    Example:
        A plain-Python objective, three trials (a real study would run more):

        >>> import jupyter_automl
        >>> source = '''
        ... x = hp.float("x", -2.0, 2.0)
        ... (x - 0.5) ** 2
        ... '''
        >>> result = jupyter_automl.run_study(source, "quad --trials 3 --seed 0 --runs-dir runs",
        ...                                   listeners=[])  # doctest: +ELLIPSIS
        study 'quad': 3/3 trials (3 complete, 0 pruned, 0 failed)
        state: finished, last update ...
        best value = 0.0928701 (trial 1) with {'x': 0.195254015709299}
        runs folder: .../runs/quad
        best params: .../runs/quad/best/params.json
        >>> result.best_value < 1.0, sorted(result.best_params)
        (True, ['x'])

        Running it again with a larger total resumes the study:

        >>> result = jupyter_automl.run_study(source, "quad --trials 5 --seed 0 --runs-dir runs",
        ...                                   listeners=[])  # doctest: +ELLIPSIS
        study 'quad': 5/5 trials (5 complete, 0 pruned, 0 failed)
        ...

        A bad option is an error that names it:

        >>> jupyter_automl.run_study(source, "quad --trails 5")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        jupyter_automl.errors.OptionError: %%automl: unknown option --trails \
(did you mean --trials?)
        ...
    """
    from ._api import run_study as _run

    return _run(source, options, namespace, listeners, setup_cells, display)
