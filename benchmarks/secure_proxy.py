"""What authenticating the study served to worker kernels costs per trial.

Run from the repository root::

    .venv/bin/python benchmarks/secure_proxy.py            # 300 trials a side, 3 rounds
    .venv/bin/python benchmarks/secure_proxy.py --quick    # 60 trials a side, 1 round

The same client, in a process of its own as a worker kernel is, runs ``study.optimize`` over a
trivial objective (ask, two suggestions, tell: the storage calls of one trial) against three
servers of one SQLite study, in one run:

* ``optuna``: Optuna's own ``make_server`` and ``GrpcStorageProxy``, no authentication: what
  jupyter-automl served before the study was protected;
* ``secret, loopback``: jupyter-automl's server on 127.0.0.1, every call carrying the run's
  secret (the default);
* ``secret + TLS``: the same on a non-loopback listen address (``--listen 0.0.0.0``), TLS with
  the run's certificate pinned by the client.

Rounds alternate the sides; the minimum of each side is kept. Prints ms per trial and the
ratios to ``optuna``.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

CLIENT = """
import os, sys, time
import optuna
optuna.logging.set_verbosity(optuna.logging.WARNING)
host, port, trials, name = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
if os.environ.get("KERNEL_AUTOML_STUDY_TOKEN"):
    from jupyter_automl.workers.kernels._proxy import connect_from_env
    storage = connect_from_env(host, port)
else:
    storage = optuna.storages.GrpcStorageProxy(host=host, port=port)
study = optuna.load_study(study_name=name, storage=storage,
                          sampler=optuna.samplers.RandomSampler(seed=0))
objective = lambda t: (t.suggest_float("x", -5, 5) - 1) ** 2 + t.suggest_float("y", 0, 1)
study.optimize(objective, n_trials=2)  # connections up, caches warm
start = time.perf_counter()
study.optimize(objective, n_trials=trials)
print(time.perf_counter() - start)
"""


@contextlib.contextmanager
def optuna_server(storage: Any) -> Iterator[tuple[str, int, dict[str, str]]]:
    from optuna.storages._grpc.server import make_server

    from jupyter_automl.workers._cluster import free_ports

    (port,) = free_ports(1)
    server = make_server(storage, "127.0.0.1", port)
    server.start()
    try:
        yield "127.0.0.1", port, {}
    finally:
        server.stop(grace=1)


@contextlib.contextmanager
def ours(storage: Any, listen: str) -> Iterator[tuple[str, int, dict[str, str]]]:
    from jupyter_automl.workers.kernels._proxy import serve

    with serve(storage, listen) as served:
        yield served.address(remote=False), served.port, served.env()


def client(host: str, port: int, env: dict[str, str], trials: int, study: str) -> float:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("KERNEL_AUTOML_")}
    done = subprocess.run([sys.executable, "-c", CLIENT, host, str(port), str(trials), study],
                          env={**clean, **env}, capture_output=True, text=True, check=True)
    return float(done.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="60 trials a side, one round")
    args = parser.parse_args(argv)
    trials, rounds = (60, 1) if args.quick else (300, 3)
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    sides = {"optuna": lambda s: optuna_server(s),
             "secret, loopback": lambda s: ours(s, "127.0.0.1"),
             "secret + TLS": lambda s: ours(s, "0.0.0.0")}
    times: dict[str, list[float]] = {name: [] for name in sides}
    with tempfile.TemporaryDirectory() as folder:
        storage = optuna.storages.RDBStorage(f"sqlite:///{Path(folder) / 'bench.db'}")
        for round_ in range(rounds):
            order = list(sides) if round_ % 2 == 0 else list(reversed(sides))
            for name in order:  # each run its own new study: the cost grows with a study
                study = f"{name}-{round_}"
                optuna.create_study(study_name=study, storage=storage)
                with sides[name](storage) as (host, port, env):
                    times[name].append(client(host, port, env, trials, study))
    base = min(times["optuna"]) / trials
    print(f"{trials} trivial trials through the storage proxy, client in its own process, "
          f"{rounds} round(s), minimum kept")
    print(f"{'server':<18} {'ms/trial':>9} {'ratio':>7} {'added ms/trial':>15}")
    for name, spent in times.items():
        per = min(spent) / trials
        print(f"{name:<18} {per * 1000:9.2f} {per / base:7.3f} {(per - base) * 1000:15.2f}")
    print(f"(python {sys.version.split()[0]}, optuna {optuna.__version__}, {os.cpu_count()} "
          f"cpus, {time.strftime('%Y-%m-%d')})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
