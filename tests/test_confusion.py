"""Where the errors are: the confusion computation against counts by hand (ties, an empty
class, no error at all), its figures drawn without pyplot state, `classicnets analyze` on
every image experiment (npz images and digits), and the report showing the chosen model's."""

from __future__ import annotations

import json

import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch
from torch import nn

from classicnets import plots
from classicnets.analysis.confusion import confusion, sentences, summary, write_data
from classicnets.report.errors import chosen_trial, error_figures
from tests.conftest import read_json

PNG = b"\x89PNG\r\n\x1a\n"


class Fixed(nn.Module):
    """A 'model' whose input is its logits: the test chooses every prediction."""

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        return X


def _logits(y_hat: list[int], K: int, margin: float = 3.0) -> torch.Tensor:
    logits = torch.zeros(len(y_hat), K)
    logits[torch.arange(len(y_hat)), torch.tensor(y_hat)] = margin
    return logits


def test_confusion_counts_every_pair_and_orders_ties_by_label():
    y = [0, 0, 0, 1, 1, 2, 2, 2, 2]
    y_hat = [0, 1, 2, 1, 0, 2, 0, 0, 1]
    X = _logits(y_hat, 4)
    batches = [(X[:4], torch.tensor(y[:4])), (X[4:], torch.tensor(y[4:]))]  # two batches
    c = confusion(Fixed(), batches, 4, ("a", "b", "c", "d"))
    by_hand = np.zeros((4, 4), dtype=int)
    for t, p in zip(y, y_hat):
        by_hand[t, p] += 1
    assert (c.matrix == by_hand).all()
    assert c.per_class == [1 / 3, 1 / 2, 1 / 4, None]  # class d has no sample: None, not 0
    # (c -> a) twice; then four pairs once each, in (true, predicted) order
    assert c.pairs() == [(2, 0, 2), (0, 1, 1), (0, 2, 1), (1, 0, 1), (2, 1, 1)]
    assert c.pairs(2) == [(2, 0, 2), (0, 1, 1)]
    lines = sentences(c)
    assert lines[0] == "3 of 9 test samples classified correctly"
    assert lines[1] == "lowest class accuracy 25.0%: c"
    assert lines[2] == "most confused (2 times): c taken for a"


def test_sentences_name_every_tied_pair_and_class_and_say_when_nothing_is_wrong():
    y, y_hat = [0, 0, 1, 1], [0, 1, 1, 0]
    c = confusion(Fixed(), [(_logits(y_hat, 2), torch.tensor(y))], 2, ("x", "y"))
    assert sentences(c)[1:] == [
        "lowest class accuracy 50.0%: x, y",
        "most confused (1 time each): x taken for y; y taken for x",
    ]
    right = confusion(Fixed(), [(_logits(y, 2), torch.tensor(y))], 2, ("x", "y"))
    assert sentences(right)[2] == "no sample was misclassified"
    assert right.pairs() == []


def test_worst_are_the_highest_losses_and_the_model_mode_is_restored():
    y = torch.tensor([0, 1, 0, 1, 0])
    X = torch.tensor([[2.0, 0.0], [0.0, 1.0], [0.0, 3.0], [0.0, 3.0], [1.0, 0.0]])
    model = Fixed().train()
    c = confusion(model, [(X, y)], 2, ("p", "q"))
    assert model.training  # put back as found
    expected = torch.nn.functional.cross_entropy(X, y, reduction="none").numpy()
    np.testing.assert_allclose(c.loss, expected, rtol=1e-6)
    # losses 0.13, 0.31, 3.05, 0.05, 0.31: samples 1 and 4 tie exactly (lower index first)
    assert expected[1] == expected[4]
    assert list(c.worst()) == [2, 1, 4, 0, 3]
    assert list(c.worst(2)) == [2, 1]
    data = summary(c)
    assert data["worst"][0] == {
        "index": 2,
        "true": "p",
        "predicted": "q",
        "probability": pytest.approx(float(torch.softmax(X[2], 0)[1])),
        "loss": pytest.approx(float(expected[2])),
    }


def test_data_files_and_figures_are_written_without_pyplot_state(tmp_path):
    y, y_hat = [0, 1, 1, 2], [0, 1, 2, 2]
    names = ("plain", "with, comma", 'with "quote"')
    c = confusion(Fixed(), [(_logits(y_hat, 3), torch.tensor(y))], 3, names)
    before = plt.get_fignums()
    json_path, csv_path = write_data(c, tmp_path)
    assert json.loads(json_path.read_text())["matrix"] == c.matrix.tolist()
    import csv

    rows = list(csv.reader(csv_path.open()))
    assert rows[0] == ["true \\ predicted", *names]  # quoted names read back whole
    assert [r[0] for r in rows[1:]] == list(names)
    assert [[int(v) for v in r[1:]] for r in rows[1:]] == c.matrix.tolist()
    figure = plots.confusion_figure(c.matrix, c.names, c.per_class, tmp_path / "c.png")
    pictures = [np.random.default_rng(0).random((8, 8)), np.zeros((8, 8, 3))]
    grid = plots.worst_grid(pictures, ["a", "b"], tmp_path / "w.png")
    empty = plots.worst_grid([], [], tmp_path / "e.png")
    for path in (figure, grid, empty):
        assert path.read_bytes().startswith(PNG)
    assert plt.get_fignums() == before


def _npz_images(path, seed: int = 0) -> dict[str, np.ndarray]:
    """Three classes of 6x6 RGB uint8 images, each class brightest in its own channel."""
    rng = np.random.default_rng(seed)
    arrays = {}
    for split, n in (("train", 120), ("test", 45)):
        y = rng.permutation(np.arange(n) % 3)
        X = rng.integers(0, 120, size=(n, 3, 6, 6)).astype(np.uint8)
        X[np.arange(n), y] += 120
        arrays[f"X_{split}"], arrays[f"y_{split}"] = X, y
    np.savez(path, **arrays)
    return arrays


IMAGE_RUNS = {  # experiment -> the keys that make it small
    "mlp-images": ["--dnn_hidden_units", "16", "--batch_size", "30"],
    "cnn": ["--width", "0.0625", "--batch_size", "30"],
    "resnet": ["--depth", "8", "--width", "0.125", "--batch_size", "30"],
    "rnn-images": ["--num_hidden", "16", "--batch_size", "30"],
}


@pytest.mark.parametrize("experiment", sorted(IMAGE_RUNS))
def test_analyze_writes_where_the_errors_are_for_every_image_experiment(cli, experiment):
    arrays = _npz_images(cli.cwd / "img.npz")
    argv = ["train", experiment, "--dataset", "npz:img.npz", "--epochs", "1", "--quiet"]
    code, _, err = cli(*argv, *IMAGE_RUNS[experiment], "--out", "run")
    assert code == 0, err
    code, out, err = cli("analyze", "run")
    assert code == 0, err
    figures = cli.cwd / "run" / "figures"
    for name in ("confusion.png", "worst.png"):
        assert (figures / name).read_bytes().startswith(PNG)
        assert f"run/figures/{name}" in out.splitlines()
    data = read_json(figures / "confusion.json")
    counts = np.bincount(arrays["y_test"], minlength=3)
    assert [sum(row) for row in data["matrix"]] == counts.tolist()  # every test image, once
    assert data["classes"] == ["0", "1", "2"] and len(data["worst"]) == 16
    losses = [w["loss"] for w in data["worst"]]
    assert losses == sorted(losses, reverse=True)
    correct = sum(data["matrix"][k][k] for k in range(3))
    assert f"{correct} of 45 test samples classified correctly" in out.splitlines()


@pytest.mark.slow  # ~30 s: a sweep of two runs, three analyses and a report
def test_analyze_on_digits_names_the_classes_and_the_report_shows_the_chosen_trial(cli):
    code, _, err = cli(
        "sweep", "mlp-vs-cnn", "--dataset", "digits", "--epochs", "1", "--width", "0.0625",
        "--out", "vs", "--quiet",
    )  # fmt: skip
    assert code == 0, err
    code, _, err = cli("analyze", "vs/mlp")
    assert code == 0, err
    record = read_json(cli.cwd / "vs" / "sweep.json")
    chosen = chosen_trial(record["trials"])["dir"]
    shown = error_figures(cli.cwd / "vs", record["trials"], "cnn")
    assert [p.name for p, _ in shown] == ["confusion.png", "worst.png"]
    assert all(p.parent.parent.name == chosen for p, _ in shown)  # both trials have them now
    assert all("the chosen model" in caption for _, caption in shown)
    assert read_json(cli.cwd / "vs" / chosen / "figures" / "confusion.json")["classes"] == [
        str(k) for k in range(10)
    ]
    code, _, err = cli("report", "vs", "--out", "r.html")
    assert code == 0, err
    page = (cli.cwd / "r.html").read_text()
    assert f"Where the errors are, trial {chosen}, the chosen model" in page


def test_the_report_picks_the_best_finished_trial_ties_to_the_first(tmp_path):
    def row(name, status, accuracy):
        best = {"val": {"accuracy": accuracy}, "test": {"accuracy": 0.0}}
        return {"dir": name, "status": status, "best": best if accuracy is not None else {}}

    trials = [row("a", "failed", None), row("b", "completed", 0.7), row("c", "completed", 0.7)]
    trials.append(row("d", "diverged", 0.9))  # a diverged trial's best does not count
    assert chosen_trial(trials)["dir"] == "b"
    assert chosen_trial([row("a", "failed", None)]) is None
    assert error_figures(tmp_path, trials, "c") == []  # nobody analysed yet
    (tmp_path / "c" / "figures").mkdir(parents=True)
    (tmp_path / "c" / "figures" / "confusion.png").write_bytes(PNG)
    [(path, caption)] = error_figures(tmp_path, trials, "c")
    assert path.parent.parent.name == "c" and "the chosen model" not in caption


def test_without_a_validation_split_no_trial_is_chosen_for_the_report():
    """The test split never chooses: trials whose best is only a test evaluation have no
    chosen model, whatever their test accuracy."""
    tested = [
        {"dir": d, "status": "completed", "best": {"test": {"accuracy": a}}}
        for d, a in (("a", 0.6), ("b", 0.9))
    ]
    assert chosen_trial(tested) is None


def test_analyze_counts_as_the_run_evaluated_with_tta(cli):
    """With --tta true every evaluation averages each image with its mirror; analyze's counts
    do too, so its accuracy is the test accuracy the run recorded at the chosen evaluation.
    Random images and labels: the mirror moves many predictions (the model alone scores
    otherwise here)."""
    rng = np.random.default_rng(0)
    X = rng.integers(0, 256, size=(280, 1, 8, 8), dtype=np.uint8)
    y = rng.integers(0, 4, size=280)
    np.savez(cli.cwd / "imgs.npz", X_train=X[:200], y_train=y[:200], X_test=X[200:], y_test=y[200:])
    keys = ["--dataset", "npz:imgs.npz", "--dnn_hidden_units", "32", "--epochs", "2", "--quiet"]
    assert cli("train", "mlp-images", *keys, "--tta", "true", "--out", "tta")[0] == 0
    code, _, err = cli("analyze", "tta")
    assert code == 0, err
    data = read_json(cli.cwd / "tta" / "figures" / "confusion.json")
    assert data["samples"] == 80
    recorded = read_json(cli.cwd / "tta" / "summary.json")["best"]["test"]["accuracy"]
    assert data["accuracy"] == recorded
