"""The tutorials of ``notebooks/``, executed, as the documentation site renders them.

The notebooks are stored without outputs and take minutes to run, so the site never executes
them itself (``nb_execution_mode = "off"``). Executed copies come from ``build/executed/``:

- ``make test`` writes them there as nbval runs the tutorials (tests/nbval_outputs.py keeps
  the outputs nbval got for each cell);
- ``python docs/tutorials.py`` (``make docs``) runs, with the product's own headless runner
  (``jupyter-automl run``), each tutorial whose executed copy is missing or older than the
  notebook, in a fresh copy of ``notebooks/``.

``docs/conf.py`` then copies them into ``docs/tutorials/`` (not committed), with each Plotly
chart given an HTML body that draws it with the plotly.js the site serves itself (the
notebooks' own HTML fallback loads plotly.js from a CDN).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
NOTEBOOKS = ROOT / "notebooks"
EXECUTED = ROOT / "build" / "executed"
RENDERED = DOCS / "tutorials"
WORKDIR = ROOT / "build" / "docs-run"  # a copy of notebooks/ for each headless run
TUTORIALS = sorted(path.stem for path in NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))
PLOTLY_MIME = "application/vnd.plotly.v1+json"
DEFAULT_HEIGHT = 450


def plotly_js() -> Path:
    """plotly.js as the installed plotly package ships it (the version its figures expect)."""
    import plotly

    return Path(plotly.__file__).parent / "package_data" / "plotly.min.js"


def stale(names: Iterable[str]) -> list[str]:
    """The tutorials whose executed copy is missing or older than the notebook."""
    out = []
    for name in names:
        executed = EXECUTED / f"{name}.ipynb"
        source = NOTEBOOKS / f"{name}.ipynb"
        if not executed.exists() or executed.stat().st_mtime < source.stat().st_mtime:
            out.append(name)
    return out


def execute(names: list[str], jobs: int) -> None:
    """Run the tutorials ``names`` headlessly, ``jobs`` at a time, into build/executed/."""
    if not names:
        return
    EXECUTED.mkdir(parents=True, exist_ok=True)
    runner = Path(sys.executable).with_name("jupyter-automl")
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        failures = [f for f in pool.map(lambda name: _run(runner, name), names) if f]
    if failures:
        sys.exit("docs: these tutorials failed to run, so the site would show them broken:\n"
                 + "\n".join(failures))


def _run(runner: Path, name: str) -> str | None:
    started = time.monotonic()
    # A copy of notebooks/ of its own: `jupyter-automl run` follows (and checks the totals of)
    # every study in its folder's runs, so two tutorials must not share one.
    workdir = WORKDIR / name
    shutil.rmtree(workdir, ignore_errors=True)
    shutil.copytree(NOTEBOOKS, workdir, ignore=shutil.ignore_patterns("automl_runs", "*.out.*"))
    output = EXECUTED / f"{name}.ipynb"
    partial = EXECUTED / f"{name}.partial.ipynb"
    command = [str(runner), "run", str(workdir / f"{name}.ipynb"), "--output", str(partial),
               "--cwd", str(workdir)]
    # The tutorials call the CLI from shell cells (`!jupyter-automl ...`): it must be on PATH,
    # as it is under make (which puts .venv/bin first).
    env = {**os.environ, "PATH": os.pathsep.join([str(runner.parent), os.environ["PATH"]])}
    done = subprocess.run(command, capture_output=True, text=True, env=env)
    seconds = time.monotonic() - started
    if done.returncode != 0 and not _ran_through(partial):
        tail = "\n".join(done.stderr.splitlines()[-20:])
        return (f"  {name} (exit {done.returncode} after {seconds:.0f} s): "
                f"{' '.join(command)}\n{tail}")
    partial.replace(output)
    print(f"docs: executed {name} in {seconds:.0f} s", flush=True)
    return None


def _ran_through(path: Path) -> bool:
    """Every cell ran without an error: a tutorial may leave a study short of its total on
    purpose (05 kills a worker kernel mid-trial), for which `jupyter-automl run` exits 1."""
    import nbformat

    if not path.exists():
        return False
    nb = nbformat.read(path, as_version=4)
    code = [cell for cell in nb.cells if cell.cell_type == "code"]
    errors = [out for cell in code for out in cell.get("outputs", [])
              if out.get("output_type") == "error"]
    return not errors and all(cell.get("execution_count") for cell in code)


def prepare(names: Iterable[str] = TUTORIALS) -> None:
    """Copy the executed tutorials into docs/tutorials/, ready to render."""
    import nbformat

    RENDERED.mkdir(exist_ok=True)
    for name in names:
        source = EXECUTED / f"{name}.ipynb"
        if not source.exists():
            raise SystemExit(
                f"docs: the executed tutorial {source} is missing; run `make docs` (it runs "
                f"the tutorials that have no executed copy first) or `python docs/tutorials.py`"
            )
        nb = nbformat.read(source, as_version=4)
        for index, cell in enumerate(nb.cells):
            if cell.cell_type == "code":
                for number, output in enumerate(cell.get("outputs", [])):
                    _chart_html(output, f"{name}-{index}-{number}")
        nb.metadata.pop("widgets", None)  # no widget state: nothing to fetch from a CDN
        text = nbformat.writes(nb)
        target = RENDERED / f"{name}.ipynb"
        if not target.exists() or target.read_text() != text:
            target.write_text(text)


def _chart_html(output: dict[str, Any], div_id: str) -> None:
    """Make a Plotly figure output an HTML body that draws it with the site's plotly.js."""
    data = output.get("data", {})
    figure = data.get(PLOTLY_MIME)
    if figure is None:
        return
    layout = figure.get("layout", {})
    height = layout.get("height") or DEFAULT_HEIGHT
    payload = json.dumps([figure.get("data", []), layout, {"responsive": True}])
    payload = payload.replace("</", "<\\/")
    del data[PLOTLY_MIME]  # myst-nb renders no Plotly MIME type: the HTML below stands for it
    data["text/html"] = (
        f'<div id="{div_id}" class="plotly-graph-div" style="height:{height}px; width:100%;">'
        f"</div>\n<script>(function () {{ var args = {payload}; "
        f'function draw() {{ Plotly.newPlot("{div_id}", args[0], args[1], args[2]); }} '
        # drawn once the page is laid out, so that the chart takes its column's width
        'if (document.readyState === "complete") { draw(); } '
        'else { window.addEventListener("load", draw); } })();</script>'
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=2, help="tutorials run at a time")
    parser.add_argument("--force", action="store_true", help="run every tutorial again")
    parser.add_argument("--kept-only", action="store_true",
                        help="run none: each must have the executed copy nbval kept (make test)")
    args = parser.parse_args()
    names = list(TUTORIALS) if args.force else stale(TUTORIALS)
    if args.kept_only and names:
        sys.exit(f"docs: nbval kept no up-to-date executed copy of {', '.join(names)} in "
                 f"{EXECUTED} (tests/nbval_outputs.py writes one when every cell of a tutorial "
                 "passes under make real)")
    if names:
        print(f"docs: running {len(names)} tutorial(s) headlessly: {', '.join(names)}",
              flush=True)
    execute(names, args.jobs)


if __name__ == "__main__":
    main()
