"""Experiments where users keep them: TensorBoard's HParams dashboard and MLflow, checked with
the real tools. TensorBoard's event files are read back by TensorBoard's own multiplexer and
the HParams plugin's own handlers (what its dashboard asks for); MLflow's runs by
``MlflowClient`` from a real ``mlflow server`` on 127.0.0.1 (SQLite backend, artifacts served),
started once for the module."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import study_of, wait_for

from jupyter_automl import run_study
from jupyter_automl.errors import StudyInterrupted, TrackingError

pytestmark = pytest.mark.slow

# trial 0 completes, trial 1 fails before it trains, trial 2 is pruned after its 2 epochs (a
# failed trial is not counted: --trials 2 runs the three)
CELL = '''
import optuna
calls.append(1)
if len(calls) == 2:
    raise ValueError("a failing trial")
model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(hp.int("units", 2, 8)),
                          keras.layers.Dense(2, activation="softmax")])
model.compile(keras.optimizers.Adam(hp.float("lr", 1e-3, 1e-1, log=True)),
              "sparse_categorical_crossentropy", metrics=["accuracy"])
model.fit(x, y, validation_split=0.25, epochs=2, batch_size=32, callbacks=callbacks)
if len(calls) == 3:
    raise optuna.TrialPruned("pruned by the cell")
'''

SECRET = "tok-5e3f9a-not-to-be-seen"  # an MLflow token: never shown nor written

# a Keras callback that interrupts the first trial as its second epoch begins (epoch 1 saved)
INTERRUPT = '''
class Interrupt(keras.callbacks.Callback):
    def on_epoch_begin(self, epoch, logs=None):
        if epoch == 1 and interrupt:
            interrupt.pop()
            raise KeyboardInterrupt
'''


@pytest.fixture
def namespace() -> dict[str, Any]:
    import keras

    rng = np.random.default_rng(0)
    x = rng.normal(size=(128, 4)).astype("float32")
    return {"keras": keras, "x": x, "y": (x[:, 0] > 0).astype("int64"), "calls": [],
            "callbacks": []}


def tensorboard(logdir: Path) -> tuple[Any, Any, Any]:
    """What TensorBoard shows of ``logdir``: its multiplexer (runs, scalars), and the HParams
    dashboard's experiment and session groups, from the plugin's own handlers."""
    from tensorboard import context
    from tensorboard.backend.event_processing import data_provider
    from tensorboard.backend.event_processing import plugin_event_multiplexer as pem
    from tensorboard.plugins import base_plugin
    from tensorboard.plugins.hparams import (
        api_pb2,
        backend_context,
        get_experiment,
        list_session_groups,
    )

    mux = pem.EventMultiplexer()
    mux.AddRunsFromDirectory(str(logdir))
    mux.Reload()
    provider = data_provider.MultiplexerDataProvider(mux, str(logdir))
    hparams = backend_context.Context(base_plugin.TBContext(
        logdir=str(logdir), multiplexer=mux, data_provider=provider))
    ctx = context.RequestContext()
    experiment = get_experiment.Handler(
        ctx, hparams, "", api_pb2.GetExperimentRequest(include_metrics=True)).run()
    groups = list_session_groups.Handler(ctx, hparams, "", api_pb2.ListSessionGroupsRequest(
        start_index=0, slice_size=100, allowed_statuses=[0, 1, 2, 3],
        include_metrics=True)).run().session_groups
    return mux, experiment, {g.name: g for g in groups}


def steps(mux: Any, run: str, tag: str) -> list[int]:
    return [event.step for event in mux.Tensors(run, tag)]


def hparam(group: Any, name: str) -> Any:
    value = group.hparams[name]
    return value.string_value if value.HasField("string_value") else value.number_value


def test_tensorboard_shows_the_study_in_the_hparams_dashboard(
        namespace: dict[str, Any], tmp_path: Path, mlflow_process: Any) -> None:
    from tensorboard.plugins.hparams import api_pb2

    logdir = tmp_path / "tb"
    run_study(CELL, f"tb --trials 2 --runs-dir {tmp_path} --maximize val_accuracy "
                    f"--tensorboard={logdir}", namespace, display="text")
    mux, experiment, groups = tensorboard(logdir)
    for n in (0, 2):  # every epoch of each trial that trained, once, in Keras's layout
        for run in (f"trial-00{n}/train", f"trial-00{n}/validation"):
            assert steps(mux, run, "epoch_loss") == [1, 2]
            assert steps(mux, run, "epoch_accuracy") == [1, 2]
    assert "trial-001/train" not in mux.Runs()  # it failed before training
    infos = {info.name: info for info in experiment.hparam_infos}
    assert set(infos) == {"units", "lr", "trial_state"}
    assert (infos["units"].domain_interval.min_value,
            infos["units"].domain_interval.max_value) == (2, 8)
    metrics = {(m.name.group, m.name.tag) for m in experiment.metric_infos}
    assert {("validation", "epoch_accuracy"), ("train", "epoch_loss"),
            ("", "objective/val_accuracy")} <= metrics
    assert set(groups) == {"trial-000", "trial-001", "trial-002"}
    states = {name: (hparam(g, "trial_state"), g.sessions[0].status)
              for name, g in groups.items()}
    assert states == {"trial-000": ("COMPLETE", api_pb2.STATUS_SUCCESS),
                      "trial-001": ("FAIL", api_pb2.STATUS_FAILURE),
                      "trial-002": ("PRUNED", api_pb2.STATUS_UNKNOWN)}
    trials = study_of(tmp_path, "tb").trials
    for trial in (trials[0], trials[2]):  # its parameters, as the study has them
        group = groups[f"trial-00{trial.number}"]
        assert hparam(group, "units") == trial.params["units"]
        assert hparam(group, "lr") == pytest.approx(trial.params["lr"])
    values = {(v.name.group, v.name.tag): v.value for v in groups["trial-000"].metric_values}
    assert values[("", "objective/val_accuracy")] == pytest.approx(trials[0].value)
    assert values[("validation", "epoch_accuracy")] == pytest.approx(trials[0].value)


# -- MLflow --------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def mlflow_process(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Any, str, Path]]:
    """A real ``mlflow server`` on 127.0.0.1 (SQLite backend, artifacts served), started for
    the module (the first test asks for it, so that it starts while that test trains: it takes
    its time) and killed after."""
    folder = tmp_path_factory.mktemp("mlflow")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    mlflow = shutil.which("mlflow", path=str(Path(sys.executable).parent)) or "mlflow"
    with open(folder / "server.log", "wb") as log:
        server = subprocess.Popen(
            [mlflow, "server", "--host", "127.0.0.1", "--port", str(port), "--workers", "1",
             "--backend-store-uri", f"sqlite:///{folder / 'mlflow.db'}",
             "--artifacts-destination", str(folder / "artifacts"), "--serve-artifacts"],
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        yield server, f"http://127.0.0.1:{port}", folder / "server.log"
    finally:
        os.killpg(server.pid, 15)
        server.wait(30)


@pytest.fixture
def mlflow_server(mlflow_process: tuple[Any, str, Path]) -> str:
    """The server's URL, once it answers /health."""
    import urllib.request

    server, url, log = mlflow_process

    def healthy() -> bool:
        assert server.poll() is None, log.read_text()[-3000:]
        try:
            with urllib.request.urlopen(url + "/health", timeout=2) as reply:
                return bool(reply.status == 200)
        except OSError:
            return False

    wait_for(healthy, 120, "the mlflow server to answer /health")
    return url


def runs_of(url: str, experiment: str) -> dict[str, Any]:
    from mlflow import MlflowClient

    client = MlflowClient(url)
    found = client.get_experiment_by_name(experiment)
    assert found is not None
    return {r.data.tags["automl.trial"]: r for r in client.search_runs([found.experiment_id])}


def history(url: str, run: Any, key: str) -> list[tuple[int, float]]:
    from mlflow import MlflowClient

    return [(m.step, m.value) for m in sorted(MlflowClient(url).get_metric_history(
        run.info.run_id, key), key=lambda m: m.step)]


def test_mlflow_logs_each_trial_as_a_run_with_the_best_model(
        mlflow_server: str, namespace: dict[str, Any], tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch, capfd: Any) -> None:
    from mlflow import MlflowClient

    monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", SECRET)  # MLflow sends it; we never show it
    result = run_study(CELL, f"ml --trials 2 --runs-dir {tmp_path} --maximize val_accuracy "
                             f"--mlflow {mlflow_server}", namespace, display="text")
    trials = study_of(tmp_path, "ml").trials
    runs = runs_of(mlflow_server, "ml")
    assert set(runs) == {"0", "1", "2"}
    assert {n: (r.info.status, r.data.tags["automl.state"]) for n, r in runs.items()} == {
        "0": ("FINISHED", "COMPLETE"), "1": ("FAILED", "FAIL"), "2": ("KILLED", "PRUNED")}
    assert runs["2"].data.tags["automl.pruned"] == "true"
    assert "a failing trial" in runs["1"].data.tags["automl.error"]
    for trial in trials:
        run = runs[str(trial.number)]
        assert run.data.tags["automl.study"] == "ml"
        assert trial.user_attrs["mlflow_run_id"] == run.info.run_id
        assert run.data.params == {k: str(v) for k, v in trial.params.items()}
    state = (tmp_path / "ml" / "trials" / "0" / "state.json").read_text()
    for key in ("loss", "val_loss", "accuracy", "val_accuracy"):  # each epoch once, step=epoch
        assert [s for s, _ in history(mlflow_server, runs["0"], key)] == [1, 2]
        assert f'"{key}"' in state
    assert history(mlflow_server, runs["0"], "objective/val_accuracy") == [
        (2, pytest.approx(trials[0].value))]
    # the best model: an artifact of the best trial's run, the same Keras file
    client = MlflowClient(mlflow_server)
    best = runs[str(result.best_trial.number)]
    assert best.data.tags.get("automl.best") == "true"
    assert {a.path for a in client.list_artifacts(best.info.run_id, "model")} == {
        "model/model.keras", "model/params.json"}
    local = client.download_artifacts(best.info.run_id, "model/model.keras",
                                      str(tmp_path / "download"))
    assert Path(local).read_bytes() == (tmp_path / "ml" / "best" / "model.keras").read_bytes()
    # the token is in no output, no file of the study's, no tag or parameter of a run
    said = capfd.readouterr()
    assert SECRET not in said.out + said.err
    assert not [f for f in (tmp_path / "ml").rglob("*") if f.is_file()
                and SECRET.encode() in f.read_bytes()]
    assert not [r for r in runs.values()
                if SECRET in repr(r.data.tags) + repr(r.data.params)]


def test_a_resumed_trial_continues_its_run_and_its_curves(
        mlflow_server: str, namespace: dict[str, Any], tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """An interrupted trial's retry resumes from its checkpoint in the same MLflow run, and
    neither MLflow nor TensorBoard get an epoch twice. (--mlflow alone: MLFLOW_TRACKING_URI's
    server.)"""
    exec(INTERRUPT, namespace)
    namespace.update(callbacks=[namespace["Interrupt"]()], interrupt=[True], calls=[0, 0, 0])
    monkeypatch.setenv("MLFLOW_TRACKING_URI", mlflow_server)
    options = (f"rs --trials 1 --runs-dir {tmp_path} --maximize val_accuracy "
               f"--tensorboard={tmp_path / 'tb'} --mlflow")
    with pytest.raises(StudyInterrupted):
        run_study(CELL, options, namespace, display="text")
    run_study(CELL, options, namespace, display="text")
    trials = study_of(tmp_path, "rs").trials
    assert [t.state.name for t in trials] == ["FAIL", "COMPLETE"]
    assert trials[1].user_attrs["retry_of"] == 0
    assert trials[1].user_attrs["mlflow_run_id"] == trials[0].user_attrs["mlflow_run_id"]
    runs = runs_of(mlflow_server, "rs")
    assert list(runs) == ["1"]  # one run, now the retry's
    run = runs["1"]
    assert run.info.status == "FINISHED" and run.data.tags["automl.retry_of"] == "0"
    assert [s for s, _ in history(mlflow_server, run, "val_loss")] == [1, 2]
    mux, _, groups = tensorboard(tmp_path / "tb")
    assert steps(mux, "trial-000/validation", "epoch_loss") == [1]
    assert steps(mux, "trial-001/validation", "epoch_loss") == [2]  # after its resume point
    assert hparam(groups["trial-000"], "trial_state") == "FAIL"
    assert hparam(groups["trial-001"], "trial_state") == "COMPLETE"


def test_a_tracking_server_that_does_not_answer_is_said_before_any_trial(
        namespace: dict[str, Any], tmp_path: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nothing listens there once closed
    with pytest.raises(TrackingError, match=rf"(?s)MLflow tracking server "
                                            rf"http://127.0.0.1:{port} does not answer.*"
                                            "No trial has started"):
        run_study(CELL, f"dead --trials 3 --runs-dir {tmp_path} --mlflow "
                        f"http://127.0.0.1:{port}", namespace, display="text")
    assert namespace["calls"] == []


def test_a_tensorboard_callback_on_worker_kernels_gets_a_folder_per_trial(
        ip: Any, tmp_path: Path) -> None:
    """As KerasTuner does: the cell's own ``keras.callbacks.TensorBoard`` writes each trial to
    ``log_dir/trial-N`` (on the worker kernels here), and the notebook adds the HParams
    records beside them."""
    ip.run_cell_magic("automl_setup", "", "import keras\nimport numpy as np\n"
                      "rng = np.random.default_rng(0)\n"
                      "x = rng.normal(size=(128, 4)).astype('float32')\n"
                      "y = (x[:, 0] > 0).astype('int64')")
    cell = CELL.replace("callbacks=callbacks",
                        "callbacks=[keras.callbacks.TensorBoard('tb_logs', write_graph=False)]")
    cell = cell.replace("calls.append(1)\n", "calls = [1]\n")  # every trial completes
    ip.run_cell_magic("automl", "cb --trials 2 --kernels 2 --maximize val_accuracy", cell)
    trials = study_of(tmp_path / "runs", "cb").trials
    assert [t.state.name for t in trials] == ["COMPLETE"] * 2, [
        t.user_attrs.get("error") for t in trials]
    assert all(t.user_attrs["kernel"].startswith("local kernel") for t in trials)
    mux, experiment, groups = tensorboard(tmp_path / "tb_logs")
    assert set(groups) == {"trial-000", "trial-001"}
    for trial in trials:
        run = f"trial-00{trial.number}"
        assert steps(mux, f"{run}/validation", "epoch_accuracy") == [0, 1]  # Keras's own steps
        assert hparam(groups[run], "units") == trial.params["units"]
        values = {(v.name.group, v.name.tag): v.value for v in groups[run].metric_values}
        assert values[("validation", "epoch_accuracy")] == pytest.approx(trial.value)
    assert {i.name for i in experiment.hparam_infos} == {"units", "lr", "trial_state"}
    assert ("validation", "epoch_loss") in {(m.name.group, m.name.tag)
                                            for m in experiment.metric_infos}
