"""Sphinx configuration of the jupyter-automl documentation site (``make docs``).

The site builds offline: no intersphinx inventory is fetched and no asset comes from a CDN
(plotly.js is copied from the installed plotly package into ``_static``). The tutorials are
rendered from notebooks already executed (``docs/tutorials.py`` puts them in
``docs/tutorials/``; myst-nb does not execute anything).
"""

from __future__ import annotations

import shutil
import sys
from datetime import date
from pathlib import Path

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
sys.path.insert(0, str(DOCS / "_ext"))  # helper modules of the reference (automl_reference)
sys.path.insert(0, str(DOCS))

import tutorials  # noqa: E402  (docs/tutorials.py)

project = "jupyter-automl"
author = "the jupyter-automl authors"
copyright = f"{date.today().year}, {author}"

extensions = [
    "myst_nb",  # MyST Markdown pages and notebooks (brings myst_parser)
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "sphinx.ext.viewcode",
    "automl_reference",  # docs/_ext: the %%automl options, verbs, CLI and REST reference
]

source_suffix = {".md": "myst-nb", ".ipynb": "myst-nb"}
root_doc = "index"
exclude_patterns = [
    "_build",
    "snippets/**",  # fragments, included into the guide pages
    "**.ipynb_checkpoints",
]

# MyST: anchors for headings down to ### so that [text](page.md#a-heading) links resolve.
myst_heading_anchors = 4
myst_enable_extensions = ["colon_fence", "deflist", "attrs_inline", "attrs_block"]

# The tutorials are stored without outputs and take minutes to run: they are executed
# beforehand (nbval in `make test`, or `jupyter-automl run`) and rendered as they are.
nb_execution_mode = "off"
nb_output_stderr = "show"
nb_merge_streams = True
# The linkcheck builder (DOCS_LINKCHECK_EXTERNAL=1) renders outputs too: text, then HTML.
nb_mime_priority_overrides = [("linkcheck", "text/plain", 10), ("linkcheck", "text/html", 20)]

# Autodoc: the public Python API, from its docstrings (documented under reference/).
autodoc_typehints = "description"
autodoc_member_order = "bysource"
napoleon_google_docstring = True
napoleon_numpy_docstring = False

html_theme = "pydata_sphinx_theme"
html_title = "jupyter-automl"
# plotly.js for the tutorials' charts, from the installed plotly package (no CDN), copied
# beside the build rather than into docs/.
PLOTLY_STATIC = ROOT / "build" / "docs" / "plotly"
html_static_path = ["_static", str(PLOTLY_STATIC)]
html_js_files = ["plotly.min.js"]
html_css_files = ["custom.css"]
html_theme_options = {
    "navigation_with_keys": False,
    "show_toc_level": 2,
    "header_links_before_dropdown": 7,
    "footer_start": ["copyright"],
    "footer_end": ["sphinx-version"],
}
# Pages with no section below them: no empty navigation column, a wider text.
html_sidebars = {"index": [], "getting-started": [], "benchmarks": []}
html_show_sourcelink = False
html_last_updated_fmt = None

# No network at build time: no intersphinx inventories, and external links are checked only
# when asked (`make docs DOCS_LINKCHECK_EXTERNAL=1`).
linkcheck_timeout = 15
linkcheck_anchors = True

# IPython's lexer stops at a shell line continued with a backslash (`!jupyter-automl run ... \`,
# in tutorial 04); Pygments then highlights the cell in relaxed mode, which is what we want.
suppress_warnings = ["misc.highlighting_failure"]


def setup(app: object) -> None:
    tutorials.prepare()  # build/executed/ -> docs/tutorials/, charts drawn by the site's plotly
    PLOTLY_STATIC.mkdir(parents=True, exist_ok=True)
    source, target = tutorials.plotly_js(), PLOTLY_STATIC / "plotly.min.js"
    if not target.exists() or target.stat().st_size != source.stat().st_size:
        shutil.copyfile(source, target)
