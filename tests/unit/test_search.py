"""The search strategies of our own (regularized evolution, REINFORCE): on Optuna studies in
memory, and through the magic, the live panel and its table."""

from __future__ import annotations

import math
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import optuna
import pytest
from conftest import study_of
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution
from optuna.trial import TrialState

from jupyter_automl.engine import _background as background
from jupyter_automl.errors import OptionError
from jupyter_automl.search import (
    EVOLVED_FROM,
    MUTATION,
    EvolutionSampler,
    HybridSampler,
    ReinforceSampler,
    _draws,
)
from jupyter_automl.ui._panel import StudyPanel

optuna.logging.set_verbosity(optuna.logging.WARNING)
OPS = ["conv3", "conv1", "skip", "pool"]
CELL = ('ops = [hp.choice(f"op_{i}", ["conv3", "conv1", "skip", "pool"]) for i in range(4)]\n'
        'w = hp.int("w", 8, 64, step=8)\nsum(o == "conv3" for o in ops) + w / 64')


def score(trial: optuna.Trial) -> float:
    ops = [trial.suggest_categorical(f"op_{i}", OPS) for i in range(4)]
    return sum(o == "conv3" for o in ops) + trial.suggest_int("w", 8, 64, step=8) / 64


def conditional(trial: optuna.Trial) -> float:
    """A space whose second branch draws parameters the first never does."""
    if trial.suggest_categorical("kind", ["mlp", "cnn"]) == "mlp":
        return trial.suggest_int("units", 8, 256, log=True) / 256
    return trial.suggest_int("filters", 4, 64, step=4) / 32 + \
        trial.suggest_float("dropout", 0.0, 0.5, step=0.1)


@pytest.mark.parametrize("distribution,value", [
    (IntDistribution(8, 64, step=8), 8),
    (IntDistribution(8, 64, step=8), 64),
    (IntDistribution(1, 1024, log=True), 32),
    (FloatDistribution(1e-5, 1e-1, log=True), 1e-3),
    (FloatDistribution(0.0, 0.5, step=0.1), 0.5),
    (FloatDistribution(-1.0, 1.0), 0.99),
    (CategoricalDistribution(OPS), "skip"),
])
def test_a_mutation_is_another_value_near_and_inside_the_range(distribution: Any,
                                                               value: Any) -> None:
    rng = np.random.default_rng(0)
    moved = [_draws.nearby(distribution, value, rng) for _ in range(200)]
    assert all(_draws.contains(distribution, m) and m != value for m in moved)
    if isinstance(distribution, (IntDistribution, FloatDistribution)):
        scale = (lambda x: math.log(x)) if distribution.log else float
        span = scale(distribution.high) - scale(distribution.low)
        # nearby: the typical move is a fraction of the range, not a fresh draw across it
        assert np.median([abs(scale(m) - scale(value)) for m in moved]) < 0.25 * span


def test_a_value_alone_in_its_range_stays() -> None:
    rng = np.random.default_rng(0)
    assert _draws.nearby(IntDistribution(3, 3), 3, rng) == 3
    assert _draws.nearby(CategoricalDistribution(["only"]), "only", rng) == "only"


def test_evolution_copies_the_best_of_a_tournament_and_mutates_one_parameter() -> None:
    study = optuna.create_study(direction="maximize",
                                sampler=EvolutionSampler(population=10, tournament=3, seed=1))
    study.optimize(score, n_trials=60)
    trials = study.trials
    assert all(EVOLVED_FROM not in t.user_attrs for t in trials[:10])  # random until full
    for child in trials[10:]:
        parent = trials[child.user_attrs[EVOLVED_FROM]]
        assert parent.number < child.number and parent.state.name == "COMPLETE"
        # the parent is one of the last 10 finished before the child
        assert child.number - 10 <= parent.number
        changed = [k for k in child.params if child.params[k] != parent.params[k]]
        assert len(changed) == 1
        name = changed[0]
        assert child.user_attrs[MUTATION].startswith(f"{name} ")
        assert "→" in child.user_attrs[MUTATION]
    # no child repeats a configuration an earlier trial tried
    keys = [tuple(sorted(t.params.items())) for t in trials]
    assert len(set(keys)) == len(keys)
    assert study.best_value >= 3.75  # conv3 everywhere is 4 + w/64: found or next to it


def test_evolution_draws_fresh_what_the_parent_never_drew() -> None:
    study = optuna.create_study(direction="maximize",
                                sampler=EvolutionSampler(population=8, tournament=4, seed=3))
    study.optimize(conditional, n_trials=80)
    switched = 0
    for child in study.trials[8:]:
        parent = study.trials[child.user_attrs[EVOLVED_FROM]]
        if child.params["kind"] != parent.params["kind"]:  # the other branch: its own params
            switched += 1
            assert set(child.params) - {"kind"} and \
                not (set(child.params) - {"kind"}) & (set(parent.params) - {"kind"})
        else:
            assert sum(child.params[k] != parent.params[k] for k in child.params) == 1
    assert switched


def test_evolution_keeps_no_state_outside_the_study(tmp_path: Path) -> None:
    """A second process (a new sampler on the same storage) continues the population, and a
    trial's decision, once stored, is kept by whoever draws its parameters."""
    url = f"sqlite:///{tmp_path / 'evo.db'}"
    first = optuna.create_study(storage=url, study_name="s", direction="maximize",
                                sampler=EvolutionSampler(population=6, tournament=2, seed=5))
    first.optimize(score, n_trials=20)
    again = optuna.load_study(storage=url, study_name="s",
                              sampler=EvolutionSampler(population=6, tournament=2, seed=5))
    again.optimize(score, n_trials=10)
    later = again.trials[20:]
    assert all(EVOLVED_FROM in t.user_attrs for t in later)
    assert all(t.user_attrs[EVOLVED_FROM] >= 14 for t in later)  # the last 6 before each
    # a trial started by one sampler and drawn by another follows the stored plan
    trial = again.ask()
    trial.suggest_categorical("op_0", OPS)
    other = optuna.load_study(storage=url, study_name="s",
                              sampler=EvolutionSampler(population=6, tournament=2, seed=99))
    other.get_trials()  # as a worker's study knows the running trial it is handed
    resumed = optuna.Trial(other, trial._trial_id)
    for i in range(1, 4):
        resumed.suggest_categorical(f"op_{i}", OPS)
    resumed.suggest_int("w", 8, 64, step=8)
    frozen = other._storage.get_trial(trial._trial_id)
    parent = again.trials[frozen.user_attrs[EVOLVED_FROM]]
    assert sum(frozen.params[k] != parent.params[k] for k in frozen.params) == 1


def test_the_same_seed_gives_the_same_evolution() -> None:
    runs = []
    for _ in range(2):
        study = optuna.create_study(direction="maximize",
                                    sampler=EvolutionSampler(population=5, tournament=2, seed=7))
        study.optimize(score, n_trials=25)
        runs.append([t.params for t in study.trials])
    assert runs[0] == runs[1]


def test_evolution_refuses_a_tournament_larger_than_its_population() -> None:
    with pytest.raises(ValueError, match="tournament <= population"):
        EvolutionSampler(population=4, tournament=5)


def test_reinforce_learns_the_better_options_and_is_rebuilt_from_the_study() -> None:
    sampler = ReinforceSampler(seed=0)
    study = optuna.create_study(direction="maximize", sampler=sampler)
    study.optimize(score, n_trials=150)
    policy = sampler.policy(study)
    chosen = policy.logits("op_0", CategoricalDistribution(OPS))
    probabilities = np.exp(chosen) / np.exp(chosen).sum()
    assert probabilities.argmax() == OPS.index("conv3") and probabilities.max() > 0.5
    late = [t.params["op_0"] for t in study.trials[-30:]]
    assert late.count("conv3") > 15  # random would draw a quarter of them
    # a new sampler (a rerun, a worker kernel) rebuilds the same policy from the trials
    rebuilt = ReinforceSampler(seed=0).policy(study)
    assert np.allclose(rebuilt.logits("op_0", CategoricalDistribution(OPS)), chosen)


def test_reinforce_bins_a_wide_range_and_minimizes() -> None:
    def loss(trial: optuna.Trial) -> float:
        return abs(math.log10(trial.suggest_float("lr", 1e-5, 1.0, log=True)) + 2)

    study = optuna.create_study(sampler=ReinforceSampler(seed=1))
    study.optimize(loss, n_trials=150)
    late = [t.params["lr"] for t in study.trials[-30:]]
    assert all(1e-5 <= v <= 1.0 for v in late)
    assert sum(1e-3 <= v <= 1e-1 for v in late) > 15  # 2 decades of 5: random gets 40%


def test_tpe_with_evolution_steps_mutates_one_trial_in_three() -> None:
    study = optuna.create_study(direction="maximize", sampler=HybridSampler(seed=0))
    study.optimize(score, n_trials=45)
    evolved = {t.number for t in study.trials if EVOLVED_FROM in t.user_attrs}
    # every third trial once 10 have finished; TPE draws the others
    assert evolved == {n for n in range(12, 45, 3)}
    assert study.best_value >= 3.5


def test_the_magic_runs_evolution_and_the_table_shows_each_origin(ip: Any,
                                                                  tmp_path: Path) -> None:
    ip.run_line_magic("config", 'Automl.display = "widgets"')
    try:
        ip.run_cell_magic("automl", "evo --trials 30 --sampler evolution --population 8 "
                          "--tournament 3 --seed 0 --maximize score --background", CELL)
        ip.run_line_magic("automl", "wait evo")
    finally:
        ip.run_line_magic("config", 'Automl.display = "auto"')
    result = ip.user_ns["_automl"]
    assert result.done == 30
    rows = list(result.trials)
    assert "origin" in result.trials.columns
    assert all("origin" not in r for r in rows[:8])
    assert all(r["origin"].startswith("mutated from ") for r in rows[8:])
    # the live panel's table says the same, as the trials finished
    panel = next(li for li in background.get("evo").runner.listeners
                 if isinstance(li, StudyPanel))
    assert panel.model is not None and "origin" in panel.model.columns
    live = {r["number"]: r.get("origin") for r in panel.model.table_rows()}
    assert live == {r["number"]: r.get("origin") for r in rows}
    spec = study_of(tmp_path / "runs", "evo")
    assert len(spec.trials) == 30


def test_a_rerun_continues_the_population(ip: Any, tmp_path: Path) -> None:
    ip.run_cell_magic("automl", "evo --trials 12 --sampler evolution --population 6 --seed 0 "
                      "--maximize score", CELL)
    ip.run_cell_magic("automl", "evo --trials 20 --sampler evolution --population 6 --seed 0 "
                      "--maximize score", CELL)
    trials = study_of(tmp_path / "runs", "evo").trials
    assert [t.number for t in trials] == list(range(20))
    assert all(6 <= t.user_attrs[EVOLVED_FROM] < t.number for t in trials[12:])


@pytest.mark.parametrize("line,message", [
    ("--sampler evolution --tournament 31", r"--tournament 31 is larger than --population 30"),
    ("--sampler evolution --population 1", r"at least 2 members"),
    ("--tournament 3", r"--tournament is an option of --sampler evolution"),
    ("--population 5", r"or of evolution: add --sampler evolution"),
    ("--sampler evolution --scheduler pbt", r"cannot be combined with --scheduler pbt"),
    ("--sampler evolution --maximize a --maximize b", r"handles one objective only"),
    ("--sampler reinforce --maximize a --minimize b", r"handles one objective only"),
])
def test_bad_evolution_options_are_clear(ip: Any, line: str, message: str) -> None:
    body = '{"a": hp.float("x", 0, 1), "b": 1.0}' if "--maximize a" in line else CELL
    with pytest.raises(OptionError, match=message):
        ip.run_cell_magic("automl", f"bad --trials 3 {line}", body)


def test_tpe_with_evolution_on_a_pareto_front_is_tpe(ip: Any) -> None:
    """Evolution ranks by one value: with several objectives the hybrid is TPE alone."""
    ip.run_cell_magic("automl", "mo --trials 14 --sampler tpe+evolution --seed 0 --maximize a "
                      "--maximize b", 'x = hp.float("x", 0, 1)\n{"a": x, "b": 1 - x ** 2}')
    result = ip.user_ns["_automl"]
    assert result.done == 14
    assert not [t for t in result.study.trials if EVOLVED_FROM in t.user_attrs]


# -- --darts: what needs no TensorFlow ---------------------------------------------------------
def test_darts_options() -> None:
    from jupyter_automl.engine._options import parse_options

    options = parse_options("nas --darts --darts-beta 0 --darts-lr 0.01")
    assert (options.darts, options.darts_beta, options.darts_lr) == (True, 0.0, 0.01)
    plain = parse_options("nas --darts")
    assert (plain.darts_beta, plain.darts_lr) == (0.0, None)  # plain DARTS, its lr by length


def test_the_architecture_weights_learning_rate_follows_the_searchs_length() -> None:
    from jupyter_automl.search._darts import MOVE, UNKNOWN_STEPS_LR, default_lr

    assert default_lr(12 * 22) == pytest.approx(0.0303, abs=1e-4)  # benchmarks/darts.py's
    assert default_lr(2 * 264) == pytest.approx(default_lr(264) / 2)  # twice as long, half
    assert default_lr(50 * 196) == pytest.approx(MOVE / 9800)  # the original DARTS's length
    assert default_lr(3) == 0.1 and default_lr(10**7) == 3e-4  # within its bounds
    assert default_lr(None) == default_lr(0) == UNKNOWN_STEPS_LR  # a dataset of unknown size


@pytest.mark.parametrize("line, message", [
    ("s --darts-beta 1", "--darts-beta is an option of differentiable search: add --darts"),
    ("s --darts-lr 0.1", "--darts-lr is an option of differentiable search: add --darts"),
    ("s --darts --scheduler pbt", "--darts cannot be combined with --scheduler pbt"),
    ("s --darts --strategy multi-worker --kernels 2",
     "--darts cannot be combined with --strategy multi-worker"),
    ("s --darts --darts-beta -1", "give a number, 0 or above"),
    ("s --darts --darts-lr 0", "give a number above 0"),
])
def test_darts_option_errors(line: str, message: str) -> None:
    from jupyter_automl.engine._options import parse_options

    with pytest.raises(OptionError, match=message):
        parse_options(line)


def test_architecture_weights_by_epoch_from_the_logs() -> None:
    from jupyter_automl.search import weights_by_epoch

    history = [{"epoch": 1, "loss": 0.5, "darts:op:conv3": 0.4, "darts:op:skip": 0.6},
               {"epoch": 2, "loss": 0.4, "darts:op:conv3": 0.7, "darts:op:skip": 0.3}]
    assert weights_by_epoch(history) == {"op": {"conv3": [0.4, 0.7], "skip": [0.6, 0.3]}}
    assert weights_by_epoch([{"epoch": 1, "loss": 1.0}]) == {}


def test_a_search_is_never_the_best_trial(tmp_path: Path) -> None:
    """A --darts search (user attr darts_supernet) is left out of the best, in Optuna's
    reading, the SQL one and the panel's model, even when its value is the highest."""
    from jupyter_automl.results import own_best_trials
    from jupyter_automl.results._summary import summarize
    from jupyter_automl.runs import StudyPaths
    from jupyter_automl.search import SUPERNET
    from jupyter_automl.ui._model import StudyModel

    paths = StudyPaths.at(tmp_path / "runs" / "s")
    paths.root.mkdir(parents=True)
    study = optuna.create_study(study_name="s", storage=f"sqlite:///{paths.db}",
                                direction="maximize")
    for value, supernet in ((0.99, True), (0.9, False), (0.95, True), (0.8, False)):
        trial = study.ask()
        if supernet:
            trial.set_user_attr(SUPERNET, True)
        study.tell(trial, value)
    assert [t.number for t in own_best_trials(study)] == [1]
    assert summarize(paths, f"sqlite:///{paths.db}", lambda: study).best == (1,)  # by SQL
    assert summarize(paths, "postgresql://elsewhere", lambda: study).best == (1,)  # by Optuna
    model = StudyModel("s", ["val_accuracy"], ["maximize"], 4)
    for trial in study.trials:
        model.add_frozen(trial)
    assert [r.number for r in model.front] == [1]


class FoundArchitecture:
    """What a finished --darts search's architecture weights say, without the model."""

    labels = {"block": ["conv3", "skip"]}
    lr = 0.03  # the architecture weights' learning rate it used

    def derived(self) -> dict[str, str]:
        return {"block": "conv3"}

    def weights(self) -> dict[str, dict[str, float]]:
        return {"block": {"conv3": 0.7, "skip": 0.3}}


def test_a_search_finished_again_by_its_retry_queues_no_second_retrain(tmp_path: Path) -> None:
    """A search killed after it queued its retrain, but before it was told, is retried and
    finishes again: its retrain is queued once, not twice."""
    from types import SimpleNamespace

    from jupyter_automl.engine._trial import _record_search
    from jupyter_automl.search import DERIVED_FROM

    fit: Any = SimpleNamespace(settings=SimpleNamespace(darts=FoundArchitecture()))
    study = optuna.create_study(storage=f"sqlite:///{tmp_path / 'study.db'}",
                                direction="maximize")
    search = study.ask()
    _record_search(search, fit)  # queues trial 1, the retrain; then the runner is killed
    study.tell(search, state=optuna.trial.TrialState.FAIL)  # the rerun fails the search...
    study.enqueue_trial({}, user_attrs={"retry_of": 0})  # ...and queues its retry, trial 2
    retrain = study.ask()
    assert retrain.number == 1 and retrain.suggest_categorical("block", ["conv3", "skip"]) \
        == "conv3"
    study.tell(retrain, 0.9)
    retry = study.ask()
    assert retry.number == 2
    _record_search(retry, fit)
    study.tell(retry, 0.8)
    assert [t.user_attrs.get(DERIVED_FROM) for t in study.trials] == [None, 0, None]

    another = study.ask()  # a search that is not a retry queues its own retrain
    _record_search(another, fit)
    assert study.trials[-1].user_attrs[DERIVED_FROM] == another.number


def test_a_search_marked_by_a_worker_kernel_is_never_the_best(tmp_path: Path) -> None:
    """The driver's copy of a trial keeps the attributes it had when it was asked, and a worker
    kernel marks its search in the storage (fresh clone fc19: with --kernels 2, a search whose
    value beat both retrains was taken for the best, and best/params.json named it)."""
    from types import SimpleNamespace

    from jupyter_automl.engine._runner import StudyRunner
    from jupyter_automl.search import SUPERNET

    url = f"sqlite:///{tmp_path / 'study.db'}"
    study = optuna.create_study(storage=url, direction="maximize")
    search, retrain = study.ask(), study.ask()
    kernel = optuna.load_study(study_name=study.study_name, storage=url)  # another process's
    kernel._storage.set_trial_user_attr(search._trial_id, SUPERNET, True)
    assert SUPERNET not in search.user_attrs  # what the driver's trial says
    runner: Any = StudyRunner.__new__(StudyRunner)
    runner.prepared = SimpleNamespace(options=SimpleNamespace(darts=True, constraints=[]))
    runner.study, runner.schedule = study, None
    assert not runner._counts_as_best(search)
    assert runner._counts_as_best(retrain)


def test_a_running_search_keeps_room_for_its_retrain_and_a_queued_retrain_always_runs(
        tmp_path: Path) -> None:
    """Fresh clone fc24, --darts --kernels 2 --trials 4: kernel 1 started late, kernel 0 ran
    search 0 and its retrain 1, kernel 1 then started search 2 and kernel 0 search 3, and the
    total was reached with the retrains of 2 and 3 left waiting. A runner asks for a new search
    only while the total leaves room for it and its retrain; a queued retrain always runs."""
    from types import SimpleNamespace

    from jupyter_automl.engine._events import RunEnd
    from jupyter_automl.engine._runner import StudyRunner
    from jupyter_automl.runs import StudyPaths
    from jupyter_automl.search import DERIVED_FROM

    study = optuna.create_study(storage=f"sqlite:///{tmp_path / 'study.db'}")
    runner: Any = StudyRunner.__new__(StudyRunner)
    runner.prepared = SimpleNamespace(options=SimpleNamespace(darts=True, constraints=[]),
                                      warm=0)
    runner.study, runner.schedule, runner.lock, runner.total = study, None, None, 4
    runner.counts = Counter({TrialState.COMPLETE: 0})  # counted before: no first census
    runner._alone, runner._recover = False, lambda lock: []
    runner.paths, runner._edits_seen = StudyPaths(tmp_path), 0  # no trial edited by hand
    lock = SimpleNamespace(heartbeats=False)

    def search_ends(search: Any) -> None:  # as _record_search does, then the tell
        study.enqueue_trial({}, user_attrs={DERIVED_FROM: search.number})
        study.tell(search, 0.5)

    search_0 = study.ask()
    assert runner._why_no_more_trials(lock) is None  # 1 running + its retrain: room for 2 more
    search_ends(search_0)
    retrain_1 = study.ask()  # kernel 0 takes the queued retrain
    assert DERIVED_FROM in retrain_1.user_attrs
    assert runner._why_no_more_trials(lock) is None  # kernel 1, started late: search 2
    search_2 = study.ask()
    study.tell(retrain_1, 0.1)
    # kernel 0 is free: 2 finished, search 2 running and its retrain owed make 4
    assert runner._why_no_more_trials(lock) is RunEnd.ELSEWHERE
    assert not runner._total_reached()
    search_ends(search_2)
    assert runner._why_no_more_trials(lock) is None  # its retrain runs
    retrain_3 = study.ask()
    assert retrain_3.user_attrs[DERIVED_FROM] == search_2.number
    study.tell(retrain_3, 0.2)
    assert runner._why_no_more_trials(lock) is RunEnd.FINISHED and runner._total_reached()

    # an odd total, or a pruned search, leaves room for one: that search's retrain runs past it
    runner.total = 5
    search_4 = study.ask()
    assert runner._why_no_more_trials(lock) is RunEnd.ELSEWHERE
    search_ends(search_4)
    assert runner._why_no_more_trials(lock) is None
    study.tell(study.ask(), 0.3)
    assert runner._why_no_more_trials(lock) is RunEnd.FINISHED and runner.done == 6
