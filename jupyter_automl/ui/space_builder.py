"""The space builder: a form to edit a search space, checked as you type, written back as code.

The cell stays the source of truth: the builder opens a cell's space (or a saved one), and
"Write to cell" turns the edited rows into ``hp`` code (:mod:`jupyter_automl.space._source`).
Errors are those ``hp`` raises, with the same wording, so what the form accepts a study runs.
Imported by users only (it imports ipywidgets), never by ``import jupyter_automl``.
"""

from __future__ import annotations

import ast
import html
import re
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import ipywidgets as widgets

from ..errors import SpaceError
from ..runs import DEFAULT_RUNS_DIR
from ..space import (
    KINDS,
    ParamSpec,
    check_consistent,
    read_cell_space,
    render_space,
    rewrite_cell,
    save_space,
    unmatched,
    validate,
    value_source,
)

_RANGE = ("int", "float")
_MUTABLE = ("int", "float", "choice")  # the kinds hp may mark mutable=True
_COMPUTED = "computed in the cell"
_ITEM = re.compile(r"""(?:"(?:\\.|[^"\\])*"|'(?:\\.|[^'\\])*'|[^,'"])+""")


def _layout(width: str) -> widgets.Layout:
    return widgets.Layout(width=width, min_width=width)


def _text(value: str, placeholder: str, width: str) -> widgets.Text:
    return widgets.Text(value=value, placeholder=placeholder, continuous_update=True,
                        layout=_layout(width))


def _button(label: str, tooltip: str) -> widgets.Button:
    return widgets.Button(description=label, tooltip=tooltip, layout=_layout("2.6em"))


class SpaceRow:
    """The widgets of one parameter.

    ``origin`` is the spec the row was opened from (None for a new row): its name says which
    call of the cell the row writes to, and its unknown values (``None``) mark arguments the
    cell computes, which may stay empty here.
    """

    def __init__(self, spec: ParamSpec, origin: ParamSpec | None) -> None:
        self.origin = origin
        self.name = _text(spec.name, "name", "11em")
        self.kind = widgets.Dropdown(options=list(KINDS), value=spec.kind, layout=_layout("7em"))
        self.low = _text(_number_text(spec.low), "low", "7em")
        self.high = _text(_number_text(spec.high), "high", "7em")
        step = None if spec.step == (1 if spec.kind == "int" else None) else spec.step
        self.step = _text(_number_text(step), "step", "6em")
        self.log = widgets.Checkbox(value=spec.log, description="log", indent=False,
                                    layout=_layout("4em"))
        self.choices = _text(_items_text(spec), "", "18em")
        self.up, self.down = _button("↑", "move up"), _button("↓", "move down")
        self.remove = _button("✕", "remove this parameter")
        self.box = widgets.HBox([self.name, self.kind, self.low, self.high, self.step, self.log,
                                 self.choices, self.up, self.down, self.remove])
        self.box.add_class("automl-space-row")
        self.update_fields()

    @property
    def inputs(self) -> list[widgets.Widget]:
        return [self.name, self.kind, self.low, self.high, self.step, self.log, self.choices]

    def update_fields(self) -> None:
        """Show only the fields of the row's kind, with hints for what an empty field means."""
        kind = self.kind.value
        for widget in (self.low, self.high, self.step, self.log):
            _show(widget, kind in _RANGE)
        _show(self.choices, kind in ("choice", "fixed"))
        for label, widget in (("low", self.low), ("high", self.high)):
            widget.placeholder = _COMPUTED if self._computed(label) else label
        self.step.placeholder = (_COMPUTED if self._computed("step")
                                 else "step 1" if kind == "int" else "no step")
        self.choices.placeholder = (_COMPUTED if self._computed(kind) else
                                    "options: a, b, c" if kind == "choice" else "value")

    def read(self) -> ParamSpec:
        """The row as a spec; :class:`SpaceError` naming the parameter if a field is unreadable.

        Range rules are left to ``validate``, so that they read exactly as in a cell.
        """
        kind, name = self.kind.value, self.name.value.strip()
        if not name:
            raise SpaceError(f"hp.{kind}: the parameter name must be a non-empty string, "
                             f"got {name!r}")
        origin = self.origin
        spec = ParamSpec(name, kind, line=origin.line if origin else None,
                         exact=origin.exact if origin else True,
                         # --scheduler pbt's mark, kept as the cell has it (no field for it)
                         mutable=bool(origin and origin.mutable and kind in _MUTABLE))
        if kind in _RANGE:
            spec.low = self._number(spec, "low", self.low.value)
            spec.high = self._number(spec, "high", self.high.value)
            spec.step = self._number(spec, "step", self.step.value)
            spec.log = bool(self.log.value)
        elif kind == "choice":
            spec.choices = self._options(spec)
        elif kind == "fixed":
            spec.value = self._value(spec)
        return spec

    def _number(self, spec: ParamSpec, label: str, text: str) -> int | float | None:
        text = text.strip()
        if not text:
            if self._computed(label) or (label == "step" and spec.kind == "float"):
                return None
            if label == "step":
                return 1
            raise SpaceError(f"{_where(spec)}: {label} is empty; give a number")
        try:
            value = parse_number(text)
        except ValueError:
            raise SpaceError(f"{_where(spec)}: {label}={text!r} is not a number") from None
        if spec.kind == "int" and isinstance(value, float) and value.is_integer():
            return int(value)
        return value

    def _options(self, spec: ParamSpec) -> list[Any] | None:
        text = self.choices.value
        if not text.strip() and self._computed("choice"):
            return None
        try:
            options = parse_items(text)
        except ValueError as exc:
            raise SpaceError(f"{_where(spec)}: options {text!r} cannot be read ({exc}); "
                             "separate them with commas") from None
        if len(options) != len({repr(o) for o in options}):
            raise SpaceError(f"hp.choice({spec.name!r}): options {options} are not distinct")
        return options

    def _value(self, spec: ParamSpec) -> Any:
        text = self.choices.value.strip()
        if not text:
            if self._computed("fixed"):
                return None
            raise SpaceError(f"{_where(spec)}: the value is empty; give one (None for none)")
        return parse_item(text)

    def _computed(self, field: str) -> bool:
        """Whether the row's cell computes ``field`` (so the form does not know its value)."""
        origin = self.origin
        if origin is None:
            return False
        if field in ("low", "high"):
            return origin.kind in _RANGE and getattr(origin, field) is None
        if field == "step":  # a float's None step is also "no step"; only int's is unknown
            return origin.kind == "int" and origin.step is None
        if field == "choice":
            return origin.kind == "choice" and origin.choices is None
        return field == "fixed" and origin.kind == "fixed" and origin.value is None \
            and not origin.exact


class SpaceBuilder(widgets.VBox):
    """A search space as a form: one row per parameter, validated as you type.

    Display it in a notebook (it is an ipywidgets ``VBox``); ``%%automl ... --edit`` opens one
    on the cell's own ``hp`` calls. Every row is checked with ``hp``'s own rules and
    messages; "Save as..." stores the space for ``--space NAME``.

    Args:
        specs: A space to open (:class:`~jupyter_automl.space.ParamSpec` rows, e.g. one read
            back by ``jupyter_automl.space.load_space``).
        source: A cell to open instead (the whole ``%%automl`` cell or its body): its ``hp``
            calls become the rows, and "Write to cell" rewrites only the calls whose ranges
            changed. With neither, the builder starts empty.
        runs_dir: Where "Save as..." stores spaces (``RUNS_DIR/spaces/NAME.json``; default
            the magic's runs folder).
        on_write: Called with the new source by "Write to cell" (it is also kept in
            ``pending_source``).
        **kwargs: Passed to ``ipywidgets.VBox``.

    Example:
        >>> from jupyter_automl import SpaceBuilder
        >>> builder = SpaceBuilder(source='''
        ... lr = hp.float("lr", 1e-4, 1e-1, log=True)  # the learning rate
        ... units = hp.int("units", 16, 128)
        ... ''', runs_dir="runs")
        >>> builder.rows[1].low.value = "200"  # what typing in the form does
        >>> builder.errors
        ["hp.int('units', line 3): low=200 must be below high=128; swap them, or use \
hp.fixed('units', 200) for a constant"]
        >>> builder.rows[1].low.value = "32"
        >>> print(builder.written_source())
        <BLANKLINE>
        lr = hp.float("lr", 1e-4, 1e-1, log=True)  # the learning rate
        units = hp.int("units", 32, 128)
        <BLANKLINE>
        >>> builder.save("small")
        PosixPath('.../runs/spaces/small.json')
    """

    def __init__(self, specs: Sequence[ParamSpec] | None = None, source: str | None = None,
                 runs_dir: str | Path | None = None,
                 on_write: Callable[[str], Any] | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.add_class("automl-space-builder")
        self.source = source
        self.runs_dir = runs_dir if runs_dir is not None else default_runs_dir()
        self.on_write = on_write
        self.pending_source: str | None = None
        self.rows: list[SpaceRow] = []
        self.status = widgets.HTML()
        self.status.add_class("automl-space-status")
        self.add_button = widgets.Button(description="Add parameter", icon="plus")
        self.write_button = widgets.Button(description="Write to cell", button_style="primary")
        self.save_name = _text("", "space name", "12em")
        self.save_button = widgets.Button(description="Save as...")
        self.add_button.on_click(lambda _: self.add_row())
        self.write_button.on_click(lambda _: self.write())
        self.save_button.on_click(lambda _: self._save_clicked())
        self._message = ""
        self._building = True
        initial = list(specs) if specs is not None else (
            _opened(read_cell_space(source)) if source is not None else [])
        for spec in initial:
            self._append(spec, origin=spec)
        self._building = False
        self._arrange()
        self._refresh()

    # -- the space ---------------------------------------------------------------------------
    @property
    def specs(self) -> list[ParamSpec]:
        """The edited space; :class:`SpaceError` with every error when it is not valid."""
        specs, errors = self._evaluate()
        if errors:
            raise SpaceError("\n".join(errors))
        return specs

    @property
    def errors(self) -> list[str]:
        """Why the edited space cannot be sampled (empty when it can), in ``hp``'s words."""
        return self._evaluate()[1]

    def to_code(self) -> str:
        """The space as ``hp`` code, one assignment per parameter.

        Raises:
            SpaceError: The space cannot be sampled; the message has every row's error.
        """
        return render_space(self.specs)

    def written_source(self) -> str:
        """What "Write to cell" writes: ``source`` with the edited ranges, or the space's code."""
        specs = self.specs
        if self.source is None:
            return render_space(specs)
        return rewrite_cell(self.source, specs, self._origins())

    def save(self, name: str) -> Path:
        """Save the space as ``name`` in ``runs_dir/spaces`` (``load_space`` reads it back,
        ``%%automl ... --space NAME`` runs a cell with its ranges).

        Returns:
            The file written.

        Raises:
            SpaceError: The space cannot be sampled.
        """
        path = save_space(self.runs_dir, name, self.specs)
        self._note(f"saved as {name!r} ({path})")
        return path

    def write(self) -> str | None:
        """Hand the written source to ``on_write``; None (and the error shown) if it is invalid.

        The builder then edits the new source: its rows now name the calls they wrote.
        """
        try:
            new_source = self.written_source()
        except SpaceError as exc:
            self._note(str(exc), error=True)
            return None
        self.pending_source = new_source
        if self.on_write is not None:
            self.on_write(new_source)
        for row, spec in zip(self.rows, self.specs):
            row.origin = replace(spec, exact=row.origin.exact if row.origin else True)
        self.source = new_source
        self._note("written to the cell" if self.on_write else "ready in pending_source")
        return new_source

    # -- rows --------------------------------------------------------------------------------
    def add_row(self, spec: ParamSpec | None = None) -> SpaceRow:
        """Add a parameter (a float 0..1 named ``param_<n>`` by default) at the end."""
        if spec is None:
            taken = {r.name.value for r in self.rows}
            n = next(i for i in range(1, len(taken) + 2) if f"param_{i}" not in taken)
            spec = ParamSpec(f"param_{n}", "float", low=0.0, high=1.0)
        row = self._append(spec, origin=None)
        self._arrange()
        self._refresh()
        return row

    def remove_row(self, i: int) -> None:
        """Remove row ``i``; its call stays in the cell (see ``rewrite_cell``)."""
        self.rows.pop(i)
        self._arrange()
        self._refresh()

    def move_row(self, i: int, delta: int) -> None:
        """Move row ``i`` by ``delta`` places; a move past either end does nothing."""
        j = i + delta
        if not (0 <= i < len(self.rows) and 0 <= j < len(self.rows)):
            return
        self.rows[i], self.rows[j] = self.rows[j], self.rows[i]
        self._arrange()
        self._refresh()

    def _append(self, spec: ParamSpec, origin: ParamSpec | None) -> SpaceRow:
        row = SpaceRow(spec, origin)
        for widget in row.inputs:
            widget.observe(self._changed, names="value")
        row.up.on_click(lambda _: self.move_row(self.rows.index(row), -1))
        row.down.on_click(lambda _: self.move_row(self.rows.index(row), 1))
        row.remove.on_click(lambda _: self.remove_row(self.rows.index(row)))
        self.rows.append(row)
        return row

    def _arrange(self) -> None:
        actions = widgets.HBox([self.write_button, self.save_name, self.save_button])
        self.children = (*[r.box for r in self.rows], self.add_button, actions, self.status)

    def _origins(self) -> list[str | None]:
        return [row.origin.name if row.origin else None for row in self.rows]

    # -- checking and the status line -----------------------------------------------------------
    def _changed(self, change: dict[str, Any]) -> None:
        if not self._building:
            self._refresh()

    def _refresh(self) -> None:
        for row in self.rows:
            row.update_fields()
        self._message = ""
        self._render_status()

    def _evaluate(self) -> tuple[list[ParamSpec], list[str]]:
        specs: list[ParamSpec] = []
        errors: list[str] = []
        for row in self.rows:
            try:
                spec = row.read()
                validate(spec)
                specs.append(spec)
            except SpaceError as exc:
                errors.append(str(exc))
        if not errors:
            try:
                check_consistent(specs)
            except SpaceError as exc:
                errors.append(str(exc))
        return specs, errors

    def _note(self, message: str, error: bool = False) -> None:
        self._message = _line(message, error)
        self._render_status()

    def _render_status(self) -> None:
        specs, errors = self._evaluate()
        if errors:
            lines = [_line(e, True) for e in errors]
        else:
            summary = "; ".join(f"{s.name}: {s.describe()}" for s in specs) or "no parameters"
            lines = [_line(f"✓ {len(specs)} parameter{'s' * (len(specs) != 1)}: {summary}")]
            lines += self._kept_lines(specs)
        self.status.value = "".join(lines) + self._message

    def _kept_lines(self, specs: list[ParamSpec]) -> list[str]:
        """Parameters removed here but still called in the cell, which writing does not delete."""
        if self.source is None:
            return []
        try:
            kept = unmatched(self.source, specs, self._origins())
        except SpaceError:
            return []
        if not kept:
            return []
        names = ", ".join(repr(n) for n in kept)
        return [_line(f"kept in the cell as written (not in this space): {names}; "
                      "delete their calls there")]

    def _save_clicked(self) -> None:
        try:
            self.save(self.save_name.value.strip())
        except SpaceError as exc:
            self._note(str(exc), error=True)


# -------------------------------------------------------------------------------------------
# Helpers


def default_runs_dir() -> str:
    """The session's ``%config Automl.runs_dir`` when the extension is loaded, else the default."""
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - IPython is a dependency
        return DEFAULT_RUNS_DIR
    manager = getattr(get_ipython(), "magics_manager", None)
    magics = getattr(manager, "registry", {}).get("Automl")
    return str(getattr(magics, "runs_dir", DEFAULT_RUNS_DIR))


def parse_number(text: str) -> int | float:
    """``"16"`` -> 16, ``"1e-4"`` -> 0.0001; ValueError for anything else."""
    try:
        return int(text)
    except ValueError:
        return float(text)


def parse_item(text: str) -> Any:
    """One option or value: a Python literal when it is one (``1``, ``"a"``, ``None``), else
    the text itself, so ``relu`` needs no quotes."""
    text = text.strip()
    try:
        return ast.literal_eval(text)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return text


def parse_items(text: str) -> list[Any]:
    """Comma-separated options (``relu, tanh`` or ``32, 64``), or a Python list/tuple literal."""
    text = text.strip()
    if text.startswith(("[", "(")):
        value = parse_item(text)
        if not isinstance(value, (list, tuple)):
            raise ValueError("not a list")
        return list(value)
    try:
        value = ast.literal_eval(f"[{text}]")
        if isinstance(value, list):
            return value
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        pass  # bare words (relu, tanh): split at the commas outside quotes
    return [parse_item(part) for part in _ITEM.findall(text) if part.strip()]


def _item_text(value: Any) -> str:
    """How an option shows in the form: bare when it reads back the same, else as a literal."""
    if isinstance(value, str) and value and value == value.strip() and "," not in value \
            and parse_item(value) == value:
        return value
    return value_source(value)


def _items_text(spec: ParamSpec) -> str:
    if spec.kind == "choice":
        return ", ".join(_item_text(v) for v in spec.choices or [])
    if spec.kind == "fixed" and (spec.value is not None or spec.exact):
        return _item_text(spec.value)
    return ""


def _number_text(value: int | float | None) -> str:
    return "" if value is None else repr(value)


def _show(widget: widgets.Widget, visible: bool) -> None:
    widget.layout.display = None if visible else "none"
    widget.disabled = not visible


def _line(message: str, error: bool = False) -> str:
    style = "color:#c62828" if error else "color:inherit"
    text = html.escape(message).replace("\n", "<br>")
    return f'<div style="{style}">{"✗ " if error else ""}{text}</div>'


def _where(spec: ParamSpec) -> str:
    return f"hp.{spec.kind}({spec.name!r}" + (f", line {spec.line})" if spec.line else ")")


def _opened(specs: list[ParamSpec]) -> list[ParamSpec]:
    """One row per name when every call of it has the same range (a shared parameter).

    Calls of one name with different ranges (an f-string pattern in two loops) keep a row each,
    so writing back pairs them with their calls in order.
    """
    rows: list[ParamSpec] = []
    for spec in specs:
        same_name = [s for s in specs if s.name == spec.name]
        shared = all(s.same_range(spec) for s in same_name)
        if not (shared and any(r.name == spec.name for r in rows)):
            rows.append(spec)
    return rows
