"""`classicnets report` over hostile records: files anyone could have edited, on storage that
could be shared. Any mix of runs and sweeps is reported; a damaged record is one line naming
the file and the field (exit 2) and no report; no link or path read from a record takes the
report out of its directories, so no other file of the machine reaches the page."""

from __future__ import annotations

import base64
import contextlib
import io
import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from classicnets import cli as cli_module

TOY = ["--epochs", "2", "--n_samples", "40", "--batch_size", "0", "--quiet"]
SECRET = "the-secret-of-this-machine-7f3a"  # a file outside the tree that must not leak


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A plain mlp-toy run and a small mlp-toy-compare sweep, made once."""
    root = tmp_path_factory.mktemp("pristine")
    assert cli_module.main(["train", "mlp-toy", *TOY, "--out", str(root / "runs" / "run")]) == 0
    sweep = ["sweep", "mlp-toy-compare", *TOY, "--out", str(root / "runs" / "sweep")]
    assert cli_module.main(sweep) == 0
    return root / "runs"


@pytest.fixture
def runs(pristine: Path, tmp_path: Path) -> Path:
    """A copy of the pristine records to tamper with."""
    return Path(shutil.copytree(pristine, tmp_path / "runs", symlinks=True))


def report(cli, runs: Path) -> tuple[int, str, str]:
    return cli("report", str(runs), "--out", str(cli.cwd / "report.html"))


def edit(path: Path, change: Callable[[Any], Any]) -> None:
    data = json.loads(path.read_text())
    path.write_text(json.dumps(change(data)))


def one_line_refusal(cli, err: str, *names: str) -> None:
    """Exit 2's one line: the file, the field, the fix; no traceback, no report."""
    assert err.count("\n") == 1 and err.startswith("classicnets: error: "), err
    assert "Traceback" not in err
    for name in names:
        assert name in err, err
    assert not (cli.cwd / "report.html").exists()


# --- any mix of runs and sweeps --------------------------------------------------------------
def test_a_plain_run_without_a_validation_split_is_reported(cli):
    # --val_size 0: nothing is chosen, and the row says so instead of a test-chosen number
    assert cli("train", "mlp-toy", *TOY, "--val_size", "0", "--out", "runs/run")[0] == 0
    code, _, err = cli("report", "runs", "--out", "report.html")
    assert code == 0, err
    page = (cli.cwd / "report.html").read_text()
    row = page[page.index('id="single-runs"') :]
    assert "mlp-toy" in row and "completed" in row
    assert "<td>nothing (no validation split)</td>" in row and "<td>test</td>" not in row
    assert "0.5000" not in row  # no accuracy "there": there is no there


def test_a_plain_run_with_a_validation_split_is_reported_by_it(cli):
    assert cli("train", "mlp-toy", *TOY, "--out", "runs/run")[0] == 0
    code, _, err = cli("report", "runs", "--out", "report.html")
    assert code == 0, err
    row = (cli.cwd / "report.html").read_text().split('id="single-runs"')[1]
    assert "<td>val</td>" in row and "0.5000" in row  # its validation accuracy, chosen


def test_runs_and_sweeps_together_are_reported(cli, runs):
    code, _, err = report(cli, runs)
    assert code == 0, err
    page = (cli.cwd / "report.html").read_text()
    assert page.count("data:image/png;base64,") == 3  # the sweep's three figures
    assert 'id="single-runs"' in page and str(runs / "run") in page
    assert "NumPy and PyTorch reach" in page


EVERY_EXPERIMENT = {  # a run of each, as short as it goes (digits: on every machine)
    "mlp-toy": ["--impl", "torch", "--epochs", "1", "--n_samples", "40", "--batch_size", "0"],
    "mlp-images": ["--dataset", "digits", "--epochs", "1", "--dnn_hidden_units", "16"],
    "cnn": ["--dataset", "digits", "--width", "0.0625", "--train_samples", "200", "--epochs", "1"],
    "resnet": ["--dataset", "digits", "--depth", "8", "--width", "0.25", "--epochs", "1"],
    "rnn-palindrome": ["--input_length", "5", "--num_hidden", "8", "--train_steps", "20"],
    "rnn-images": [
        "--dataset",
        "digits",
        "--num_hidden",
        "8",
        "--train_samples",
        "200",
        "--epochs",
        "1",
    ],
}


def test_a_run_of_every_experiment_beside_a_sweep_is_reported(cli, runs):
    from classicnets.experiments import EXPERIMENTS

    assert set(EVERY_EXPERIMENT) == set(EXPERIMENTS)  # a new study: add its short run here
    for name, keys in EVERY_EXPERIMENT.items():
        code, _, err = cli("train", name, *keys, "--quiet", "--out", str(runs / "single" / name))
        assert code == 0, err
    code, _, err = report(cli, runs)
    assert code == 0, err
    page = (cli.cwd / "report.html").read_text()
    table = page[page.index('id="single-runs"') :]
    for name in EVERY_EXPERIMENT:
        assert f"<td>{name}</td>" in table and str(runs / "single" / name) in table


# --- tampered records: one line naming the file and the field -------------------------------
def _trial(i: int, **changes: Any) -> Callable[[Any], Any]:
    def change(record: dict) -> dict:
        record["trials"][i].update(changes)
        return record

    return change


def _drop(i: int, key: str) -> Callable[[Any], Any]:
    def change(record: dict) -> dict:
        del record["trials"][i][key]
        return record

    return change


def _set(*where: str | int, value: Any) -> Callable[[Any], Any]:
    def change(record: Any) -> Any:
        inner = record
        for key in where[:-1]:
            inner = inner[key]
        inner[where[-1]] = value
        return record

    return change


TAMPERED = {  # id: (file under runs/, change, the field the line names)
    "summary accuracy a string": (
        "run/summary.json",
        _set("best", "test", "accuracy", value="0.5"),
        "best.test.accuracy",
    ),
    "summary final null": ("run/summary.json", _set("final", value=None), "final is null"),
    "summary final a list": ("run/summary.json", _set("final", value=[]), "final is a list"),
    "summary status unknown": ("run/summary.json", _set("status", value="done"), "status"),
    "summary steps a bool": ("run/summary.json", _set("steps", value=True), "steps is true"),
    "summary accuracy above 1": (
        "run/summary.json",
        _set("final", "test", "accuracy", value=1.5),
        "final.test.accuracy",
    ),
    "summary a split of its own": (
        "run/summary.json",
        _set("final", "dev", value={"loss": 0.1, "accuracy": 0.5}),
        "final holds 'dev'",
    ),
    "summary wall time infinite": (
        "run/summary.json",
        _set("wall_time_s", value=float("inf")),
        "wall_time_s",
    ),
    "summary not an object": ("run/summary.json", lambda _: [1, 2], "the record is a list"),
    "config experiment a number": ("run/config.json", _set("experiment", value=3), "experiment"),
    "config versions a string": ("run/config.json", _set("versions", value="x"), "versions"),
    "config value an object": (
        "run/config.json",
        _set("learning_rate", value={"a": 1}),
        "learning_rate is an object",
    ),
    "sweep trials a string": ("sweep/sweep.json", _set("trials", value="x"), "trials is 'x'"),
    "sweep trial without keys": ("sweep/sweep.json", _drop(0, "keys"), "trials[0].keys is missing"),
    "sweep trial dir a path out": (
        "sweep/sweep.json",
        _trial(1, dir="../run"),
        "trials[1].dir",
    ),
    "sweep trial dir absolute": ("sweep/sweep.json", _trial(2, dir="/etc"), "trials[2].dir"),
    "sweep trial dir dot": ("sweep/sweep.json", _trial(0, dir="."), "trials[0].dir"),
    "sweep trial dir with NUL": ("sweep/sweep.json", _trial(0, dir="a\x00b"), "trials[0].dir"),
    "sweep trial dir too long": ("sweep/sweep.json", _trial(0, dir="x" * 300), "trials[0].dir"),
    "sweep trial dir a number": ("sweep/sweep.json", _trial(3, dir=7), "trials[3].dir"),
    "sweep trial final null": ("sweep/sweep.json", _trial(0, final=None), "trials[0].final"),
    "sweep trial accuracy a string": (
        "sweep/sweep.json",
        _set("trials", 0, "best", "test", "accuracy", value="high"),
        "trials[0].best.test.accuracy",
    ),
    "sweep trial key of the wrong type": (
        "sweep/sweep.json",
        _set("trials", 0, "keys", "learning_rate", value="fast"),
        "trials[0].keys.learning_rate",
    ),
    "sweep trial key failing its check": (
        "sweep/sweep.json",
        _set("trials", 0, "keys", "n_samples", value=-5),
        "trials[0].keys.n_samples",
    ),
    "sweep trial key not a choice": (
        "sweep/sweep.json",
        _set("trials", 0, "keys", "impl", value="jax"),
        "trials[0].keys.impl",
    ),
    "sweep trial of no experiment": (
        "sweep/sweep.json",
        _trial(0, experiment="mlp-quantum"),
        "trials[0].experiment",
    ),
    "sweep overrides not text": (
        "sweep/sweep.json",
        _set("overrides", "epochs", value=2),
        "overrides.epochs",
    ),
    "sweep workers a float": ("sweep/sweep.json", _set("workers", value=1.5), "workers"),
    "sweep name missing": (
        "sweep/sweep.json",
        lambda r: {"trials": r["trials"]},
        "sweep is missing",
    ),
}


@pytest.mark.parametrize("case", list(TAMPERED), ids=list(TAMPERED))
def test_a_tampered_record_is_one_line_naming_file_and_field(cli, runs, case):
    name, change, field = TAMPERED[case]
    edit(runs / name, change)
    code, _, err = report(cli, runs)
    assert code == 2, err
    one_line_refusal(cli, err, str(runs / name), field, "run it again into a new --out")


METRICS_TAMPERED = {  # id: (change to row 2 of a trial's metrics.jsonl, the field named)
    "loss a string": (lambda row: {**row, "loss": "x"}, "line 2: loss"),
    "split unknown": (lambda row: {**row, "split": "dev"}, "line 2: split"),
    "step negative": (lambda row: {**row, "step": -1}, "line 2: step"),
    "epoch a bool": (lambda row: {**row, "epoch": False}, "line 2: epoch"),
    "accuracy missing": (
        lambda row: {k: v for k, v in row.items() if k != "accuracy"},
        "line 2: accuracy is missing",
    ),
    "time NaN": (lambda row: {**row, "time_s": float("nan")}, "line 2: time_s"),
}


@pytest.mark.parametrize("case", list(METRICS_TAMPERED), ids=list(METRICS_TAMPERED))
def test_a_tampered_metrics_row_is_one_line_naming_line_and_field(cli, runs, case):
    change, field = METRICS_TAMPERED[case]
    path = runs / "sweep" / "moons-numpy" / "metrics.jsonl"
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    rows[1] = change(rows[1])
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    code, _, err = report(cli, runs)
    assert code == 2, err
    one_line_refusal(cli, err, str(path), field, "run it again into a new --out")


def test_a_metrics_row_cut_short_by_a_kill_is_dropped_and_reported(cli, runs):
    path = runs / "sweep" / "moons-numpy" / "metrics.jsonl"
    with path.open("a") as f:
        f.write('{"step": 9, "epoch": 2, "split": "tr')  # no newline: a kill mid-write
    code, _, err = report(cli, runs)
    assert code == 0, err


RECORD_FILES = {  # id: what stands where a record should be, and the line's words
    "sweep.json nested past the parser": (
        lambda p: p.write_text("[" * 100_000 + "]" * 100_000),
        "not valid JSON",
    ),
    "sweep.json a directory": (lambda p: (p.unlink(), p.mkdir()), "not a regular file"),
    "sweep.json a FIFO": (lambda p: (p.unlink(), os.mkfifo(p)), "not a regular file"),
}


@pytest.mark.parametrize("case", list(RECORD_FILES), ids=list(RECORD_FILES))
def test_a_record_that_is_no_file_of_ours_is_one_line(cli, runs, case):
    make, words = RECORD_FILES[case]
    path = runs / "sweep" / "sweep.json"
    make(path)
    code, _, err = report(cli, runs)
    assert code == 2, err
    one_line_refusal(cli, err, str(path), words)


# --- figures: only regular files inside the sweep, through no link ---------------------------
@pytest.fixture
def secret(tmp_path: Path) -> Path:
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (outside / "curves.png").write_text(SECRET)  # what a link or a folder leads to
    (outside / "table.csv").write_text(f"trial,{SECRET}\n")
    return outside


def assert_no_secret(page: str) -> None:
    encoded = base64.b64encode(SECRET.encode()).decode()
    assert SECRET not in page and encoded[:20] not in page


def test_a_figure_that_is_a_link_is_never_read(cli, runs, secret):
    figure = runs / "sweep" / "figures" / "curves.png"
    figure.unlink()
    figure.symlink_to(secret / "curves.png")
    table = runs / "sweep" / "figures" / "table.csv"
    table.unlink()
    table.symlink_to(secret / "table.csv")
    code, _, err = report(cli, runs)
    assert code == 0, err
    page = (cli.cwd / "report.html").read_text()
    assert_no_secret(page)
    assert "figure not shown: it is a link" in page and "table.csv not shown: it is a link" in page
    assert page.count("data:image/png;base64,") == 2  # the other two figures


def test_a_figure_folder_leading_out_of_the_sweep_is_never_read(cli, runs, secret):
    figures = runs / "sweep" / "figures"
    shutil.rmtree(figures)
    figures.symlink_to(secret)
    code, _, err = report(cli, runs)
    assert code == 0, err
    page = (cli.cwd / "report.html").read_text()
    assert_no_secret(page)
    assert "figure not shown: it lies outside the sweep directory" in page


@pytest.mark.parametrize(
    "make, why",
    [
        (os.mkfifo, "it is not a regular file"),
        (lambda p: p.write_text("not a picture"), "it is not a PNG image"),
    ],
    ids=["a FIFO", "not a PNG"],
)
def test_a_figure_that_is_no_picture_is_not_embedded(cli, runs, make, why):
    figure = runs / "sweep" / "figures" / "curves.png"
    figure.unlink()
    make(figure)
    code, _, err = report(cli, runs)
    assert code == 0, err
    page = (cli.cwd / "report.html").read_text()
    assert f"figure not shown: {why}" in page and "not a picture" not in page


# --- a property: any field of another type is exit 0 or 2, never a traceback -----------------
def _paths(value: Any, at: tuple = ()) -> list[tuple]:
    """Every place in a JSON value: the value itself and everything inside it."""
    found = [at]
    if isinstance(value, dict):
        for key, inner in value.items():
            found += _paths(inner, (*at, key))
    elif isinstance(value, list):
        for i, inner in enumerate(value):
            found += _paths(inner, (*at, i))
    return found


def _get(value: Any, at: tuple) -> Any:
    for key in at:
        value = value[key]
    return value


def _replaced(value: Any, at: tuple, new: Any) -> Any:
    if not at:
        return new
    inner = _get(value, at[:-1])
    inner[at[-1]] = new
    return value


OTHER = st.one_of(  # a JSON value of any type (NaN and infinity included: json writes them)
    st.none(),
    st.booleans(),
    st.integers(-(2**40), 2**40),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12),
    st.lists(st.one_of(st.integers(), st.text(max_size=4), st.none()), max_size=3),
    st.dictionaries(st.text(max_size=4), st.one_of(st.integers(), st.text(max_size=4)), max_size=3),
)
TARGETS = ("run/summary.json", "run/config.json", "sweep/sweep.json", "metrics row")
METRICS = "sweep/moons-torch/metrics.jsonl"


@pytest.fixture(scope="module")
def workspace(pristine: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One copy for the property: each example changes one file and puts it back."""
    return Path(shutil.copytree(pristine, tmp_path_factory.mktemp("property") / "runs"))


@settings(
    max_examples=150,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_any_field_of_another_type_is_exit_0_or_2(workspace: Path, data: st.DataObject):
    target = data.draw(st.sampled_from(TARGETS), label="file")
    path = workspace / (METRICS if target == "metrics row" else target)
    original = path.read_text()
    if target == "metrics row":
        lines = original.splitlines()
        line = data.draw(st.integers(0, len(lines) - 1), label="line")
        record = json.loads(lines[line])
    else:
        record = json.loads(original)
    at = data.draw(st.sampled_from(_paths(record)), label="field")
    old = _get(record, at)
    new = data.draw(OTHER.filter(lambda v: type(v) is not type(old)), label="value")
    tampered = json.dumps(_replaced(record, at, new))
    if target == "metrics row":
        lines[line] = tampered
        tampered = "\n".join(lines) + "\n"
    out = workspace.parent / "report.html"
    err = io.StringIO()
    try:
        path.write_text(tampered)
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err):
            code = cli_module.main(["report", str(workspace), "--out", str(out)])
    finally:
        path.write_text(original)
        out.unlink(missing_ok=True)
    text = err.getvalue()
    assert code in (0, 2) and "Traceback" not in text, f"exit {code}:\n{text}"
    if code == 2:
        assert text.count("\n") == 1 and text.startswith("classicnets: error: "), text
        assert str(path) in text, text


def test_a_trial_directory_that_is_a_link_is_never_read(cli, runs, secret):
    """sweep.json names the trial; its directory is a link to a run elsewhere: the report
    refuses it in one line rather than read records from wherever the link leads."""
    trial = runs / "sweep" / "moons-numpy"
    shutil.copytree(trial, secret / "moons-numpy")
    shutil.rmtree(trial)
    trial.symlink_to(secret / "moons-numpy")
    code, _, err = report(cli, runs)
    assert code == 2
    one_line_refusal(cli, err, "sweep.json", "trials[0].dir", "'moons-numpy' is a link")
