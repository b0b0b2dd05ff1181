"""A randomized fault campaign: many runs of a small study, each hurt by faults drawn at
random, rerun until its total is reached, and checked against the fault matrix's invariants
(tests/fault_study.py ``Study.check``): every finished trial kept, each trial cut short retried
with its parameters (from its checkpoint when one was on disk), no trial number reused, none
left RUNNING or WAITING, the total reached, and no raw traceback in any run's output.

    .venv/bin/python benchmarks/chaos.py --runs 10 --seed 1      # 15-40 s a run on 2 cores
    .venv/bin/python benchmarks/chaos.py --runs 1 --seed 1 --replay 7   # run 7 of that seed

Each run draws a mode (tests/fault_modes.py: the live panel in a real kernel, ``--background``,
``--kernels 2``, a script calling ``run_study``, ``jupyter-automl run`` under papermill, a
script with ``--checkpoint-every``, population-based training, or two runners in two runs
folders on one PostgreSQL study), a study (tests/fault_study.py: Keras ``fit``, a Keras custom
loop, or the plain NumPy loop), and one or two faults: a failpoint (``kill`` at a random pass
of a random point, ``enospc`` while a checkpoint or the spec is written), a ``kill -9`` of
every process of the run after a random number of epochs (or of one worker kernel, with
``--kernels``), a truncated checkpoint after that kill, ``study.db`` locked by another process
for a few seconds, SIGSTOP of the study's process for a few seconds then SIGCONT, a full disk
(the run's folder a 32 MB tmpfs, filled mid-run, freed before the rerun; root only), or a
truncated ``study.db`` (when the runs folder has its copy: the rerun must say it is corrupt and
how to restore it; ``jupyter-automl restore`` puts the copy back and the trials since are lost
on purpose). The PostgreSQL mode's faults hit runner a while runner b runs: ``kill -9``,
SIGSTOP past the heartbeat grace, or a restart of the server. A run that breaks an invariant
prints ``VIOLATION`` with the seed and run number that replay it; the script exits 1 if any
did.
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
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

import psutil  # noqa: E402
from fault_modes import (  # noqa: E402 - the places a study runs, as the matrix drives them
    Background,
    Mode,
    Papermill,
    Script,
    Widgets,
    Workers,
)
from fault_study import (  # noqa: E402 - the matrix's studies and invariants
    BODY,
    LOOP_BODY,
    NAME,
    PBT_BODY,
    PBT_OPTIONS,
    PLAIN_BODY,
    PLAIN_SETUP,
    SETUP,
    TRIALS,
    Study,
    fill,
    hold_lock,
)

# mode -> (its class, the options it adds)
MODES: dict[str, tuple[type[Mode], str]] = {
    "widgets": (Widgets, ""),
    "background": (Background, ""),
    "kernels": (Workers, ""),
    "script": (Script, ""),
    "papermill": (Papermill, ""),
    "checkpoint-every": (Script, " --checkpoint-every 0.000001s"),
    "pbt": (Script, ""),
    # two runners ("machines": runs folders a and b, one --checkpoint-dir) on one PostgreSQL
    "postgres": (Script, ""),
}
STUDIES = {"keras": (SETUP, BODY), "loop": (SETUP, LOOP_BODY),
           "plain": (PLAIN_SETUP, PLAIN_BODY)}
ONLY_KERAS = {"checkpoint-every", "pbt"}  # saves inside a fit's epochs; mutable fit parameters
KILL_POINTS = ["checkpoint.saved", "checkpoint.rename", "epoch.saved", "trial.tell",
               "trial.told", "best.export", "spec.rename"]
FAULTS = ["failpoint-kill", "enospc", "kill-9", "truncate", "lock", "sigstop", "full-disk",
          "kill-worker", "truncate-db"]
FIRST_ONLY = {"truncate-db"}  # a fault on what the first run left, drawn as a second fault
# the faults of the postgres mode, on runner a while runner b runs too
SERVER_FAULTS = ["kill-9", "sigstop", "restart"]
FAST_BEATS = {"JUPYTER_AUTOML_HEARTBEAT": "0.5"}  # a runner silent for 2 s lost its trial


@dataclass
class Run:
    number: int
    mode: str
    study: str
    faults: list[str]
    drawn: list[str] = field(default_factory=list)  # what each fault was, in words
    violations: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def epochs(self) -> int:
        """The epochs a trial saves: its length in ``epoch.saved`` passes."""
        return 2 if self.mode == "pbt" else 4

    @property
    def total(self) -> int:
        return 8 if self.mode == "pbt" else TRIALS  # 4 members x 2 generations


def draw(rng: random.Random, number: int) -> Run:
    mode = rng.choice(list(MODES))
    study = "keras" if mode in ONLY_KERAS else rng.choice(list(STUDIES))
    if mode == "postgres":
        return Run(number, mode, study, [rng.choice(SERVER_FAULTS)])
    usable = [f for f in FAULTS if f != "kill-worker" or mode == "kernels"]
    faults = [rng.choice([f for f in usable if f not in FIRST_ONLY])]
    if rng.random() < 0.3:
        faults.append(rng.choice([f for f in usable if f != faults[0]]))
    return Run(number, mode, study, faults)


def mode_of(run: Run, folder: Path, server: str | None = None) -> Mode:
    kind, extra = MODES[run.mode]
    mode = kind(folder)
    mode.setup, mode.body = STUDIES[run.study]
    mode.extra = extra
    if run.mode == "pbt":
        mode.body, mode.options = PBT_BODY, PBT_OPTIONS
    if server is not None:
        mode.extra += f" --storage {server} --checkpoint-dir {folder.parent / 'ckpt'}"
        mode.environ = FAST_BEATS
    return mode


def hurt(run: Run, rng: random.Random, mode: Mode) -> None:
    """The first, faulty run of the study."""
    failpoints = []
    if "failpoint-kill" in run.faults:
        point = rng.choice(KILL_POINTS)
        passes = rng.randrange(0, run.total * run.epochs if "epoch" in point
                               or "checkpoint" in point else run.total)
        failpoints.append(f"{point}@{passes}=kill")
        run.drawn.append(f"failpoint {point}@{passes}=kill")
    if "enospc" in run.faults:
        point = rng.choice(["checkpoint.write", "spec.write"])
        failpoints.append(f"{point}@{rng.randrange(0, 6)}=enospc")
        run.drawn.append(f"failpoint {failpoints[-1]}")
    mode.start(failpoints=";".join(failpoints))
    killed = ended = False
    if {"kill-9", "truncate", "lock", "sigstop", "full-disk", "kill-worker"} & set(run.faults):
        after = rng.randrange(0, run.total * run.epochs + 1)
        run.drawn.append(f"after {after} epochs saved:")
        wait_epochs(mode, after)
        if "sigstop" in run.faults:
            seconds = rng.choice([1, 3, 6])
            run.drawn.append(f"SIGSTOP for {seconds} s")
            pause(mode, seconds)
        if "kill-worker" in run.faults:
            run.drawn.append(kill_a_worker(mode, rng))
        if "full-disk" in run.faults:
            filler = fill(mode.root) if os.path.ismount(mode.root) else None  # small_disk
            run.drawn.append("the disk filled" if filler else "no small disk (not root)")
            said(run, "the run on a full disk", mode.ended_with_fault)
            ended = True
            if filler:
                filler.unlink()
        if "lock" in run.faults:
            db = mode.study.trials_dir.parent / "study.db"
            if db.exists():
                seconds = rng.choice([2, 5, 10])
                run.drawn.append(f"study.db locked for {seconds} s")
                hold_lock(db, seconds).wait(seconds + 30)
        if "kill-9" in run.faults or "truncate" in run.faults:
            mode.kill_all()
            killed = True
            run.drawn.append("kill -9")
    if not killed and not ended:
        said(run, "the faulty run", mode.ended_with_fault)
    mode.kill_all()  # its worker kernels, if any outlived it
    if "truncate" in run.faults:
        running = [t.number for t in mode.study.trials() if t.state.name == "RUNNING"
                   and (mode.study.trials_dir / str(t.number) / "checkpoint.npz").exists()]
        if running:
            mode.study.truncate_checkpoint(running[0])
            run.drawn.append(f"checkpoint of trial {running[0]} truncated")


def said(run: Run, what: str, ended: Callable[[], str]) -> bool:
    """Wait for a run to end (``ended`` returns its output): not ending in 300 s, or a raw
    traceback in its output, is a violation. False when it did not end."""
    try:
        out = ended()
    except (subprocess.TimeoutExpired, TimeoutError):
        run.violations.append(f"{what} did not end in 300 s")
        return False
    raw = raw_traceback(out)
    if raw:
        run.violations.append(f"{what} printed a traceback: {raw}")
    return True


def raw_traceback(out: str) -> str:
    """The end of the first traceback in a run's output that is not one of the product's own
    errors ending a script (a script that calls ``run_study`` shows Python's traceback of the
    ``DiskFullError`` or ``StudyInterrupted`` it raised, as any script does; a notebook cell, a
    panel or ``jupyter-automl run`` shows only the message). Empty when there is none."""
    if "Traceback" not in out:
        return ""
    tail = out[out.index("Traceback"):]
    last = [line for line in tail.splitlines() if line and not line.startswith(" ")]
    ours = [line for line in last[1:] if line.startswith("jupyter_automl.errors.")]
    if ours and "run_study(" in tail:
        return ""
    return tail[-800:]


def wait_epochs(mode: Mode, epochs: int) -> None:
    """Until the study has saved ``epochs`` epochs in all (a random moment), or the run ended."""
    deadline = time.monotonic() + 300
    while mode.running() and time.monotonic() < deadline:
        if sum(mode.study.saved(t.number) for t in mode.study.trials()) >= epochs:
            return
        time.sleep(0.05)


def pause(mode: Mode, seconds: float) -> None:
    """SIGSTOP of the study's process (a suspended laptop, a stalled VM), then SIGCONT."""
    try:
        pid = mode.pid()
    except (AssertionError, ValueError):  # it had ended (papermill's kernel gone)
        return
    try:
        os.kill(pid, signal.SIGSTOP)
        time.sleep(seconds)
    except ProcessLookupError:
        return
    finally:
        try:
            os.kill(pid, signal.SIGCONT)
        except ProcessLookupError:
            pass


def kill_a_worker(mode: Mode, rng: random.Random) -> str:
    """kill -9 of one of the run's worker kernels (the run goes on with the other)."""
    workers = [p for p in mode.processes()[1:] if "ipykernel" in " ".join(p.cmdline())]
    if not workers:
        return "no worker kernel to kill (the run had ended)"
    victim = rng.choice(workers)
    victim.kill()
    psutil.wait_procs([victim], timeout=30)
    return f"kill -9 of worker kernel {workers.index(victim)}"


def small_disk(folder: Path) -> bool:
    """Mount a 32 MB tmpfs on ``folder`` (root only): the disk a full-disk fault fills."""
    return os.geteuid() == 0 and subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=32m", "tmpfs", str(folder)],
        capture_output=True).returncode == 0


def hurt_two_runners(run: Run, rng: random.Random, a: Mode, b: Mode, server: Any) -> None:
    """The postgres mode's faulty run: runner a, then b once a has saved a random number of
    epochs, and a fault on a (kill -9, SIGSTOP past the heartbeat grace) or on the server (a
    restart) while both run."""
    a.start()
    after = rng.randrange(0, TRIALS * 4)
    run.drawn.append(f"runner b after {after} epochs:")
    wait_epochs(a, after)
    b.start()
    wait_epochs(a, after + rng.randrange(1, 4))
    fault = run.faults[0]
    if fault == "kill-9":
        a.kill_all()
    elif fault == "sigstop":
        pause(a, 4)  # twice the grace
    else:
        server.stop()
        time.sleep(rng.choice([0, 1, 3]))  # the outage's length, drawn
        server.start()
    run.drawn.append({"kill-9": "kill -9 of a", "sigstop": "SIGSTOP of a for 4 s",
                      "restart": "PostgreSQL restarted"}[fault])
    for runner in (a, b):
        if not (runner is a and fault == "kill-9"):
            said(run, "a runner", runner.ended_with_fault)
        runner.kill_all()


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
    runners = []
    try:
        server.start()
        for machine in ("a", "b"):
            (folder / machine).mkdir()
            runners.append(mode_of(run, folder / machine, server.url))
        a, b = runners
        a.study = b.study = Study(folder, url=server.url,
                                  trials_dir=folder / "ckpt" / NAME / "trials")
        hurt_two_runners(run, rng, a, b, server)
        rerun_and_check(run, a)
    finally:
        for runner in runners:
            runner.cleanup()
        server.close()


def one_runner(run: Run, rng: random.Random, folder: Path) -> None:
    mode = mode_of(run, folder)
    try:
        hurt(run, rng, mode)
        rerun_and_check(run, mode)
    finally:
        mode.cleanup()


def damage_the_database(run: Run, mode: Mode) -> dict[int, Any] | None:
    """The truncated study.db fault, once the first run has ended: the rerun must say the file
    is corrupt and how to restore its copy, and ``jupyter-automl restore`` must put the copy
    back. Returns the trials the copy had finished (those since are lost on purpose)."""
    db = mode.study.trials_dir.parent / "study.db"
    copy = db.with_name("study.db.backup")
    if not copy.exists():
        run.drawn.append("study.db left whole (no copy of it yet)")
        return None
    kept = Study(db.parent.parent, url=f"sqlite:///{copy}").finished()
    data = db.read_bytes()
    db.write_bytes(data[: len(data) // 2])
    run.drawn.append("study.db truncated, then restored")
    out = mode.rerun(check=False)
    if "is corrupt" not in out or "jupyter-automl restore" not in out or raw_traceback(out):
        run.violations.append(f"the rerun on a truncated study.db said: {out[-800:]}")
    restored = subprocess.run(
        [sys.executable, "-m", "jupyter_automl.cli", "restore", NAME, "--runs-dir",
         str(db.parent.parent)], capture_output=True, text=True, timeout=300)
    if restored.returncode != 0:
        run.violations.append(f"restore failed: {restored.stdout + restored.stderr}"[:800])
    return kept


def rerun_and_check(run: Run, mode: Mode) -> None:
    """Rerun the study, no fault, until its total is reached; then the matrix's invariants."""
    study = mode.study
    kept = None
    if "truncate-db" in run.faults:
        kept = damage_the_database(run, mode)
    # every process of the faulty run has ended: the trials it cut short are those still
    # RUNNING and those a runner already failed and queued, with the epochs each had saved
    cut = set(study.snapshot()) | set(study.lost())
    saved = {n: study.checkpointed(n) for n in cut}
    kept = study.finished() if kept is None else kept
    truncated = [int(d.split()[3]) for d in run.drawn if d.startswith("checkpoint of")]
    for attempt in range(4):
        if len(study.finished()) >= run.total and not study.snapshot():
            break
        if not said(run, f"rerun {attempt + 1}", lambda: mode.rerun(check=False)):
            break
    try:
        study.check(kept, sorted(saved), saved={**saved, **{n: 0 for n in truncated}},
                    total=run.total)
    except AssertionError as exc:
        run.violations.append(f"invariant: {exc!r}"[:1500])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--first", type=int, default=0,
                        help="the number of the first run (a campaign split across machines: "
                        "--first 100 --runs 100 is the second half of 200)")
    parser.add_argument("--replay", type=int, default=None,
                        help="run only this run number of the seed")
    args = parser.parse_args()
    start = time.monotonic()
    numbers = [args.replay] if args.replay is not None \
        else list(range(args.first, args.first + args.runs))
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
        print(f"run {number:>3} {run.mode:<16} {run.study:<6} "
              f"{'; '.join(run.drawn) or 'no fault fired':<70} {run.seconds:5.1f} s {verdict}",
              flush=True)
        for violation in run.violations:
            print(f"    {violation}\n    replay: {sys.argv[0]} --seed {args.seed} "
                  f"--replay {number}", flush=True)
    bad = [r for r in runs if r.violations]
    print(f"{len(runs)} runs, {len(bad)} with a violation, {time.monotonic() - start:.0f} s; "
          f"modes: {', '.join(f'{m} {sum(r.mode == m for r in runs)}' for m in MODES)}; "
          f"studies: {', '.join(f'{s} {sum(r.study == s for r in runs)}' for s in STUDIES)}")
    return 1 if bad else 0


if __name__ == "__main__":
    signal.signal(signal.SIGINT, signal.default_int_handler)
    sys.exit(main())
