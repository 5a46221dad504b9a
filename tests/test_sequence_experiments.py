"""rnn-palindrome and rnn-images end to end: smoke runs, streaming and fixed data, resume to
the bit, the length sweep with its figures, and gradient flow from `analyze`."""

from __future__ import annotations

import pytest

from classicnets.records import RunDir
from tests.conftest import read_json, read_jsonl
from tests.test_runs import crash_after_epoch, without_time

SMALL = ["--num_hidden", "16", "--batch_size", "32", "--quiet"]


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_palindrome_smoke_learns_short_palindromes(cli, cell):
    code, out, err = cli(
        "train",
        "rnn-palindrome",
        "--cell",
        cell,
        "--input_length",
        "3",
        "--train_steps",
        "300",
        "--eval_freq",
        "100",
        "--learning_rate",
        "1e-2",
        "--num_hidden",
        "32",
        "--batch_size",
        "64",
        "--out",
        "run",
        "--quiet",
    )
    assert code == 0, err
    rows = read_jsonl(cli.cwd / "run" / "metrics.jsonl")
    assert [r["step"] for r in rows if r["split"] == "val"] == [0, 100, 200, 300]
    summary = read_json(cli.cwd / "run" / "summary.json")
    assert summary["steps"] == 300 and summary["status"] == "completed"
    assert summary["best"]["test"]["accuracy"] > 0.5  # 10 classes: chance is 0.1
    assert (cli.cwd / "run" / "figures" / "curves.png").stat().st_size > 10_000


@pytest.mark.parametrize("data", [[], ["--data_size", "600"]], ids=["streaming", "fixed"])
def test_palindrome_resume_after_a_crash_to_the_bit(cli, data):
    keys = [
        *SMALL,
        *data,
        "--input_length",
        "4",
        "--train_steps",
        "40",
        "--eval_freq",
        "10",
        "--input_dim",
        "1",
    ]
    assert cli("train", "rnn-palindrome", *keys, "--out", "whole")[0] == 0
    with crash_after_epoch(20):  # epochs are steps here
        assert cli("train", "rnn-palindrome", *keys, "--out", "crashed")[0] == 1
    assert cli("train", "rnn-palindrome", *keys, "--out", "crashed", "--resume")[0] == 0
    whole, crashed = cli.cwd / "whole", cli.cwd / "crashed"
    assert without_time(read_jsonl(crashed / "metrics.jsonl")) == without_time(
        read_jsonl(whole / "metrics.jsonl")
    )
    a, b = (RunDir(d).load_checkpoint()["learner"]["model"] for d in (whole, crashed))
    assert all((a[k] == b[k]).all() for k in a)


def test_length_sweep_draws_accuracy_against_length_and_gradient_flow(cli):
    code, out, err = cli(
        "sweep",
        "rnn-lengths",
        "--train_steps",
        "4",
        "--eval_freq",
        "2",
        "--eval_size",
        "64",
        *SMALL,
        "--out",
        "lengths",
    )
    assert code == 0, err
    figures = cli.cwd / "lengths" / "figures"
    for name in ("accuracy_vs_length.png", "curves.png", "gradient_flow.png"):
        assert (figures / name).stat().st_size > 10_000, name
    table = (figures / "table.md").read_text().splitlines()
    assert len(table) == 2 + 18 and table[0].startswith("| cell | input_length | status")


def test_rnn_images_smoke_and_analyze_gradient_flow(cli):
    code, _, err = cli(
        "train",
        "rnn-images",
        "--dataset",
        "digits",
        "--epochs",
        "2",
        "--learning_rate",
        "0.01",
        *SMALL,
        "--out",
        "run",
    )
    assert code == 0, err
    assert read_json(cli.cwd / "run" / "summary.json")["best"]["test"]["accuracy"] > 0.3
    code, out, err = cli("analyze", "run")
    assert code == 0, err
    assert (cli.cwd / "run" / "figures" / "gradient_flow.png").stat().st_size > 10_000


def test_analyze_refuses_what_it_cannot_look_inside(cli):
    code, _, err = cli("analyze", "nowhere")
    assert code == 2 and "config.json" in err and err.count("\n") == 1
    assert cli("train", "mlp-toy", "--epochs", "1", "--out", "toy", "--quiet")[0] == 0
    code, _, err = cli("analyze", "toy")
    assert code == 2 and "mlp-toy run" in err and "cnn" in err


def test_rnn_images_reads_npz_sequences(cli):
    """npz:PATH sequences N×T×F: step t of a sample is row t, as for images read by rows."""
    import numpy as np

    rng = np.random.default_rng(0)
    X = rng.normal(size=(240, 6, 3)).astype(np.float32)  # (N, T, F)
    y = (X[:, 0, 0] > 0).astype(np.int64)  # the class is in the first step: memory needed
    np.savez(cli.cwd / "seq.npz", X_train=X[:200], y_train=y[:200], X_test=X[200:], y_test=y[200:])
    code, _, err = cli(
        "train", "rnn-images", "--dataset", "npz:seq.npz", "--epochs", "2", *SMALL, "--out", "s"
    )
    assert code == 0, err
    rows = read_jsonl(cli.cwd / "s" / "metrics.jsonl")
    assert {r["split"] for r in rows} == {"train", "val", "test"}


def test_rnn_images_grid_sweep_table_has_a_row_per_configuration(cli):
    code, _, err = cli(
        "sweep",
        "rnn-images-grid",
        "--dataset",
        "digits",
        "--epochs",
        "1",
        "--train_samples",
        "200",
        "--test_samples",
        "100",
        "--batch_size",
        "50",
        "--quiet",
        "--out",
        "grid",
    )
    assert code == 0, err
    table = (cli.cwd / "grid" / "figures" / "table.md").read_text().splitlines()
    assert len(table) == 2 + 24
    assert table[0].startswith("| cell | optimizer | learning_rate | num_hidden | status")
    assert (cli.cwd / "grid" / "figures" / "curves.png").stat().st_size > 10_000
