"""best.pt, the chosen model: the weights of the best validation evaluation, beside
checkpoint.pt; what analyze, Run.model and the per-run figures use and name."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from classicnets.records import RunDir
from tests.conftest import read_json
from tests.test_kill_resume import assert_same
from tests.test_runs import without_time

# SGD at a high rate without a schedule: validation accuracy peaks at epoch 5 of 6 (so the
# chosen weights are not the last), and a run of 5 epochs is the first 5 of a run of 6.
KEYS = [
    *("--dataset", "digits", "--dnn_hidden_units", "32", "--batch_size", "64"),
    *("--optimizer", "sgd", "--learning_rate", "0.3", "--lr_schedule", "none"),
    *("--batchnorm", "false", "--dropout", "0", "--quiet", "--device", "cpu"),
]
BEST_EPOCH = 5


def train(cli, out: Path, *more: str) -> None:
    code, _, err = cli("train", "mlp-images", *KEYS, *more, "--out", str(out))
    assert code == 0, err


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, Path]:
    """A: 6 epochs; B: the first 5 of them (its last weights are A's chosen ones)."""
    from classicnets.cli import main

    root = tmp_path_factory.mktemp("best")
    made = {}
    for name, epochs in (("A", 6), ("B", BEST_EPOCH)):
        made[name] = root / name
        assert (
            main(["train", "mlp-images", *KEYS, "--epochs", str(epochs), "--out", str(root / name)])
            == 0
        )
    return made


def test_best_pt_holds_the_weights_of_the_best_validation_evaluation(runs):
    a, b = RunDir(runs["A"]), RunDir(runs["B"])
    best = a.load_best()
    chosen = read_json(runs["A"] / "summary.json")["best"]["val"]
    assert chosen["epoch"] == BEST_EPOCH  # not the last epoch: the test would prove nothing
    assert (best["step"], best["epoch"]) == (chosen["step"], chosen["epoch"])
    assert best["val"] == {"loss": chosen["loss"], "accuracy": chosen["accuracy"]}
    assert_same(best["weights"], b.load_checkpoint()["learner"]["model"])
    last = a.load_checkpoint()["learner"]["model"]
    assert any(not torch.equal(best["weights"][k], last[k]) for k in last)
    assert set(best) == {"weights", "step", "epoch", "val"}  # the weights, not the optimizer


def test_run_model_is_the_chosen_model(runs):
    import classicnets

    model = classicnets.load(runs["A"]).model
    assert_same(
        {k: v.cpu() for k, v in model.state_dict().items()},
        RunDir(runs["A"]).load_best()["weights"],
    )


def test_analyze_says_which_weights_it_shows(cli, runs, monkeypatch):
    from classicnets import plots

    titles = []
    draw = plots.confusion_figure

    def spy(*args):
        titles.append(args[-1])
        return draw(*args)

    monkeypatch.setattr(plots, "confusion_figure", spy)
    best = RunDir(runs["A"]).load_best()
    code, out, err = cli("analyze", str(runs["A"]))
    assert code == 0, err
    at = f"epoch {BEST_EPOCH} (step {best['step']})"
    assert (
        out.splitlines()[0]
        == f"weights: the chosen model, best validation at {at} ({runs['A'] / 'best.pt'})"
    )
    assert titles[-1].endswith(f"best-validation weights, {at}")
    code, out, err = cli("analyze", str(runs["A"]), "--weights", "last")
    last = read_json(runs["A"] / "summary.json")
    assert code == 0, err
    assert out.splitlines()[0].startswith(f"weights: the last, epoch 6 (step {last['steps']})")
    assert out.splitlines()[0].endswith("as asked")
    assert titles[-1].endswith(f"last weights, epoch 6 (step {last['steps']})")


def test_without_a_validation_split_nothing_is_chosen(cli, tmp_path):
    out = tmp_path / "noval"
    train(cli, out, "--epochs", "2", "--val_size", "0", "--patience", "0")
    assert not (out / "best.pt").exists()
    code, text, err = cli("analyze", str(out))
    assert code == 0, err
    first = text.splitlines()[0]
    assert (
        first.startswith("weights: the last, epoch 2")
        and "no best.pt (no validation split" in first
    )


def test_a_damaged_best_pt_is_one_line_and_last_still_works(cli, tmp_path, runs):
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(runs["B"], copy)
    (copy / "best.pt").write_bytes(b"not a zip")
    code, _, err = cli("analyze", str(copy))
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert "best.pt: not a readable best.pt" in err and "--weights last" in err
    code, _, err = cli("analyze", str(copy), "--weights", "last")
    assert code == 0, err


def test_a_kill_between_the_checkpoint_and_best_pt_is_mended_on_resume(
    cli, tmp_path, runs, monkeypatch
):
    """The one window where best.pt lags the checkpoint: the improving evaluation's
    checkpoint is written, its best.pt not yet. The resume writes it from the restored
    weights, and the run ends as the uninterrupted one, best.pt to the bit."""
    out = tmp_path / "killed"
    calls = []
    save_best = RunDir.save_best

    def killed_at_the_last(self, state):
        calls.append(state["step"])
        if state["epoch"] == BEST_EPOCH:  # the last improvement: its checkpoint is on disk
            raise KeyboardInterrupt
        save_best(self, state)

    monkeypatch.setattr(RunDir, "save_best", killed_at_the_last)
    code, _, _ = cli("train", "mlp-images", *KEYS, "--epochs", "6", "--out", str(out))
    assert code == 1 and len(calls) > 1
    held, checkpoint = RunDir(out).load_best(), RunDir(out).load_checkpoint()
    assert held["step"] < checkpoint["loop"]["step"] == checkpoint["loop"]["best"]["val"]["step"]
    monkeypatch.setattr(RunDir, "save_best", save_best)
    train(cli, out, "--epochs", "6", "--resume")
    assert_same(RunDir(out).load_best(), RunDir(runs["A"]).load_best())
    assert without_time(RunDir(out).metrics()) == without_time(RunDir(runs["A"]).metrics())
    summary, whole = read_json(out / "summary.json"), read_json(runs["A"] / "summary.json")
    assert summary["best"] == whole["best"] and summary["final"] == whole["final"]


def test_a_resume_leaves_an_older_best_alone(cli, tmp_path, runs):
    """Killed after an evaluation that did not improve: best.pt is older than the
    checkpoint, and right; the resume must not overwrite it with the restored weights."""
    import shutil

    out = tmp_path / "B"
    shutil.copytree(runs["A"], out)
    (out / "summary.json").unlink()  # as if killed after the last checkpoint
    before = (out / "best.pt").read_bytes()
    train(cli, out, "--epochs", "6", "--resume")
    assert (out / "best.pt").read_bytes() == before


def test_every_figure_of_a_cnns_analysis_names_the_weights_it_shows(cli, tmp_path, monkeypatch):
    """The pictures the report shows of a run (mlp-vs-cnn draws them with analyze_convnet):
    each title says which weights, and which epoch."""
    from classicnets.analysis import cnn as analysis
    from classicnets.plots import save_figure

    titles = {}

    def spy(fig, path):
        texts = [fig._suptitle.get_text()] if fig._suptitle else []
        titles[path.name] = "\n".join(texts + [ax.get_title() for ax in fig.axes])
        return save_figure(fig, path)

    monkeypatch.setattr(analysis, "save_figure", spy)
    out = tmp_path / "cnn"
    argv = ["train", "cnn", "--dataset", "digits", "--width", "0.0625", "--epochs", "2"]
    code, _, err = cli(*argv, "--train_samples", "300", "--quiet", "--out", str(out))
    assert code == 0, err
    code, text, err = cli("analyze", str(out))
    assert code == 0, err
    best = RunDir(out).load_best()
    label = "best-validation weights, " + (
        "step 0, before training"
        if best["step"] == 0
        else f"epoch {best['epoch']} (step {best['step']})"
    )
    assert set(titles) == {"filters.png", "activation_stats.png", "deconvnet.png", "occlusion.png"}
    for name, title in titles.items():
        assert label in title, name
