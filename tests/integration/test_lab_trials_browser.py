"""The AutoML sidebar's Trials action in a real browser (JupyterLab + headless Chromium, the
extension as installed): a study's best trial discarded with a reason from the dialog, the
study's record and the sidebar's progress line then saying so, and the discard taken back.

Needs Debian's ``chromium`` and ``playwright``: skipped without them, except under ``CI=true``.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.slow

STUDY = "#jupyter-automl-sidebar .jp-AutoML-study"
SHOTS = Path(__file__).resolve().parents[2] / "build" / "screenshots"


def edit(page: Any, trial: int, verb: str, reason: str = "") -> str:
    """The Trials dialog: pick ``trial`` and ``verb``, give ``reason``, apply; what it says."""
    page.locator(f"{STUDY} .jp-AutoML-action-trials").click()
    form = page.locator(".jp-Dialog .jp-AutoML-trialEditor")
    form.wait_for(timeout=15_000)
    selects = form.locator("select")
    selects.nth(0).select_option(str(trial))
    selects.nth(1).select_option(verb)
    if reason:
        form.locator("input").fill(reason)
        page.locator(".jp-Dialog-content").screenshot(path=str(SHOTS / "lab-trials-dialog.png"))
    page.locator(".jp-Dialog .jp-Dialog-button", has_text="Apply").click()
    said = page.locator(".jp-Dialog .jp-Dialog-content", has_text=f"trial {trial} of study")
    said.wait_for(timeout=30_000)
    text = str(said.inner_text())
    page.locator(".jp-Dialog .jp-Dialog-button", has_text="Close").click()
    page.locator(".jp-Dialog").wait_for(state="detached", timeout=10_000)
    return text


def sidebar_text(page: Any, wanted: str, timeout: float = 30) -> str:
    deadline = time.monotonic() + timeout
    text = ""
    while time.monotonic() < deadline:
        row = page.locator(STUDY)
        text = str(row.inner_text()) if row.count() else ""
        if wanted in text:
            return text
        page.locator("#jupyter-automl-sidebar .jp-AutoML-refresh").click()
        time.sleep(0.5)
    raise AssertionError(f"the sidebar never said {wanted!r}: {text!r}")


def drive(page: Any, server: Any, root: Path) -> None:
    from jupyter_automl import run_study
    from jupyter_automl.results import load_result, summary_of
    from jupyter_automl.runs import DISCARDED, study_paths

    runs = root / "automl_runs"
    run_study('x = hp.float("x", -3, 3)\n(x - 1) ** 2\n', f"edits --trials 3 --seed 0 "
              f"--runs-dir {runs}", {}, listeners=[])
    best = summary_of(study_paths(runs, "edits")).best[0]
    page.goto(server.url("lab"), wait_until="domcontentloaded")
    page.locator(".jp-SideBar .lm-TabBar-tab[data-id='jupyter-automl-sidebar']").click()
    sidebar_text(page, "3/3 trials")

    said = edit(page, best, "discard", "a bad batch")
    assert "is discarded (a bad batch)" in said, said
    trial = load_result("edits", runs).study.trials[best]
    assert trial.state.name == "FAIL", trial.state
    assert trial.user_attrs[DISCARDED]["reason"] == "a bad batch"
    assert trial.user_attrs[DISCARDED]["by"].startswith("JupyterLab (")
    sidebar_text(page, "1 discarded")
    page.locator("#jupyter-automl-sidebar").screenshot(path=str(SHOTS / "lab-trials.png"))

    assert "COMPLETE again" in edit(page, best, "undo")
    assert load_result("edits", runs).study.trials[best].state.name == "COMPLETE"


@pytest.mark.timeout(240)
def test_the_sidebar_discards_a_trial_and_takes_it_back(tmp_path: Path) -> None:
    from browser.lab import in_lab

    SHOTS.mkdir(parents=True, exist_ok=True)
    _, problems = in_lab(tmp_path, "blank.ipynb", ["1 + 1"],
                         lambda page, server, t0: drive(page, server, tmp_path / "lab"),
                         SHOTS / "lab-trials-failure.png", viewport=(1400, 900))
    errors = [p for p in problems if p.startswith("pageerror")]
    assert not errors, errors
