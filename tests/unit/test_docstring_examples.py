"""The examples in the public API's docstrings run, and say what the code does.

They are the Python reference's examples (docs/reference/python.md renders these docstrings):
tiny studies of plain-Python objectives, no TensorFlow. Each object's examples run in a fresh
temporary folder, where their studies' runs folders land.
"""

from __future__ import annotations

import doctest
import importlib
import io
from pathlib import Path
from typing import Any

import pytest

# every public object whose docstrings hold examples, by the name the reference documents
DOCTESTED = (
    "jupyter_automl.run_study",
    "jupyter_automl.result",
    "jupyter_automl.space.HyperParameters",
    "jupyter_automl.results.AutomlResult",
    "jupyter_automl.training.LoopTrial",
    "jupyter_automl.SpaceBuilder",
    "jupyter_automl.errors",
)
FLAGS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE


def resolve(dotted: str) -> Any:
    """The object ``a.b.C``: the longest importable module, then attributes."""
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        for name in parts[cut:]:
            obj = getattr(obj, name)
        return obj
    raise ImportError(dotted)


def run_examples(obj: Any, name: str) -> tuple[doctest.TestResults, str]:
    """Run every example in ``obj``'s docstrings (its members' too); the failures' report."""
    tests = doctest.DocTestFinder().find(obj, name, globs={})
    out = io.StringIO()
    runner = doctest.DocTestRunner(optionflags=FLAGS)
    for test in sorted(tests, key=lambda t: t.name):
        runner.run(test, out=out.write)
    return runner.summarize(verbose=False), out.getvalue()


@pytest.mark.parametrize("dotted", DOCTESTED)
def test_docstring_examples_run(dotted: str, tmp_path: Path,
                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    results, report = run_examples(resolve(dotted), dotted)
    assert results.attempted > 0, f"{dotted}: its docstrings hold no example"
    assert results.failed == 0, f"{dotted}: {results.failed} example(s) failed\n{report}"


def _broken() -> None:
    """An example whose expected output is wrong.

    >>> import jupyter_automl
    >>> result = jupyter_automl.run_study("3.0", "const --trials 1",
    ...                                   listeners=[])  # doctest: +ELLIPSIS
    study 'const': 1/1 trials (1 complete, 0 pruned, 0 failed)
    ...
    >>> result.best_value
    4.0
    """


def test_a_wrong_example_fails(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The check above would see a broken example: this one runs, and its last line is
    wrong."""
    monkeypatch.chdir(tmp_path)
    results, report = run_examples(_broken, "_broken")
    assert (results.attempted, results.failed) == (3, 1)
    assert "Expected:\n    4.0\nGot:\n    3.0" in report
