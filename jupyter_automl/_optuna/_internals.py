"""Optuna internals, in one place: what this package needs of Optuna beyond its public API.

Each helper says why the public API does not do. An Optuna upgrade that moves one of them
touches this file only; where a private name is gone, the helper falls back to public calls
that give the same answer, only slower.
"""

from __future__ import annotations

import datetime as _dt
from collections import Counter
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import optuna
    from optuna.trial import TrialState


def storage_of(study: optuna.Study) -> Any:
    """The study's storage object (``Study`` keeps it private)."""
    return study._storage


def database(study: optuna.Study) -> Any | None:
    """The study's ``RDBStorage`` (Optuna wraps it in a cache), None for other storages."""
    storage = storage_of(study)
    storage = getattr(storage, "_backend", storage)
    return storage if hasattr(storage, "scoped_session") else None


def study_id(study: optuna.Study) -> int:
    return int(study._study_id)


def trial_id(trial: Any) -> int:
    """The storage id of a ``Trial`` or ``FrozenTrial`` (numbers count per study, ids do not)."""
    return int(trial._trial_id)


def given_params(trial: Any) -> dict[str, Any]:
    """The values ``trial`` came with rather than drew (enqueued: a retry, a retrain)."""
    return dict(getattr(trial, "_fixed_params", None) or {})


def set_param(study: optuna.Study, trial: Any, name: str, value: Any,
              distribution: Any) -> None:
    """Record ``name = value`` as a parameter of the running ``trial``, as if it drew it."""
    storage_of(study).set_trial_param(trial_id(trial), name,
                                      distribution.to_internal_repr(value), distribution)


def frozen(study: optuna.Study, trial: Any) -> optuna.trial.FrozenTrial:
    """The stored state of ``trial``, read now (not from a cache)."""
    return storage_of(study).get_trial(trial_id(trial))


def trial_by_number(study: optuna.Study, number: int) -> optuna.trial.FrozenTrial:
    storage = storage_of(study)
    return storage.get_trial(
        storage.get_trial_id_from_study_id_trial_number(study_id(study), number))


def state_counts(study: optuna.Study) -> Counter[TrialState]:
    """How many trials of the study are in each state.

    One ``GROUP BY`` query on a database storage: ``get_n_trials`` would load every trial, and
    a runner counts before each trial it asks for.
    """
    storage = database(study)
    if storage is not None:
        try:
            return _count_rdb(storage, study_id(study))
        except ImportError:  # a future Optuna moved its models: count the slow way
            pass
    return Counter(t.state for t in study.get_trials(deepcopy=False))


def trial_count(storage: Any, sid: int) -> int:
    """How many trials the study ``sid`` has, in any state: one ``COUNT`` on a database storage
    (``get_n_trials`` loads every trial: seconds at 10,000 trials)."""
    rdb = getattr(storage, "_backend", storage)
    if hasattr(rdb, "scoped_session"):
        try:
            return sum(_count_rdb(rdb, sid).values())
        except ImportError:  # a future Optuna moved its models: count the slow way
            pass
    return int(storage.get_n_trials(sid))


def _count_rdb(storage: Any, sid: int) -> Counter[TrialState]:
    import sqlalchemy
    from optuna.storages._rdb import models

    with storage.scoped_session() as session:
        rows = (session.query(models.TrialModel.state, sqlalchemy.func.count())
                .filter(models.TrialModel.study_id == sid)
                .group_by(models.TrialModel.state).all())
    return Counter({state: int(n) for state, n in rows})


def heartbeat_ages(study: optuna.Study, numbers: Iterable[int]) -> dict[int, float | None]:
    """Seconds since the last heartbeat of each RUNNING trial in ``numbers`` (None: never had
    one), by the database's own clock, so that machines with skewed clocks agree.

    Optuna records heartbeats (``record_heartbeat``, public) but reads them only inside
    ``fail_stale_trials``, which fails them too and needs the storage built for it.
    """
    import sqlalchemy
    from optuna.storages._rdb import models

    wanted = set(numbers)
    storage = database(study)
    assert storage is not None, "heartbeats are kept by database storages only"
    with storage.scoped_session() as session:
        now = session.execute(sqlalchemy.func.now()).scalar().replace(tzinfo=None)
        rows = (session.query(models.TrialModel.number, models.TrialHeartbeatModel.heartbeat)
                .outerjoin(models.TrialHeartbeatModel,
                           models.TrialHeartbeatModel.trial_id == models.TrialModel.trial_id)
                .filter(models.TrialModel.study_id == study_id(study))
                .filter(models.TrialModel.state == _running()).all())
    return {number: None if beat is None else (now - beat.replace(tzinfo=None)).total_seconds()
            for number, beat in rows if number in wanted}


def _running() -> Any:
    from optuna.trial import TrialState

    return TrialState.RUNNING


def record_heartbeat(study: optuna.Study, trial_ids: Iterable[int]) -> None:
    storage = database(study)
    assert storage is not None, "heartbeats are kept by database storages only"
    for tid in trial_ids:
        storage.record_heartbeat(tid)


def supports_heartbeats(study: optuna.Study) -> bool:
    return database(study) is not None


def tell(study: optuna.Study, trial: optuna.Trial, values: list[float] | None,
         state: optuna.trial.TrialState) -> None:
    """``study.tell`` without the deep copy of the told trial it reads back and returns.

    That copy is a database read per trial which ``study.optimize`` does not make; skipping
    it keeps the runner's loop as fast as Optuna's own (benchmarks/overhead.py).
    """
    try:
        from optuna.study._tell import _tell_with_warning
    except ImportError:  # a future Optuna moved it: the public call is only slower
        study.tell(trial, values, state=state)
        return
    _tell_with_warning(study=study, trial=trial, value_or_values=values, state=state,
                       suppress_warning=True)


def age(trial: optuna.trial.FrozenTrial) -> float:
    """Seconds since ``trial`` started (by this machine's clock)."""
    if trial.datetime_start is None:
        return 0.0
    return (_dt.datetime.now() - trial.datetime_start).total_seconds()


def add_storage_service(server: Any, storage: Any) -> None:
    """Register Optuna's storage service on a gRPC ``server`` of ours (Optuna's own
    ``make_server`` builds an insecure server we cannot add an interceptor to)."""
    from optuna.storages._grpc import servicer
    from optuna.storages._grpc.auto_generated import api_pb2_grpc

    api_pb2_grpc.add_StorageServiceServicer_to_server(
        servicer.OptunaStorageProxyService(storage), server)


def storage_client(channel: Any, host: str, port: int) -> Any:
    """Optuna's ``GrpcStorageProxy`` on ``channel`` (it makes its own insecure channel)."""
    from optuna.storages import GrpcStorageProxy
    from optuna.storages._grpc.auto_generated import api_pb2_grpc
    from optuna.storages._grpc.client import GrpcClientCache

    class _OnChannel(GrpcStorageProxy):  # type: ignore[misc]
        def _setup(self) -> None:
            self._channel = channel
            self._stub = api_pb2_grpc.StorageServiceStub(channel)
            self._cache = GrpcClientCache(self._stub)

    return _OnChannel(host=host, port=port)


def preload(study: optuna.Study) -> None:
    """Read every trial of ``study`` into its storage's cache with a few plain SQL queries.

    Optuna's first ``get_trials`` on a database loads the trials through the ORM, five
    relations each: 1.5 s at 10,000 trials on SQLite, most of a reader's time
    (``jupyter-automl show``, ``studies``). Read here table by table, the trials are put in
    its ``_CachedStorage`` as its own first read would put them, and later reads fetch only
    what changed since. Does nothing where the storage is not a cached database, or an Optuna
    upgrade moved these names (Optuna then reads them itself).
    """
    cached, rdb = storage_of(study), database(study)
    try:
        from optuna.storages._cached_storage import _CachedStorage, _StudyInfo

        if rdb is None or not isinstance(cached, _CachedStorage):
            return
        sid = study_id(study)
        with cached._lock:
            info = cached._studies.setdefault(sid, _StudyInfo())
            if info.trials or info.unfinished_trial_ids or info.last_finished_trial_id >= 0:
                return  # read already
            trials = _read_trials(rdb, sid)
            cached._add_trials_to_cache(sid, trials)
            for trial in trials:
                if trial.state.is_finished():
                    info.last_finished_trial_id = max(info.last_finished_trial_id,
                                                      trial_id(trial))
                else:
                    info.unfinished_trial_ids.add(trial_id(trial))
    except (ImportError, AttributeError):
        return


def _read_trials(storage: Any, sid: int) -> list[optuna.trial.FrozenTrial]:
    """The study's trials, as ``RDBStorage._build_frozen_trial_from_trial_model`` makes them."""
    import json

    from optuna.distributions import json_to_distribution
    from optuna.storages._rdb import models
    from optuna.trial import FrozenTrial
    from sqlalchemy import select

    tables = {name: getattr(models, name).__table__ for name in (
        "TrialModel", "TrialValueModel", "TrialParamModel", "TrialUserAttributeModel",
        "TrialSystemAttributeModel", "TrialIntermediateValueModel")}
    trial = tables["TrialModel"]
    own = select(trial.c.trial_id).where(trial.c.study_id == sid).scalar_subquery()

    def rows(name: str, *columns: str) -> Any:
        table = tables[name]
        first = table.c[table.primary_key.columns.keys()[0]]
        return session.execute(select(table.c.trial_id, *(table.c[c] for c in columns))
                               .where(table.c.trial_id.in_(own)).order_by(first))

    by_id: dict[int, dict[str, Any]] = {}
    with storage.scoped_session() as session:
        for tid, number, state, start, end in session.execute(
                select(trial.c.trial_id, trial.c.number, trial.c.state, trial.c.datetime_start,
                       trial.c.datetime_complete).where(trial.c.study_id == sid)
                .order_by(trial.c.trial_id)):
            by_id[tid] = {"number": number, "state": state, "datetime_start": start,
                          "datetime_complete": end, "values": {}, "params": {},
                          "distributions": {}, "user_attrs": {}, "system_attrs": {},
                          "intermediate_values": {}}
        value_of = models.TrialValueModel.stored_repr_to_value
        for tid, objective, value, kind in rows("TrialValueModel", "objective", "value",
                                                "value_type"):
            by_id[tid]["values"][objective] = value_of(value, kind)
        dists: dict[str, Any] = {}  # a few distinct distributions for thousands of params
        for tid, name, value, text in rows("TrialParamModel", "param_name", "param_value",
                                           "distribution_json"):
            dist = dists.get(text) or dists.setdefault(text, json_to_distribution(text))
            by_id[tid]["params"][name] = dist.to_external_repr(value)
            by_id[tid]["distributions"][name] = dist
        for attrs, model in (("user_attrs", "TrialUserAttributeModel"),
                             ("system_attrs", "TrialSystemAttributeModel")):
            for tid, key, text in rows(model, "key", "value_json"):
                by_id[tid][attrs][key] = json.loads(text)
        step_of = models.TrialIntermediateValueModel.stored_repr_to_intermediate_value
        for tid, step, value, kind in rows("TrialIntermediateValueModel", "step",
                                           "intermediate_value", "intermediate_value_type"):
            by_id[tid]["intermediate_values"][step] = step_of(value, kind)
    return [FrozenTrial(value=None, trial_id=tid, **{
        **fields, "values": [fields["values"][i] for i in range(len(fields["values"]))]
        or None}) for tid, fields in by_id.items()]
