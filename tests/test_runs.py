"""Run records: the files DESIGN.md promises, TensorBoard events, divergence, resume."""

from __future__ import annotations

import contextlib
import math
import os
import time
from unittest import mock

import numpy as np
import pytest
import torch
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from classicnets.records import RunDir, atomic_write
from tests.conftest import read_json, read_jsonl

TB_TAGS = {f"{split}/{m}" for split in ("train", "val", "test") for m in ("loss", "accuracy")} | {
    "learning_rate"
}
# the HParams session's metrics (test_tensorboard.py), at the last step
HPARAMS_TAGS = {f"hparams/{m}" for m in ("final_test_accuracy", "final_test_loss")} | {
    "hparams/best_val_accuracy",
    "hparams/test_accuracy_at_best",
}


def scalars(run_dir) -> dict[str, list[tuple[int, float]]]:
    events = EventAccumulator(str(run_dir / "tb"))
    events.Reload()
    return {
        tag: [(e.step, e.value) for e in events.Scalars(tag)] for tag in events.Tags()["scalars"]
    }


@pytest.mark.parametrize("impl", ["numpy", "torch"])
def test_a_run_writes_the_record_design_md_describes(cli, impl):
    code, out, _ = cli(
        "train",
        "mlp-toy",
        "--impl",
        impl,
        "--epochs",
        "4",
        "--eval_freq",
        "2",
        "--batch_size",
        "8",
        "--out",
        "run",
        "--quiet",
    )
    assert code == 0, out
    run = cli.cwd / "run"
    config = read_json(run / "config.json")
    assert config["experiment"] == "mlp-toy" and config["impl"] == impl
    assert config["dnn_hidden_units"] == [20] and config["batch_size"] == 8
    assert config["seed"] == 42 and config["device"] == "cpu"
    assert {"classicnets", "numpy", "torch", "python"} <= set(config["versions"])

    rows = read_jsonl(run / "metrics.jsonl")
    assert [(r["epoch"], r["split"]) for r in rows] == [
        (e, s) for e in (0, 2, 4) for s in ("train", "val", "test")
    ]
    steps_per_epoch = math.ceil(640 / 8)  # 1000 samples: 200 test, 160 val, 640 train
    assert [r["step"] for r in rows[::3]] == [0, 2 * steps_per_epoch, 4 * steps_per_epoch]
    for row in rows:
        assert set(row) == {"step", "epoch", "split", "loss", "accuracy", "time_s"}
        assert 0 <= row["accuracy"] <= 1 and row["loss"] > 0 and row["time_s"] >= 0

    summary = read_json(run / "summary.json")
    assert summary["status"] == "completed"
    assert summary["final"]["test"] == {k: rows[-1][k] for k in ("loss", "accuracy")}
    assert summary["final"]["train"] == {k: rows[-3][k] for k in ("loss", "accuracy")}
    # the validation split chooses (its first best evaluation); test is read at that step
    vals = [r for r in rows if r["split"] == "val"]
    chosen = next(r for r in vals if r["accuracy"] == max(v["accuracy"] for v in vals))
    assert summary["best"]["val"]["step"] == chosen["step"]
    test_there = next(r for r in rows if r["split"] == "test" and r["step"] == chosen["step"])
    assert summary["best"]["test"]["accuracy"] == test_there["accuracy"]
    assert summary["steps"] == 4 * steps_per_epoch and summary["epochs"] == 4
    assert summary["wall_time_s"] > 0 and summary["train_samples_per_s"] > 0

    tb = scalars(run)
    assert set(tb) == TB_TAGS | HPARAMS_TAGS
    test_losses = [r["loss"] for r in rows if r["split"] == "test"]
    assert [s for s, _ in tb["test/loss"]] == [r["step"] for r in rows[2::3]]
    np.testing.assert_allclose([v for _, v in tb["test/loss"]], test_losses, rtol=1e-6)

    checkpoint = RunDir(run).load_checkpoint()
    assert checkpoint["loop"]["step"] == summary["steps"]
    assert (run / "figures" / "curves.png").stat().st_size > 10_000
    assert (run / "figures" / "boundary.png").stat().st_size > 10_000
    assert not [p for p in run.rglob("*.tmp")]
    umask = os.umask(0)
    os.umask(umask)
    for path in (run / "summary.json", run / "config.json", run / "figures" / "curves.png"):
        assert path.stat().st_mode & 0o777 == 0o666 & ~umask, path  # as any other new file


def test_a_diverging_run_is_recorded_as_diverged_not_crashed(cli):
    code, out, _ = cli(
        "train",
        "mlp-toy",
        "--learning_rate",
        "1e4",
        "--epochs",
        "5",
        "--eval_freq",
        "1",
        "--out",
        "run",
        "--quiet",
    )
    assert code == 0 and "diverged" in out
    summary = read_json(cli.cwd / "run" / "summary.json")
    assert summary["status"] == "diverged" and summary["epochs"] < 5
    assert summary["final"]["train"]["loss"] is None  # NaN is not JSON: recorded as null
    assert read_jsonl(cli.cwd / "run" / "metrics.jsonl")[-1]["loss"] is None


@contextlib.contextmanager
def crash_after_epoch(epoch: int):
    """Within: the run crashes (an error of ours) right after the checkpoint at `epoch`."""
    save = RunDir.save_checkpoint

    def crash(self, state):
        save(self, state)
        if state["loop"]["epoch"] == epoch:
            raise RuntimeError(f"simulated crash after epoch {epoch}")

    with mock.patch.object(RunDir, "save_checkpoint", crash):
        yield


def without_time(rows: list[dict]) -> list[dict]:
    return [{k: v for k, v in r.items() if k != "time_s"} for r in rows]


@pytest.mark.parametrize("impl", ["numpy", "torch"])
def test_resume_after_a_crash_gives_the_uninterrupted_result(cli, impl):
    keys = [
        "--impl",
        impl,
        "--epochs",
        "6",
        "--eval_freq",
        "2",
        "--batch_size",
        "4",
        "--dataset",
        "circles",
        "--quiet",
    ]
    assert cli("train", "mlp-toy", *keys, "--out", "whole")[0] == 0

    with crash_after_epoch(2):
        assert cli("train", "mlp-toy", *keys, "--out", "crashed")[0] == 1
    crashed = cli.cwd / "crashed"
    assert read_json(crashed / "summary.json")["status"] == "failed"
    # A crash between logging an evaluation and checkpointing it: a row the resume redoes.
    with open(crashed / "metrics.jsonl", "a") as f:
        f.write(
            '{"step": 999999, "epoch": 4, "split": "train", "loss": 1, "accuracy": 0, '
            '"time_s": 0}\n'
        )

    # A resume is a later process: its TensorBoard file, named by the second it starts in
    # (then host, pid and a counter compared as text), sorts after the crashed one's.
    # In one process and one second the counters' text order (".10" < ".9") could invert it.
    time.sleep(1.05)
    assert cli("train", "mlp-toy", *keys, "--out", "crashed", "--resume")[0] == 0
    whole = cli.cwd / "whole"

    assert without_time(read_jsonl(crashed / "metrics.jsonl")) == without_time(
        read_jsonl(whole / "metrics.jsonl")
    )
    final_a, final_b = (RunDir(d).load_checkpoint()["learner"] for d in (whole, crashed))
    for name in final_a:
        assert torch.equal(final_a[name], final_b[name]), name
    assert read_json(crashed / "summary.json")["status"] == "completed"
    tb = scalars(crashed)  # the resumed segment replaces what the crashed one logged later
    assert [s for s, _ in tb["train/loss"]] == [
        r["step"] for r in read_jsonl(whole / "metrics.jsonl")[::3]
    ]
    # Resuming a finished run does nothing and says so.
    code, out, _ = cli("train", "mlp-toy", *keys, "--out", "crashed", "--resume")
    assert code == 0 and "completed" in out


def test_resume_with_other_keys_is_refused(cli):
    assert cli("train", "mlp-toy", "--epochs", "2", "--out", "run", "--quiet")[0] == 0
    code, _, err = cli(
        "train",
        "mlp-toy",
        "--epochs",
        "2",
        "--learning_rate",
        "0.5",
        "--out",
        "run",
        "--resume",
        "--quiet",
    )
    assert code == 2 and "--learning_rate 0.01" in err and err.count("\n") == 1


def test_a_user_data_set_from_npz(cli):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(120, 3))
    y = (X[:, 0] + X[:, 1] > 0).astype(np.int64)
    np.savez(cli.cwd / "mine.npz", X_train=X[:100], y_train=y[:100], X_test=X[100:], y_test=y[100:])
    code, out, _ = cli(
        "train", "mlp-toy", "--dataset", "npz:mine.npz", "--epochs", "30", "--out", "run", "--quiet"
    )
    assert code == 0, out
    assert read_json(cli.cwd / "run" / "summary.json")["final"]["test"]["accuracy"] >= 0.9
    assert not (cli.cwd / "run" / "figures" / "boundary.png").exists()  # 3-D: no boundary

    np.savez(
        cli.cwd / "objects.npz",
        X_train=np.array([{"a": 1}], dtype=object),
        y_train=y,
        X_test=X,
        y_test=y,
    )
    code, _, err = cli("train", "mlp-toy", "--dataset", "npz:objects.npz", "--out", "bad")
    assert code == 2 and "not a readable .npz" in err and not (cli.cwd / "bad").exists()
    np.savez(cli.cwd / "partial.npz", X_train=X, y_train=y)
    code, _, err = cli("train", "mlp-toy", "--dataset", "npz:partial.npz", "--out", "bad")
    assert code == 2 and "missing array X_test" in err


def test_atomic_write_leaves_the_old_file_when_writing_fails(tmp_path, monkeypatch):
    target = tmp_path / "summary.json"
    atomic_write(target, "old")

    def rename_fails(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr("classicnets.records.files.os.replace", rename_fails)
    with pytest.raises(OSError):
        atomic_write(target, "new")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["summary.json"]


def test_an_early_stopped_run_killed_before_its_summary_stays_stopped(cli):
    """The kill point between the stop's checkpoint and summary.json: the run directory holds
    everything but summary.json (and figures). --resume must end it as early_stopped at the
    same step, with the same rows, not train on past the stop."""
    import shutil

    argv = ["mlp-images", "--dataset", "digits", "--train_samples", "300", "--epochs", "40",
            "--patience", "1", "--batch_size", "32", "--quiet"]  # fmt: skip
    code, _, err = cli("train", *argv, "--out", "whole")
    assert code == 0, err
    whole = cli.cwd / "whole"
    done = read_json(whole / "summary.json")
    assert done["status"] == "early_stopped" and done["epochs"] < 40  # the point was reached
    cut = cli.cwd / "cut"
    shutil.copytree(whole, cut)
    (cut / "summary.json").unlink()
    shutil.rmtree(cut / "figures")
    code, _, err = cli("train", *argv, "--out", "cut", "--resume")
    assert code == 0, err
    again = read_json(cut / "summary.json")
    assert again["status"] == "early_stopped"
    assert (again["steps"], again["epochs"], again["best"]) == (
        done["steps"], done["epochs"], done["best"]
    )  # fmt: skip
    assert without_time(read_jsonl(cut / "metrics.jsonl")) == without_time(
        read_jsonl(whole / "metrics.jsonl")
    )
