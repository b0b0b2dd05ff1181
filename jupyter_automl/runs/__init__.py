"""The runs folder: where each study's files are (:class:`StudyPaths`), its storage, and who is
running it (lock files and heartbeats). Below every layer that runs or reads a study."""

from ._backup import Backups, Restored, backup_of, copy_database, restore
from ._locks import (
    GRACE_BEATS,
    HEARTBEAT_ENV,
    HOST,
    Claims,
    RunnerLock,
    heartbeat_interval,
    is_running,
    live_claims,
    read_claims,
    read_lock,
)
from ._paths import (
    CHECKPOINT,
    DEFAULT_RUNS_DIR,
    DISCARDED,
    LOST,
    MODEL,
    NOTEBOOK_ENV,
    RERUN_OF,
    WARM_START,
    StudyPaths,
    clear_stop,
    keep_aside,
    list_study_folders,
    read_state,
    request_stop,
    study_paths,
    write_state,
)
from ._storage import (
    SQLITE_TIMEOUT,
    is_server,
    open_storage,
    opens_read_only,
    redact,
    root_cause,
    sqlite_file,
    storage_errors,
    storage_failure,
    storage_url,
)
from ._store import BEST_MODEL, CheckpointStore, check_store_url, checkpoint_slot
from ._store import SLOTS as STORE_SLOTS

__all__ = [
    "BEST_MODEL", "CHECKPOINT", "DEFAULT_RUNS_DIR", "DISCARDED", "GRACE_BEATS", "HEARTBEAT_ENV",
    "HOST", "LOST", "MODEL", "NOTEBOOK_ENV", "RERUN_OF", "SQLITE_TIMEOUT", "STORE_SLOTS",
    "WARM_START", "Backups",
    "CheckpointStore", "Claims", "Restored", "RunnerLock", "StudyPaths", "backup_of",
    "check_store_url", "checkpoint_slot", "clear_stop", "copy_database", "heartbeat_interval",
    "is_running", "is_server", "keep_aside", "list_study_folders", "live_claims", "open_storage",
    "opens_read_only", "read_claims", "read_lock", "read_state", "redact", "request_stop",
    "restore", "root_cause", "sqlite_file", "storage_errors", "storage_failure", "storage_url",
    "study_paths", "write_state",
]
