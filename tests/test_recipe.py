"""The small-budget recipe (experiments/keys.py, RECIPE, and OPTIM's linear schedule and
warm-up): each key changes what it should, the average of the weights resumes to the bit,
and bad values are one-line refusals."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn

from classicnets import config
from classicnets.data.arrays import ArrayData
from classicnets.data.sources import TensorSource
from classicnets.data.splits import make_splits
from classicnets.experiments import cnn, mlp_images
from classicnets.experiments.images import scaled_rate
from classicnets.experiments.keys import OptimConfig
from classicnets.records import RunDir
from classicnets.train.classifier import ClassifierLearner
from classicnets.train.ema import warmed_decay
from tests.conftest import read_jsonl
from tests.test_runs import crash_after_epoch, without_time

CPU = torch.device("cpu")


def tiny_splits(C: int = 2, H: int = 6, W: int = 5, n: int = 48):
    """Random uint8 images, asymmetric enough that a mirror changes every one."""
    rng = np.random.default_rng(0)
    X = rng.integers(0, 256, size=(n, C, H, W), dtype=np.uint8)
    y = np.arange(n) % 3
    return make_splits(ArrayData(X, y, X[:12], y[:12], 3), val_size=0.25, seed=0)


def conv_net(C: int, K: int) -> nn.Module:
    """A conv with batch norm (running statistics: float buffers, and an integer count)."""
    return nn.Sequential(
        nn.Conv2d(C, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.Flatten(), nn.LazyLinear(K)
    )


def learner_on(source, model, ema=0.0, mirror=None, **keys):
    optim = config.build(OptimConfig, {"optimizer": "sgd", "momentum": "0.9", **keys})
    return ClassifierLearner(model, source, optim, CPU, 40, ema=ema, mirror=mirror)


def built_model(source) -> nn.Module:
    torch.manual_seed(0)
    model = conv_net(source.sample_shape[0], 3)
    model(source.sample("train", 2)[0])  # the lazy layer takes its shape
    return model


def test_ema_is_the_hand_computed_average_and_what_is_evaluated():
    source = TensorSource(tiny_splits(), CPU)
    decay = 0.8
    learner = learner_on(source, built_model(source), ema=decay, learning_rate="0.1")
    assert learner.model is not learner.raw
    by_hand = {k: v.clone() for k, v in learner.raw.state_dict().items()}
    for n, (X, y) in enumerate(source.epoch_batches(0, 0, 8), start=1):
        learner.step(X, y)
        d = warmed_decay(decay, n)
        for k, v in learner.raw.state_dict().items():
            by_hand[k] = d * by_hand[k] + (1 - d) * v if v.is_floating_point() else v.clone()
        if n == 4:
            break
    assert learner.average.updates == 4
    assert warmed_decay(decay, 1) == pytest.approx(2 / 11) and warmed_decay(decay, 90) == decay
    averaged, raw = learner.model.state_dict(), learner.raw.state_dict()
    for k, v in averaged.items():
        torch.testing.assert_close(v, by_hand[k], rtol=1e-6, atol=1e-7, msg=k)
    assert not torch.equal(averaged["0.weight"], raw["0.weight"])
    assert not torch.equal(averaged["1.running_mean"], raw["1.running_mean"])
    assert torch.equal(averaged["1.num_batches_tracked"], raw["1.num_batches_tracked"])
    # evaluations run the average, not the raw weights; the checkpoint's "model" is it too
    X, y = source.sample("val", 12)
    learner.raw.eval()
    with torch.no_grad():
        assert torch.equal(learner.logits(X), learner.model(X))
        assert not torch.allclose(learner.logits(X), learner.raw(X))
    state = learner.state_dict()
    assert torch.equal(state["model"]["0.weight"], averaged["0.weight"])
    assert torch.equal(state["trained"]["0.weight"], raw["0.weight"])
    assert state["ema_updates"] == 4


def test_without_ema_the_model_is_the_trained_one_and_the_state_unchanged():
    source = TensorSource(tiny_splits(), CPU)
    learner = learner_on(source, built_model(source))
    assert learner.model is learner.raw and learner.average is None
    assert set(learner.state_dict()) == {"model", "optimizer"}


def test_ema_state_roundtrip_continues_to_the_bit():
    """Train 6 steps; beside it, 3 steps, state_dict -> a fresh learner -> 3 more."""
    source = TensorSource(tiny_splits(), CPU)
    batches = list(source.epoch_batches(0, 0, 6))[:6]
    keys = {"learning_rate": "0.1", "lr_schedule": "linear", "warmup": "0.1"}
    whole = learner_on(source, built_model(source), ema=0.9, **keys)
    for X, y in batches:
        whole.step(X, y)
    first = learner_on(source, built_model(source), ema=0.9, **keys)
    for X, y in batches[:3]:
        first.step(X, y)
    second = learner_on(source, built_model(source), ema=0.9, **keys)
    second.load_state_dict(first.state_dict())
    for X, y in batches[3:]:
        second.step(X, y)
    a, b = whole.state_dict(), second.state_dict()
    assert a["ema_updates"] == b["ema_updates"] == 6
    for part in ("model", "trained"):
        for k in a[part]:
            assert torch.equal(a[part][k], b[part][k]), (part, k)
    assert a["schedule"] == b["schedule"]


@pytest.mark.parametrize("layout", ["image", "flat", "rows"])
def test_tta_logits_are_the_mean_of_the_image_and_its_mirror(layout):
    splits = tiny_splits()
    source = TensorSource(splits, CPU, layout)
    torch.manual_seed(0)
    width = math.prod(source.sample_shape)
    model = nn.Sequential(nn.Flatten(), nn.Linear(width, 3))
    plain = learner_on(source, model)
    tta = learner_on(source, model, mirror=source.mirror)
    stored = source.data["test"][0]  # (N, C, H, W) uint8, as held
    X, mirrored = source.inputs(stored), source.inputs(stored.flip(3))  # flipped as stored
    assert torch.equal(source.mirror(X), mirrored)
    with torch.no_grad():
        expected = (model(X) + model(mirrored)) / 2
    torch.testing.assert_close(tta.logits(X), expected)
    assert not torch.allclose(plain.logits(X), expected)
    loss, accuracy = tta.evaluate("test")
    assert loss == pytest.approx(
        float(nn.functional.cross_entropy(expected, source.data["test"][1])), rel=1e-5
    )


def cosine(u: float) -> float:
    return 0.5 + 0.5 * math.cos(math.pi * u)


def rates(learner, steps: int) -> list[float]:
    seen = []
    for _ in range(steps):
        seen.append(learner.learning_rate)
        learner.optimizer.step()
        learner.schedule.step()
    return seen


@pytest.mark.parametrize(
    ("schedule", "warmup", "expected"),
    [
        # 40 updates at 0.1: linear to 0 after the last
        ("linear", "0", lambda t: 0.1 * (1 - t / 40)),
        # 4 warm-up updates rising to 0.1, then linear over the other 36
        ("linear", "0.1", lambda t: 0.1 * ((t + 1) / 4 if t < 4 else 1 - (t - 4) / 36)),
        ("cosine", "0.25", lambda t: 0.1 * ((t + 1) / 10 if t < 10 else cosine((t - 10) / 30))),
        ("step", "0.1", lambda t: 0.1 * ((t + 1) / 4 if t < 4 else 0.1 ** ((t >= 20) + (t >= 30)))),
        ("none", "0.5", lambda t: 0.1 * min((t + 1) / 20, 1.0)),
    ],
)  # fmt: skip
def test_schedule_rates_at_known_steps(schedule, warmup, expected):
    source = TensorSource(tiny_splits(), CPU)
    keys = {"learning_rate": "0.1", "lr_schedule": schedule, "warmup": warmup}
    learner = learner_on(source, built_model(source), **keys)
    got = rates(learner, 40)
    for t in (0, 1, 3, 4, 5, 10, 19, 20, 29, 30, 39):
        assert got[t] == pytest.approx(expected(t), rel=1e-9, abs=1e-12), t


def test_without_warmup_the_old_schedules_are_torchs_own():
    """Runs made before `warmup` existed keep their exact rates (and resume)."""
    source = TensorSource(tiny_splits(), CPU)
    for name, cls in (("cosine", "CosineAnnealingLR"), ("onecycle", "OneCycleLR")):
        learner = learner_on(source, built_model(source), lr_schedule=name)
        assert type(learner.schedule).__name__ == cls


def test_lr_scale_batch_scales_the_rate_the_learner_uses():
    cfg = config.build(
        cnn.CNNConfig,
        {"learning_rate": "0.4", "batch_size": "32", "lr_scale_batch": "256", "width": "0.0625"},
    )
    assert scaled_rate(cfg).learning_rate == pytest.approx(0.05) and cfg.learning_rate == 0.4
    unscaled = config.build(cnn.CNNConfig, {"learning_rate": "0.4"})
    assert scaled_rate(unscaled) is unscaled
    built = cnn.build(cfg, CPU, tiny_splits(C=1, H=8, W=8))
    assert built.learner.learning_rate == pytest.approx(0.05)


@pytest.mark.parametrize(
    ("keys", "said"),
    [
        (["--ema", "1"], "--ema '1': must be in [0, 1)"),
        (["--ema", "-0.5"], "--ema '-0.5': must be in [0, 1)"),
        (["--ema", "nan"], "--ema 'nan': expected a finite number"),
        (["--tta", "maybe"], "--tta 'maybe': expected true or false"),
        (["--tta", "true"], "--tta true: digits must not be mirrored"),
        (["--lr_scale_batch", "-8"], "--lr_scale_batch '-8': must be >= 0"),
        (["--lr_scale_batch", "1.5"], "--lr_scale_batch '1.5': expected an integer"),
        (["--lr_schedule", "triangle"], "expected one of none, step, cosine, onecycle, linear"),
        (["--warmup", "1"], "--warmup '1': must be in [0, 1)"),
        (["--warmup", "0.2", "--lr_schedule", "onecycle"], "onecycle warms up on its own"),
    ],
)
def test_bad_recipe_values_are_one_line_refusals(cli, keys, said):
    code, out, err = cli("train", "mlp-images", "--dataset", "digits", *keys, "--out", "r")
    assert code == 2, err
    assert said in err and len(err.strip().splitlines()) == 1, err
    assert not (cli.cwd / "r").exists()


def test_tta_is_refused_for_mnist_and_in_a_sweep_too(cli):
    code, _, err = cli("train", "cnn", "--dataset", "mnist", "--tta", "true", "--out", "r")
    assert code == 2 and "mnist must not be mirrored" in err, err
    cfg = config.build(mlp_images.MLPImagesConfig, {"dataset": "digits", "tta": "true"})
    with pytest.raises(Exception, match="digits must not be mirrored"):
        mlp_images.validate(cfg)


def test_ema_run_resumes_after_a_crash_to_the_bit(cli):
    keys = [
        *("mlp-images", "--dataset", "digits", "--dnn_hidden_units", "32"),
        *("--ema", "0.9", "--lr_schedule", "linear", "--warmup", "0.2", "--augment", "true"),
        *("--epochs", "4", "--train_samples", "300", "--batch_size", "32", "--quiet"),
    ]
    assert cli("train", *keys, "--out", "whole")[0] == 0
    with crash_after_epoch(2):
        assert cli("train", *keys, "--out", "crashed")[0] == 1
    assert cli("train", *keys, "--out", "crashed", "--resume")[0] == 0
    whole, crashed = cli.cwd / "whole", cli.cwd / "crashed"
    assert without_time(read_jsonl(crashed / "metrics.jsonl")) == without_time(
        read_jsonl(whole / "metrics.jsonl")
    )
    a, b = (RunDir(d).load_checkpoint()["learner"] for d in (whole, crashed))
    assert a["ema_updates"] == b["ema_updates"] == 4 * math.ceil(270 / 32)  # 300 - 10% val
    for part in ("model", "trained"):
        for name, tensor in a[part].items():
            assert torch.equal(tensor, b[part][name]), (part, name)
    assert not torch.equal(a["model"]["layers.0.weight"], a["trained"]["layers.0.weight"])


def test_time_to_accuracy_draws_test_accuracy_against_time_a_colour_per_recipe(tmp_path):
    from classicnets.plots import time_to_accuracy, time_to_accuracy_figure

    def run(times, accuracies):
        rows = []
        for epoch, (t, acc) in enumerate(zip(times, accuracies)):
            rows.append({"split": "val", "accuracy": 1.0, "time_s": t, "epoch": epoch})
            rows.append({"split": "test", "accuracy": acc, "time_s": t, "epoch": epoch})
        return rows

    recipes = {
        "base": [run([0, 2, 4], [0.1, 0.5, 0.6]), run([0, 3, 5], [0.1, 0.4, 0.7])],
        "ema": [run([0, 1.5, 3.5], [0.1, 0.6, 0.8])],
    }
    ax = time_to_accuracy_figure(recipes).axes[0]
    lines = ax.get_lines()
    assert [list(line.get_xdata()) for line in lines] == [[0, 2, 4], [0, 3, 5], [0, 1.5, 3.5]]
    assert [list(line.get_ydata()) for line in lines] == [
        [0.1, 0.5, 0.6],
        [0.1, 0.4, 0.7],
        [0.1, 0.6, 0.8],
    ]
    assert lines[0].get_color() == lines[1].get_color() != lines[2].get_color()
    assert ax.get_xlabel() == "wall time (s)" and ax.get_ylabel() == "test accuracy"
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["base (2 runs)", "ema (1 run)"]
    assert time_to_accuracy(recipes, tmp_path / "t.png").stat().st_size > 10_000


@pytest.mark.slow  # two spawned ranks each load torch and digits
def test_ema_under_torchrun_trains_the_run_one_process_trains(cli):
    """distribute() swaps in the model with global batch norm: the average must follow it."""
    from tests.test_distributed import COMMON, MLP, assert_same_run, finish, torchrun

    keys = [*MLP, "--epochs", "2", "--ema", "0.9", "--lr_schedule", "linear", *COMMON]
    proc = torchrun(cli.cwd, "train", "mlp-images", *keys, "--out", "two")
    assert cli("train", "mlp-images", *keys, "--out", "one")[0] == 0
    code, _, err = finish(proc)
    assert code == 0, err[-3000:]
    one, two = (read_jsonl(cli.cwd / d / "metrics.jsonl") for d in ("one", "two"))
    assert_same_run(one, two)
    state = RunDir(cli.cwd / "two").load_checkpoint()["learner"]
    assert state["ema_updates"] > 0 and set(state["model"]) == set(state["trained"])


def test_tta_reaches_the_runs_evaluations_and_an_npz_may_be_mirrored(cli):
    """Epoch 0 evaluates the same initial weights (same seed): only TTA can move its loss."""
    rng = np.random.default_rng(0)
    X = rng.integers(0, 256, size=(240, 1, 8, 8), dtype=np.uint8)
    y = np.arange(240) % 4
    np.savez(cli.cwd / "imgs.npz", X_train=X[:200], y_train=y[:200], X_test=X[200:], y_test=y[200:])
    keys = ["--dataset", "npz:imgs.npz", "--dnn_hidden_units", "16", "--epochs", "1", "--quiet"]
    assert cli("train", "mlp-images", *keys, "--out", "plain")[0] == 0
    assert cli("train", "mlp-images", *keys, "--tta", "true", "--out", "tta")[0] == 0
    plain, tta = (read_jsonl(cli.cwd / d / "metrics.jsonl") for d in ("plain", "tta"))
    for a, b in zip(plain[:3], tta[:3]):  # epoch 0: train, val, test
        assert a["epoch"] == b["epoch"] == 0 and a["split"] == b["split"]
        assert a["loss"] != b["loss"], a["split"]


def test_with_ema_best_pt_and_run_model_are_the_average_of_the_chosen_evaluation(cli):
    """A: 3 epochs; B: A's first epochs up to the one validation chose. A's best.pt is B's
    averaged model, not the weights the optimizer reached."""
    import classicnets

    keys = [
        *("mlp-images", "--dataset", "digits", "--dnn_hidden_units", "32", "--ema", "0.9"),
        *("--batch_size", "64", "--quiet", "--device", "cpu"),
    ]
    assert cli("train", *keys, "--epochs", "3", "--out", "A")[0] == 0
    best = RunDir(cli.cwd / "A").load_best()
    assert cli("train", *keys, "--epochs", str(best["epoch"]), "--out", "B")[0] == 0
    b = RunDir(cli.cwd / "B").load_checkpoint()["learner"]
    for k, v in b["model"].items():
        assert torch.equal(best["weights"][k], v), k
    assert not torch.equal(best["weights"]["layers.0.weight"], b["trained"]["layers.0.weight"])
    model = classicnets.load(cli.cwd / "A").model
    assert torch.equal(model.state_dict()["layers.0.weight"], best["weights"]["layers.0.weight"])
