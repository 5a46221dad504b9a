"""What each file of the run record must hold, checked on every read.

Records are files anyone could have edited, on storage that could be shared. A reader
checks what it was given before any number of it is used, and a file that does not hold
what we write is damaged: one UsageError names the file, the field (as a JSON path:
`best.val.accuracy`, `trials[3].dir`, `line 7: loss`) and the fix. Fields we do not read
are let through (a newer classicnets may write more); bools are never ints or numbers here.

config.json    an object: "experiment" a non-empty string; every other value a JSON scalar
               or a list of them; "versions" an object of scalars
summary.json   status (one of STATUSES), final ({split: evaluation}), best where something
               was chosen (absent without a validation split), steps, epochs,
               wall_time_s, train_samples_per_s (or null), error if present
metrics.jsonl  a row: step, epoch, split, loss (or null), accuracy, time_s
sweep.json     sweep, trials (each: trial, dir (one path component), experiment, keys,
               status, and the summary's fields where present); experiments, overrides,
               search, workers, threads_per_worker, wall_time_s where present
lr_find.json   experiment, keys, split ("train": the only one a range test reads), stopped,
               suggested / minimum / minimum_over_10 (or null), rule, rows (each: step,
               learning_rate, loss and smoothed, or null)
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from classicnets.errors import UsageError, shown
from classicnets.records.files import DAMAGED, read_json

SWEEP = "sweep.json"
SPLITS = ("train", "val", "test")
# pruned: stopped by a sweep's pruner (--search N --prune), its record whole up to there
STATUSES = ("completed", "diverged", "early_stopped", "pruned", "interrupted", "failed")
NAME_MAX = 255  # bytes in one file name on the usual file systems


class _Bad(Exception):
    """A field that is not what we write: (field, problem), given a file by `checked`."""


def damaged(path: Path | str, field: str, problem: str) -> UsageError:
    """The one error for a record that does not hold what we write."""
    return UsageError(f"{path}: {field} {problem}; {DAMAGED}")


def _text(value: str, limit: int = 40) -> str:
    """A piece of a damaged file as a message may quote it: one line, and short."""
    value = shown(value)
    return value if len(value) <= limit else value[: limit - 3] + "..."


def described(value: Any) -> str:
    """A bad value as a message describes it: its text (short) for a scalar, else its kind."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"{str(value).lower()} (a boolean)"
    if isinstance(value, str):
        return f"{_text(repr(value))} (a string)"
    if isinstance(value, (int, float)):
        return _text(repr(value))
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def _at(where: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{where}[{key}]"
    return f"{where}.{_text(key)}" if where else _text(key)


def _fail(where: str, value: Any, expected: str) -> None:
    raise _Bad(where or "the record", f"is {described(value)}, expected {expected}")


# --- the pieces: each checks one value at `where`, returning it -----------------------------
def _object(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        _fail(where, value, "a JSON object")
    return value


def _list(value: Any, where: str) -> list[Any]:
    if not isinstance(value, list):
        _fail(where, value, "a list")
    return value


def _field(record: dict[str, Any], key: str, where: str) -> Any:
    if key not in record:
        raise _Bad(_at(where, key), "is missing")
    return record[key]


def _string(value: Any, where: str, empty: bool = True) -> str:
    if not isinstance(value, str) or (not empty and not value):
        _fail(where, value, "a string" if empty else "a non-empty string")
    return value


def _count(value: Any, where: str) -> int:
    """An int >= 0 (a step, an epoch, a number of workers): never a bool or a float."""
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        _fail(where, value, "an integer >= 0")
    return value


def _number(
    value: Any, where: str, low: float | None = None, high: float | None = None, null=False
) -> float | None:
    """A finite number within [low, high]; or null where `null`."""
    if value is None and null:
        return None
    ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    ok = ok and math.isfinite(value)
    ok = ok and (low is None or value >= low) and (high is None or value <= high)
    if not ok:
        if low is not None and high is not None:
            expected = f"a number from {low:g} to {high:g}"
        elif low is not None:
            expected = f"a finite number >= {low:g}"
        else:
            expected = "a finite number"
        _fail(where, value, expected + (" or null" if null else ""))
    return value


def _choice(value: Any, where: str, choices: tuple[str, ...]) -> str:
    if not isinstance(value, str) or value not in choices:
        _fail(where, value, "one of " + ", ".join(choices))
    return value


def _scalar(value: Any, where: str) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        _fail(where, value, "a finite number")
    if value is not None and not isinstance(value, (str, int, float)):
        _fail(where, value, "a string, number, boolean or null")
    return value


def _value(value: Any, where: str) -> Any:
    """A key's value: a JSON scalar, or a list of them (tuples such as hidden units)."""
    if isinstance(value, list):
        for i, item in enumerate(value):
            _scalar(item, _at(where, i))
        return value
    return _scalar(value, where)


def _keys(value: Any, where: str) -> dict[str, Any]:
    record = _object(value, where)
    for key, item in record.items():
        _value(item, _at(where, key))
    return record


def _splits(value: Any, where: str, best: bool) -> dict[str, Any]:
    """final or best: {split: {loss, accuracy (and in best: step, epoch)}}."""
    record = _object(value, where)
    for split, evaluation in record.items():
        if split not in SPLITS:
            raise _Bad(
                where, f"holds {described(split)}, expected only the splits {', '.join(SPLITS)}"
            )
        at = _at(where, split)
        evaluation = _object(evaluation, at)
        _number(_field(evaluation, "loss", at), _at(at, "loss"), null=True)
        _number(_field(evaluation, "accuracy", at), _at(at, "accuracy"), 0, 1)
        if best:
            _count(_field(evaluation, "step", at), _at(at, "step"))
            _count(_field(evaluation, "epoch", at), _at(at, "epoch"))
    if best and record and "test" not in record:  # the test result at the chosen step
        raise _Bad(_at(where, "test"), "is missing (a best records test beside its chooser)")
    return record


def _results(record: dict[str, Any], where: str, required: bool) -> None:
    """A summary's fields (summary.json; a sweep's trial row, where present)."""
    checks = {
        "final": lambda v, at: _splits(v, at, best=False),
        "best": lambda v, at: _splits(v, at, best=True),
        "steps": _count,
        "epochs": _count,
        "wall_time_s": lambda v, at: _number(v, at, low=0),
    }
    for key, check in checks.items():
        if (required and key != "best") or key in record:  # best: absent when nothing chosen
            check(_field(record, key, where), _at(where, key))
    if "train_samples_per_s" in record:
        _number(record["train_samples_per_s"], _at(where, "train_samples_per_s"), 0, null=True)
    if "error" in record:
        _string(record["error"], _at(where, "error"))


def _directory(value: Any, where: str) -> str:
    """One path component, as the sweep made it: never a path, "..", or a name no file
    system takes (NUL, a control character, longer than a name may be)."""
    name = value
    if (
        not isinstance(name, str)
        or name in ("", ".", "..")
        or "/" in name
        or "\\" in name
        or not name.isprintable()
        or len(name.encode()) > NAME_MAX
    ):
        _fail(where, value, "one directory name (no '/', '\\', '.' or '..')")
    return name


def _trial(value: Any, where: str) -> dict[str, Any]:
    trial = _object(value, where)
    _string(_field(trial, "trial", where), _at(where, "trial"))
    _directory(_field(trial, "dir", where), _at(where, "dir"))
    _string(_field(trial, "experiment", where), _at(where, "experiment"))
    _keys(_field(trial, "keys", where), _at(where, "keys"))
    _string(_field(trial, "status", where), _at(where, "status"))
    _results(trial, where, required=False)
    return trial


# --- the records ---------------------------------------------------------------------------
def _checked(path: Path | str, check, data: Any) -> Any:
    try:
        check(data)
    except _Bad as bad:
        field, problem = bad.args
        raise damaged(path, field, problem) from None
    return data


def _config(data: Any) -> None:
    record = _object(data, "")
    _string(_field(record, "experiment", ""), "experiment", empty=False)
    for key, value in record.items():
        if key == "versions":
            _keys(value, "versions")
        else:
            _value(value, _at("", key))


def _summary(data: Any) -> None:
    record = _object(data, "")
    _choice(_field(record, "status", ""), "status", STATUSES)
    _results(record, "", required=True)


def _sweep(data: Any) -> None:
    record = _object(data, "")
    _string(_field(record, "sweep", ""), "sweep", empty=False)
    if "experiments" in record:
        for i, name in enumerate(_list(record["experiments"], "experiments")):
            _string(name, f"experiments[{i}]")
    if "overrides" in record:
        for key, value in _object(record["overrides"], "overrides").items():
            _string(value, _at("overrides", key))
    for key in ("search", "workers", "threads_per_worker"):
        if key in record:
            _count(record[key], key)
    if "wall_time_s" in record:
        _number(record["wall_time_s"], "wall_time_s", low=0)
    for key in ("storage", "study"):
        if record.get(key) is not None:
            _string(record[key], key)
    for i, trial in enumerate(_list(_field(record, "trials", ""), "trials")):
        _trial(trial, f"trials[{i}]")


def check_config(data: Any, path: Path | str) -> dict[str, Any]:
    """`data` (read from config.json at `path`) if it holds what we write; else UsageError."""
    return _checked(path, _config, data)


def check_summary(data: Any, path: Path | str) -> dict[str, Any]:
    """`data` (read from summary.json at `path`) if it holds what we write; else UsageError."""
    return _checked(path, _summary, data)


def check_metrics_row(row: Any, path: Path | str, line: int) -> dict[str, Any]:
    """Row `line` of metrics.jsonl at `path` if it holds what we write; else UsageError."""

    def check(data: Any) -> None:
        where = f"line {line}:"
        record = _object(data, where)

        def at(key: str) -> str:
            return f"{where} {_text(key)}"

        def field(key: str) -> Any:
            if key not in record:
                raise _Bad(at(key), "is missing")
            return record[key]

        _count(field("step"), at("step"))
        _count(field("epoch"), at("epoch"))
        _choice(field("split"), at("split"), SPLITS)
        _number(field("loss"), at("loss"), null=True)
        _number(field("accuracy"), at("accuracy"), 0, 1)
        _number(field("time_s"), at("time_s"), low=0)

    return _checked(path, check, row)


def check_sweep(data: Any, path: Path | str) -> dict[str, Any]:
    """`data` (read from sweep.json at `path`) if it holds what we write; else UsageError.
    Every trial's `dir` is then one directory name: `path`'s folder / dir stays inside it."""
    return _checked(path, _sweep, data)


def read_sweep(path: Path | str) -> dict[str, Any]:
    """A sweep.json, checked: what the report (and anyone else) reads a sweep through.
    A trial's directory must be a directory of the sweep, not a link: a name read from a
    record is never followed out of the sweep (a link could lead to any run, or file)."""
    record = check_sweep(read_json(Path(path)), path)
    for i, trial in enumerate(record["trials"]):
        if (Path(path).parent / trial["dir"]).is_symlink():
            raise damaged(
                path,
                f"trials[{i}].dir",
                f"{trial['dir']!r} is a link, and a trial is read only from a directory of "
                "the sweep; put the run directory itself there",
            )
    return record


LR_FIND = "lr_find.json"  # `classicnets lr-find`'s record (train/lrfind.py, runner/lrfind.py)


def _lr_find(data: Any) -> None:
    record = _object(data, "")
    _string(_field(record, "experiment", ""), "experiment", empty=False)
    _keys(_field(record, "keys", ""), "keys")
    _choice(_field(record, "split", ""), "split", ("train",))  # never a held-out split
    _choice(_field(record, "stopped", ""), "stopped", ("end_lr", "diverged"))
    for key in ("suggested", "minimum", "minimum_over_10"):
        _number(_field(record, key, ""), key, low=0, null=True)
    _string(_field(record, "rule", ""), "rule")
    for i, row in enumerate(_list(_field(record, "rows", ""), "rows")):
        at = f"rows[{i}]"
        row = _object(row, at)
        _count(_field(row, "step", at), _at(at, "step"))
        _number(_field(row, "learning_rate", at), _at(at, "learning_rate"), low=0)
        for key in ("loss", "smoothed"):
            _number(_field(row, key, at), _at(at, key), null=True)


def read_lr_find(path: Path | str) -> dict[str, Any]:
    """An lr_find.json, checked: what the report reads a range test through."""
    return _checked(path, _lr_find, read_json(Path(path)))
