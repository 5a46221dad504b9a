"""The tensor data pipeline: splits, normalisation, layouts, batch augmentation, determinism;
and the optimizers and schedules of the torch.optim learner."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from classicnets.config import build
from classicnets.data.arrays import ArrayData
from classicnets.data.sources import TensorSource, channel_stats, random_crop_flip
from classicnets.data.splits import make_splits
from classicnets.errors import UsageError
from classicnets.experiments.keys import OptimConfig
from classicnets.seeds import Stream, torch_generator
from classicnets.train.optim import make_optimizer, make_schedule


def epoch_generator(seed: int, epoch: int):
    return torch_generator(seed, Stream.AUGMENT, epoch)


def images(n: int = 200, c: int = 3, h: int = 8, classes: int = 4, seed: int = 0) -> ArrayData:
    rng = np.random.default_rng(seed)
    X = rng.integers(0, 256, size=(n, c, h, h), dtype=np.uint8)
    y = np.arange(n) % classes
    return ArrayData(X[: n * 3 // 4], y[: n * 3 // 4], X[n * 3 // 4 :], y[n * 3 // 4 :], classes)


def test_validation_split_is_stratified_disjoint_and_seeded():
    data = images(400)
    splits = make_splits(data, val_size=0.2, seed=1)
    assert splits.names == ("train", "val", "test")
    (X_tr, y_tr), (X_val, y_val) = splits.arrays["train"], splits.arrays["val"]
    assert len(y_val) == 60 and len(y_tr) == 240
    assert np.bincount(y_val).tolist() == [15] * 4  # stratified
    rows = {x.tobytes() for x in X_tr}
    assert not any(x.tobytes() in rows for x in X_val)  # disjoint
    again = make_splits(data, val_size=0.2, seed=1)
    assert np.array_equal(again.arrays["val"][0], X_val)
    assert not np.array_equal(make_splits(data, val_size=0.2, seed=2).arrays["val"][0], X_val)
    assert make_splits(data, val_size=0, seed=1).names == ("train", "test")
    small = make_splits(data, val_size=0.1, seed=1, train_samples=100, test_samples=20)
    assert len(small.arrays["train"][1]) + len(small.arrays["val"][1]) == 100
    assert len(small.arrays["test"][1]) == 20
    with pytest.raises(UsageError, match="val_size"):
        make_splits(images(8), val_size=0.99, seed=0)


def test_source_normalises_with_training_statistics_in_each_layout():
    splits = make_splits(images(400), val_size=0.1, seed=0)
    mean, std = channel_stats(splits.arrays["train"][0])
    source = TensorSource(splits, torch.device("cpu"), "image")
    X, _ = next(iter(source.eval_batches("train")))
    per_channel = X.transpose(0, 1).reshape(3, -1)
    np.testing.assert_allclose(per_channel.mean(1), 0, atol=1e-5)
    np.testing.assert_allclose(per_channel.std(1, unbiased=False), 1, atol=1e-5)
    assert mean.shape == std.shape == (3,)
    assert source.sample_shape == (3, 8, 8)
    flat = TensorSource(splits, torch.device("cpu"), "flat")
    assert flat.sample_shape == (192,)
    rows = TensorSource(splits, torch.device("cpu"), "rows")
    assert rows.sample_shape == (8, 24)  # T = H rows of C*W values
    Xi, Xr = source.sample("test", 5)[0], rows.sample("test", 5)[0]
    assert torch.equal(Xr[:, 2], Xi[:, :, 2, :].reshape(5, 24))  # row 2 of every channel


def test_epoch_batches_cover_the_split_once_and_repeat_for_the_same_seed_and_epoch():
    splits = make_splits(images(400), val_size=0.1, seed=0)
    source = TensorSource(splits, torch.device("cpu"), "image")
    ys = torch.cat([y for _, y in source.epoch_batches(3, 0, 32)])
    assert sorted(ys.tolist()) == sorted(splits.arrays["train"][1].tolist())
    a = [X for X, _ in source.epoch_batches(3, 5, 32)]
    b = [X for X, _ in source.epoch_batches(3, 5, 32)]
    c = [X for X, _ in source.epoch_batches(3, 6, 32)]
    assert all(torch.equal(x, y) for x, y in zip(a, b))
    assert not torch.equal(a[0], c[0])


def test_random_crop_flip_moves_pixels_by_at_most_the_padding_and_is_seeded():
    X = torch.arange(2 * 1 * 6 * 6, dtype=torch.float32).reshape(2, 1, 6, 6) + 1
    out = random_crop_flip(X, pad=2, flip=False, generator=epoch_generator(0, 0))
    assert out.shape == X.shape
    for b in range(2):  # every output is a 6x6 window of the zero-padded image
        padded = torch.nn.functional.pad(X[b, 0], (2, 2, 2, 2))
        windows = [padded[i : i + 6, j : j + 6] for i in range(5) for j in range(5)]
        assert any(torch.equal(out[b, 0], w) for w in windows)
    again = random_crop_flip(X, pad=2, flip=True, generator=epoch_generator(0, 0))
    assert torch.equal(again, random_crop_flip(X, 2, True, epoch_generator(0, 0)))
    flips = random_crop_flip(X.repeat(64, 1, 1, 1), 0, True, epoch_generator(0, 1))
    flipped = [torch.equal(f, X[i % 2].flip(2)) for i, f in enumerate(flips)]
    assert 40 < sum(flipped) < 88  # about half of 128


@pytest.mark.parametrize("optimizer", ["sgd", "adam", "adamw", "adagrad", "rmsprop"])
@pytest.mark.parametrize("schedule", ["none", "step", "cosine", "onecycle", "linear"])
def test_every_optimizer_and_schedule_steps_and_restores(optimizer, schedule):
    keys = build(
        OptimConfig,
        {
            "optimizer": optimizer,
            "lr_schedule": schedule,
            "momentum": "0.9",
            "weight_decay": "1e-4",
        },
    )
    torch.manual_seed(0)
    model = torch.nn.Linear(4, 3)
    opt = make_optimizer(model.parameters(), keys)
    sched = make_schedule(opt, keys, total_steps=8)
    assert (sched is None) == (schedule == "none")
    for _ in range(3):
        model(torch.randn(5, 4)).pow(2).mean().backward()
        opt.step()
        opt.zero_grad()
        if sched:
            sched.step()
    state = {"o": opt.state_dict(), **({"s": sched.state_dict()} if sched else {})}
    opt2 = make_optimizer(model.parameters(), keys)
    opt2.load_state_dict(state["o"])
    if sched:
        sched2 = make_schedule(opt2, keys, total_steps=8)
        sched2.load_state_dict(state["s"])
        assert sched2.get_last_lr() == sched.get_last_lr()
    if schedule == "cosine":
        assert sched.get_last_lr()[0] < keys.learning_rate
