"""A randomized fault campaign: many runs of a small Keras study, each hurt by faults drawn at
random, rerun until its total is reached, and checked against the fault matrix's invariants
(tests/fault_study.py ``Study.check``): every finished trial kept, each trial cut short retried
with its parameters (from its checkpoint when one was on disk), no trial number reused, none
left RUNNING or WAITING, the total reached, and no raw traceback in any rerun's output.

    .venv/bin/python benchmarks/chaos.py --runs 10 --seed 1      # about 5 minutes on 2 cores
    .venv/bin/python benchmarks/chaos.py --runs 1 --seed 1 --replay 7   # run 7 of that seed

Each run draws a mode (a script calling ``run_study``, ``jupyter-automl run`` under papermill,
``--kernels 2``, ``--checkpoint-every``, a custom training loop, population-based training, or
two runners in two runs folders on one PostgreSQL study) and one or two faults: a failpoint
(``kill`` at a random pass of a random point, ``enospc`` while a checkpoint or the spec is
written), a ``kill -9`` of the study's process after a random number of epochs, a truncated
checkpoint after a kill, ``study.db`` locked by another process for a few seconds, SIGSTOP of
the study's process for a few seconds then SIGCONT, a full disk (the run's folder a 32 MB
tmpfs, filled mid-run, freed before the rerun; root only). The PostgreSQL mode's faults hit
runner a while runner b runs: ``kill -9``, SIGSTOP past the heartbeat grace, or a restart of
the server. A run that breaks an invariant prints ``VIOLATION`` with the seed and run number
that replay it; the script exits 1 if any did.
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

import psutil  # noqa: E402
from fault_study import (  # noqa: E402 - the matrix's study and invariants
    BODY,
    LOOP_BODY,
    NAME,
    OPTIONS,
    PBT_BODY,
    PBT_OPTIONS,
    SETUP,
    TRIALS,
    Study,
    fill,
    hold_lock,
    notebook,
    script,
)

from jupyter_automl._utils.failpoints import ENV  # noqa: E402

# mode -> (cell body, options, epochs a trial saves: the trial's length in epoch.saved passes)
MODES = {
    "script": (BODY, OPTIONS, 4),
    "papermill": (BODY, OPTIONS, 4),
    "kernels": (BODY, OPTIONS + " --kernels 2", 4),
    "checkpoint-every": (BODY, OPTIONS + " --checkpoint-every 0.000001s", 4),
    "loop": (LOOP_BODY, OPTIONS, 4),
    "pbt": (PBT_BODY, PBT_OPTIONS, 2),
    # two runners ("machines": runs folders a and b, one --checkpoint-dir) on one PostgreSQL
    "postgres": (BODY, OPTIONS, 4),
}
KILL_POINTS = ["checkpoint.saved", "checkpoint.rename", "epoch.saved", "trial.tell",
               "trial.told", "best.export", "spec.rename"]
FAULTS = ["failpoint-kill", "enospc", "kill-9", "truncate", "lock", "sigstop", "full-disk"]
# the faults of the postgres mode, on runner a while runner b runs too
SERVER_FAULTS = ["kill-9", "sigstop", "restart"]
FAST_BEATS = {"JUPYTER_AUTOML_HEARTBEAT": "0.5"}  # a runner silent for 2 s lost its trial


@dataclass
class Run:
    number: int
    mode: str
    faults: list[str]
    drawn: list[str] = field(default_factory=list)  # what each fault was, in words
    violations: list[str] = field(default_factory=list)
    seconds: float = 0.0


def draw(rng: random.Random, number: int) -> Run:
    mode = rng.choice(list(MODES))
    if mode == "postgres":
        return Run(number, mode, [rng.choice(SERVER_FAULTS)])
    faults = [rng.choice(FAULTS)]
    if rng.random() < 0.3:
        faults.append(rng.choice([f for f in FAULTS if f != faults[0]]))
    return Run(number, mode, faults)


def command(mode: str, folder: Path, server: str | None = None) -> list[str]:
    body, options, _ = MODES[mode]
    if server is not None:
        options += f" --storage {server} --checkpoint-dir {folder.parent / 'ckpt'}"
    if mode == "papermill":
        notebook(folder / "tune.ipynb", options, SETUP, body)
        return [sys.executable, "-m", "jupyter_automl.cli", "run", "tune.ipynb"]
    (folder / "study.py").write_text(script(options, SETUP, body, display="text"))
    return [sys.executable, "study.py"]


def environment(failpoints: str = "") -> dict[str, str]:
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    env.pop(ENV, None)
    if failpoints:
        env[ENV] = failpoints
    return env


def end_tree(proc: subprocess.Popen[str]) -> None:
    """kill -9 of the study's process and everything it started, and wait for them to end."""
    try:
        tree = [psutil.Process(proc.pid), *psutil.Process(proc.pid).children(recursive=True)]
    except psutil.NoSuchProcess:
        tree = []
    for process in tree:
        try:
            process.kill()
        except psutil.NoSuchProcess:
            pass
    psutil.wait_procs(tree, timeout=60)
    proc.wait(60)


def hurt(run: Run, rng: random.Random, folder: Path, study: Study) -> None:
    """The first, faulty run of the study."""
    _, _, epochs = MODES[run.mode]
    failpoints = []
    if "failpoint-kill" in run.faults:
        point = rng.choice(KILL_POINTS)
        passes = rng.randrange(0, TRIALS * epochs if "epoch" in point or "checkpoint" in point
                               else TRIALS)
        failpoints.append(f"{point}@{passes}=kill")
        run.drawn.append(f"failpoint {point}@{passes}=kill")
    if "enospc" in run.faults:
        point = rng.choice(["checkpoint.write", "spec.write"])
        failpoints.append(f"{point}@{rng.randrange(0, 6)}=enospc")
        run.drawn.append(f"failpoint {failpoints[-1]}")
    proc = subprocess.Popen(command(run.mode, folder), cwd=folder, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            env=environment(";".join(failpoints)))
    if {"kill-9", "truncate", "lock", "sigstop", "full-disk"} & set(run.faults):
        after = rng.randrange(0, TRIALS * epochs + 1)
        run.drawn.append(f"after {after} epochs saved:")
        wait_epochs(proc, study, after)
        if "sigstop" in run.faults:
            seconds = rng.choice([1, 3, 6])
            run.drawn.append(f"SIGSTOP for {seconds} s")
            pause(proc, seconds)
        if "full-disk" in run.faults:
            filler = fill(folder) if os.path.ismount(folder) else None  # see small_disk
            run.drawn.append("the disk filled" if filler else "no small disk (not root)")
            try:
                proc.communicate(timeout=600)
            except subprocess.TimeoutExpired:
                run.violations.append("the run on a full disk did not end in 600 s")
            if filler:
                filler.unlink()
        if "lock" in run.faults:
            db = folder / "automl_runs" / NAME / "study.db"
            if db.exists():
                seconds = rng.choice([2, 5, 10])
                run.drawn.append(f"study.db locked for {seconds} s")
                hold_lock(db, seconds).wait(seconds + 30)
        if "kill-9" in run.faults or "truncate" in run.faults:
            end_tree(proc)
            run.drawn.append("kill -9")
    try:
        proc.communicate(timeout=600)
    except subprocess.TimeoutExpired:
        end_tree(proc)
        run.violations.append("the faulty run did not end in 600 s")
    end_tree(proc)  # its worker kernels, if any outlived it
    if "truncate" in run.faults:
        running = [t.number for t in study.trials() if t.state.name == "RUNNING"
                   and (study.trials_dir / str(t.number) / "checkpoint.npz").exists()]
        if running:
            study.truncate_checkpoint(running[0])
            run.drawn.append(f"checkpoint of trial {running[0]} truncated")


def wait_epochs(proc: subprocess.Popen[str], study: Study, epochs: int) -> None:
    """Until the study has saved ``epochs`` epochs in all (a random moment), or the run ended."""
    deadline = time.monotonic() + 300
    while proc.poll() is None and time.monotonic() < deadline:
        if sum(study.saved(t.number) for t in study.trials()) >= epochs:
            return
        time.sleep(0.05)


def pause(proc: subprocess.Popen[str], seconds: float) -> None:
    """SIGSTOP of the study's process (a suspended laptop, a stalled VM), then SIGCONT."""
    try:
        os.kill(proc.pid, signal.SIGSTOP)
        time.sleep(seconds)
    finally:
        os.kill(proc.pid, signal.SIGCONT)


def small_disk(folder: Path) -> bool:
    """Mount a 32 MB tmpfs on ``folder`` (root only): the disk a full-disk fault fills."""
    return os.geteuid() == 0 and subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=32m", "tmpfs", str(folder)],
        capture_output=True).returncode == 0


def hurt_two_runners(run: Run, rng: random.Random, folder: Path, study: Study,
                     server: Any) -> None:
    """The postgres mode's faulty run: runner a, then b once a has saved a random number of
    epochs, and a fault on a (kill -9, SIGSTOP past the heartbeat grace) or on the server (a
    restart) while both run."""
    env = {**environment(), **FAST_BEATS}
    a = subprocess.Popen(command(run.mode, folder / "a", server.url), cwd=folder / "a",
                         text=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env)
    after = rng.randrange(0, TRIALS * 4)
    run.drawn.append(f"runner b after {after} epochs:")
    wait_epochs(a, study, after)
    b = subprocess.Popen(command(run.mode, folder / "b", server.url), cwd=folder / "b",
                         text=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env)
    wait_epochs(a, study, after + rng.randrange(1, 4))
    fault = run.faults[0]
    if fault == "kill-9":
        end_tree(a)
    elif fault == "sigstop":
        pause(a, 4)  # twice the grace
    else:
        server.stop()
        time.sleep(rng.choice([0, 1, 3]))
        server.start()
    run.drawn.append({"kill-9": "kill -9 of a", "sigstop": "SIGSTOP of a for 4 s",
                      "restart": "PostgreSQL restarted"}[fault])
    for proc in (a, b):
        try:
            proc.communicate(timeout=600)
        except subprocess.TimeoutExpired:
            run.violations.append("a runner did not end in 600 s")
        end_tree(proc)


def campaign_run(run: Run, rng: random.Random) -> None:
    with tempfile.TemporaryDirectory(prefix="chaos-") as tmp:
        folder = Path(tmp)
        mounted = "full-disk" in run.faults and small_disk(folder)
        try:
            if run.mode == "postgres":
                two_runners(run, rng, folder)
            else:
                one_runner(run, rng, folder)
        finally:
            if mounted:
                subprocess.run(["umount", "-l", str(folder)], check=False)


def two_runners(run: Run, rng: random.Random, folder: Path) -> None:
    from postgres import Postgres, _bindir  # tests/postgres.py: a server of the run's own

    bindir = _bindir()
    if bindir is None:
        run.drawn.append("no PostgreSQL here: skipped")
        return
    server = Postgres(bindir)
    try:
        server.start()
        for machine in ("a", "b"):
            (folder / machine).mkdir()
        study = Study(folder, url=server.url, trials_dir=folder / "ckpt" / NAME / "trials")
        hurt_two_runners(run, rng, folder, study, server)
        rerun_and_check(run, folder / "a", study, command(run.mode, folder / "a", server.url))
    finally:
        server.close()


def one_runner(run: Run, rng: random.Random, folder: Path) -> None:
    study = Study(folder / "automl_runs")
    hurt(run, rng, folder, study)
    rerun_and_check(run, folder, study, command(run.mode, folder))


def rerun_and_check(run: Run, folder: Path, study: Study, argv: list[str]) -> None:
    """Rerun the study, no fault, until its total is reached; then the matrix's invariants."""
    # every process of the faulty run has ended: the trials it cut short are those still
    # RUNNING and those a runner already failed and queued, with the epochs each had saved
    cut = set(study.snapshot()) | set(study.lost())
    saved = {n: study.saved(n) for n in cut}
    kept = study.finished()
    truncated = [int(d.split()[3]) for d in run.drawn if d.startswith("checkpoint of")]
    total = 8 if run.mode == "pbt" else TRIALS  # 4 members x 2 generations
    for attempt in range(4):
        if len(study.finished()) >= total and not study.snapshot():
            break
        rerun = subprocess.run(argv, cwd=folder, text=True,
                               capture_output=True, env=environment(), timeout=600)
        out = rerun.stdout + rerun.stderr
        if "Traceback" in out:
            run.violations.append(f"rerun {attempt + 1} printed a traceback: "
                                  + out[out.index("Traceback"):][:800])
    lost = sorted(saved)
    try:
        study.check(kept, lost, saved={**saved, **{n: 0 for n in truncated}}, total=total)
    except AssertionError as exc:
        run.violations.append(f"invariant: {exc!r}"[:1500])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--replay", type=int, default=None,
                        help="run only this run number of the seed")
    args = parser.parse_args()
    start = time.monotonic()
    numbers = [args.replay] if args.replay is not None else list(range(args.runs))
    runs = []
    for number in numbers:
        rng = random.Random(f"{args.seed}-{number}")
        run = draw(rng, number)
        began = time.monotonic()
        try:
            campaign_run(run, rng)
        except Exception:  # the campaign's own failure counts as a violation, with its cause
            run.violations.append(traceback.format_exc()[-1500:])
        run.seconds = time.monotonic() - began
        runs.append(run)
        verdict = "ok" if not run.violations else "VIOLATION"
        print(f"run {number:>3} {run.mode:<16} {'; '.join(run.drawn) or 'no fault fired':<70} "
              f"{run.seconds:5.1f} s {verdict}", flush=True)
        for violation in run.violations:
            print(f"    {violation}\n    replay: {sys.argv[0]} --seed {args.seed} "
                  f"--replay {number}", flush=True)
    bad = [r for r in runs if r.violations]
    print(f"{len(runs)} runs, {len(bad)} with a violation, {time.monotonic() - start:.0f} s; "
          f"modes: {', '.join(f'{m} {sum(r.mode == m for r in runs)}' for m in MODES)}")
    return 1 if bad else 0


if __name__ == "__main__":
    signal.signal(signal.SIGINT, signal.default_int_handler)
    sys.exit(main())
