"""A user's npz in every shape the design admits (images N×C×H×W or N×H×W, sequences N×T×F,
vectors N×D), in the image experiments that can read it, and a one-line refusal where one
cannot: mlp-images trains on vectors (tabular data), which cannot be augmented."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from classicnets.data import registry
from tests.conftest import read_json


@pytest.fixture(autouse=True)
def _fresh_cache():
    registry.forget()
    yield
    registry.forget()


def tabular(path: Path, n_train: int = 240, n_test: int = 80) -> Path:
    """Three classes told apart by two of six features, on wildly different scales (what a
    table holds: a price in thousands beside a ratio): learnable only once standardised."""
    rng = np.random.default_rng(0)

    def rows(n: int) -> tuple[np.ndarray, np.ndarray]:
        y = np.arange(n) % 3
        X = rng.normal(size=(n, 6))
        X[:, 0] += 6.0 * (y == 1)  # class 1: feature 0 high
        X[:, 1] += 6.0 * (y == 2)  # class 2: feature 1 high
        return X * np.array([1e3, 1e-3, 1, 1e4, 1, 1]), y

    X_train, y_train = rows(n_train)
    X_test, y_test = rows(n_test)
    np.savez(path, X_train=X_train, y_train=y_train, X_test=X_test, y_test=y_test)
    return path


def test_mlp_images_learns_a_table_of_vectors(cli):
    data = tabular(cli.cwd / "table.npz")
    code, out, err = cli(
        "train", "mlp-images", "--dataset", f"npz:{data}", "--dnn_hidden_units", "16",
        "--epochs", "10", "--batch_size", "32", "--learning_rate", "1e-2", "--out", "run",
        "--quiet",
    )  # fmt: skip
    assert code == 0, err
    summary = read_json(cli.cwd / "run" / "summary.json")
    # chance is 1/3; two standardised features make the classes plain
    assert summary["best"]["val"]["accuracy"] > 0.8
    assert summary["final"]["test"]["accuracy"] > 0.8


@pytest.mark.parametrize(
    "argv, message",
    [
        (
            ["mlp-images", "--augment", "true"],
            "--augment true: npz:{data} holds vectors N×D (tabular data), which have no pixels "
            "to crop or flip; use --augment false",
        ),
        (
            ["cnn", "--width", "0.0625"],
            "--dataset npz:{data}: holds vectors N×D (D = 6); this experiment takes images "
            "N×C×H×W or N×H×W (mlp-images takes vectors)",
        ),
        (
            ["rnn-images"],
            "--dataset npz:{data}: holds vectors N×D (D = 6); this experiment takes images "
            "N×C×H×W or N×H×W (mlp-images takes vectors)",
        ),
    ],
)
def test_vectors_are_refused_in_one_line_where_they_cannot_be_used(cli, argv, message):
    data = tabular(cli.cwd / "table.npz")
    code, out, err = cli("train", *argv, "--dataset", f"npz:{data}", "--out", "run")
    assert code == 2
    assert err == f"classicnets: error: {message.format(data=data)}\n"
    assert not (cli.cwd / "run").exists()  # refused before anything was written


@pytest.mark.parametrize(
    "experiment, keys",
    [
        ("mlp-images", ["--dnn_hidden_units", "8"]),
        ("cnn", ["--width", "0.0625"]),
        ("rnn-images", ["--num_hidden", "8"]),
    ],
)
@pytest.mark.parametrize("shape", [(40, 1, 8, 8), (40, 8, 8)])  # N×C×H×W, N×H×W (= N×T×F)
def test_images_and_sequences_train_in_every_image_experiment(cli, experiment, keys, shape):
    rng = np.random.default_rng(1)
    path = cli.cwd / "images.npz"
    y = np.arange(40) % 2
    np.savez(path, X_train=rng.random(shape), y_train=y, X_test=rng.random(shape), y_test=y)
    code, _, err = cli(
        "train", experiment, *keys, "--dataset", f"npz:{path}", "--epochs", "1",
        "--batch_size", "8", "--out", "run", "--quiet",
    )  # fmt: skip
    assert code == 0, err
    assert read_json(cli.cwd / "run" / "summary.json")["status"] == "completed"


def test_npz_of_an_unusable_rank_is_refused(tmp_path: Path):
    from classicnets.data.images import load_images
    from classicnets.errors import UsageError

    path = tmp_path / "five.npz"
    X = np.zeros((4, 1, 2, 2, 2))
    np.savez(path, X_train=X, y_train=np.zeros(4, int), X_test=X, y_test=np.zeros(4, int))
    with pytest.raises(UsageError, match="give images N×C×H×W or N×H×W, sequences N×T×F, or "):
        load_images(f"npz:{path}", tmp_path)
