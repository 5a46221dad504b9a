"""`classicnets lr-find`: Smith's range test on digits. The rate grows geometrically, the
smoothed training loss is recorded until it blows up, a rate is suggested (the steepest
descent of the smoothed loss); only the training split is read, the trained weights and the
random state go nowhere, bad input is one line, and the report draws the test beside the
sweep that varies the same experiment's learning rate."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch

from classicnets import config
from classicnets.data.sources import TensorSource
from classicnets.experiments import EXPERIMENTS, SWEEPS
from classicnets.records import read_lr_find
from classicnets.runner.lrfind import lr_find
from classicnets.train.classifier import ClassifierLearner
from classicnets.train.lrfind import RangeTest, suggest

MLP = ["--dataset", "digits", "--dnn_hidden_units", "32", "--batch_size", "32"]


def test_lr_find_on_digits_records_the_loss_against_a_growing_rate(cli):
    keys = [*MLP, "--num_steps", "80", "--smoothing", "0.9"]  # 0.9: a short test needs less lag
    code, out, err = cli("lr-find", "mlp-images", *keys, "--out", "lf")
    assert code == 0, err
    folder = cli.cwd / "lf"
    assert sorted(p.name for p in folder.iterdir()) == ["lr_find.json", "lr_find.png"]
    record = read_lr_find(folder / "lr_find.json")  # through its schema
    assert record["experiment"] == "mlp-images" and record["split"] == "train"
    rates = [r["learning_rate"] for r in record["rows"]]
    assert rates[0] == pytest.approx(1e-7)
    ratio = (10 / 1e-7) ** (1 / 79)  # geometric from start_lr to end_lr over num_steps
    assert np.allclose(np.diff(np.log(rates)), math.log(ratio))
    # the loss falls, then blows up before end_lr: the test stops there
    assert record["stopped"] == "diverged" and len(rates) < 80
    smoothed = [r["smoothed"] for r in record["rows"]]
    assert min(smoothed) < smoothed[0] - 0.5
    assert 1e-5 < record["suggested"] < record["minimum"] < rates[-1]
    assert record["minimum_over_10"] == pytest.approx(record["minimum"] / 10)
    assert f"suggested learning rate {record['suggested']:.2g}" in out
    assert (folder / "lr_find.png").read_bytes().startswith(b"\x89PNG")


def test_only_the_training_split_is_read_and_nothing_leaks(tmp_path, monkeypatch):
    """No evaluation, no held-out batch: the test split (and validation) choose nothing.
    The process's random state is as before, so a later run draws what it would have."""

    def forbidden(*args, **kwargs):
        raise AssertionError("lr-find read a held-out split")

    monkeypatch.setattr(ClassifierLearner, "evaluate", forbidden)
    monkeypatch.setattr(TensorSource, "eval_batches", forbidden)
    experiment = EXPERIMENTS["mlp-images"]
    cfg = config.build(
        experiment.config, {"dataset": "digits", "dnn_hidden_units": "16", "batch_size": "64"}
    )
    test = config.build(RangeTest, {"num_steps": "20"})
    torch.manual_seed(123)
    before = torch.random.get_rng_state()
    record = lr_find(experiment, cfg, test, tmp_path / "lf", device="cpu")
    assert torch.equal(torch.random.get_rng_state(), before)
    assert len(record["rows"]) <= 20
    assert not list((tmp_path / "lf").glob("*.pt"))  # no weights written


def test_suggest_finds_the_steepest_fall_before_the_minimum():
    log_rates = np.linspace(-7, 1, 81)
    loss = 2.3 - 1.5 / (1 + np.exp(-3 * (log_rates + 3)))  # falls fastest at 1e-3
    loss = loss + np.where(log_rates > -1, 5 * (log_rates + 1) ** 2, 0)  # blows up past 1e-1
    rows = [
        {"step": i, "learning_rate": 10**x, "loss": v, "smoothed": v}
        for i, (x, v) in enumerate(zip(log_rates, loss))
    ]
    result = suggest(rows, skip_start=10)
    assert result["suggested"] == pytest.approx(1e-3)
    assert math.log10(result["minimum"]) == pytest.approx(-1, abs=0.2)
    assert result["minimum_over_10"] == pytest.approx(result["minimum"] / 10)
    rising = [dict(r, smoothed=float(i)) for i, r in enumerate(rows)]  # no descent at all
    assert suggest(rising, skip_start=10)["suggested"] is None
    assert suggest(rows[:2], skip_start=10)["suggested"] is None


@pytest.mark.parametrize(
    "argv, message",
    [
        (["mlp-images", "--start_lr", "1", "--end_lr", "0.1"], "--end_lr 0.1: must be above"),
        (["mlp-images", "--num_steps", "2"], "--num_steps"),
        (["mlp-images", "--smoothing", "1"], "--smoothing"),
        (["mlp-toy"], "invalid choice: 'mlp-toy'"),
        (["mlp-images", "--dataset", "npz:absent.npz"], "npz:absent.npz: no such file"),
    ],
)
def test_bad_input_is_one_line_and_writes_nothing(cli, argv, message):
    code, out, err = cli("lr-find", *argv, "--out", "lf")
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1, err
    assert not (cli.cwd / "lf").exists()


def test_the_report_draws_the_range_test_beside_the_sweep_of_its_experiment(tmp_path: Path):
    """An lr-find of cnn among the report's directories goes into the cnn-optimizers section
    (which varies cnn's learning rate), not into any other."""
    from classicnets.report.build import lr_find_figures
    from classicnets.report.collect import collect

    cnn = EXPERIMENTS["cnn"]
    keys = {"dataset": "digits", "width": "0.0625", "optimizer": "sgd", "batch_size": "32"}
    test = config.build(RangeTest, {"num_steps": "25"})
    lr_find(cnn, config.build(cnn.config, keys), test, tmp_path / "runs" / "lf-cnn", "cpu")
    found = collect([tmp_path / "runs"])
    assert [folder.name for folder, _ in found.lr_finds] == ["lf-cnn"]
    (uri, caption), *more = lr_find_figures(SWEEPS["cnn-optimizers"], found)
    assert not more and uri.startswith("data:image/png;base64,")
    assert "Learning-rate range test" in caption and "cnn with sgd on scikit-learn" in caption
    assert "Training split only." in caption
    for other in ("mlp-vs-cnn", "rnn-images-grid", "resnet-optimizers"):
        assert lr_find_figures(SWEEPS[other], found) == []


def test_a_damaged_range_test_record_refuses_the_report_in_one_line(cli):
    folder = cli.cwd / "runs" / "lf"
    folder.mkdir(parents=True)
    (folder / "lr_find.json").write_text('{"experiment": "cnn", "keys": {}, "split": "test"}')
    code, out, err = cli("report", "runs", "--out", "r.html")
    assert code == 2 and len(err.strip().splitlines()) == 1, err
    assert "runs/lf/lr_find.json: split is 'test' (a string), expected one of train" in err
    assert not (cli.cwd / "r.html").exists()
