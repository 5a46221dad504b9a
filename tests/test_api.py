"""The Python API (classicnets.train, sweep, load, report): the same checks and messages as
the command line, runs read back from their records, and matplotlib left as the caller set it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

import classicnets
from classicnets.experiments import EXPERIMENTS
from tests.conftest import files_under, read_json, read_jsonl

SRC = Path(__file__).resolve().parents[1] / "src"
TOY = {"epochs": 4, "eval_freq": 2, "n_samples": 40, "batch_size": 0}
TOY_FLAGS = ["--epochs", "4", "--eval_freq", "2", "--n_samples", "40", "--batch_size", "0"]


def _python(code: str, cwd: Path, **env: str) -> str:
    environment = {**os.environ, "PYTHONPATH": str(SRC), "OMP_NUM_THREADS": "1", **env}
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=cwd, env=environment, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_importing_classicnets_imports_neither_torch_nor_matplotlib(tmp_path):
    out = _python(
        "import sys, classicnets; "
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'torch', 'matplotlib'}))",
        tmp_path,
    )
    assert out == "[]\n"


def test_train_and_report_are_calls_and_still_the_packages_of_those_names():
    assert callable(classicnets.train) and callable(classicnets.report)
    from classicnets.report.build import build_report
    from classicnets.train.loop import train as loop_train

    assert classicnets.train.loop.train is loop_train
    assert classicnets.report.build.build_report is build_report


def test_a_run_trained_through_the_api_reads_back_as_it_was_recorded(tmp_path):
    run = classicnets.train("mlp-toy", **TOY, dnn_hidden_units=[8, 4], out=tmp_path / "r")
    again = classicnets.load(tmp_path / "r")
    for r in (run, again):
        assert r.dir == tmp_path / "r" and r.experiment == "mlp-toy"
        assert r.config.dnn_hidden_units == (8, 4) and r.config.epochs == 4
        assert r.summary == read_json(tmp_path / "r" / "summary.json")
        assert r.history == read_jsonl(tmp_path / "r" / "metrics.jsonl")
    # the restored model predicts as the run recorded: its test accuracy is that of the
    # last evaluation (checkpoint.pt) or of the chosen one (best.pt)
    data = EXPERIMENTS["mlp-toy"].build(again.config, torch.device("cpu")).data
    predicted = again.model.forward(data.X_test.astype(again.model.dtype)).argmax(axis=1)
    accuracy = float(np.mean(predicted == data.y_test))
    summary = again.summary
    recorded = {summary["final"]["test"]["accuracy"], summary["best"]["test"]["accuracy"]}
    assert accuracy in recorded


def test_the_same_run_from_the_cli_and_the_api_has_the_same_record(cli):
    assert cli("train", "mlp-toy", *TOY_FLAGS, "--quiet", "--out", "flags")[0] == 0
    classicnets.train("mlp-toy", **TOY, progress=False, out=cli.cwd / "keys")

    def losses(name: str) -> list:
        return [
            (r["step"], r["split"], r["loss"]) for r in read_jsonl(cli.cwd / name / "metrics.jsonl")
        ]

    assert losses("flags") == losses("keys")


@pytest.mark.parametrize(
    ("keys", "flags"),
    [
        ({"learning_rate": -1}, ["--learning_rate", "-1"]),
        ({"epochs": 2.5}, ["--epochs", "2.5"]),
        ({"dnn_hidden_units": (64, 0)}, ["--dnn_hidden_units", "64,0"]),
        ({"dnn_hidden_units": [64, "x"]}, ["--dnn_hidden_units", "64,x"]),
        ({"dataset": "nope"}, ["--dataset", "nope"]),
        ({"noise": float("nan")}, ["--noise", "nan"]),
        ({"impl": True}, ["--impl", "true"]),
    ],
)
def test_a_bad_key_is_the_clis_one_line_message(cli, keys, flags):
    code, printed, err = cli("train", "mlp-toy", *flags, "--out", "run")
    assert code == 2 and printed == ""
    with pytest.raises(classicnets.UsageError) as refused:
        classicnets.train("mlp-toy", **keys, out=cli.cwd / "run")
    assert f"classicnets: error: {refused.value}\n" == err
    assert files_under(cli.cwd) == []  # neither wrote anything


def test_a_bad_sweep_key_is_the_clis_message(cli):
    code, _, err = cli("sweep", "mlp-toy-compare", "--learning_rate", "0", "--out", "s")
    assert code == 2
    with pytest.raises(classicnets.UsageError) as refused:
        classicnets.sweep("mlp-toy-compare", learning_rate=0, out=cli.cwd / "s")
    assert f"classicnets: error: {refused.value}\n" == err
    assert files_under(cli.cwd) == []


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: classicnets.train("nope"), "unknown experiment 'nope'"),
        (lambda: classicnets.sweep("nope"), "unknown sweep 'nope'"),
        (lambda: classicnets.train("mlp-toy", hidden=(64, 32)), "unknown key --hidden"),
        (lambda: classicnets.train("mlp-toy", epochs=None), "epochs=None: give a value"),
        (lambda: classicnets.load("missing"), "'missing' holds no config.json"),
        (lambda: classicnets.Sweep("missing"), "'missing' holds no sweep.json"),
        (lambda: classicnets.report(["missing"], "r.html"), "'missing' is not a directory"),
        (lambda: classicnets.report([], "r.txt"), "--out 'r.txt': expected a file name ending"),
    ],
)
def test_bad_calls_are_one_line_usage_errors(tmp_path, monkeypatch, call, message):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(classicnets.UsageError) as refused:
        call()
    assert str(refused.value).startswith(message) and "\n" not in str(refused.value)
    assert files_under(tmp_path) == []


def test_a_tampered_config_is_refused_on_load(tmp_path):
    classicnets.train("mlp-toy", **TOY, progress=False, out=tmp_path / "r")
    saved = read_json(tmp_path / "r" / "config.json")
    (tmp_path / "r" / "config.json").write_text(json.dumps({**saved, "epochs": "four"}))
    with pytest.raises(classicnets.UsageError, match=r"config.json: epochs 'four'"):
        classicnets.load(tmp_path / "r")


@pytest.mark.slow  # six trials and their figures: ~25 s on a shared 2-core machine
def test_a_sweep_reads_back_its_trials_and_table(tmp_path):
    sweep = classicnets.sweep("mlp-toy-compare", **TOY, progress=False, out=tmp_path / "s")
    record = read_json(tmp_path / "s" / "sweep.json")
    names = [t["trial"] for t in record["trials"]]
    assert list(sweep.trials) == names and [r["trial"] for r in sweep.rows] == names
    for name, run in sweep.trials.items():
        assert run.dir == tmp_path / "s" / name
        assert (
            run.summary["status"]
            == next(t for t in record["trials"] if t["trial"] == name)["status"]
        )
    page = classicnets.report([sweep], tmp_path / "report.html")
    assert page == tmp_path / "report.html" and "mlp-toy-compare" in page.read_text()


def test_history_to_pandas_without_pandas_says_how_to_get_it(tmp_path, monkeypatch):
    run = classicnets.train("mlp-toy", **TOY, progress=False, out=tmp_path / "r")
    monkeypatch.setitem(sys.modules, "pandas", None)  # import pandas fails, as when missing
    with pytest.raises(ImportError, match=r"needs pandas, which is not installed: pip install"):
        run.history.to_pandas()


def test_history_to_pandas(tmp_path):
    pandas = pytest.importorskip("pandas")
    run = classicnets.train("mlp-toy", **TOY, progress=False, out=tmp_path / "r")
    frame = run.history.to_pandas()
    assert isinstance(frame, pandas.DataFrame) and len(frame) == len(run.history)


def test_progress_off_a_terminal_is_a_line_per_evaluation(tmp_path, capsys):
    run = classicnets.train("mlp-toy", **TOY, out=tmp_path / "r")
    lines = capsys.readouterr().err.splitlines()
    evaluations = sorted({r["step"] for r in run.history})
    assert len(lines) == len(evaluations) == 3  # epochs 0, 2 and 4
    for line, row in zip(lines, [r for r in run.history if r["split"] == "val"]):
        assert line == (  # the split that chooses: validation
            f"r: epoch {row['epoch']}/4, step {row['step']}: val accuracy "
            f"{row['accuracy']:.4f}, loss {row['loss']:.4g}"
        )


def test_the_backend_is_unchanged_by_import_train_and_plot(tmp_path):
    """A script's (or notebook's) backend stays its own: nothing here calls matplotlib.use
    or imports pyplot, and the figure still saves (its own Agg canvas)."""
    code = (
        "import sys, matplotlib, classicnets\n"
        "seen = [matplotlib.rcParams['backend']]\n"
        "run = classicnets.train('mlp-toy', epochs=2, eval_freq=1, n_samples=40, out='r')\n"
        "seen.append(matplotlib.rcParams['backend'])\n"
        "figure = run.plot()\n"
        "figure.savefig('curves.png')\n"
        "seen.append(matplotlib.rcParams['backend'])\n"
        "print(seen, 'matplotlib.pyplot' in sys.modules, type(figure).__mro__[1].__name__)\n"
    )
    out = _python(code, tmp_path, MPLBACKEND="svg")
    assert out == "['svg', 'svg', 'svg'] False Figure\n"
    assert (tmp_path / "curves.png").read_bytes().startswith(b"\x89PNG")
    assert (tmp_path / "r" / "figures").is_dir()  # the run's own figures were drawn too


def test_a_figure_shows_itself_as_a_png(tmp_path):
    run = classicnets.train("mlp-toy", **TOY, progress=False, out=tmp_path / "r")
    figure = run.plot(x="step")
    assert figure._repr_png_().startswith(b"\x89PNG")
    assert [ax.get_xlabel() for ax in figure.axes] == ["step", "step"]
