"""records/schema.py: what each record file must hold, checked on every read. A file that
does not is one UsageError naming the file, the field as a JSON path and the fix."""

from __future__ import annotations

import copy
import json
import pickle
import subprocess
import sys
import warnings
from pathlib import Path
from typing import Any

import pytest

from classicnets.errors import UsageError
from classicnets.records import (
    CHECKPOINT,
    CONFIG,
    METRICS,
    SUMMARY,
    RunDir,
    check_config,
    check_metrics_row,
    check_summary,
    check_sweep,
    read_json,
    read_sweep,
)

FIX = "the run record is damaged: run it again into a new --out"
EVALUATION = {"loss": 0.5, "accuracy": 0.75}
SUMMARY_OK = {
    "status": "completed",
    "final": {"train": EVALUATION, "val": EVALUATION, "test": {"loss": None, "accuracy": 0.5}},
    "best": {
        "val": {**EVALUATION, "step": 10, "epoch": 2},
        "test": {**EVALUATION, "step": 10, "epoch": 2},
    },
    "steps": 12,
    "epochs": 3,
    "wall_time_s": 1.5,
    "train_samples_per_s": 100.0,
}
CONFIG_OK = {
    "experiment": "mlp-toy",
    "learning_rate": 0.01,
    "dnn_hidden_units": [20],
    "impl": "numpy",
    "batch_size": 0,
    "versions": {"classicnets": "0.1.0", "git_commit": None},
}
ROW_OK = {"step": 0, "epoch": 0, "split": "val", "loss": None, "accuracy": 1, "time_s": 0.0}
TRIAL_OK = {
    "trial": "moons-numpy",
    "dir": "moons-numpy",
    "experiment": "mlp-toy",
    "keys": {"impl": "numpy", "dnn_hidden_units": [20]},
    "status": "completed",
    **SUMMARY_OK,
}
SWEEP_OK = {
    "sweep": "mlp-toy-compare",
    "experiments": ["mlp-toy"],
    "overrides": {"epochs": "2"},
    "search": 0,
    "storage": "sqlite:///x.db",
    "study": "mlp-toy-compare",
    "workers": 1,
    "threads_per_worker": 2,
    "wall_time_s": 3.1,
    "trials": [TRIAL_OK, {**copy.deepcopy(TRIAL_OK), "dir": "search-0001", "status": "running"}],
}


def changed(record: dict[str, Any], *where: str | int, value: Any = ...) -> dict[str, Any]:
    """A deep copy of `record` with the field at `where` set to `value` (... : removed)."""
    record = copy.deepcopy(record)
    inner = record
    for key in where[:-1]:
        inner = inner[key]
    if value is ...:
        del inner[where[-1]]
    else:
        inner[where[-1]] = value
    return record


def message(check, data: Any) -> str:
    with pytest.raises(UsageError) as error:
        check(data)
    text = str(error.value)
    assert len(text.splitlines()) == 1 and text.startswith("rec.json: ") and text.endswith(FIX)
    return text


def test_the_records_we_write_pass():
    assert check_summary(SUMMARY_OK, "rec.json") is SUMMARY_OK
    assert check_config(CONFIG_OK, "rec.json") is CONFIG_OK
    assert check_metrics_row(ROW_OK, "rec.json", 1) is ROW_OK
    assert check_sweep(SWEEP_OK, "rec.json") is SWEEP_OK
    failed = {**SUMMARY_OK, "status": "failed", "final": {}, "best": {}, "error": "boom"}
    assert check_summary({**failed, "train_samples_per_s": None}, "rec.json")
    bare = {"trial": "a", "dir": "a", "experiment": "mlp-toy", "keys": {}, "status": "failed"}
    assert check_sweep({"sweep": "s", "trials": [bare]}, "rec.json")


@pytest.mark.parametrize(
    "where, value, said",
    [
        (
            ("best", "val", "accuracy"),
            "0.9",
            "best.val.accuracy is '0.9' (a string), expected a number from 0 to 1",
        ),
        (("best", "val", "accuracy"), float("nan"), "best.val.accuracy is nan"),
        (("best", "val", "accuracy"), True, "best.val.accuracy is true (a boolean)"),
        (
            ("best", "val", "step"),
            True,
            "best.val.step is true (a boolean), expected an integer >= 0",
        ),
        (("best", "val", "epoch"), 1.0, "best.val.epoch is 1.0"),
        (("best", "val", "epoch"), ..., "best.val.epoch is missing"),
        (("best", "test"), ..., "best.test is missing"),
        (("final",), None, "final is null, expected a JSON object"),
        (
            ("final", "test", "loss"),
            float("inf"),
            "final.test.loss is inf, expected a finite number or null",
        ),
        (("final", "test", "loss"), "0.1", "final.test.loss is '0.1' (a string)"),
        (("status",), "done", "status is 'done' (a string), expected one of completed, diverged"),
        (("status",), ["completed"], "status is a list"),
        (("steps",), -1, "steps is -1, expected an integer >= 0"),
        (("epochs",), False, "epochs is false (a boolean)"),
        (("wall_time_s",), -0.5, "wall_time_s is -0.5, expected a finite number >= 0"),
        (("train_samples_per_s",), "fast", "train_samples_per_s is 'fast'"),
        (("error",), 3, "error is 3, expected a string"),
    ],
)
def test_a_summary_field_of_another_kind_is_named(where, value, said):
    assert said in message(
        lambda d: check_summary(d, "rec.json"), changed(SUMMARY_OK, *where, value=value)
    )


def test_a_summary_that_is_not_an_object_or_names_another_split_is_named():
    assert "the record is a list, expected a JSON object" in message(
        lambda d: check_summary(d, "rec.json"), []
    )
    other = changed(SUMMARY_OK, "final", "dev", value=EVALUATION)
    assert "final holds 'dev'" in message(lambda d: check_summary(d, "rec.json"), other)


@pytest.mark.parametrize(
    "where, value, said",
    [
        (("experiment",), "", "experiment is '' (a string), expected a non-empty string"),
        (("experiment",), ..., "experiment is missing"),
        (("experiment",), ["mlp-toy"], "experiment is a list"),
        (("versions",), "0.1", "versions is '0.1' (a string), expected a JSON object"),
        (("versions", "torch"), {"v": 1}, "versions.torch is an object"),
        (("learning_rate",), {"a": 1}, "learning_rate is an object"),
        (("learning_rate",), float("nan"), "learning_rate is nan, expected a finite number"),
        (("dnn_hidden_units", 0), [1], "dnn_hidden_units[0] is a list"),
    ],
)
def test_a_config_field_of_another_kind_is_named(where, value, said):
    assert said in message(
        lambda d: check_config(d, "rec.json"), changed(CONFIG_OK, *where, value=value)
    )


@pytest.mark.parametrize(
    "key, value, said",
    [
        ("step", True, "line 7: step is true (a boolean), expected an integer >= 0"),
        ("epoch", -2, "line 7: epoch is -2"),
        ("split", "dev", "line 7: split is 'dev' (a string), expected one of train, val, test"),
        ("loss", "x", "line 7: loss is 'x' (a string), expected a finite number or null"),
        ("loss", float("nan"), "line 7: loss is nan"),
        ("accuracy", None, "line 7: accuracy is null, expected a number from 0 to 1"),
        ("accuracy", -0.1, "line 7: accuracy is -0.1"),
        ("time_s", ..., "line 7: time_s is missing"),
    ],
)
def test_a_metrics_row_field_of_another_kind_is_named_with_its_line(key, value, said):
    row = changed(ROW_OK, key, value=value)
    assert said in message(lambda d: check_metrics_row(d, "rec.json", 7), row)


@pytest.mark.parametrize(
    "where, value, said",
    [
        (("trials",), "x", "trials is 'x' (a string), expected a list"),
        (("trials",), ..., "trials is missing"),
        (("trials", 1), "t", "trials[1] is 't' (a string), expected a JSON object"),
        (("trials", 1, "keys"), ..., "trials[1].keys is missing"),
        (("trials", 1, "keys"), [], "trials[1].keys is a list"),
        (("trials", 1, "keys", "impl"), {"x": 1}, "trials[1].keys.impl is an object"),
        (("trials", 0, "trial"), 3, "trials[0].trial is 3"),
        (("trials", 0, "experiment"), None, "trials[0].experiment is null"),
        (("trials", 0, "status"), 1, "trials[0].status is 1"),
        (("trials", 0, "final"), None, "trials[0].final is null"),
        (
            ("trials", 0, "best", "test", "accuracy"),
            "high",
            "trials[0].best.test.accuracy is 'high'",
        ),
        (("trials", 0, "epochs"), True, "trials[0].epochs is true (a boolean)"),
        (("sweep",), 1, "sweep is 1, expected a non-empty string"),
        (("experiments", 0), 1, "experiments[0] is 1"),
        (("overrides",), [], "overrides is a list"),
        (("overrides", "epochs"), 2, "overrides.epochs is 2, expected a string"),
        (("search",), True, "search is true (a boolean)"),
        (("workers",), 1.5, "workers is 1.5"),
        (("threads_per_worker",), -1, "threads_per_worker is -1"),
        (("wall_time_s",), "3", "wall_time_s is '3' (a string)"),
        (("storage",), 5, "storage is 5"),
    ],
)
def test_a_sweep_field_of_another_kind_is_named(where, value, said):
    assert said in message(
        lambda d: check_sweep(d, "rec.json"), changed(SWEEP_OK, *where, value=value)
    )


@pytest.mark.parametrize(
    "name",
    [
        "",
        ".",
        "..",
        "../run",
        "/etc",
        "a/b",
        "a\\b",
        "a\x00b",
        "a\nb",
        "a\x1bb",
        "\u202egnp",
        "x" * 256,
        5,
        None,
        ["a"],
    ],
)
def test_a_trial_dir_is_one_directory_name_or_refused(name):
    text = message(
        lambda d: check_sweep(d, "rec.json"), changed(SWEEP_OK, "trials", 1, "dir", value=name)
    )
    assert "trials[1].dir is " in text and "one directory name" in text


@pytest.mark.parametrize("name", ["moons-numpy", "search-0001", "adam-lr0.001-seed3", "x" * 255])
def test_the_trial_dirs_sweeps_make_pass(name):
    assert check_sweep(changed(SWEEP_OK, "trials", 0, "dir", value=name), "rec.json")


def test_a_long_or_unprintable_value_is_quoted_short_on_one_line():
    text = message(
        lambda d: check_summary(d, "rec.json"),
        changed(SUMMARY_OK, "status", value="a\nb" + "x" * 10_000),
    )
    assert len(text) < 300 and "\\n" in text


# --- reads: RunDir and read_sweep use the schemas -----------------------------------------------
def write(path: Path, data: Any) -> Path:
    path.write_text(json.dumps(data))
    return path


def test_run_dir_reads_check_each_file(tmp_path: Path):
    run = RunDir(tmp_path)
    write(run.file(CONFIG), CONFIG_OK)
    write(run.file(SUMMARY), SUMMARY_OK)
    run.file(METRICS).write_text(json.dumps(ROW_OK) + "\n" + json.dumps(ROW_OK) + "\n")
    assert run.config() == CONFIG_OK and run.summary() == SUMMARY_OK and len(run.metrics()) == 2
    write(run.file(CONFIG), changed(CONFIG_OK, "experiment", value=None))
    with pytest.raises(UsageError, match=rf"{CONFIG}: experiment is null"):
        run.config()
    write(run.file(SUMMARY), changed(SUMMARY_OK, "best", "val", "accuracy", value="0.9"))
    with pytest.raises(UsageError, match=rf"{SUMMARY}: best.val.accuracy is '0.9'"):
        run.summary()
    rows = [ROW_OK, {**ROW_OK, "loss": "x"}]
    run.file(METRICS).write_text("".join(json.dumps(r) + "\n" for r in rows))
    with pytest.raises(UsageError, match=rf"{METRICS}: line 2: loss is 'x'"):
        run.metrics()


def test_metrics_keep_dropping_a_row_cut_short_and_refusing_a_line_not_json(tmp_path: Path):
    run = RunDir(tmp_path)
    bad = json.dumps({**ROW_OK, "split": 1})
    run.file(METRICS).write_text(json.dumps(ROW_OK) + "\n" + bad[:20])  # a kill mid-row
    assert run.metrics() == [ROW_OK]
    run.file(METRICS).write_text(json.dumps(ROW_OK) + "\nnot json\n")
    with pytest.raises(UsageError, match="line 2 is not a JSON object"):
        run.metrics()


def test_read_sweep_checks_the_sweep(tmp_path: Path):
    assert read_sweep(write(tmp_path / "sweep.json", SWEEP_OK)) == SWEEP_OK
    write(tmp_path / "sweep.json", changed(SWEEP_OK, "trials", 1, "dir", value=".."))
    with pytest.raises(UsageError, match=r"sweep.json: trials\[1\].dir is '\.\.'"):
        read_sweep(tmp_path / "sweep.json")


@pytest.mark.parametrize(
    "make, said",
    [
        (lambda p: p.symlink_to(p.parent / "gone.json"), "cannot be read"),
        (lambda p: p.mkdir(), "not a regular file"),
        (lambda p: p.write_text("[" * 100_000), "not valid JSON"),
        (lambda p: p.write_bytes(b'{"experiment": "\xff"}'), "not valid JSON"),
    ],
    ids=["a dangling link", "a directory", "nested past the parser", "not UTF-8"],
)
def test_a_record_that_is_not_a_readable_json_file_is_one_line(tmp_path: Path, make, said):
    make(tmp_path / CONFIG)
    with pytest.raises(UsageError) as error:
        RunDir(tmp_path).config()
    assert said in str(error.value) and len(str(error.value).splitlines()) == 1


def test_read_json_still_reads_what_we_write(tmp_path: Path):
    assert read_json(write(tmp_path / "x.json", {"a": [1, None]})) == {"a": [1, None]}


def test_a_foreign_checkpoint_is_our_one_line_and_no_warning(tmp_path: Path):
    # torch warns about a pickle protocol it did not write before refusing the file
    (tmp_path / CHECKPOINT).write_bytes(pickle.dumps({"learner": 1}, protocol=5))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with pytest.raises(UsageError, match="not a readable checkpoint"):
            RunDir(tmp_path).load_checkpoint()
    assert [str(w.message) for w in caught] == []


def test_the_schemas_need_no_torch():
    code = "import sys, classicnets.records.schema; assert 'torch' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)
