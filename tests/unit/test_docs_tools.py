"""The documentation site's own tools: the internal link check and the tutorials' charts."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from types import ModuleType

DOCS = Path(__file__).resolve().parents[2] / "docs"


def load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"docs_{name}", DOCS / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def site(tmp_path: Path, pages: dict[str, str]) -> Path:
    for name, body in pages.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"<html><head></head><body>{body}</body></html>")
    return tmp_path


def test_a_site_whose_links_resolve_passes(tmp_path: Path) -> None:
    check_links = load("check_links")
    root = site(tmp_path, {
        "index.html": '<a href="guide/a.html#usage">a</a> <a href="#top">top</a> <p id="top"></p>'
                      '<a href="https://example.org/x">out</a>'
                      '<script src="_static/x.js"></script>',
        "guide/a.html": '<h2 id="usage">Usage</h2><a href="../index.html">back</a>'
                        '<a href="../">home</a>',
        "_static/x.js": "",
    })
    assert check_links.check(root) == []


def test_a_missing_page_anchor_or_cdn_asset_is_named(tmp_path: Path) -> None:
    check_links = load("check_links")
    root = site(tmp_path, {
        "index.html": '<a href="guide/gone.html">gone</a> <a href="guide/a.html#renamed">a</a>'
                      '<script src="https://cdn.plot.ly/plotly-3.0.1.min.js"></script>',
        "guide/a.html": '<h2 id="usage">Usage</h2>',
    })
    problems = check_links.check(root)
    assert len(problems) == 3, problems
    assert any("no such file guide/gone.html" in p for p in problems)
    assert any("no anchor #renamed in guide/a.html" in p for p in problems)
    assert any("cdn.plot.ly" in p and "outside the site" in p for p in problems)


def test_a_plotly_output_is_drawn_by_the_sites_plotly(tmp_path: Path) -> None:
    tutorials = load("tutorials")
    figure = {"data": [{"type": "scatter", "x": [1, 2], "y": [3, 4], "name": "</script>"}],
              "layout": {"title": {"text": "Learning curves"}, "height": 320}}
    output = {"output_type": "display_data", "metadata": {},
              "data": {tutorials.PLOTLY_MIME: figure,
                       "text/html": '<script src="https://cdn.plot.ly/plotly.min.js"></script>',
                       "text/plain": "<Learning curves: 1 traces>"}}
    tutorials._chart_html(output, "nb-3-0")
    html = output["data"]["text/html"]
    assert "cdn.plot.ly" not in html and tutorials.PLOTLY_MIME not in output["data"]
    assert 'id="nb-3-0"' in html and "height:320px" in html
    assert "</script>" not in html.split("<script>", 1)[1][:-len("</script>")]
    payload = html.split("var args = ", 1)[1].split("; function draw", 1)[0]
    assert json.loads(payload.replace("<\\/", "</"))[0] == figure["data"]
    assert tutorials.plotly_js().stat().st_size > 1_000_000  # plotly.js ships with plotly
