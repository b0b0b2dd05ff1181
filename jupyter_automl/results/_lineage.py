"""Population-based training as the study's trials record it: each trial is one member trained
for one generation, and its user attributes say which member, which generation, the trial it
continued and the trial whose checkpoint it copied. From those: a member's lineage (the trials
its weights came through) and the schedule of its mutable parameters by epoch.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from ..search import SUPERNET

if TYPE_CHECKING:
    import optuna

T = TypeVar("T")

# user attributes of a PBT trial
MEMBER = "pbt_member"  # the member (0..P-1) it trains
GENERATION = "pbt_generation"  # its generation (0, 1, ...)
CONTINUED = "pbt_continued"  # the member's trial of the generation before
COPIED = "pbt_copied"  # the trial whose checkpoint it copied (exploit), when it did
FINAL = "pbt_final"  # its fit reached the epochs the cell asks for: the member is trained
EPOCHS = "pbt_epochs"  # the epochs the cell's fit asks for (a member's whole training)
MUTABLE = "pbt_mutable"  # the names of the parameters PBT may change (hp..., mutable=True)


def is_pbt(trial: optuna.trial.FrozenTrial) -> bool:
    return GENERATION in trial.user_attrs


def predecessor(trial: optuna.trial.FrozenTrial | optuna.Trial) -> int | None:
    """The trial whose checkpoint ``trial`` started from: the one it copied, else the one it
    continued; None in generation 0."""
    attrs = trial.user_attrs
    source = attrs.get(COPIED, attrs.get(CONTINUED))
    return None if source is None else int(source)


def chain(items: dict[int, T], number: int, source: Callable[[T], int | None]) -> list[T]:
    """Item ``number`` and those it came from, following ``source`` back (generation 0
    first); a loop or a missing item ends it."""
    found: list[T] = []
    current: int | None = number
    while current is not None and current in items and len(found) <= len(items):
        found.append(items[current])
        current = source(items[current])
    return found[::-1]


def lineage(trials: dict[int, optuna.trial.FrozenTrial],
            number: int) -> list[optuna.trial.FrozenTrial]:
    """The trials the weights of trial ``number`` came through, generation 0 first."""
    return chain(trials, number, predecessor)


def last_epoch(trial: optuna.trial.FrozenTrial) -> int | None:
    steps = list(trial.intermediate_values)
    return int(max(steps)) if steps else None


def schedule(trials: dict[int, optuna.trial.FrozenTrial], number: int) -> dict[str, list[Any]]:
    """Each mutable parameter's value by epoch along the lineage of trial ``number``, as
    columns of equal length: ``epoch``, ``generation``, ``trial`` and one per parameter
    (``pandas.DataFrame(schedule)`` makes a table of it)."""
    chain = lineage(trials, number)
    names = sorted({n for t in chain for n in t.user_attrs.get(MUTABLE, [])})
    columns: dict[str, list[Any]] = {"epoch": [], "generation": [], "trial": [],
                                     **{n: [] for n in names}}
    done = 0
    for trial in chain:
        end = last_epoch(trial)
        if end is None:
            continue
        for epoch in range(done + 1, end + 1):
            columns["epoch"].append(epoch)
            columns["generation"].append(int(trial.user_attrs[GENERATION]))
            columns["trial"].append(trial.number)
            for name in names:
                columns[name].append(trial.params.get(name))
        done = max(done, end)
    return columns


def pbt_candidates(trials: list[optuna.trial.FrozenTrial]) -> list[optuna.trial.FrozenTrial]:
    """The trials a study's best is chosen among: not a --darts search (its model mixes every
    option), and in a PBT study its members' final generations, once one has finished (before
    that, every trial, so the best so far shows while it runs)."""
    trials = [t for t in trials if not t.user_attrs.get(SUPERNET)]
    final = [t for t in trials if t.user_attrs.get(FINAL)]
    return final or trials
