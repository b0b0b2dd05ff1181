"""A search space as ``hp`` code: render a space, and write edited ranges back into a cell.

The space builder edits ranges; the cell stays the source of truth. So writing back touches
only the text of the ``hp.<kind>(...)`` calls whose range changed: comments, spacing and all
other code keep every character. Pure text work, no widgets (the builder imports this).
"""

from __future__ import annotations

import ast
import builtins
import keyword
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from ..errors import SpaceError
from ._hp import (
    _ARGS,
    _UNKNOWN,
    ParamSpec,
    _literal,
    _spec_of,
    check_space,
)

_DEFAULT_STEP: dict[str, int | None] = {"int": 1, "float": None}
_RESERVED = {"hp", *keyword.kwlist, *dir(builtins)}


# ---------------------------------------------------------------------------------------------
# Rendering


def render(specs: Sequence[ParamSpec], avoid: set[str] | None = None) -> str:
    """``hp`` code for a space: one ``name = hp.<kind>(...)`` line per parameter.

    Default arguments are left out, so the code reads like hand-written code. A parameter given
    twice with the same range is written once (a shared parameter); every name is written as a
    string literal, so an f-string pattern such as ``units_{i}`` becomes that literal name.
    Variables avoid the names in ``avoid`` (those a cell already uses: its data, its model).
    Raises :class:`SpaceError` (the ``hp`` messages) when the space cannot be sampled.
    """
    unique = _unique(specs)
    check_literal_space(unique)
    taken = set(avoid or ())
    lines = [f"{variable_name(s.name, taken)} = {render_call(s)}\n" for s in unique]
    return "".join(lines)


def check_literal_space(specs: Sequence[ParamSpec]) -> None:
    """The checks ``hp`` makes, for a space whose names are all written as literals."""
    check_space([replace(s, exact=True) for s in specs])


def render_call(spec: ParamSpec, name_src: str | None = None,
                computed: dict[str, str] | None = None) -> str:
    """The ``hp.<kind>(...)`` call text of ``spec``.

    ``name_src`` is the name's source text to keep (an f-string, the author's quotes);
    ``computed`` maps argument names to the source text of arguments that are expressions, used
    where ``spec`` has no value for them (the static read could not know it).
    """
    computed = computed or {}
    args = [name_src or quote(spec.name)]
    if spec.kind in ("int", "float"):
        args += _range_args(spec, computed)
    elif spec.kind == "choice":
        args.append(_value_or_computed(spec, "choices", "options", computed))
    elif spec.kind == "fixed":
        value = spec.value
        keep = value is None and "value" in computed
        args.append(computed["value"] if keep else value_source(value))
    if spec.mutable:
        args.append("mutable=True")
    elif "mutable" in computed:
        args.append(f"mutable={computed['mutable']}")
    return f"hp.{spec.kind}({', '.join(args)})"


def _range_args(spec: ParamSpec, computed: dict[str, str]) -> list[str]:
    args = [_value_or_computed(spec, key, key, computed) for key in ("low", "high")]
    step = spec.step
    if step is not None and step != _DEFAULT_STEP[spec.kind]:
        args.append(f"step={_number(spec, step)}")
    elif step is None and "step" in computed:
        args.append(f"step={computed['step']}")
    if spec.log:
        args.append("log=True")
    elif "log" in computed:
        args.append(f"log={computed['log']}")
    return args


def _value_or_computed(spec: ParamSpec, field: str, arg: str, computed: dict[str, str]) -> str:
    value = getattr(spec, field)
    if value is not None:
        return _number(spec, value) if field in ("low", "high") else value_source(value)
    if arg in computed:
        return computed[arg]
    raise SpaceError(f"{spec.where}: no value for {arg} (the cell computes it); give one")


def _number(spec: ParamSpec, value: Any) -> str:
    """hp.int ranges are written as whole numbers even when typed as ``16.0``."""
    if spec.kind == "int" and isinstance(value, float) and value.is_integer():
        value = int(value)
    return value_source(value)


def value_source(value: Any) -> str:
    """Python source for a literal value (the values a space holds), strings double-quoted."""
    if isinstance(value, str):
        return quote(value)
    if isinstance(value, float) and not math.isfinite(value):
        return f'float("{value}")'
    if isinstance(value, list):
        return "[" + ", ".join(value_source(v) for v in value) + "]"
    if isinstance(value, tuple):
        inner = ", ".join(value_source(v) for v in value)
        return f"({inner},)" if len(value) == 1 else f"({inner})"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{value_source(k)}: {value_source(v)}"
                               for k, v in value.items()) + "}"
    return repr(value)


def quote(text: str) -> str:
    """A string literal in double quotes when the text allows it (the README's style)."""
    literal = repr(text)
    if literal.startswith("'") and '"' not in text:
        literal = '"' + literal[1:-1].replace("\\'", "'") + '"'
    return literal


def variable_name(name: str, taken: set[str]) -> str:
    """A Python identifier for parameter ``name`` that is not in ``taken`` (then added to it).

    Names that would shadow ``hp``, a keyword or a builtin (``float``, ``min``) get a trailing
    underscore, since the rest of the cell may need them.
    """
    ident = re.sub(r"[\W_]*\W[\W_]*", "_", name).strip("_") or "param"
    if ident[0].isdigit():
        ident = f"p_{ident}"
    if not ident.isidentifier():
        ident = "param"
    if ident in _RESERVED:
        ident += "_"
    unique, n = ident, 1
    while unique in taken:
        n += 1
        unique = f"{ident}_{n}"
    taken.add(unique)
    return unique


def _unique(specs: Sequence[ParamSpec]) -> list[ParamSpec]:
    kept: list[ParamSpec] = []
    for spec in specs:
        if not any(k.name == spec.name and k.same_range(spec) for k in kept):
            kept.append(spec)
    return kept



# ---------------------------------------------------------------------------------------------
# Reading a cell


@dataclass
class _Call:
    """One ``hp.<kind>(...)`` call of a cell: its node and what the static read made of it."""

    node: ast.Call
    spec: ParamSpec


def split_magic(source: str) -> tuple[str, str]:
    """``(magic line, body)``: a whole ``%%automl ...`` cell keeps its first line untouched."""
    if source.startswith("%%"):
        newline = source.find("\n")
        if newline < 0:
            return source, ""
        return source[:newline + 1], source[newline + 1:]
    return "", source


def read(source: str) -> list[ParamSpec]:
    """The space of a cell (its body, or the whole ``%%automl`` cell), as ``read_space`` sees it.

    Lines are those of the body, like every other message about the cell. Unlike
    ``read_space`` it does not validate: a space builder must open a bad cell to fix it.
    """
    return [c.spec for c in _calls(_parse(split_magic(source)[1]))]


def _parse(body: str) -> ast.Module:
    try:
        return ast.parse(body)
    except SyntaxError as exc:
        raise SpaceError(f"the cell has a syntax error on line {exc.lineno}: {exc.msg}; "
                         "fix it before writing the space into it") from None


def _calls(tree: ast.Module) -> list[_Call]:
    """The calls in the order ``read_space`` lists their specs (walk order, sorted by line)."""
    calls = [_Call(node, spec) for node in ast.walk(tree)
             if isinstance(node, ast.Call) and (spec := _spec_of(node)) is not None]
    calls.sort(key=lambda c: c.spec.line or 0)
    return calls


# ---------------------------------------------------------------------------------------------
# Writing back


def rewrite(source: str, specs: Sequence[ParamSpec],
            origins: Sequence[str | None] | None = None) -> str:
    """``source`` with the ranges of ``specs`` written into its ``hp`` calls.

    Each literal call whose name matches a spec has its text (``hp`` to the closing parenthesis)
    replaced by the spec's call, and only when its range changed; the kind may change too. The
    name keeps its source text (an f-string stays an f-string). Arguments the cell computes
    (``hp.int("u", lo, hi)``) keep their expressions where the spec has no value for them.
    When a name has several calls, one spec applies to all of them, or the specs pair up with
    the calls in order when there are as many.

    ``origins[i]``, when given, is the name ``specs[i]`` has in the cell: the spec was renamed,
    and the call's name is rewritten (not the variables of the cell).

    A spec with no call is inserted as ``name = hp...`` at the top of the cell, after its
    leading comment lines. A call with no spec is left as it is: its value is used by the code
    around it, which only the author can change, so removing a parameter from the space does
    not delete code. A whole ``%%automl`` cell keeps its magic line.
    """
    check_space(specs)
    head, body = split_magic(source)
    calls = _calls(_parse(body))
    sources = [o or s.name for s, o in zip(specs, origins or [None] * len(specs))]
    edits = [edit for call, target in _pair(calls, specs, sources)
             if (edit := _edit(body, call, target)) is not None]
    body = _apply(body, edits)
    missing = [s for s, name in zip(specs, sources) if name not in {c.spec.name for c in calls}]
    if missing:
        body = _insert_top(body, missing, _used_names(body))
    return head + body


def unmatched(source: str, specs: Sequence[ParamSpec],
              origins: Sequence[str | None] | None = None) -> list[str]:
    """Names of the cell's parameters that ``specs`` leave out (``rewrite`` keeps their calls)."""
    sources = {o or s.name for s, o in zip(specs, origins or [None] * len(specs))}
    names = dict.fromkeys(c.spec.name for c in _calls(_parse(split_magic(source)[1])))
    return [n for n in names if n not in sources]


def _pair(calls: list[_Call], specs: Sequence[ParamSpec],
          sources: list[str]) -> list[tuple[_Call, ParamSpec]]:
    by_name: dict[str, list[ParamSpec]] = {}
    for spec, name in zip(specs, sources):
        by_name.setdefault(name, []).append(spec)
    pairs = []
    for name in dict.fromkeys(c.spec.name for c in calls):
        targets = by_name.get(name)
        same = [c for c in calls if c.spec.name == name]
        if not targets:
            continue
        if len(targets) not in (1, len(same)):
            raise SpaceError(f"parameter {name!r} has {len(same)} calls in the cell but "
                             f"{len(targets)} ranges in the space; give one range for all, "
                             "or one per call")
        pairs += [(c, targets[min(i, len(targets) - 1)]) for i, c in enumerate(same)]
    return pairs


def _edit(body: str, call: _Call, target: ParamSpec) -> tuple[int, int, str] | None:
    """``(start, end, text)`` replacing ``call`` by ``target``'s call, or None if unchanged."""
    renamed = target.name != call.spec.name
    if not renamed and call.spec.same_range(target):
        return None
    node = call.node
    if any(isinstance(a, ast.Starred) for a in node.args) or any(
            k.arg is None for k in node.keywords):
        raise SpaceError(f"{call.spec.where}: the call passes *args or **kwargs; "
                         "edit its range in the cell")
    args: dict[str, ast.expr] = dict(zip(_ARGS[call.spec.kind], node.args))
    args.update({k.arg: k.value for k in node.keywords if k.arg})
    computed = {k: _segment(body, v) for k, v in args.items()
                if k != "name" and _literal(v) is _UNKNOWN}
    name_src = _name_source(body, args.get("name"), target.name if renamed else None)
    start, end = _span(body, node)
    return start, end, render_call(target, name_src, computed)


def _name_source(body: str, node: ast.expr | None, new_name: str | None) -> str | None:
    if node is None:
        return None
    if new_name is None:
        return _segment(body, node)
    if isinstance(node, ast.JoinedStr):  # a renamed pattern stays a pattern
        return "f" + quote(new_name)
    return quote(new_name)


def _apply(body: str, edits: list[tuple[int, int, str]]) -> str:
    edits = sorted(edits)
    for (_, end, _), (start, _, _) in zip(edits, edits[1:]):
        if start < end:
            raise SpaceError("an hp call inside another hp call's arguments would be rewritten "
                             "twice; edit those ranges in the cell")
    for start, end, text in reversed(edits):
        body = body[:start] + text + body[end:]
    return body


def _insert_top(body: str, specs: list[ParamSpec], taken: set[str]) -> str:
    """Insert ``specs`` after the cell's leading comment lines (blank lines between them too)."""
    newline = "\r\n" if "\r\n" in body else "\n"
    code = render(specs, avoid=taken).replace("\n", newline)
    starts = _line_starts(body)
    lines = [body[a:b] for a, b in zip(starts, starts[1:] + [len(body)])]
    at = 0
    for i, line in enumerate(lines):
        if line.strip() and not line.lstrip().startswith("#"):
            break
        if line.strip():
            at = i + 1
    head = "".join(lines[:at])
    if head and not head.endswith(("\n", "\r")):
        head += newline
    return head + code + "".join(lines[at:])


def _used_names(body: str) -> set[str]:
    return {n.id for n in ast.walk(_parse(body)) if isinstance(n, ast.Name)}


# ---------------------------------------------------------------------------------------------
# Positions


def _line_starts(text: str) -> list[int]:
    """Offsets where lines start, split as the tokenizer splits them (not at form feeds)."""
    return [0] + [m.end() for m in re.finditer(r"\r\n|\r|\n", text)]


def _offset(text: str, starts: list[int], line: int, col: int) -> int:
    """Character offset of an AST position (``col`` counts UTF-8 bytes)."""
    begin = starts[line - 1]
    end = starts[line] if line < len(starts) else len(text)
    return begin + len(text[begin:end].encode()[:col].decode(errors="replace"))


def _span(text: str, node: ast.expr) -> tuple[int, int]:
    starts = _line_starts(text)
    assert node.end_lineno is not None and node.end_col_offset is not None
    return (_offset(text, starts, node.lineno, node.col_offset),
            _offset(text, starts, node.end_lineno, node.end_col_offset))


def _segment(text: str, node: ast.expr) -> str:
    start, end = _span(text, node)
    return text[start:end]
