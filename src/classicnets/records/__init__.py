"""The run record: run directories, their files written atomically and checked against
their schemas when read, and reading a result.

Importable without torch (plots and the report read JSON only); RunDir's checkpoint and
TensorBoard methods import it when they are called.
"""

from classicnets.records.files import (
    DISK_FULL,
    atomic_write,
    finite_or_none,
    parse_jsonl,
    read_json,
    write_json,
)
from classicnets.records.results import (
    choosing_split,
    chosen,
    chosen_accuracy,
    describe,
    final_test_accuracy,
    test_at_chosen,
)
from classicnets.records.rundir import (
    BEST,
    CHECKPOINT,
    CONFIG,
    CONFIG_RECORD,
    FINISHED,
    METRICS,
    SUMMARY,
    RunDir,
)
from classicnets.records.schema import (
    LR_FIND,
    SPLITS,
    STATUSES,
    SWEEP,
    check_config,
    check_metrics_row,
    check_summary,
    check_sweep,
    damaged,
    described,
    read_lr_find,
    read_sweep,
)

__all__ = [
    "BEST",
    "CHECKPOINT",
    "CONFIG",
    "CONFIG_RECORD",
    "DISK_FULL",
    "LR_FIND",
    "METRICS",
    "SPLITS",
    "STATUSES",
    "SUMMARY",
    "FINISHED",
    "SWEEP",
    "RunDir",
    "atomic_write",
    "check_config",
    "check_metrics_row",
    "check_summary",
    "check_sweep",
    "choosing_split",
    "chosen",
    "chosen_accuracy",
    "damaged",
    "described",
    "describe",
    "final_test_accuracy",
    "finite_or_none",
    "parse_jsonl",
    "read_json",
    "read_lr_find",
    "read_sweep",
    "test_at_chosen",
    "write_json",
]
