"""The live panel in a real browser: JupyterLab + headless Chromium (Playwright).

A throwaway JupyterLab server opens a small notebook whose ``%%automl`` cell tunes a Keras model
(4 trials of 3 epochs on generated data); Run > Run All Cells runs it, and the checks read the
page's DOM, as a person would see it: the panel, the five learning-curve traces, the four rows
of the trial table, the progress line; a click on a row selects that trial, in the table and
(through the kernel) in the learning curves. A screenshot of the panel goes to
``build/screenshots/panel.png`` on every run (and ``failure.png`` of the page when it fails).

Needs Debian's ``chromium`` and the ``playwright`` package: skipped without them, except under
``CI=true`` where their absence fails (tests/browser/require.py).
"""

from __future__ import annotations

import json
import re
import time
import warnings
from pathlib import Path
from typing import Any

import pytest
from browser.lab import NOTEBOOK_READY

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
SHOTS = REPO / "build" / "screenshots"
NOTEBOOK = "panel.ipynb"
TRIALS = 4

CELLS = [
    "%load_ext jupyter_automl",
    # The panel is what this test is about: ask for it whatever `auto` would pick.
    '%config Automl.display = "widgets"',
    "import numpy as np\n"
    "rng = np.random.default_rng(0)\n"
    "x = rng.normal(size=(600, 8)).astype('float32')\n"
    "y = (x[:, 0] + x[:, 1] * x[:, 2] > 0).astype('int32')",
    f"%%automl browser --trials {TRIALS} --maximize val_accuracy --seed 0 --pruner none "
    "--measure tflite_dynamic_kb\n"
    "model = keras.Sequential([keras.Input((8,))])\n"
    "model.add(keras.layers.Dense(hp.int('units', 8, 64, log=True),\n"
    "                             activation=hp.choice('activation', ['relu', 'tanh'])))\n"
    "model.add(keras.layers.Dense(2, activation='softmax'))\n"
    "model.compile(keras.optimizers.Adam(hp.float('lr', 1e-3, 3e-2, log=True)),\n"
    "              'sparse_categorical_crossentropy', metrics=['accuracy'])\n"
    "model.fit(x, y, validation_split=0.25, epochs=3, batch_size=64)",
]


STUDY_DONE = """(trials) => {
  const progress = document.querySelector('.automl-panel .automl-progress');
  const rows = document.querySelectorAll('.automl-panel .automl-trials tbody tr');
  return !!progress && progress.textContent.includes(`${trials}/${trials} trials`)
         && progress.textContent.includes('finished') && rows.length === trials;
}"""

# The first error output of the notebook ("RuntimeError: boom"), or null.
CELL_ERROR = """() => {
  const panel = window.jupyterapp && window.jupyterapp.shell.currentWidget;
  for (const cell of (panel && panel.content ? panel.content.widgets : [])) {
    const outputs = cell.model.outputs;
    for (let i = 0; outputs && i < outputs.length; i++) {
      const out = outputs.get(i).toJSON();
      if (out.output_type === 'error') return `${out.ename}: ${out.evalue}`;
    }
  }
  return null;
}"""

KERNEL_IDLE = """() => {
  const panel = window.jupyterapp.shell.currentWidget;
  const kernel = panel.sessionContext.session.kernel;
  const cells = panel.content.widgets;
  const last = cells[cells.length - 1];
  return kernel.status === 'idle' && last.model.executionCount !== null;
}"""

# A chart's plotly graph div: with plotly 7 (an anywidget) it is the widget's element itself
# (`.automl-curves.js-plotly-plot`); older front ends put it inside the widget.
PLOT_OF = """(name) => {
  const el = document.querySelector(`.automl-panel .automl-${name}`);
  return el && (el.matches('.js-plotly-plot') ? el : el.querySelector('.js-plotly-plot'));
}"""

# Every chart as the page has it: its box, the width plotly drew, and per trace the name,
# type and number of drawn points (gaps excluded).
FIGURES = f"""() => {{
  const plotOf = {PLOT_OF};
  const out = {{}};
  for (const name of ['curves', 'history', 'parallel', 'importance', 'costs']) {{
    const widget = document.querySelector(`.automl-panel .automl-${{name}}`);
    const plot = plotOf(name);
    const box = widget ? widget.getBoundingClientRect() : null;
    const svg = plot && plot.querySelector('.main-svg');
    out[name] = {{
      widget: !!widget, plot: !!plot,
      box: box ? [Math.round(box.width), Math.round(box.height)] : null,
      drawn: svg ? [Math.round(svg.getBoundingClientRect().width),
                    Math.round(svg.getBoundingClientRect().height)] : null,
      traces: plot && plot.data ? Array.from(plot.data, (t) => {{
        const ys = t.y || (t.dimensions && t.dimensions[0] && t.dimensions[0].values) || [];
        const points = Array.from(ys).filter((v) => v !== null && !Number.isNaN(v)).length;
        return {{name: t.name ?? null, type: t.type ?? 'scatter', points}};
      }}) : null,
    }};
  }}
  return out;
}}"""


def exactly(text: str) -> re.Pattern[str]:
    return re.compile(f"^{re.escape(text)}$")


def traces(figures: dict[str, Any], chart: str) -> dict[str, int]:
    return {t["name"]: t["points"] for t in figures[chart]["traces"] or []}


@pytest.mark.timeout(240)
def test_live_panel_in_jupyterlab(tmp_path: Path) -> None:
    facts = in_lab(tmp_path, CELLS, drive)
    (SHOTS / "panel.json").write_text(json.dumps(facts, indent=1))


PBT_MEMBERS, PBT_EPOCHS = 4, 3
PBT_CELLS = [*CELLS[:3],
             f"%%automl pbt --scheduler pbt --population {PBT_MEMBERS} --interval 1 "
             "--maximize val_accuracy --seed 1\n"
             "model = keras.Sequential([keras.Input((8,)),\n"
             "    keras.layers.Dense(hp.int('units', 8, 64, log=True), activation='relu'),\n"
             "    keras.layers.Dense(2, activation='softmax')])\n"
             "model.compile(keras.optimizers.Adam(hp.float('lr', 1e-3, 3e-2, log=True, "
             "mutable=True)),\n"
             "              'sparse_categorical_crossentropy', metrics=['accuracy'])\n"
             f"model.fit(x, y, validation_split=0.25, epochs={PBT_EPOCHS}, batch_size=64)"]


@pytest.mark.timeout(240)
def test_pbt_panel_in_jupyterlab(tmp_path: Path) -> None:
    """Population-based training's panel: a line per member across the generations, a ring
    where one copied another, the best lineage, and the schedule chart."""
    facts = in_lab(tmp_path, PBT_CELLS, drive_pbt)
    (SHOTS / "pbt-panel.json").write_text(json.dumps(facts, indent=1))


def in_lab(tmp_path: Path, cells: list[str], check: Any) -> dict[str, Any]:
    """Run ``cells`` as a notebook in a throwaway JupyterLab in headless Chromium and
    ``check(page, server, t0, cells)`` the page (tests/browser/lab.py's ``in_lab``)."""
    from browser.lab import in_lab as run_in_lab

    t0 = time.monotonic()
    facts, _ = run_in_lab(tmp_path, NOTEBOOK, cells,
                          lambda page, server, started: check(page, server, started, cells),
                          SHOTS / "failure.png")
    facts["seconds"] = round(time.monotonic() - t0, 1)
    return facts  # type: ignore[no-any-return]


def wait_unless_error(page: Any, predicate: str, arg: Any, timeout: float) -> None:
    """Wait for ``predicate``; a cell that fails meanwhile fails the test at once, with its
    error (rather than at the timeout)."""
    page.wait_for_function(f"(arg) => ({predicate})(arg) || !!({CELL_ERROR})()", arg=arg,
                           timeout=timeout * 1000)
    error = page.evaluate(CELL_ERROR)
    assert error is None, f"a notebook cell failed: {error}"


def run_all(page: Any, server: Any, t0: float, cells: list[str], trials: int) -> dict[str, Any]:
    """Open the notebook, run it from the menu, wait for its study's ``trials``."""
    facts: dict[str, Any] = {}
    page.goto(server.url(f"lab/tree/{NOTEBOOK}"), wait_until="domcontentloaded")
    page.wait_for_function(NOTEBOOK_READY, arg=len(cells), timeout=60_000)
    facts["notebook_ready_s"] = round(time.monotonic() - t0, 1)

    page.evaluate("window.jupyterapp.shell.collapseLeft()")  # the file browser: more width
    page.locator(".jp-Notebook .jp-Cell").first.click()  # the notebook has the focus
    page.locator("#jp-MainMenu .lm-MenuBar-itemLabel", has_text=exactly("Run")).click()
    page.locator(".lm-Menu .lm-Menu-itemLabel", has_text=exactly("Run All Cells")).click()

    wait_unless_error(page, "() => !!document.querySelector('.automl-panel')", None, 60)
    facts["panel_shown_s"] = round(time.monotonic() - t0, 1)
    wait_unless_error(page, STUDY_DONE, trials, 120)
    page.wait_for_function(KERNEL_IDLE, timeout=30_000)
    facts["study_done_s"] = round(time.monotonic() - t0, 1)
    return facts


def drive_pbt(page: Any, server: Any, t0: float, cells: list[str]) -> dict[str, Any]:
    trials = PBT_MEMBERS * PBT_EPOCHS
    facts = run_all(page, server, t0, cells, trials)
    progress = page.locator(".automl-panel .automl-progress").inner_text()
    assert f"{trials}/{trials} trials" in progress, progress
    header = page.locator(".automl-panel .automl-trials thead").inner_text()
    assert "member" in header, header
    figures = page.evaluate(FIGURES.replace("'importance'", "'schedule'"))
    facts["figures"] = figures
    curves = traces(figures, "curves")
    members = {name: n for name, n in curves.items() if name.startswith("member")}
    # a line per member through every generation's epochs
    assert members == {f"member {m}": PBT_EPOCHS for m in range(PBT_MEMBERS)}, curves
    # the worst of 4 copies the best at each of the 2 later generations
    assert curves["copied a better member"] == PBT_EPOCHS - 1, curves
    assert curves["best lineage"] == PBT_EPOCHS, curves
    assert traces(figures, "schedule") == {"lr": PBT_EPOCHS}, figures["schedule"]
    page.wait_for_timeout(500)  # plotly's relayout transitions
    page.locator(".automl-panel").screenshot(path=str(SHOTS / "pbt-panel.png"))
    return facts


def drive(page: Any, server: Any, t0: float, cells: list[str]) -> dict[str, Any]:
    """Run the notebook from the menu, check the panel; return what was measured."""
    facts = run_all(page, server, t0, cells, TRIALS)

    assert page.locator(".automl-panel").count() == 1
    assert page.locator(".automl-panel .automl-trials tbody tr").count() == TRIALS
    progress = page.locator(".automl-panel .automl-progress").inner_text()
    assert f"{TRIALS}/{TRIALS} trials" in progress, progress
    facts["progress"] = progress
    facts["best"] = page.locator(".automl-panel .automl-best").inner_text()
    n_curves = page.evaluate(f"({PLOT_OF})('curves').data.length")
    assert n_curves == 5, n_curves
    figures = page.evaluate(FIGURES)
    facts["figures"] = figures
    curves = traces(figures, "curves")
    assert list(curves) == ["complete", "pruned", "running", "failed", "selected"], curves
    # 4 complete trials of 3 epochs: 12 points on the complete trace (gaps excluded).
    assert curves["complete"] == TRIALS * 3, curves
    assert len(figures["history"]["traces"]) == 4, figures["history"]  # infeasible: empty
    # --measure: the accuracy against the TFLite file's size, a point per trial, its front
    costs = traces(figures, "costs")
    assert costs["trials"] == TRIALS and costs["front (least cost for the value)"] >= 1, costs
    header = page.locator(".automl-panel .automl-trials thead").inner_text()
    assert "tflite_dynamic_kb" in header, header

    # A click on a row selects its trial: the row at once (front end), the curves after the
    # kernel has seen the selection.
    row = '.automl-panel .automl-trials tbody tr[data-trial="2"]'
    page.locator(row).click()
    page.wait_for_function(
        "(sel) => document.querySelector(sel)?.classList.contains('selected')", arg=row,
        timeout=10_000)
    assert page.locator(".automl-panel .automl-trials tbody tr.selected").count() == 1
    page.wait_for_function(
        f"""() => {{ const t = ({PLOT_OF})('curves').data.find((d) => d.name === 'selected');
                    return !!t && !!t.y && t.y.length === 3; }}""", timeout=15_000)
    facts["figures_after_click"] = page.evaluate(FIGURES)
    # A warning, not a failure: a chart drawn wider than its grid cell (a fixed layout width,
    # or plotly's default 700px) has its right edge cut off.
    wide = {name: f"{f['drawn'][0]}px drawn in a {f['box'][0]}px box"
            for name, f in figures.items() if f["drawn"] and f["drawn"][0] > f["box"][0] + 1}
    if wide:
        warnings.warn(f"charts wider than their grid cell: {wide}", stacklevel=1)
    page.wait_for_timeout(500)  # plotly's relayout transitions
    page.locator(".automl-panel").screenshot(path=str(SHOTS / "panel.png"))
    facts["panel_box"] = page.locator(".automl-panel").bounding_box()
    return facts
