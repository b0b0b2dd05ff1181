"""``--strategy multi-worker``: each trial runs across all the pool's local kernels at once,
under MultiWorkerMirroredStrategy, for models that outgrow one device.

Kernel 0 is the chief: it runs the trial as a pool worker would (draws the parameters, reports,
checkpoints, saves the model). The others follow: their ``hp`` calls take the chief's values
from the study, and at each epoch's end they learn the chief's decision (go on, prune, stop)
in a collective op (:func:`jupyter_automl.training.decision_broadcast`). The kernels find each
other through the ``TF_CONFIG`` the driver gives each one: loopback ports, a fresh set each
time the cluster starts. A kernel that dies takes the whole cluster with it (the others would
wait for it in their next collective op): the trial is retried from its checkpoint on a
restarted cluster.
"""

from __future__ import annotations

import ast
import json
import socket
import sys
import threading
import time
from collections.abc import Callable
from contextlib import ExitStack
from typing import TYPE_CHECKING, Any

from ..engine import Outcome, TrialLost
from ._pool import KernelPool
from .kernels import SetupError, WorkerDied, WorkerHung, WorkerKernel

if TYPE_CHECKING:
    import optuna

FOLLOW_GRACE = 60.0  # seconds one side of a trial may run on once the other side has ended


class KernelCluster(KernelPool):
    """All the worker kernels run each trial together: one slot."""

    restart_text = "restarting the kernels of the cluster"
    keeps_warm = False  # a cluster starts as a whole, on new TensorFlow ports each time

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._envs = [dict(k.env) for k in self.kernels]
        self.slots = 1
        self.label = f"{len(self.kernels)} kernels (multi-worker)"
        self._stale = False  # a follower hung: restart the cluster before the next trial

    def prepare(self, slot: int) -> bool:
        self._start_cluster()
        return True

    def replace(self, slot: int) -> bool:
        self._start_cluster()
        return True

    def run(self, trial: optuna.Trial, slot: int) -> Outcome:
        try:
            return self._run_across(trial)
        except WorkerDied as exc:
            raise TrialLost(f"its kernel died ({exc})", said=str(exc),
                            hung=isinstance(exc, WorkerHung)) from None

    def first_steps(self) -> list[str]:
        # MultiWorkerMirroredStrategy must exist before TensorFlow runs any op (setup cells do)
        return ["import jupyter_automl.training._strategy as __automl_strategy\n"
                "__automl_strategy.distribution_strategy('multi-worker')"]

    def _start_cluster(self, attempts: int = 2) -> None:
        """(Re)start every kernel with its TF_CONFIG, all at once: a strategy waits for its
        peers. A kernel that fails to start takes the others down with it (they would wait
        for it for ever); the cluster then starts once more, on other ports."""
        self.shutdown_all()  # every kernel stops: a cluster starts as a whole
        self._stale = False
        ports = free_ports(len(self.kernels))
        workers = [f"127.0.0.1:{p}" for p in ports]
        print(f"warning: --strategy multi-worker: TensorFlow's servers for this cluster listen "
              f"on ports {', '.join(map(str, ports))} of every network interface of this "
              "machine, without authentication (TensorFlow offers neither a bind address nor "
              "credentials; the kernels reach each other over 127.0.0.1). While a trial runs, "
              "anyone who can reach those ports can read and inject the tensors it exchanges: "
              "run multi-worker studies where other hosts cannot reach this machine's ports.",
              file=sys.stderr)
        for index, kernel in enumerate(self.kernels):
            task = {"cluster": {"worker": workers}, "task": {"type": "worker", "index": index}}
            kernel.env = {**self._envs[index], "TF_CONFIG": json.dumps(task)}
        errors: list[BaseException] = []

        def prepare(kernel: WorkerKernel, index: int) -> None:
            try:
                self._prepare_worker(kernel, index)
            except BaseException as exc:
                errors.append(exc)
                self.shutdown_all()  # its peers wait in the strategy for it: stop them too

        run_all([(prepare, (k, i)) for i, k in enumerate(self.kernels)])
        if not errors:
            return
        setup = next((e for e in errors if isinstance(e, SetupError)), None)
        if setup is not None or attempts <= 1:
            raise setup or errors[0]
        print(f"the multi-worker cluster did not start ({errors[0]}); starting it again on "
              "other ports", file=sys.stderr)
        self._start_cluster(attempts - 1)

    def _run_across(self, trial: optuna.Trial) -> Outcome:
        """Run ``trial`` on the chief and every follower; the chief's outcome is the trial's."""
        from optuna.trial import TrialState

        chief, followers = self.kernels[0], self.kernels[1:]
        if self._stale:
            self._start_cluster()
        ended: dict[str, Any] = {}  # kernel label -> its Reply or Outcome, or WorkerDied
        timeout = self.prepared.options.trial_timeout

        def follow(kernel: WorkerKernel) -> None:
            try:
                ended[kernel.label] = kernel.execute(
                    f"__automl_out = __automl_worker.follow({trial.number})",
                    {"out": "__automl_out"}, timeout=timeout)
            except WorkerDied as exc:
                ended[kernel.label] = exc

        def lead() -> None:
            try:
                ended[chief.label] = self._dispatch(chief, trial)
            except (WorkerDied, TrialLost) as exc:  # TrialLost: Stop, or the disk was full
                ended[chief.label] = exc

        for kernel in followers:
            _start(follow, kernel)
        _start(lead)
        outcome: Outcome = self._wait_for_chief(chief.label, len(self.kernels), ended)
        outcome.extra["kernel"] = self.label
        self._stale = not _wait(lambda: len(ended) == len(self.kernels), FOLLOW_GRACE)
        if self._stale:
            print(f"trial {trial.number}: a follower kernel still ran {FOLLOW_GRACE:.0f}s after "
                  "the chief ended the trial; the cluster restarts before the next one")
        for kernel in followers:
            reply = ended.get(kernel.label)
            if isinstance(reply, WorkerDied):  # after the chief ended the trial: its outcome
                self._stale = True  # stands, and the cluster restarts before the next one
                continue
            result = _result(reply) if reply is not None else {}
            if result.get("state") == TrialState.FAIL.name and outcome.state != TrialState.FAIL:
                print(f"[{kernel.label}, trial {trial.number}] failed while the chief did "
                      f"not: {result.get('error')}")
        return outcome

    def _wait_for_chief(self, chief: str, size: int, ended: dict[str, Any]) -> Outcome:
        """The chief's outcome, once it has one. A kernel that dies takes the trial with it,
        and so does a chief still running FOLLOW_GRACE after every follower has ended (it
        waits in a collective op for peers that are gone)."""
        followers_done: float | None = None
        while True:
            dead = next((v for v in ended.values() if isinstance(v, WorkerDied)), None)
            if dead is not None:
                raise dead
            if chief in ended:
                if isinstance(ended[chief], TrialLost):
                    raise ended[chief]
                return ended[chief]  # type: ignore[no-any-return]
            if followers_done is None and len(ended) == size - 1:
                followers_done = time.monotonic()
            if followers_done is not None and time.monotonic() - followers_done > FOLLOW_GRACE:
                raise WorkerDied(f"the chief kernel still ran {FOLLOW_GRACE:.0f}s after its "
                                 "followers ended the trial")
            time.sleep(0.1)


def _wait(done: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while not done():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


def _result(reply: Any) -> dict[str, Any]:
    from optuna.trial import TrialState

    data = reply.expressions.get("out", {})
    if data.get("status") != "ok":
        return {"state": TrialState.FAIL.name, "error": reply.error}  # as a worker's JSON
    return dict(json.loads(ast.literal_eval(data["data"]["text/plain"])))


def _start(target: Any, *args: Any) -> threading.Thread:
    thread = threading.Thread(target=target, args=args, daemon=True)
    thread.start()
    return thread


def run_all(calls: list[tuple[Any, tuple[Any, ...]]]) -> None:
    """Run each ``(function, args)`` in its own thread and wait for all of them."""
    for thread in [_start(f, *a) for f, a in calls]:
        thread.join()


def free_ports(count: int) -> list[int]:
    """``count`` distinct TCP ports free on loopback now."""
    with ExitStack() as stack:
        sockets = [stack.enter_context(socket.socket()) for _ in range(count)]
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in sockets]
