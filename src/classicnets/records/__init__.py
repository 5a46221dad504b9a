"""The run record: run directories, their files written atomically, and reading a result.

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
    test_at_chosen,
)
from classicnets.records.rundir import CHECKPOINT, CONFIG, METRICS, SUMMARY, RunDir

__all__ = [
    "CHECKPOINT",
    "CONFIG",
    "DISK_FULL",
    "METRICS",
    "SUMMARY",
    "RunDir",
    "atomic_write",
    "choosing_split",
    "chosen",
    "chosen_accuracy",
    "describe",
    "finite_or_none",
    "parse_jsonl",
    "read_json",
    "test_at_chosen",
    "write_json",
]
