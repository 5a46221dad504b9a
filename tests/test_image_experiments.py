"""mlp-images and cnn end to end through the CLI: smoke runs on digits and on the real
Fashion-MNIST, the validation split choosing best, resume to the bit with optimizer state,
schedule, dropout and augmentation, and the optimizer sweep's table."""

from __future__ import annotations

import pytest
import torch

from classicnets.records import RunDir
from tests.conftest import read_json, read_jsonl
from tests.test_runs import crash_after_epoch, without_time

FASHION = "/usr/share/datasets/fashion-mnist"
TINY_CNN = ["--width", "0.0625", "--batch_size", "32", "--quiet"]


def test_mlp_images_smoke_on_digits_records_three_splits_and_best_by_validation(cli):
    code, out, err = cli(
        "train", "mlp-images", "--dataset", "digits", "--epochs", "3", "--out", "run", "--quiet"
    )
    assert code == 0, err
    run = cli.cwd / "run"
    rows = read_jsonl(run / "metrics.jsonl")
    assert [r["split"] for r in rows[:3]] == ["train", "val", "test"]
    summary = read_json(run / "summary.json")
    best_val = max((r for r in rows if r["split"] == "val"), key=lambda r: r["accuracy"])
    assert summary["best"]["val"]["step"] == best_val["step"]
    test_then = next(r for r in rows if r["split"] == "test" and r["step"] == best_val["step"])
    assert summary["best"]["test"]["accuracy"] == test_then["accuracy"]  # not the best test
    assert summary["final"]["test"]["accuracy"] > 0.8
    assert "best val" in out
    assert (run / "figures" / "curves.png").stat().st_size > 10_000


@pytest.mark.parametrize(
    ("experiment", "keys"),
    [
        (
            "mlp-images",
            ["--dropout", "0.3", "--batchnorm", "true", "--lr_schedule", "onecycle"],
        ),
        ("cnn", [*TINY_CNN, "--optimizer", "sgd", "--momentum", "0.9", "--lr_schedule", "cosine"]),
    ],
)
def test_image_runs_resume_after_a_crash_to_the_bit(cli, experiment, keys):
    keys = [
        *keys,
        "--dataset",
        "digits",
        "--augment",
        "true",
        "--epochs",
        "4",
        "--train_samples",
        "300",
        "--quiet",
    ]
    assert cli("train", experiment, *keys, "--out", "whole")[0] == 0
    with crash_after_epoch(2):
        assert cli("train", experiment, *keys, "--out", "crashed")[0] == 1
    assert cli("train", experiment, *keys, "--out", "crashed", "--resume")[0] == 0
    whole, crashed = cli.cwd / "whole", cli.cwd / "crashed"
    assert without_time(read_jsonl(crashed / "metrics.jsonl")) == without_time(
        read_jsonl(whole / "metrics.jsonl")
    )
    a, b = (RunDir(d).load_checkpoint()["learner"] for d in (whole, crashed))
    for name, tensor in a["model"].items():
        assert torch.equal(tensor, b["model"][name]), name


def test_cnn_smoke_and_optimizer_sweep_table_keeps_a_diverged_run(cli):
    code, out, err = cli(
        "sweep",
        "cnn-optimizers",
        "--dataset",
        "digits",
        "--epochs",
        "1",
        "--train_samples",
        "200",
        "--test_samples",
        "100",
        *TINY_CNN,
        "--out",
        "grid",
    )
    assert code == 0, err
    table = (cli.cwd / "grid" / "figures" / "table.md").read_text().splitlines()
    assert len(table) == 2 + 12
    assert table[0].startswith("| optimizer | learning_rate | status | chosen epoch (by val)")
    assert (cli.cwd / "grid" / "figures" / "curves.png").stat().st_size > 20_000
    statuses = [t["status"] for t in read_json(cli.cwd / "grid" / "sweep.json")["trials"]]
    assert set(statuses) <= {"completed", "diverged"}


@pytest.mark.skipif(
    not __import__("os").path.isdir(FASHION), reason="Debian's dataset-fashion-mnist is absent"
)
def test_real_fashion_mnist_mlp_vs_cnn_sweep_compares_and_looks_inside(cli):
    """A small real budget: both learn the real data well beyond chance (0.1); the sweep
    draws the comparison and the CNN's four analysis figures; analyze takes --layer."""
    code, out, err = cli(
        "sweep",
        "mlp-vs-cnn",
        "--dataset",
        "fashion-mnist",
        "--train_samples",
        "3000",
        "--test_samples",
        "1000",
        "--epochs",
        "2",
        "--width",  # a cnn key: the cnn trial alone takes it
        "0.125",
        "--out",
        "vs",
        "--quiet",
    )
    assert code == 0, err
    vs = cli.cwd / "vs"
    trials = {t["trial"]: t for t in read_json(vs / "sweep.json")["trials"]}
    assert trials["mlp"]["best"]["test"]["accuracy"] > 0.7
    assert trials["cnn"]["best"]["test"]["accuracy"] > 0.5
    assert read_json(vs / "cnn" / "config.json")["width"] == 0.125
    assert "width" not in read_json(vs / "mlp" / "config.json")
    assert (vs / "figures" / "curves.png").stat().st_size > 10_000
    names = ("filters.png", "activation_stats.png", "deconvnet.png", "occlusion.png")
    for name in names:
        assert (vs / "cnn" / "figures" / name).stat().st_size > 5_000, name
    stats = (vs / "cnn" / "figures" / "activation_stats.md").read_text().splitlines()
    assert len(stats) == 2 + 8  # a row per conv layer of the course's network
    code, out, err = cli("analyze", "vs/cnn", "--layer", "2")
    assert code == 0 and "deconvnet.png" in out, err
    code, _, err = cli("analyze", "vs/cnn", "--layer", "9")
    assert code == 2 and "8 conv layers" in err
