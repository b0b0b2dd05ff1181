"""The cell body as an objective: compiled once, executed once per trial in a copy of the
notebook's namespace, with the value of its last expression returned.
"""

from __future__ import annotations

import ast
import itertools
import linecache
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .._utils.process import import_keras
from ..errors import AutomlError
from ..space import StaticSpace, hp, read_space
from ..training import trial as loop_trial

_KERAS_NAMES = {"keras", "tf", "tensorflow"}
_PACKAGE = str(Path(__file__).parent)
_counter = itertools.count(1)


@dataclass
class Cell:
    """A parsed ``%%automl`` cell body."""

    source: str
    name: str = "automl"
    filename: str = ""
    space: StaticSpace = field(default_factory=StaticSpace)
    uses_keras: bool = False
    returns_value: bool = False  # the last statement is an expression other than a .fit() call
    _body: Any = None
    _last: Any = None

    @classmethod
    def parse(cls, source: str, name: str = "automl") -> Cell:
        filename = f"<automl-cell-{name}-{next(_counter)}>"
        try:
            tree = ast.parse(source, filename=filename)
        except SyntaxError as exc:
            raise AutomlError(f"the %%automl cell has a syntax error on line {exc.lineno}: "
                              f"{exc.msg}\n    {(exc.text or '').rstrip()}") from None
        cell = cls(source, name, filename, read_space(tree))
        cell.uses_keras = _uses_keras(tree)
        last = tree.body[-1] if tree.body else None
        if isinstance(last, ast.Expr):
            tree.body.pop()
            cell._last = compile(ast.Expression(last.value), filename, "eval")
            cell.returns_value = not _is_fit_call(last.value)
        cell._body = compile(tree, filename, "exec")
        # Tracebacks of failing trials then show the cell's own lines.
        linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
        return cell

    def run(self, namespace: dict[str, Any]) -> Any:
        """Execute the body in ``namespace``; return the last expression's value (or None)."""
        exec(self._body, namespace)
        return eval(self._last, namespace) if self._last is not None else None

    def format_error(self, exc: BaseException) -> str:
        """The traceback of ``exc`` from the cell's frames on, without jupyter-automl's own."""
        frames = traceback.extract_tb(exc.__traceback__)
        first = next((i for i, f in enumerate(frames) if f.filename == self.filename), 0)
        kept = [f for f in frames[first:] if not f.filename.startswith(_PACKAGE)]
        return ("Traceback (most recent call last):\n" + "".join(traceback.format_list(kept))
                + "".join(traceback.format_exception_only(type(exc), exc)))


def trial_namespace(user_ns: dict[str, Any], cell: Cell) -> dict[str, Any]:
    """A copy of the notebook namespace with ``hp``, ``trial`` (for custom training loops) and
    ``keras`` if the cell uses it unbound."""
    namespace = dict(user_ns)
    namespace["hp"] = hp
    namespace["trial"] = loop_trial
    if cell.uses_keras and "keras" not in namespace:
        # the cell uses keras without importing it: provide it, as the tutorials do
        namespace["keras"] = import_keras()
    return namespace


def _uses_keras(tree: ast.Module) -> bool:
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and node.id in _KERAS_NAMES:
            return True
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            modules = [a.name for a in node.names] if isinstance(node, ast.Import) \
                else [node.module or ""]
            if any(m.split(".")[0] in _KERAS_NAMES for m in modules):
                return True
    return False


def _is_fit_call(node: ast.expr) -> bool:
    return (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
            and node.func.attr == "fit")
