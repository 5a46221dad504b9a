"""A run whose loss is not finite at its first evaluation: recorded as diverged, exit 0.

The loop checkpoints only evaluations with a finite loss, so such a run has no checkpoint;
its figures draw what needs no model (the curves) and skip the rest.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from tests.conftest import read_jsonl


def toy_npz(path, bad: float) -> str:
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(40, 2)), np.arange(40) % 2
    X_train = X.copy()
    X_train[3, 1] = bad
    np.savez(path, X_train=X_train, y_train=y, X_test=X[:10], y_test=y[:10])
    return f"npz:{path}"


def images_npz(path, bad: float) -> str:
    rng = np.random.default_rng(0)
    X, y = rng.integers(0, 256, (60, 8, 8)).astype(np.float64), np.arange(60) % 3  # N x H x W
    X_train = X.copy()
    X_train[5, 2, 2] = bad
    np.savez(path, X_train=X_train, y_train=y, X_test=X[:12], y_test=y[:12])
    return f"npz:{path}"


def diverged(cli, *argv: str) -> dict:
    code, out, err = cli("train", *argv, "--out", "run", "--quiet")
    assert code == 0, err
    run = cli.cwd / "run"
    summary = json.loads((run / "summary.json").read_text())
    assert summary["status"] == "diverged" and summary["steps"] == 0
    assert "diverged" in out and not (run / "checkpoint.pt").exists()
    assert (run / "figures" / "curves.png").is_file()
    first = read_jsonl(run / "metrics.jsonl")
    assert first and first[0]["step"] == 0 and any(row["loss"] is None for row in first)
    return summary


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("impl", ["numpy", "torch"])
def test_toy_data_with_a_non_finite_value_diverges_at_step_0(cli, impl, bad):
    dataset = toy_npz(cli.cwd / "bad.npz", bad)
    diverged(cli, "mlp-toy", "--impl", impl, "--dataset", dataset, "--epochs", "2")
    assert not (cli.cwd / "run" / "figures" / "boundary.png").exists()  # needs a model


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_images_with_a_non_finite_pixel_diverge_at_step_0(cli, bad):
    dataset = images_npz(cli.cwd / "bad.npz", bad)
    diverged(cli, "mlp-images", "--dataset", dataset, "--epochs", "1", "--batch_size", "8")


def test_a_diverged_run_beside_a_finite_one_still_draws_the_finite_ones_boundary(cli):
    code, _, err = cli("train", "mlp-toy", "--n_samples", "20", "--epochs", "1", "--out", "ok")
    assert code == 0, err
    assert (cli.cwd / "ok" / "figures" / "boundary.png").is_file()  # with a checkpoint: drawn


def test_resuming_a_run_that_diverged_at_step_0_returns_its_record(cli):
    """It has no checkpoint, but it finished: --resume leaves it as it is (exit 0) and
    redraws its figures, as for any finished run."""
    dataset = toy_npz(cli.cwd / "bad.npz", np.nan)
    argv = ("mlp-toy", "--dataset", dataset, "--epochs", "2")
    before = diverged(cli, *argv)
    (cli.cwd / "run" / "figures" / "curves.png").unlink()
    code, out, err = cli("train", *argv, "--out", "run", "--resume", "--quiet")
    assert code == 0, err
    assert json.loads((cli.cwd / "run" / "summary.json").read_text()) == before
    assert (cli.cwd / "run" / "figures" / "curves.png").is_file()


def test_resuming_with_a_tampered_config_names_the_file_and_key(cli):
    code, _, err = cli("train", "mlp-toy", "--n_samples", "20", "--epochs", "1", "--out", "r")
    assert code == 0, err
    path = cli.cwd / "r" / "config.json"
    saved = json.loads(path.read_text())
    saved["learning_rate"] = "fast"
    path.write_text(json.dumps(saved))
    code, out, err = cli(
        "train", "mlp-toy", "--n_samples", "20", "--epochs", "1", "--out", "r", "--resume"
    )
    assert code == 2 and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1
    assert "config.json" in err and "learning_rate" in err
