"""Learners and the loop's own rules: the direct autograd-engine call, early stopping, batches."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from classicnets.experiments.mlp_toy import MLPToyConfig, build
from classicnets.models import TorchMLP
from classicnets.records import RunDir, read_json
from classicnets.seeds import epoch_order
from classicnets.train.fastpaths import autograd_grad
from classicnets.train.loop import LoopSettings, batches, train
from tests.conftest import read_jsonl


def test_engine_grad_is_exactly_torch_autograd_grad():
    torch.manual_seed(0)
    model = TorchMLP((3, 7, 5, 4)).double()
    params = tuple(model.parameters())
    X, y = torch.randn(6, 3, dtype=torch.float64), torch.randint(0, 4, (6,))
    grad = autograd_grad()
    ours = grad(F.cross_entropy(model(X), y), params)
    theirs = torch.autograd.grad(F.cross_entropy(model(X), y), params)
    assert len(ours) == len(theirs) == len(params)
    for a, b in zip(ours, theirs, strict=True):
        assert torch.equal(a, b)


def test_batches_cover_the_epoch_once_in_the_seeded_order():
    X, y = np.arange(10.0).reshape(10, 1), np.arange(10)
    order = epoch_order(seed=3, epoch=5, n=10)
    assert np.array_equal(order, epoch_order(seed=3, epoch=5, n=10))
    assert not np.array_equal(order, epoch_order(seed=3, epoch=6, n=10))
    for pairs in (batches(X, y, order, 4), batches(torch.tensor(X), torch.tensor(y), order, 4)):
        assert [(len(Xb), len(yb)) for Xb, yb in pairs] == [(4, 4), (4, 4), (2, 2)]
        assert np.array_equal(np.concatenate([np.asarray(yb) for _, yb in pairs]), order)
        assert np.array_equal(np.concatenate([np.asarray(Xb)[:, 0] for Xb, _ in pairs]), order)


def test_patience_stops_a_run_that_stopped_improving(tmp_path):
    # A learning rate so small that the validation accuracy never moves after epoch 0.
    cfg = MLPToyConfig(learning_rate=1e-12, epochs=50, batch_size=100)
    learner = build(cfg, torch.device("cpu")).learner
    settings = LoopSettings(epochs=50, eval_freq=2, batch_size=100, seed=0, patience=3)
    run = RunDir(tmp_path)
    summary = train(learner, settings, run, progress=False)
    assert summary["status"] == "early_stopped"
    assert summary["epochs"] == 6  # best at epoch 0, then three evaluations without gain
    assert summary["best"]["val"]["epoch"] == summary["best"]["test"]["epoch"] == 0
    rows = read_jsonl(tmp_path / "metrics.jsonl")
    assert [r["epoch"] for r in rows if r["split"] == "val"] == [0, 2, 4, 6]


def test_without_a_validation_split_nothing_is_chosen_or_stopped(tmp_path):
    # val_size 0: no "best" in the summary, and patience cannot stop the run (the test
    # split never chooses), though the accuracy stays flat as above.
    cfg = MLPToyConfig(learning_rate=1e-12, epochs=8, batch_size=100, val_size=0)
    learner = build(cfg, torch.device("cpu")).learner
    assert learner.splits == ("train", "test")
    settings = LoopSettings(epochs=8, eval_freq=2, batch_size=100, seed=0, patience=1)
    summary = train(learner, settings, RunDir(tmp_path), progress=False)
    assert summary["status"] == "completed" and summary["epochs"] == 8
    assert "best" not in summary
    assert "best" not in read_json(tmp_path / "summary.json")
