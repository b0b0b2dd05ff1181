"""JupyterLab's AutoML sidebar, measured against a real Jupyter server.

Run from the repository root::

    .venv/bin/python benchmarks/lab.py           # 500 studies; a dashboard study of 1000 trials
    .venv/bin/python benchmarks/lab.py --quick   # 100 studies; 200 trials

1. **The listing**: 500 study folders under the server's root (3 trials each, copies of one
   study renamed in its database), listed by ``GET jupyter-automl/api/studies`` (the sidebar
   polls it every 2 s while a study runs), against ``jupyter-automl studies`` on the same
   folder in a process of its own (what a user types in a terminal today), as a ratio. The
   first request walks the tree and opens every storage (cold); the next ones find nothing
   changed (warm, the sidebar's steady state).
2. **A busy dashboard**: ``GET /api/kernels`` (what every notebook asks of the server) timed
   alone, then while optuna-dashboard inside the server answers for a study of 1000 trials in a
   loop of 4 parallel requests. The dashboard runs on a thread pool, so the server's own
   answers should barely move.

The server is ``jupyter server`` on 127.0.0.1 with a random token from the environment (never
printed); medians of repeated requests.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import os
import secrets
import shutil
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import optuna

QUADRATIC = 'x = hp.float("x", -5, 5)\n(x - 1) ** 2\n'


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def make_studies(runs: Path, count: int) -> None:
    """``count`` studies of 3 trials: one real study, copied and renamed in its database."""
    from jupyter_automl._api import run_study

    run_study(QUADRATIC, f"s0 --trials 3 --seed 0 --runs-dir {runs}", {}, listeners=[])
    for i in range(1, count):
        target = runs / f"s{i}"
        shutil.copytree(runs / "s0", target)
        with sqlite3.connect(target / "study.db") as db:
            db.execute("UPDATE studies SET study_name = ?", (f"s{i}",))
        spec = (target / "spec.json").read_text().replace('"name": "s0"', f'"name": "s{i}"')
        (target / "spec.json").write_text(spec)


def make_big_study(runs: Path, trials: int) -> None:
    """A study of ``trials`` trials with 20 intermediate values each, as a spec'd study."""
    from jupyter_automl._api import run_study

    run_study(QUADRATIC, f"big --trials 1 --seed 0 --runs-dir {runs}", {}, listeners=[])
    study = optuna.load_study(study_name="big", storage=f"sqlite:///{runs}/big/study.db")
    dist = {"x": optuna.distributions.FloatDistribution(-5, 5)}
    for number in range(trials):
        x = (number % 97) / 10 - 4.8
        study.add_trial(optuna.trial.create_trial(
            params={"x": x}, distributions=dist, value=(x - 1) ** 2,
            intermediate_values={step: (x - 1) ** 2 + 1 / (step + 1) for step in range(20)}))


class Server:
    def __init__(self, root: Path) -> None:
        self.port = free_port()
        self.token = secrets.token_hex(16)
        self.base = f"http://127.0.0.1:{self.port}/"
        env = {**os.environ, "JUPYTER_TOKEN": self.token}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "jupyter_server", "--no-browser", "--ip=127.0.0.1",
             "--allow-root", f"--port={self.port}", f"--ServerApp.root_dir={root}",
             "--ServerApp.jpserver_extensions=jupyter_automl=True"],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                self.get("api/status")
                return
            except OSError:
                time.sleep(0.2)
        raise RuntimeError("the Jupyter server did not start")

    def get(self, path: str) -> float:
        """Seconds to answer ``GET path``."""
        request = urllib.request.Request(self.base + path,
                                         headers={"Authorization": f"token {self.token}"})
        start = time.perf_counter()
        with urllib.request.urlopen(request, timeout=120) as response:
            response.read()
        return time.perf_counter() - start

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(30)


def cli_listing(runs: Path) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "jupyter_automl", "studies", str(runs)],
                   check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args(argv)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    count, trials = (100, 200) if args.quick else (500, 1000)
    with tempfile.TemporaryDirectory(prefix="bench-lab-") as tmp:
        root = Path(tmp)
        runs = root / "project" / "automl_runs"
        print(f"making {count} studies and one of {trials} trials...", flush=True)
        make_studies(runs, count)
        make_big_study(root / "big" / "automl_runs", trials)
        server = Server(root)
        try:
            cold = server.get("jupyter-automl/api/studies")
            warm = statistics.median(server.get("jupyter-automl/api/studies")
                                     for _ in range(10))
            cli = statistics.median(cli_listing(runs) for _ in range(3))
            alone = statistics.median(server.get("api/kernels") for _ in range(50))
            page = "jupyter-automl/dashboard/big/automl_runs/big/api/studies/1?after=0"
            server.get(page)  # the app made, the storage opened
            stop = time.monotonic() + 8

            def hammer() -> list[float]:
                times = []
                while time.monotonic() < stop:
                    times.append(server.get(page))
                return times

            with concurrent.futures.ThreadPoolExecutor(4) as pool:
                busy = [pool.submit(hammer) for _ in range(4)]
                time.sleep(0.5)
                loaded = [server.get("api/kernels") for _ in range(50)]
                dashboard = [t for f in busy for t in f.result()]
        finally:
            server.stop()
    print(f"\nlisting {count} studies (sidebar) | cold {cold * 1000:8.1f} ms | warm "
          f"{warm * 1000:6.1f} ms")
    print(f"jupyter-automl studies (CLI)      | {cli * 1000:8.1f} ms")
    print(f"ratio sidebar/CLI                 | cold {cold / cli:.3f} | warm {warm / cli:.4f}")
    print(f"GET /api/kernels alone            | median {alone * 1000:.2f} ms")
    print(f"GET /api/kernels, dashboard busy  | median {statistics.median(loaded) * 1000:.2f} ms, "
          f"max {max(loaded) * 1000:.1f} ms ({len(dashboard)} dashboard requests of "
          f"{statistics.median(dashboard) * 1000:.0f} ms median meanwhile)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
