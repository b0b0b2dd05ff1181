"""Optuna beyond its public API, in one place: its private names (``_internals``) and plain
SQL on its tables (``_sql``). An Optuna upgrade that moves either touches this package only."""

from ._internals import (
    add_storage_service,
    age,
    database,
    frozen,
    given_params,
    heartbeat_ages,
    preload,
    record_heartbeat,
    set_param,
    state_counts,
    storage_client,
    storage_of,
    study_id,
    supports_heartbeats,
    tell,
    trial_by_number,
    trial_count,
    trial_id,
)
from ._rewrite import TrialChanged, reread, rewrite_finished
from ._sql import Point, StudyRows, read_study

__all__ = [
    "Point", "StudyRows", "add_storage_service", "age", "database", "frozen", "given_params",
    "TrialChanged", "heartbeat_ages", "preload", "read_study", "record_heartbeat", "reread",
    "rewrite_finished", "set_param", "state_counts",
    "storage_client", "storage_of",
    "study_id", "supports_heartbeats", "tell", "trial_by_number", "trial_count", "trial_id",
]
