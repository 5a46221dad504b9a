"""Finding what a report is made of: sweep directories (sweep.json), single runs
(config.json and summary.json outside any sweep) and learning-rate range tests
(lr_find.json), under the directories given.

Every record is read through its schema (records/schema.py), and a trial's keys are checked
against its experiment's keys here (their types and checks: the report's sentences do
arithmetic on them). A damaged record refuses the whole report: one line naming the file
and the field, exit 2, and no report written. A report that left a run out without saying
so would be wrong where it looks right; one that printed notes for every skipped record
would bury the one that matters. Run the damaged run again (or move it out of the
directories given) and report again. A run without summary.json is unfinished, not
damaged: it is left out, and the page names it (it may be running now: the report reads
without the run's lock); a summary.json with no config.json beside it is left out too.
"""

from __future__ import annotations

import dataclasses
import os
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from classicnets import config
from classicnets.experiments import EXPERIMENTS
from classicnets.records import (
    CONFIG,
    LR_FIND,
    SUMMARY,
    SWEEP,
    RunDir,
    damaged,
    described,
    read_lr_find,
    read_sweep,
)


@dataclass
class Found:
    sweeps: dict[str, tuple[Path, dict[str, Any]]] = field(default_factory=dict)  # by name
    runs: dict[str, list[tuple[Path, dict[str, Any], dict[str, Any]]]] = field(
        default_factory=dict
    )  # experiment -> [(dir, config, summary)]
    unfinished: list[Path] = field(default_factory=list)  # single runs with no summary yet
    lr_finds: list[tuple[Path, dict[str, Any]]] = field(default_factory=list)  # (dir, record)


def _expected(tp: Any) -> tuple[Any, str]:
    """A key's type as a test of a JSON value, and what the message says it expects."""
    if typing.get_origin(tp) is Literal:
        choices = typing.get_args(tp)
        return (lambda v: v in choices and isinstance(v, str)), "one of " + ", ".join(choices)
    if typing.get_origin(tp) is tuple:
        item, what = _expected(typing.get_args(tp)[0])
        return (lambda v: isinstance(v, list) and all(item(x) for x in v)), f"a list of {what}s"
    if tp is bool:
        return (lambda v: isinstance(v, bool)), "true or false"
    if tp is int:
        return (lambda v: isinstance(v, int) and not isinstance(v, bool)), "an integer"
    if tp is float:
        return (lambda v: isinstance(v, (int, float)) and not isinstance(v, bool)), "a number"
    return (lambda v: isinstance(v, str)), "a string"


def check_keys(path: Path, where: str, experiment: str, keys: dict[str, Any]) -> None:
    """A trial's keys as its experiment declares them (config.define): each key's type,
    then its own check. Keys the experiment does not have are let through."""
    if experiment not in EXPERIMENTS:
        known = ", ".join(EXPERIMENTS)
        raise damaged(path, f"{where}.experiment", f"is {experiment!r}, expected one of {known}")
    cls = EXPERIMENTS[experiment].config
    types = config.field_types(cls)
    for f in dataclasses.fields(cls):
        if f.name not in keys:
            continue
        value, (fits, what) = keys[f.name], _expected(types[f.name])
        at = f"{where}.keys.{f.name}"
        if not fits(value):
            raise damaged(path, at, f"is {described(value)}, expected {what}")
        check = f.metadata.get("check")
        problem = check(tuple(value) if isinstance(value, list) else value) if check else None
        if problem:
            raise damaged(path, at, f"is {described(value)}: {problem}")


def _mtime(path: Path) -> float:
    try:
        return os.stat(path).st_mtime
    except OSError:
        return 0.0


def collect(roots: list[Path]) -> Found:
    """Every finished sweep (the newest of each name) and every single run under `roots`."""
    found = Found()
    for root in roots:
        sweeps = []
        for path in root.rglob(SWEEP):
            record = read_sweep(path)
            for i, trial in enumerate(record["trials"]):
                check_keys(path, f"trials[{i}]", trial["experiment"], trial["keys"])
            sweeps.append((_mtime(path), path, record))
        sweep_dirs = set()
        for _, path, record in sorted(sweeps, key=lambda s: s[0]):
            found.sweeps[record["sweep"]] = (path.parent, record)
            sweep_dirs.add(path.parent)
        for path in sorted(root.rglob(SUMMARY)):
            run = RunDir(path.parent)
            if run.path.parent in sweep_dirs or not run.file(CONFIG).is_file():
                continue
            cfg, summary = run.config(), run.summary()
            if summary is not None:  # gone since the search: finished by nobody
                found.runs.setdefault(cfg["experiment"], []).append((run.path, cfg, summary))
        for path in sorted(root.rglob(LR_FIND)):  # range tests (classicnets lr-find)
            found.lr_finds.append((path.parent, read_lr_find(path)))
        for path in sorted(root.rglob(CONFIG)):  # being written, or stopped before the end
            if path.parent.parent not in sweep_dirs and not (path.parent / SUMMARY).is_file():
                found.unfinished.append(path.parent)
    return found
