"""``--kernels ray*N`` / ``ray:ADDRESS*N``: what the option reads, what it refuses, and what a
notebook without Ray is told (no Ray is started here)."""

from __future__ import annotations

import sys
from typing import Any

import pytest

from jupyter_automl._api import executor_name
from jupyter_automl.engine import parse_options
from jupyter_automl.errors import OptionError


@pytest.mark.parametrize("spec, ray", [
    ("ray", ("local", 1)),
    ("ray*2", ("local", 2)),
    ("ray:auto*4", ("auto", 4)),
    ("ray:127.0.0.1:6379*2", ("127.0.0.1:6379", 2)),
    ("ray:head.cluster:6379", ("head.cluster:6379", 1)),
    ("ray:ray://head:10001*3", ("ray://head:10001", 3)),
])
def test_the_cluster_and_the_actors_are_read(spec: str, ray: tuple[str, int]) -> None:
    options = parse_options(f"q --kernels {spec}")
    assert options.ray == ray and options.kernels == 0 and options.gateways == []
    assert executor_name(options) == "ray"


def test_fractional_gpus_per_trial_go_with_ray() -> None:
    options = parse_options("q --kernels ray*4 --gpus-per-trial 0.25")
    assert options.gpus_per_trial == 0.25 and options.strategy == "auto"


@pytest.mark.parametrize("line, said", [
    ("q --kernels 2,ray*2", "cannot share a study run with local or gateway kernels"),
    ("q --kernels ray*2,gateway:http://h:8888", "cannot share a study run"),
    ("q --kernels ray*2,ray:auto*2", "--kernels"),
    ("q --kernels ray*0", "--kernels"),
    ("q --kernels ray:*2", "--kernels"),
    ("q --kernels ray*2 --strategy multi-worker", "multi-worker runs each trial across local"),
])
def test_a_bad_ray_spec_says_what_is_wrong(line: str, said: str) -> None:
    with pytest.raises(OptionError, match=said):
        parse_options(line)


def test_without_ray_the_option_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch) -> None:
    from jupyter_automl.workers.kernels import KernelError, ray_connected

    monkeypatch.setitem(sys.modules, "ray", None)  # import ray: ImportError
    with pytest.raises(KernelError, match=r"pip install 'jupyter-automl\[ray\]'"), \
            ray_connected("local"):
        pass


def test_the_actor_shell_replays_the_setup_and_binds_the_shipped(
        tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """The actor's class without Ray: the steps run in turn, the first failure ends the
    setup, the shipped pickles are bound to their names."""
    import os
    import pickle

    # what the actor changes in its process (environment, folder, path), undone here
    monkeypatch.setattr(os, "environ", os.environ.copy())
    monkeypatch.setattr(sys, "path", list(sys.path))
    monkeypatch.chdir(os.getcwd())

    from jupyter_automl.workers.kernels._ray import _Shell

    shell = _Shell({}, str(tmp_path))
    status, _, _, _ = shell.setup(["a = 1", "b = a + 1"], ["c"], pickle.dumps([3]))
    assert status == "ok" and shell.shell.user_ns["b"] == 2 and shell.shell.user_ns["c"] == [3]
    status, output, error, _ = shell.setup(["print('x')", "1/0", "d = 4"], [])
    assert status == "error" and "ZeroDivisionError" in error and "x" in output
    assert "d" not in shell.shell.user_ns


def test_a_cluster_address_where_nothing_answers_is_said_at_once() -> None:
    """Ray would retry for minutes; the run says so before Ray starts anything."""
    import socket

    from jupyter_automl.workers.kernels import KernelError
    from jupyter_automl.workers.kernels._ray import _answers

    with socket.socket() as s:  # a port of this machine where nothing listens
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(KernelError, match=rf"cannot reach the Ray cluster at '127.0.0.1:{port}': "
                                          "nothing answers there"):
        _answers(f"127.0.0.1:{port}")
    _answers("auto")  # Ray's own lookup: not checked here


@pytest.mark.parametrize("resources, cpus, gpus, fit", [
    ({"CPU": 2.0}, 1.0, None, 2),
    ({"CPU": 16.0, "GPU": 1.0}, 1.0, 0.25, 4),
    ({"CPU": 16.0, "GPU": 1.0}, 1.0, 0.1, 10),  # 1 / 0.1 is 9.999... in floating point
    ({"CPU": 16.0}, 1.0, 0.25, 0),  # no GPU
    ({"CPU": 3.0, "GPU": 2.0}, 1.0, 0.5, 3),
])
def test_the_actors_a_cluster_holds_at_once(resources: dict[str, float], cpus: float,
                                            gpus: float | None, fit: int) -> None:
    from jupyter_automl.workers._ray import fitting

    assert fitting(resources, cpus, gpus) == fit
