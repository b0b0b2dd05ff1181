"""What studies produced, read back from their runs folders: a study's result
(:class:`AutomlResult`), trials and studies as table rows, the list of studies, and
optuna-dashboard. Readers open storages read-only. Exporting, compressing and bundling the
best model are :mod:`jupyter_automl.deploy`'s; the functions here that take a study's name
open the study and hand it over."""

# deploy's names, also here for code written when they lived in results
from ..deploy import (
    BUNDLE_FORMATS,
    FORMATS,
    QUANTIZATIONS,
    CompressionReport,
    Variant,
    best_model_file,
    load_npz,
    prune_model,
    sparsity_of,
)
from ._catalog import ReadOnlyResult, delete, list_text, load_result, rows, show_text, summary_of
from ._costs import COST_SECONDS, COSTS, COSTS_CACHED, cost_names, costs_of, costs_text
from ._dashboard import Target as DashboardTarget
from ._dashboard import open_app as dashboard_app
from ._dashboard import serve as serve_dashboard
from ._deploy import compress_study, export_bundle, export_model
from ._executions import (
    CARRIED,
    EXECUTION_CURVES,
    EXECUTION_SEEDS,
    EXECUTIONS,
    EXECUTIONS_STD,
    mean_and_std,
    spread_of,
)
from ._lineage import (
    CONTINUED,
    COPIED,
    EPOCHS,
    FINAL,
    GENERATION,
    MEMBER,
    MUTABLE,
    chain,
    is_pbt,
    last_epoch,
    lineage,
    pbt_candidates,
    predecessor,
    schedule,
)
from ._result import AutomlResult
from ._rows import (
    GPU_COLUMN,
    STUDY_COLUMNS,
    TRIAL_COLUMNS,
    Averaged,
    TrialRows,
    cell_text,
    frozen_row,
    mark_discarded,
    member_text,
    study_row,
    text_table,
    trial_columns,
    trial_row,
    value_columns,
    with_discarded,
)
from ._summary import StudyState, StudySummary, own_best_trials
from ._trials import (
    TrialEdit,
    TrialEditError,
    UnknownTrialError,
    discard_trial,
    follow_best,
    rerun_trial,
)

__all__ = [
    "TrialEdit", "TrialEditError", "UnknownTrialError", "discard_trial", "follow_best",
    "mark_discarded", "rerun_trial", "with_discarded",
    "CARRIED", "EXECUTIONS", "EXECUTIONS_STD", "EXECUTION_CURVES", "EXECUTION_SEEDS",
    "Averaged", "mean_and_std", "spread_of",
    "BUNDLE_FORMATS", "CONTINUED", "COPIED", "COSTS", "COSTS_CACHED", "COST_SECONDS", "EPOCHS",
    "FINAL", "FORMATS", "GENERATION", "GPU_COLUMN", "MEMBER", "MUTABLE", "QUANTIZATIONS",
    "STUDY_COLUMNS", "TRIAL_COLUMNS", "AutomlResult", "CompressionReport", "DashboardTarget",
    "ReadOnlyResult", "StudyState", "StudySummary", "TrialRows", "Variant", "best_model_file",
    "cell_text", "chain", "compress_study", "cost_names", "costs_of", "costs_text",
    "dashboard_app", "delete", "export_bundle", "export_model", "frozen_row", "is_pbt",
    "last_epoch", "lineage", "list_text", "load_npz", "load_result", "member_text",
    "own_best_trials", "pbt_candidates", "predecessor", "prune_model", "rows", "schedule",
    "serve_dashboard", "show_text", "sparsity_of", "study_row", "summary_of", "text_table",
    "trial_columns", "trial_row", "value_columns",
]
