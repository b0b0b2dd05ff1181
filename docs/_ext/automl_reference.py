"""The reference pages, written from the code itself so that they cannot drift from it.

Directives, used from the Markdown pages of ``docs/reference/``:

- ``automl-options``: every option of ``%%automl``, read from
  :func:`jupyter_automl.engine._options.build_parser` (grouped by :data:`OPTION_GROUPS`; an
  option no group names lands in "Other options", so a new one shows up on its own);
- ``automl-setup`` and ``automl-config``: ``%%automl_setup`` and the ``%config Automl.*``
  settings, from the magics class;
- ``automl-verbs``: every verb of ``%automl VERB`` and ``jupyter-automl VERB`` with its
  arguments, from :data:`jupyter_automl._verbs.VERBS` and the parsers made from it;
- ``automl-routes``: the REST routes of the Jupyter server extension, from the route table of
  :mod:`jupyter_automl.lab._handlers` and its handlers' docstrings.

Each renders docutils nodes (no generated Markdown: help texts hold ``*``, ``|`` and URLs that
Markdown would read as markup or links). The ``render_*`` functions are the directives' work
without Sphinx's state, so a unit test checks that the reference is complete. Every option,
verb and route gets a label to link to: ``automl-option-trials``, ``automl-verb-export``,
``automl-route-get-api-studies``.
"""

from __future__ import annotations

import argparse
import inspect
import re
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from docutils import nodes
from sphinx.application import Sphinx
from sphinx.util.docutils import SphinxDirective

# The groups of the %%automl options, in page order. An option is named by its option string
# (or ``name`` for the positional); one that no group names goes under OTHER.
OPTION_GROUPS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("The study and its objectives",
     ("name", "--trials", "--timeout", "--maximize", "--minimize", "--constraint", "--measure",
      "--executions-per-trial", "--fresh", "--check", "--background")),
    ("The search",
     ("--sampler", "--seed", "--pruner", "--early-stopping", "--population", "--tournament",
      "--space", "--edit", "--warm-start")),
    ("Population-based training", ("--scheduler", "--interval")),
    ("Architecture search and distillation",
     ("--darts", "--darts-beta", "--darts-lr", "--distill-from", "--temperature",
      "--soft-weight")),
    ("Storage and checkpoints",
     ("--storage", "--runs-dir", "--checkpoint-dir", "--checkpoint-store",
      "--checkpoint-every")),
    ("Worker kernels and clusters",
     ("--kernels", "--ship", "--listen", "--strategy", "--gpus-per-trial", "--trial-timeout")),
    ("Experiment tracking", ("--tensorboard", "--mlflow")),
)
TRACKING_PREFIXES = ("--tensorboard", "--mlflow")  # --mlflow-uri and the like join their group
OTHER = "Other options"
METHODS = ("get", "post", "put", "patch", "delete")
# ``code``, `code`, and option names (--trials) as code
_INLINE = re.compile(r"``(.+?)``|`([^`]+)`|(?<![\w-])(--[a-z][a-z0-9-]*)")


# -- small builders ---------------------------------------------------------------------------
def label(*parts: str) -> str:
    """A label's id: ``automl-option-trials``, from the words of its name."""
    words = re.sub(r"[^a-z0-9]+", "-", "-".join(parts).lower())
    return "automl-" + words.strip("-")


def inline(text: str) -> list[nodes.Node]:
    """``text`` as text and literals (``double`` or `single` backquotes)."""
    out: list[nodes.Node] = []
    at = 0
    for match in _INLINE.finditer(text):
        if match.start() > at:
            out.append(nodes.Text(text[at:match.start()]))
        code = match.group(1) or match.group(2) or match.group(3)
        out.append(nodes.literal(code, code))
        at = match.end()
    if at < len(text):
        out.append(nodes.Text(text[at:]))
    return out


def paragraph(text: str) -> nodes.paragraph:
    """``text`` as it is written: no curly quotes, no dashes for ``--`` (Sphinx's
    SmartQuotes would turn ``--bundle`` into an en dash and ``bundle``)."""
    return nodes.paragraph("", "", *inline(" ".join(text.split())), support_smartquotes=False)


def doc_paragraphs(doc: str | None) -> list[nodes.Node]:
    """A docstring as paragraphs (blank-line separated), bullets kept as bullets."""
    out: list[nodes.Node] = []
    for block in re.split(r"\n\s*\n", inspect.cleandoc(doc or "")):
        lines = [line.strip() for line in block.splitlines() if line.strip()]
        if not lines:
            continue
        if lines[0].startswith(("* ", "- ")):
            items: list[str] = []
            current: list[str] = []
            for line in lines:
                if line.startswith(("* ", "- ")) and current:
                    items.append(" ".join(current))
                    current = []
                current.append(line[2:] if line.startswith(("* ", "- ")) else line)
            items.append(" ".join(current))
            out.append(nodes.bullet_list("", *(nodes.list_item("", paragraph(i))
                                               for i in items), bullet="-"))
        else:
            out.append(paragraph(" ".join(lines)))
    return out


def section(title: str, ident: str, children: Iterable[nodes.Node]) -> nodes.section:
    node = nodes.section("", nodes.title(title, "", *inline(title)), ids=[ident],
                         names=[ident])
    node.extend(children)
    return node


def definitions(items: Iterable[tuple[str, str, list[nodes.Node]]]) -> nodes.definition_list:
    """A definition list of (id, term, body) items; the term is code."""
    out = nodes.definition_list()
    for ident, term, body in items:
        term_node = nodes.term("", "", nodes.literal(term, term), ids=[ident], names=[ident])
        out += nodes.definition_list_item("", term_node, nodes.definition("", *body))
    return out


def literal_block(text: str) -> nodes.literal_block:
    node = nodes.literal_block(text, text)
    node["language"] = "text"
    return node


# -- argparse ----------------------------------------------------------------------------------
def option_key(action: argparse.Action) -> str:
    """How :data:`OPTION_GROUPS` names an option: its long option string, or its dest."""
    longs = [s for s in action.option_strings if s.startswith("--")]
    return (longs or action.option_strings or [action.dest])[0]


def option_term(parser: argparse.ArgumentParser, action: argparse.Action) -> str:
    """``--trials N``, ``--sampler {tpe,random}``, ``--fresh``, ``NAME``, as argparse says."""
    formatter = parser._get_formatter()
    if not action.option_strings:
        return formatter._format_args(action, str(action.metavar or action.dest.upper()))
    strings = ", ".join(action.option_strings)
    if action.nargs == 0:
        return strings
    default = formatter._get_default_metavar_for_optional(action)
    if action.choices is not None and action.metavar is None:  # the choices are listed below
        return f"{strings} {action.dest.upper()}"
    return f"{strings} {formatter._format_args(action, default)}"


def _value_type(action: argparse.Action) -> str | None:
    kind = action.type
    if kind is None or action.choices is not None:
        return None
    names = {int: "integer", float: "number", str: "text", Path: "path"}
    if kind in names:
        return names[kind]  # type: ignore[index]
    # a converter named for people (``_duration.__name__ = "duration (90s, 30m, 1.5h)"``),
    # not one that keeps its function's name (``_port``)
    name = str(getattr(kind, "__name__", ""))
    return None if not name or name.isidentifier() else name


def _default(action: argparse.Action) -> str | None:
    value = action.default
    if isinstance(value, bool) or value in (None, "", argparse.SUPPRESS):
        return None
    return str(value) if isinstance(value, (str, int, float)) else None


def action_body(parser: argparse.ArgumentParser, action: argparse.Action) -> list[nodes.Node]:
    """An option's help (``%%`` and ``%(default)s`` expanded as argparse does), then its
    value's type, its choices and its default."""
    help_text = parser._get_formatter()._expand_help(action) if action.help else ""
    body: list[nodes.Node] = [paragraph(help_text or "(no description)")]
    facts = []
    if (kind := _value_type(action)) is not None:
        facts.append(("value", kind))
    if action.choices is not None:
        facts.append(("choices", ", ".join(map(str, action.choices))))
    if (default := _default(action)) is not None:
        facts.append(("default", default))
    if isinstance(action, argparse._AppendAction) or "objectives" == action.dest:
        facts.append(("repeatable", "yes"))
    if facts:
        line = nodes.paragraph()
        for i, (name, value) in enumerate(facts):
            line += nodes.Text("; " if i else "")
            line += nodes.emphasis(name, name)
            line += nodes.Text(": ")
            line += nodes.literal(value, value)
        body.append(line)
    return body


def arguments(parser: argparse.ArgumentParser) -> list[argparse.Action]:
    """The parser's own arguments: no ``-h``, no sub-commands."""
    return [a for a in parser._actions
            if not isinstance(a, (argparse._HelpAction, argparse._SubParsersAction))]


def argument_list(parser: argparse.ArgumentParser, prefix: str,
                  actions: Iterable[argparse.Action] | None = None) -> nodes.definition_list:
    chosen = arguments(parser) if actions is None else actions
    return definitions((label(prefix, option_key(a)), option_term(parser, a),
                        action_body(parser, a)) for a in chosen)


# -- %%automl ----------------------------------------------------------------------------------
def option_groups(parser: argparse.ArgumentParser) -> list[tuple[str, list[argparse.Action]]]:
    """The parser's options by :data:`OPTION_GROUPS` (argparse groups of its own first), the
    unnamed ones last under :data:`OTHER`; empty groups left out."""
    actions = arguments(parser)
    groups: dict[str, list[argparse.Action]] = {}
    placed: set[int] = set()
    for group in parser._action_groups:  # argument groups the parser declares itself
        if group.title in ("positional arguments", "options", "optional arguments"):
            continue
        for action in group._group_actions:
            groups.setdefault(str(group.title), []).append(action)
            placed.add(id(action))
    by_key = {option_key(a): a for a in actions if id(a) not in placed}
    for title, keys in OPTION_GROUPS:
        for key in keys:
            if key in by_key:
                groups.setdefault(title, []).append(by_key.pop(key))
    for key in list(by_key):
        if key.startswith(TRACKING_PREFIXES):
            groups.setdefault("Experiment tracking", []).append(by_key.pop(key))
    if by_key:
        groups[OTHER] = list(by_key.values())
    return [(title, found) for title, found in groups.items() if found]


def render_options() -> list[nodes.Node]:
    """The ``%%automl`` synopsis, then every option by group."""
    from jupyter_automl.engine._options import build_parser

    parser = build_parser()
    out: list[nodes.Node] = [literal_block(parser.format_usage().strip())]
    for title, actions in option_groups(parser):
        out.append(section(title, label("options", title),
                           [argument_list(parser, "option", actions)]))
    return out


def render_setup() -> list[nodes.Node]:
    """``%%automl_setup``: its docstring."""
    from jupyter_automl._magic import Automl

    return [literal_block("%%automl_setup\n<cell body>"),
            *doc_paragraphs(Automl.automl_setup.__doc__)]


def render_config() -> list[nodes.Node]:
    """The ``%config Automl.NAME = ...`` settings: name, type, default, help."""
    from jupyter_automl._magic import Automl

    items = []
    for name, trait in sorted(Automl.class_traits(config=True).items()):
        if name in ("config", "parent", "log"):
            continue
        facts = [paragraph(trait.help or "")]
        default = trait.default_value
        values = getattr(trait, "values", None)
        text = f"default: {default!r}" + (f"; one of {', '.join(map(str, values))}"
                                          if values else "")
        facts.append(nodes.paragraph("", "", nodes.literal(text, text)))
        items.append((label("config", name), f"%config Automl.{name}", facts))
    return [definitions(items)]


# -- verbs -------------------------------------------------------------------------------------
def verb_parsers() -> dict[str, dict[str, argparse.ArgumentParser]]:
    """Each verb's parser at each place it can be said: ``{verb: {"magic"|"cli": parser}}``."""
    from jupyter_automl._verbs import CLI, MAGIC, parser

    out: dict[str, dict[str, argparse.ArgumentParser]] = {}
    for where in (MAGIC, CLI):
        top = parser(where)
        sub = next(a for a in top._actions if isinstance(a, argparse._SubParsersAction))
        for name, each in sub.choices.items():
            verb = each.get_default("verb_of")
            if verb is not None and name == verb.name:
                out.setdefault(name, {})[where] = each
    return out


def _said(verb: Any) -> str:
    from jupyter_automl._verbs import CLI, MAGIC

    places = [f"``{prog} {verb.name}``" for where, prog in ((MAGIC, "%automl"),
                                                            (CLI, "jupyter-automl"))
              if where in verb.where]
    only = {(MAGIC,): " only, in the notebook whose kernel runs the study",
            (CLI,): " only, from a terminal"}.get(tuple(verb.where), "")
    return "Said as " + " and ".join(places) + only + "."


def render_verbs() -> list[nodes.Node]:
    """A section per verb: what it does, where it is said, its usage and its arguments."""
    from jupyter_automl._verbs import CLI, MAGIC, VERBS, parser

    parsers = verb_parsers()
    synopsis = [parser(MAGIC).format_usage().strip(), parser(CLI).format_usage().strip()]
    out: list[nodes.Node] = [literal_block("\n".join(synopsis))]
    for verb in VERBS:
        places = parsers.get(verb.name, {})
        each = places.get(CLI) or next(iter(places.values()), None)
        body: list[nodes.Node] = [paragraph(verb.help), paragraph(_said(verb))]
        if verb.aliases:
            body.append(paragraph("Also said as: " + ", ".join(f"``{a}``"
                                                               for a in verb.aliases) + "."))
        if each is not None:
            body.append(literal_block(each.format_usage().strip()))
            if arguments(each):
                body.append(argument_list(each, f"verb-{verb.name}"))
        out.append(section(verb.name, label("verb", verb.name), body))
    return out


# -- REST routes -------------------------------------------------------------------------------
def route_path(pattern: str) -> str:
    """``/jupyter-automl/api/studies/(.+)/stop`` as ``{base_url}jupyter-automl/api/studies/
    <path>/stop``, and a trial's ``([0-9]+)/(discard|rerun)`` as ``<n>/discard|rerun``."""
    path = re.sub(r"\(\.[+*]\)", "<path>", pattern)
    path = re.sub(r"\(\[0-9\]\+\)", "<n>", path)
    path = re.sub(r"\(([\w|]+)\)", r"\1", path)
    return "{base_url}" + path.lstrip("/")


def _authenticated(method: Callable[..., Any]) -> bool:
    """Whether ``method`` is wrapped in tornado's ``@web.authenticated`` (the wrapper keeps the
    method's name, not its code)."""
    from tornado import web

    wrapper = web.authenticated(lambda self: None)  # type: ignore[arg-type,return-value]
    return getattr(method, "__code__", None) is wrapper.__code__


def routes() -> list[tuple[str, str, type, Callable[..., Any]]]:
    """(method, path, handler, its function) for every route of the server extension."""
    from jupyter_automl.lab._handlers import handlers

    out = []
    for pattern, handler in handlers("/"):
        for method in METHODS:
            function = vars(handler).get(method)
            if function is not None:
                out.append((method.upper(), route_path(pattern), handler, function))
    return out


def render_routes() -> list[nodes.Node]:
    """A definition per route: what it answers (its handler's docstring) and its auth."""
    items = []
    for method, path, handler, function in routes():
        doc = function.__doc__ or handler.__doc__
        auth = "none" if not _authenticated(function) else (
            "Jupyter's token or login cookie"
            + ("; and Jupyter's XSRF check (a browser's cookie alone is refused)"
               if method != "GET" else ""))
        body = [*doc_paragraphs(doc), nodes.paragraph("", "", nodes.strong("Auth:", "Auth:"),
                                                      nodes.Text(" " + auth))]
        items.append((label("route", method, path.replace("{base_url}jupyter-automl/", "")),
                      f"{method} {path}", body))
    return [definitions(items)]


# -- Sphinx --------------------------------------------------------------------------------------
class _Rendered(SphinxDirective):
    has_content = False
    render: Callable[[], list[nodes.Node]] = staticmethod(list)

    def run(self) -> list[nodes.Node]:
        rendered = type(self).render()
        for node in rendered:  # each id a label other pages can {ref}
            for target in node.findall(lambda n: isinstance(n, nodes.Element)
                                       and bool(n.get("names"))):
                self.state.document.note_explicit_target(target, target)
        return rendered


def _directive(render: Callable[[], list[nodes.Node]]) -> type[SphinxDirective]:
    return type(f"Directive_{render.__name__}", (_Rendered,), {"render": staticmethod(render)})


DIRECTIVES = {
    "automl-options": render_options,
    "automl-setup": render_setup,
    "automl-config": render_config,
    "automl-verbs": render_verbs,
    "automl-routes": render_routes,
}


def setup(app: Sphinx) -> dict[str, Any]:
    for name, render in DIRECTIVES.items():
        app.add_directive(name, _directive(render))
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
