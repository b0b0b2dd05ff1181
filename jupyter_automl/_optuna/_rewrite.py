"""Rewriting a finished trial's record, which Optuna's storage API refuses (a finished trial is
final there): its state, its values and one user attribute, in one transaction on Optuna's
tables, through Optuna's own models, so SQLite and PostgreSQL alike.

Discarding a trial (``%automl discard``) makes it FAIL, the state no reader, sampler or total
counts, and keeps its state and values in the attribute; taking it back restores them.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from ._internals import database, storage_of, study_id

if TYPE_CHECKING:
    import optuna
    from optuna.trial import TrialState


class TrialChanged(Exception):
    """The trial is not in the state the rewrite expected (another process changed it)."""


def rewrite_finished(study: optuna.Study, number: int, *, expected: TrialState,
                     state: TrialState, values: list[float] | None, attr: str,
                     attr_value: Any) -> None:
    """Set trial ``number`` to ``state`` with ``values`` (None: none) and its user attribute
    ``attr`` to ``attr_value`` (None: removed), provided it is ``expected`` now (the row is
    locked on PostgreSQL; SQLite's write lock holds the whole database).

    Raises :class:`TrialChanged` when it is not, ``LookupError`` for a storage that is no
    database (Optuna's journal or in-memory storages)."""
    from optuna.storages._rdb import models

    storage = database(study)
    if storage is None:
        raise LookupError("only a database storage (SQLite, PostgreSQL, MySQL) can be rewritten")
    with _writing(storage) as session:
        trial = (session.query(models.TrialModel)
                 .filter(models.TrialModel.study_id == study_id(study),
                         models.TrialModel.number == number)
                 .with_for_update().one_or_none())
        if trial is None:
            raise LookupError(number)
        if trial.state != expected:
            raise TrialChanged(f"trial {number} is {trial.state.name} now, not "
                               f"{expected.name}")
        trial.state = state
        session.query(models.TrialValueModel).filter(
            models.TrialValueModel.trial_id == trial.trial_id).delete()
        for objective, value in enumerate(values or []):
            stored, kind = models.TrialValueModel.value_to_stored_repr(float(value))
            session.add(models.TrialValueModel(trial_id=trial.trial_id, objective=objective,
                                               value=stored, value_type=kind))
        _set_attr(session, models, trial.trial_id, attr, attr_value)


def _set_attr(session: Any, models: Any, tid: int, key: str, value: Any) -> None:
    table = models.TrialUserAttributeModel
    row = session.query(table).filter(table.trial_id == tid, table.key == key).one_or_none()
    if value is None:
        if row is not None:
            session.delete(row)
        return
    if row is None:
        session.add(table(trial_id=tid, key=key, value_json=json.dumps(value)))
    else:
        row.value_json = json.dumps(value)


def _writing(storage: Any) -> Any:
    """A session committed at the end of the block, rolled back if it raises."""
    try:
        from optuna.storages._rdb.storage import _create_scoped_session
    except ImportError:  # a future Optuna moved it: SQLAlchemy's own transaction block
        return storage.scoped_session().begin()
    return _create_scoped_session(storage.scoped_session)


def reread(study: optuna.Study) -> None:
    """Have ``study`` read its finished trials again at its next read: Optuna's cache keeps a
    finished trial as it first read it, and :func:`rewrite_finished` changes one later. Its
    next ``get_trials`` reads every trial (one query), then only what changed, as before."""
    try:
        from optuna.storages._cached_storage import _CachedStorage
    except ImportError:  # a future Optuna moved it: no cache of ours to drop
        return
    cached = storage_of(study)
    if isinstance(cached, _CachedStorage):
        with cached._lock:
            info = cached._studies.get(study_id(study))
            if info is not None:
                info.last_finished_trial_id = -1
