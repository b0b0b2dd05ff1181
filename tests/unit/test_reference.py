"""The documentation's reference is complete: every ``%%automl`` option, every verb with its
arguments and every REST route appears in what docs/_ext/automl_reference.py renders."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from docutils import nodes

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "docs" / "_ext"))
import automl_reference as ref  # noqa: E402  (docs/_ext is not a package)

from jupyter_automl._verbs import CLI, MAGIC, VERBS, parser  # noqa: E402
from jupyter_automl.engine._options import build_parser  # noqa: E402


def text_of(rendered: list[nodes.Node]) -> str:
    return "\n".join(node.astext() for node in rendered)


def ids_of(rendered: list[nodes.Node]) -> list[str]:
    return [ident for node in rendered for element in node.findall(nodes.Element)
            for ident in element.get("ids", [])]


def terms_of(rendered: list[nodes.Node]) -> list[str]:
    return [term.astext() for node in rendered for term in node.findall(nodes.term)]


def test_every_option_is_in_the_reference_once() -> None:
    rendered = ref.render_options()
    terms = terms_of(rendered)
    options = ref.arguments(build_parser())
    assert len(terms) == len(options)  # each once: no option in two groups
    for action in options:
        term = ref.option_term(build_parser(), action)
        assert term in terms, f"{action.option_strings or action.dest} is not in the reference"
        assert ref.label("option", ref.option_key(action)) in ids_of(rendered)
        if action.help:
            first = action.help.split("%")[0].split()[:4]
            assert " ".join(first) in " ".join(text_of(rendered).split())


def test_an_option_no_group_names_still_appears() -> None:
    """A new option shows up under "Other options" until OPTION_GROUPS places it."""
    parser = build_parser()
    parser.add_argument("--brand-new", metavar="X", help="a new option")
    groups = dict(ref.option_groups(parser))
    assert [a.option_strings for a in groups[ref.OTHER]] == [["--brand-new"]]


def test_every_verb_and_its_arguments_are_in_the_reference() -> None:
    rendered = ref.render_verbs()
    sections = [s for node in rendered for s in node.findall(nodes.section)]
    titles = [s[0].astext() for s in sections]
    assert titles == [verb.name for verb in VERBS]
    text = text_of(rendered)
    for where in (MAGIC, CLI):
        top = parser(where)
        sub = next(a for a in top._actions if isinstance(a, argparse._SubParsersAction))
        for name, each in sub.choices.items():
            verb = each.get_default("verb_of")
            section = sections[titles.index(verb.name)]
            assert verb.help.split()[0] in section.astext()
            for action in ref.arguments(each):
                assert ref.option_term(each, action) in section.astext(), (name, action.dest)
    assert "Said as ``%automl stop`` only" not in text  # literals, not backquotes
    assert "%automl stop" in text and "jupyter-automl run" in text


def test_every_route_is_in_the_reference_with_its_auth() -> None:
    from jupyter_automl.lab._handlers import handlers

    rendered = ref.render_routes()
    text = text_of(rendered)
    found = ref.routes()
    assert {handler for _, _, handler, _ in found} == {h for _, h in handlers("/")}
    for method, path, handler, _ in found:
        assert f"{method} {path}" in terms_of(rendered)
        assert handler.__doc__, f"{handler.__name__} needs a docstring: the reference shows it"
    assert "{base_url}jupyter-automl/api/studies/<path>/stop" in text
    assert "Auth: none" not in text  # every route is behind Jupyter's authentication
    assert text.count("XSRF") == sum(method != "GET" for method, *_ in found)


def test_setup_and_settings_are_in_the_reference() -> None:
    from jupyter_automl._magic import Automl

    assert "worker kernels replay it" in text_of(ref.render_setup())
    text = text_of(ref.render_config())
    for name in Automl.class_traits(config=True):
        assert f"%config Automl.{name}" in text
