"""JupyterLab's AutoML sidebar, status bar item, dashboard tab and study-cell command in a real
browser: JupyterLab + headless Chromium (Playwright), the extension as installed.

The extension's settings are changed in JupyterLab's Settings Editor (Confirm before Stop
off) and its Run > AutoML menu, declared in its settings schema, is there. A notebook runs a
Keras study in ``--background``, TensorFlow's C++ start-up lines kept out of the cell that
imports Keras; the sidebar shows it running with its progress moving and the status bar names
it; Stop (no dialog: the extension follows the setting) stops it, its trial checkpointed and
queued; the dashboard opens in a Lab tab and shows the study's trials; "New
AutoML study cell" inserts a cell; rerunning the study cell resumes the stopped trial from its
checkpoint. Screenshots go to ``build/screenshots/lab-*.png``.

Needs Debian's ``chromium`` and ``playwright``: skipped without them, except under ``CI=true``.
"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path
from typing import Any

import pytest
from browser.lab import NOTEBOOK_READY
from conftest import study_of

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
SHOTS = REPO / "build" / "screenshots"
NOTEBOOK = "tune.ipynb"
TRIALS = 6
STUDY_CELL = (
    f"%%automl sidebar --trials {TRIALS} --maximize val_accuracy --seed 0 --pruner none "
    "--background\n"
    "model = keras.Sequential([keras.Input((8,)),\n"
    "                          keras.layers.Dense(hp.int('units', 8, 32), activation='relu'),\n"
    "                          keras.layers.Dense(2, activation='softmax')])\n"
    "model.compile('adam', 'sparse_categorical_crossentropy', metrics=['accuracy'])\n"
    "model.fit(x, y, validation_split=0.25, epochs=8, batch_size=64, callbacks=[Slow()])"
)
CELLS = [
    "%load_ext jupyter_automl",
    "import time\nimport numpy as np\nimport keras\n"
    "rng = np.random.default_rng(0)\n"
    "x = rng.normal(size=(400, 8)).astype('float32')\n"
    "y = (x[:, 0] + x[:, 1] > 0).astype('int32')\n"
    "class Slow(keras.callbacks.Callback):\n"
    "    def on_epoch_end(self, epoch, logs=None):\n"
    "        time.sleep(0.3)",
    STUDY_CELL,
]


STUDY = "#jupyter-automl-sidebar .jp-AutoML-study"


def study_state(page: Any) -> dict[str, Any] | None:
    return page.evaluate(f"""() => {{
      const row = document.querySelector('{STUDY}');
      if (!row) return null;
      const bar = row.querySelector('[role=progressbar]');
      return {{badge: row.querySelector('.jp-AutoML-badge').textContent.trim(),
               done: bar ? Number(bar.getAttribute('aria-valuenow')) : null,
               text: row.textContent}};
    }}""")


def wait_state(page: Any, badge: str, timeout: float) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    state = None
    while time.monotonic() < deadline:
        state = study_state(page)
        if state and state["badge"] == badge:
            return state
        time.sleep(0.2)
    raise AssertionError(f"the sidebar never showed the study {badge}: last {state}")


def run_menu(page: Any) -> str:
    """The text of the Run menu's AutoML submenu (declared in the extension's schema)."""
    page.locator(".lm-MenuBar-item", has_text="Run").click()
    page.locator(".lm-Menu-item", has_text="AutoML").hover()
    submenu = page.locator(".lm-Menu", has_text="Check this study cell").last
    submenu.wait_for(timeout=10_000)
    text = str(submenu.inner_text())
    page.keyboard.press("Escape")
    page.keyboard.press("Escape")
    return text


def turn_off_confirm_stop(page: Any, server: Any) -> None:
    """In JupyterLab's Settings Editor: AutoML's Confirm before Stop, unchecked and saved."""
    page.evaluate("window.jupyterapp.commands.execute('settingeditor:open', {query: 'AutoML'})")
    page.locator(".jp-PluginList-entry", has_text="AutoML").first.click()
    page.get_by_label("Confirm before Stop").uncheck()
    deadline = time.monotonic() + 30
    while server.api("settings/jupyter-automl:plugin", under="lab/api")["settings"] \
            .get("confirmStop") is not False:
        assert time.monotonic() < deadline, "the Settings Editor never saved confirmStop"
        time.sleep(0.2)
    page.locator(".lm-DockPanel-tabBar .lm-TabBar-tab", has_text="Settings") \
        .locator(".lm-TabBar-tabCloseIcon").click()


def trials_of(root: Path) -> list[Any]:
    return list(study_of(root / "automl_runs", "sidebar").trials)


@pytest.mark.timeout(300)
def test_the_automl_sidebar_in_jupyterlab(tmp_path: Path) -> None:
    from browser.lab import in_lab

    facts, problems = in_lab(tmp_path, NOTEBOOK, CELLS,
                             lambda page, server, t0: drive(page, server, tmp_path / "lab"),
                             SHOTS / "lab-failure.png", viewport=(1400, 900))
    errors = [p for p in problems if p.startswith("pageerror")]
    assert not errors, errors
    (SHOTS / "lab.json").write_text(json.dumps(facts, indent=1))


def drive(page: Any, server: Any, root: Path) -> dict[str, Any]:
    facts: dict[str, Any] = {}
    page.goto(server.url(f"lab/tree/{NOTEBOOK}"), wait_until="domcontentloaded")
    page.wait_for_function(NOTEBOOK_READY, arg=len(CELLS), timeout=60_000)
    # the extension is installed and enabled, server side too
    listed = server.api("studies", under="jupyter-automl/api")
    assert listed["studies"] == [] and "keras" in [f["id"] for f in listed["formats"]]

    facts["run_menu"] = run_menu(page)
    assert "New AutoML study cell" in facts["run_menu"], facts["run_menu"]
    turn_off_confirm_stop(page, server)

    page.locator(".lm-DockPanel-tabBar .lm-TabBar-tab", has_text=NOTEBOOK).click()
    page.locator(".jp-Notebook .jp-Cell").first.click()
    page.keyboard.press("Escape")
    page.evaluate("window.jupyterapp.commands.execute('notebook:run-all-cells')")

    # the sidebar: open it from its tab, see the study running and its progress move
    page.locator(".jp-SideBar .lm-TabBar-tab[data-id='jupyter-automl-sidebar']").click()
    running = wait_state(page, "running", 120)
    first = running["done"]
    deadline = time.monotonic() + 90
    while (study_state(page) or {}).get("done", 0) <= first:
        assert time.monotonic() < deadline, f"the progress never moved from {first}"
        time.sleep(0.2)
    moved = study_state(page)
    assert moved is not None and moved["badge"] == "running", moved
    facts["progress"] = [first, moved["done"]]
    assert re.search(rf"(?<!\d){moved['done']}/{TRIALS} trials", moved["text"]), moved["text"]

    # the status bar names the notebook's running study
    status = page.locator(".jp-StatusBar-Widget [aria-label^='AutoML study running']")
    status.wait_for(timeout=10_000)
    assert re.match(rf"sidebar \d+/{TRIALS}", status.inner_text().strip()), status.inner_text()
    # the cell that imported Keras: no TensorFlow start-up lines (%load_ext ran first)
    keras_cell = page.locator(".jp-Notebook .jp-Cell").nth(1).inner_text()
    assert "absl::InitializeLog" not in keras_cell and "oneDNN" not in keras_cell, keras_cell
    page.locator("#jupyter-automl-sidebar").screenshot(path=str(SHOTS / "lab-sidebar.png"))
    page.screenshot(path=str(SHOTS / "lab-running.png"))

    # Stop, without a dialog (the setting): the trial checkpoints at its next epoch, is queued
    page.locator(f"{STUDY} .jp-AutoML-action-stop").click()
    stopped = wait_state(page, "stopped", 60)
    assert page.locator(".jp-Dialog").count() == 0
    facts["stopped_at"] = stopped["done"]
    trials = trials_of(root)
    lost = [t for t in trials if t.user_attrs.get("failed_because") == "stopped"]
    assert len(lost) == 1, [(t.number, t.state.name, t.user_attrs) for t in trials]
    assert [t.state.name for t in trials if t.user_attrs.get("retry_of") == lost[0].number] \
        == ["WAITING"]
    assert page.locator(f"{STUDY} .jp-AutoML-action-stop").count() == 0  # running only

    # the dashboard in a Lab tab, showing the study's trials
    page.locator(f"{STUDY} .jp-AutoML-action-dashboard").click()
    tab = page.locator(".lm-DockPanel-tabBar .lm-TabBar-tab", has_text="AutoML: sidebar")
    tab.wait_for(timeout=10_000)
    frame = page.frame_locator("iframe[title='AutoML dashboard: sidebar']")
    frame.get_by_text("sidebar (id=1)").first.wait_for(timeout=60_000)  # the study's page
    points = frame.locator(".js-plotly-plot .scatterlayer .point")  # History: a point a trial
    deadline = time.monotonic() + 30
    while points.count() < stopped["done"]:
        assert time.monotonic() < deadline, f"{points.count()} points in the history chart"
        time.sleep(0.2)
    facts["history_points"] = points.count()
    page.wait_for_timeout(1000)  # the charts' transitions
    page.screenshot(path=str(SHOTS / "lab-dashboard.png"))

    # "New AutoML study cell", from the notebook's toolbar
    page.locator(".lm-DockPanel-tabBar .lm-TabBar-tab", has_text=NOTEBOOK).click()
    page.locator(".jp-Notebook .jp-Cell").first.click()
    page.locator(".jp-NotebookPanel-toolbar [data-command='jupyter-automl:new-study-cell']") \
        .click()
    sources = page.evaluate("""() => window.jupyterapp.shell.currentWidget.content.widgets
        .map((cell) => cell.model.sharedModel.getSource())""")
    assert len(sources) == len(CELLS) + 1
    inserted = sources[1]
    assert re.match(r"%%automl tune --trials \d+", inserted), inserted

    # rerun the study cell: the stopped trial resumes from its checkpoint, the study finishes
    page.evaluate(f"""() => {{
        const panel = window.jupyterapp.shell.currentWidget;
        panel.content.activeCellIndex = {len(CELLS)};
        return window.jupyterapp.commands.execute('notebook:run-cell');
    }}""")
    wait_state(page, "finished", 150)
    retry = next(t for t in trials_of(root) if t.user_attrs.get("retry_of") == lost[0].number)
    assert retry.state.name == "COMPLETE" and retry.user_attrs.get("resumed_at_epoch", 0) >= 1
    facts["resumed_at_epoch"] = retry.user_attrs["resumed_at_epoch"]
    return facts
