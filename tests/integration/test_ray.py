"""``--kernels ray*N`` and ``ray:ADDRESS*N``: the trials on Ray actors, on a Ray started for the
run and on a real two-node cluster on 127.0.0.1 (two ``ray start`` processes, Ray's token
authentication on): the setup from Ray's object store, the study behind the authenticated
proxy, every port on loopback, a worker node killed with ``kill -9`` mid-trial and its trial
resumed from the S3-compatible store on the node that replaces it, and no Ray process left."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
from browser.require import has_module, require_or_skip
from conftest import study_of, wait_for
from fault_study import EPOCHS, PLAIN_BODY, PLAIN_SETUP, Hold
from ray_cluster import RayCluster, listening, ray_cluster, ray_processes  # noqa: F401
from test_security import intruder, serving
from test_store import BUCKET, s3  # noqa: F401

from jupyter_automl._utils.failpoints import ENV as FAILPOINTS

pytestmark = pytest.mark.slow


def own_ray_processes() -> set[int]:
    """The Ray processes this test process started (a Ray for the run)."""
    import psutil

    return {p.pid for p in psutil.Process().children(recursive=True)} & ray_processes()


def test_a_study_on_a_ray_started_for_the_run(ip: Any, tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """``--kernels ray*2``: the setup cell and a shipped variable reach both actors through
    the object store; every Ray port is on loopback and the study refuses a caller without
    its secret while the trials run; nothing of Ray is left when the run ends."""
    require_or_skip(has_module("ray"), "Ray is not installed (pip install 'jupyter-automl[ray]')")
    hold = Hold(tmp_path / "held")
    monkeypatch.setenv(FAILPOINTS, f"worker.reply=pause:{hold.path}")  # the actors', not ours
    ip.run_cell_magic("automl_setup", "", "import math\nOFFSET = 0.5")
    ip.user_ns["scale"] = 3.0
    ip.run_cell_magic("automl", "local --trials 6 --kernels ray*2 --ship scale --seed 0 "
                                "--background",
                      'x = hp.float("x", 0, 1)\nimport os\nprint("pid", os.getpid())\n'
                      "math.sin(x) * scale + OFFSET")
    held = hold.wait(2, "both actors")
    try:
        runner = serving("local", trials=0)
        ours = own_ray_processes()
        assert set(held) <= ours  # the trials run in this Ray's worker processes
        assert listening(ours) == {"127.0.0.1"}
        said = intruder(runner.executor.served.port)
        assert "read refused UNAUTHENTICATED" in said and "write refused UNAUTHENTICATED" in said
    finally:
        hold.release()
    ip.run_line_magic("automl", "wait local")
    study = study_of(tmp_path / "runs", "local")
    assert [t.state.name for t in study.trials] == ["COMPLETE"] * 6
    for trial in study.trials:
        assert trial.value == pytest.approx(__import__("math").sin(trial.params["x"]) * 3 + 0.5)
    assert {t.user_attrs["kernel"] for t in study.trials} == {"Ray worker 0", "Ray worker 1"}
    wait_for(lambda: not own_ray_processes(), 60, "the run's Ray to end")


def test_a_lost_worker_node_costs_one_epoch_on_a_two_node_cluster(
        ray_cluster: RayCluster, s3: dict[str, str], ip: Any, tmp_path: Path) -> None:  # noqa: F811
    """A study across a head and a worker node; the worker node killed (``kill -9`` of its
    processes) right after a trial's second checkpoint reached the bucket, and that trial's
    folder gone with the node's disk. A new worker node joins; the trial's retry resumes
    there from the bucket (``resumed_at_epoch >= 1``), and the study reaches its total."""
    hold = Hold(tmp_path / "held")
    node = ray_cluster.add_worker(cpus=2, env=hold.env("checkpoint.stored@1"))
    store = f"s3://{BUCKET}/ray-{tmp_path.name}"
    ip.run_cell_magic("automl_setup", "", PLAIN_SETUP)
    ip.run_cell_magic("automl", f"m --trials 4 --pruner none --seed 0 --maximize val_accuracy "
                                f"--kernels ray:{ray_cluster.address}*2 --checkpoint-store "
                                f"{store} --background", PLAIN_BODY)
    (held, *_) = hold.wait(1, "a trial on the worker node")
    runner = serving("m", trials=0)
    assert listening(ray_cluster.pids()) == {"127.0.0.1"}  # ports and dashboard on loopback
    said = intruder(runner.executor.served.port)
    assert "read refused UNAUTHENTICATED" in said
    lost = sorted(number for label, number in runner.executor.running.items())
    ray_cluster.kill(node)
    for number in lost:  # the node's disk is gone with it
        shutil.rmtree(tmp_path / "runs" / "m" / "trials" / str(number), ignore_errors=True)
    hold.release()
    ray_cluster.add_worker(cpus=2)  # the cluster replaces the lost node
    ip.run_line_magic("automl", "wait m")
    study = study_of(tmp_path / "runs", "m")
    complete = [t for t in study.trials if t.state.name == "COMPLETE"]
    assert len(complete) == 4
    retries = [t for t in complete if t.user_attrs.get("retry_of") in lost]
    assert retries and max(t.user_attrs.get("resumed_at_epoch", 0) for t in retries) >= 1
    resumed = max(retries, key=lambda t: t.user_attrs.get("resumed_at_epoch", 0))
    first = resumed.user_attrs["resumed_at_epoch"] + 1
    assert sorted(resumed.intermediate_values) == list(range(first, EPOCHS + 1))
    assert held not in ray_cluster.pids()
