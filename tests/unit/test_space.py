from __future__ import annotations

import ast

import optuna
import pytest

from jupyter_automl.engine._algorithms import make_sampler
from jupyter_automl.errors import SpaceError
from jupyter_automl.space import _hp as space
from jupyter_automl.space._hp import ParamSpec, hp, read_space

CELL = '''
n = hp.int("n_layers", 1, 3)
for i in range(n):
    width = hp.int(f"units_{i}", 16, 256, log=True)
    act = hp.choice("activation", ["relu", "tanh"])
lr = hp.float("lr", 1e-4, 1e-1, log=True)
drop = hp.float("dropout", 0.0, 0.5, step=0.1)
bn = hp.bool("batchnorm")
opt = hp.fixed("optimizer", "adam")
act2 = hp.choice("activation", ["relu", "tanh"])
'''


def test_static_read_finds_the_space() -> None:
    found: dict[str, ParamSpec] = {}
    for p in read_space(ast.parse(CELL)).params:
        found.setdefault(p.name, p)
    assert list(found) == ["n_layers", "units_{i}", "activation", "lr", "dropout", "batchnorm",
                           "optimizer"]
    assert found["n_layers"].describe() == "int 1..3"
    assert found["units_{i}"].describe() == "int 16..256 log" and not found["units_{i}"].exact
    assert found["lr"].log and found["dropout"].step == 0.1
    assert found["activation"].choices == ["relu", "tanh"] and found["activation"].line == 5
    assert found["optimizer"].value == "adam" and found["batchnorm"].kind == "bool"


def test_static_read_keeps_computed_arguments_open() -> None:
    (p,) = read_space(ast.parse("hp.int('u', lo, hi)")).params
    assert p.low is None and p.high is None and not p.exact


BAD_SPACES = [
    ("hp.int('n', 5, 1)", r"hp.int\('n', line 1\): low=5 must be below high=1"),
    ("hp.int('n', 3, 3)", r"low=3 must be below high=3.*hp.fixed\('n', 3\)"),
    ("hp.float('lr', 0, 1, log=True)", r"hp.float\('lr'.*log=True needs low > 0, got low=0"),
    ("hp.float('lr', 0.1, 1, step=0.1, log=True)", r"log=True cannot be combined with step"),
    ("hp.int('n', 1, 9, step=0)", r"step=0 must be positive"),
    ("hp.int('n', 1, 9, step=20)", r"step=20 is larger than the range"),
    ("hp.int('n', 0.5, 9)", r"whole numbers for hp.int"),
    ("hp.choice('act', [])", r"hp.choice\('act'.*list of options is empty"),
    ("hp.float('x', float('nan'), 1)", None),  # not a literal: checked when the trial runs
    ("a = hp.int('n', 1, 3)\nb = hp.int('n', 1, 5)",
     r"parameter 'n' is defined twice with different ranges \(lines 1 and 2\): int 1..3 vs "
     r"int 1..5"),
]


@pytest.mark.parametrize("source,message", BAD_SPACES)
def test_bad_spaces_are_named(source: str, message: str | None) -> None:
    if message is None:
        read_space(ast.parse(source))
        return
    with pytest.raises(SpaceError, match=message):
        read_space(ast.parse(source))


def _in_trial(fn):  # type: ignore[no-untyped-def]
    trial = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0)).ask()
    token = space.bind(space.TrialSpace(trial))
    try:
        return fn(), trial
    finally:
        space.unbind(token)


def test_hp_binds_to_the_trial() -> None:
    def body():  # type: ignore[no-untyped-def]
        return (hp.int("n", 1, 3), hp.float("lr", 1e-4, 1e-1, log=True),
                hp.choice("act", ["relu", "tanh"]), hp.bool("bn"), hp.fixed("opt", "adam"),
                hp.int("n", 1, 3))

    (n, lr, act, bn, opt, n_again), trial = _in_trial(body)
    assert 1 <= n <= 3 and n_again == n and 1e-4 <= lr <= 1e-1
    assert act in ("relu", "tanh") and isinstance(bn, bool) and opt == "adam"
    assert trial.params == {"n": n, "lr": lr, "act": act, "bn": bn, "opt": "adam"}


def test_hp_choice_of_objects_stores_labels() -> None:
    class Relu:
        pass

    def gelu() -> None: ...

    chosen, trial = _in_trial(lambda: hp.choice("act", [Relu, gelu, None]))
    assert chosen in (Relu, gelu, None)
    assert trial.params["act"] in ("Relu", "gelu", None)


def test_hp_conflicting_ranges_in_one_trial() -> None:
    with pytest.raises(SpaceError, match="'units' is defined twice .* int 1..3 vs int 1..8"):
        _in_trial(lambda: (hp.int("units", 1, 3), hp.int("units", 1, 8)))


def test_hp_validates_computed_ranges() -> None:
    with pytest.raises(SpaceError, match=r"hp.float\('x'\): low=2 must be below high=1"):
        _in_trial(lambda: hp.float("x", 2, 1))


def test_hp_outside_a_trial() -> None:
    with pytest.raises(SpaceError, match=r"hp.int\('n'\) was called outside a trial"):
        hp.int("n", 1, 3)


def test_grid_sampler_from_the_static_space() -> None:
    params = read_space(ast.parse("hp.int('n', 1, 3)\nhp.choice('a', ['x', 'y'])\n"
                                  "hp.float('d', 0.0, 0.2, step=0.1)")).params
    sampler = make_sampler("grid", 0, 1, params)
    assert sampler._n_min_trials == 3 * 2 * 3  # type: ignore[attr-defined]


@pytest.mark.parametrize("source,message", [
    ("hp.float('lr', 1e-4, 1e-1, log=True)", r"needs a step for float parameter 'lr'"),
    ("for i in range(2): hp.int(f'u{i}', 1, 3)", r"'u\{i\}' \(line 1\) is computed"),
])
def test_grid_sampler_needs_a_finite_space(source: str, message: str) -> None:
    with pytest.raises(SpaceError, match=message):
        make_sampler("grid", 0, 1, read_space(ast.parse(source)).params)


def test_param_spec_round_trips_through_json() -> None:
    spec = ParamSpec("lr", "float", low=1e-4, high=0.1, log=True, line=3)
    assert ParamSpec.from_dict(spec.to_dict()) == spec
