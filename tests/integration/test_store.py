"""``--checkpoint-store``: checkpoints and the best model kept where every machine reaches them,
a folder or an S3-compatible bucket (moto's server on 127.0.0.1, a real HTTP server, never a
mock of the client). A trial killed for real (a failpoint's SIGKILL) whose runs folder no longer
holds its checkpoints, as on another machine, resumes from the store."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fault_study import EPOCHS, NAME, OPTIONS, PLAIN_BODY, PLAIN_SETUP, Study, run, script

pytestmark = pytest.mark.slow
BUCKET = "automl-checkpoints"


@pytest.fixture(scope="module")
def s3() -> Iterator[dict[str, str]]:
    """An S3-compatible server on 127.0.0.1 (moto's, in this process) with an empty bucket:
    the environment boto3 reads to reach it."""
    moto_server = pytest.importorskip("moto.server")
    import boto3

    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    env = {"AWS_ENDPOINT_URL": f"http://{host}:{port}", "AWS_ACCESS_KEY_ID": "testing",
           "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1"}
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        boto3.client("s3").create_bucket(Bucket=BUCKET)
        yield env
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        server.stop()


def objects(prefix: str = "") -> dict[str, bytes]:
    import boto3

    client = boto3.client("s3")
    listed = client.list_objects_v2(Bucket=BUCKET, Prefix=prefix).get("Contents", [])
    return {o["Key"]: client.get_object(Bucket=BUCKET, Key=o["Key"])["Body"].read()
            for o in listed}


def store_url(kind: str, tmp_path: Path, prefix: str) -> str:
    return f"s3://{BUCKET}/{prefix}" if kind == "s3" else f"file://{tmp_path / 'store'}"


@pytest.mark.parametrize("kind", ["folder", "s3"])
def test_a_trial_killed_resumes_from_the_store_without_its_folder(
        request: Any, tmp_path: Path, kind: str) -> None:
    """Killed right after trial 0's second checkpoint reached the store; its checkpoints in
    the runs folder are then gone (another machine's disk). The rerun resumes it at epoch 2
    from the store, and the study reaches its total."""
    if kind == "s3":
        request.getfixturevalue("s3")
    runs = tmp_path / "runs"
    url = store_url(kind, tmp_path, f"{kind}-{tmp_path.name}")
    code = script(OPTIONS + f" --runs-dir {runs} --checkpoint-store {url}", PLAIN_SETUP,
                  PLAIN_BODY, display="text")
    killed = run(code, tmp_path, "checkpoint.stored@1=kill")
    assert killed.returncode == -9, killed.stderr[-2000:]
    shutil.rmtree(runs / NAME / "trials" / "0")
    rerun = run(code, tmp_path)
    assert rerun.returncode == 0, rerun.stderr[-2000:]
    assert f"resumes from the checkpoint of trial 0 in {url} (epoch 2)" in rerun.stderr
    study = Study(runs)
    (retry,) = [t for t in study.trials() if t.user_attrs.get("retry_of") == 0]
    assert retry.user_attrs["resumed_at_epoch"] == 2
    assert sorted(retry.intermediate_values) == list(range(3, EPOCHS + 1))
    assert len(study.finished()) == 4  # the total reached


def test_an_upload_cut_short_spoils_one_slot_and_the_other_is_read(tmp_path: Path) -> None:
    """Trial 0's checkpoints alternate between two slots in the store: epoch 1 in one, epoch
    2 in the other. The slot holding epoch 2 spoiled (an upload cut short), the retry resumes
    from epoch 1, not from nothing."""
    import numpy as np

    runs, folder = tmp_path / "runs", tmp_path / "store"
    code = script(OPTIONS + f" --runs-dir {runs} --checkpoint-store {folder}", PLAIN_SETUP,
                  PLAIN_BODY, display="text")
    killed = run(code, tmp_path, "checkpoint.stored@1=kill")
    assert killed.returncode == -9, killed.stderr[-2000:]
    slots = {int(np.load(p)["epoch"]): p for p in folder.glob(f"{NAME}.trial-0.checkpoint.*")}
    assert sorted(slots) == [1, 2]
    slots[2].write_bytes(slots[2].read_bytes()[:100])
    shutil.rmtree(runs / NAME / "trials" / "0")
    rerun = run(code, tmp_path)
    assert rerun.returncode == 0, rerun.stderr[-2000:]
    (retry,) = [t for t in Study(runs).trials() if t.user_attrs.get("retry_of") == 0]
    assert retry.user_attrs["resumed_at_epoch"] == 1


def test_the_best_model_and_the_worker_kernels_checkpoints_go_to_the_bucket(
        s3: dict[str, str], ip: Any, tmp_path: Path) -> None:
    """Worker kernels get the store from the study's options and boto3's environment from
    the notebook's; every checkpoint they write reaches the bucket, and so does the best
    model, the same bytes as best/model.keras."""
    from conftest import orphan_kernels
    from digits import CODE

    setup = CODE + ("from sklearn.model_selection import train_test_split\n"
                    "x, x_val, y, y_val = train_test_split(x, y, test_size=0.25, "
                    "random_state=0, stratify=y)\n")
    cell = ("import keras\n"
            "model = keras.Sequential([keras.Input((64,)), keras.layers.Dense(hp.int("
            "'units', 8, 32), activation='relu'), keras.layers.Dense(10, activation='softmax')])\n"
            "model.compile('adam', 'sparse_categorical_crossentropy', metrics=['accuracy'])\n"
            "model.fit(x, y, validation_data=(x_val, y_val), epochs=2, batch_size=64)\n")
    ip.run_cell_magic("automl", f"kept --trials 3 --seed 0 --kernels 2 --maximize "
                      f"val_accuracy --checkpoint-store s3://{BUCKET}/workers", setup + cell)
    stored = objects("workers/")
    for number in range(3):  # 2 epochs: both slots of each trial
        assert {f"workers/kept.trial-{number}.checkpoint.{slot}.npz" for slot in (0, 1)} \
            <= set(stored), sorted(stored)
    best = tmp_path / "runs" / "kept" / "best" / "model.keras"
    assert stored["workers/kept.best.model.keras"] == best.read_bytes()
    assert orphan_kernels() == []
