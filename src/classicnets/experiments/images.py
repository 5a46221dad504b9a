"""What the image experiments share: loading and splitting the data, the learner on it, and
the run's figure. mlp-images, cnn, resnet and rnn-images differ only in the model and the
layout it reads (image, flat or rows)."""

from __future__ import annotations

import dataclasses
import math
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch import nn

from classicnets import plots
from classicnets.data import registry
from classicnets.data.sources import Layout, TensorSource, random_crop_flip
from classicnets.data.splits import Splits, make_splits, split_sizes
from classicnets.errors import UsageError
from classicnets.experiments import keys, memory
from classicnets.experiments.spec import Built
from classicnets.records import RunDir
from classicnets.seeds import seed_torch
from classicnets.train.classifier import ClassifierLearner
from classicnets.train.loop import LoopSettings
from classicnets.train.optim import schedule_problem

MIRROR_ENV = "CLASSICNETS_DATA_MIRROR"  # a base URL that replaces the official download hosts
MakeModel = Callable[[tuple[int, ...], int], nn.Module]  # (sample_shape, num_classes) -> model
# (config, (C, H, W) of one image, num_classes) -> the model's parts of the run's memory
Estimate = Callable[[Any, tuple[int, ...], int], list[memory.Part]]


def _check_batch(cfg: Any, n_train: int) -> None:
    if cfg.batch_size > n_train:
        images = f"{n_train} image" + ("s" if n_train != 1 else "")
        cut = f", after --val_size {cfg.val_size}" if cfg.val_size > 0 else ""
        raise UsageError(
            f"--batch_size {cfg.batch_size}: larger than the training split ({images}{cut}); "
            f"use at most {n_train}" + (", or a smaller --val_size" if cut else "")
        )


def check_recipe(cfg: Any) -> None:
    """The recipe's keys (experiments/keys.py, RECIPE) against the data and the schedule."""
    if cfg.tta and not registry.flips(cfg.dataset):
        raise UsageError(
            f"--tta true: {cfg.dataset} must not be mirrored (a mirrored digit is another "
            "shape, or none); use --tta false"
        )
    problem = schedule_problem(cfg)
    if problem:
        raise UsageError(problem)


def scaled_rate(cfg: Any) -> Any:
    """The keys the learner is built from: with lr_scale_batch N, learning_rate is per N
    images and becomes learning_rate x batch_size / N (the config keeps what was given)."""
    if not cfg.lr_scale_batch:
        return cfg
    return dataclasses.replace(
        cfg, learning_rate=cfg.learning_rate * cfg.batch_size / cfg.lr_scale_batch
    )


def load_splits(cfg: Any, progress: bool = True) -> Splits:
    """The run's train/val/test arrays, after the checks that need the data."""
    keys.check_validation(cfg)
    data = registry.load(
        cfg.dataset, Path(cfg.data_dir), cfg.download, progress, os.environ.get(MIRROR_ENV)
    )
    splits = make_splits(data, cfg.val_size, cfg.seed, cfg.train_samples, cfg.test_samples)
    _check_batch(cfg, len(splits.arrays["train"][1]))
    return splits


def check_memory(
    cfg: Any,
    estimate: Estimate,
    shape: tuple[int, ...],
    num_classes: int,
    data_bytes: int,
    device: torch.device | None = None,
) -> None:
    """Refuse a run that cannot fit: the model's estimate and the images, held twice (as
    loaded, and as the source holds them on the device)."""
    images = memory.Part("the images", 2 * data_bytes, "dataset", cfg.dataset, "use fewer images")
    memory.check([*estimate(cfg, tuple(shape), num_classes), images], device)


def check_vectors(cfg: Any, sample: tuple[int, ...], takes_vectors: bool) -> None:
    """A user's npz of vectors N×D (tabular data) suits an MLP only, and has no pixels to
    crop or flip: refused elsewhere in one line."""
    if len(sample) != 1:
        return
    if not takes_vectors:
        raise UsageError(
            f"--dataset {cfg.dataset}: holds vectors N×D (D = {sample[0]}); this experiment "
            "takes images N×C×H×W or N×H×W (mlp-images takes vectors)"
        )
    if cfg.augment:
        raise UsageError(
            f"--augment true: {cfg.dataset} holds vectors N×D (tabular data), which have no "
            "pixels to crop or flip; use --augment false"
        )


def validate_data(cfg: Any, estimate: Estimate, takes_vectors: bool = False) -> dict[str, int]:
    """The checks load_splits and build_classifier make, on the split sizes and the data's
    shape alone (a sweep checks every trial); the split sizes."""
    check_recipe(cfg)
    keys.check_validation(cfg)
    n_train, n_test = registry.sizes(cfg.dataset, Path(cfg.data_dir), cfg.download)
    sizes = split_sizes(n_train, n_test, cfg.val_size, cfg.train_samples, cfg.test_samples)
    _check_batch(cfg, sizes["train"])
    shape = registry.shape(cfg.dataset, Path(cfg.data_dir), cfg.download)
    check_vectors(cfg, tuple(shape.sample), takes_vectors)
    stored = (n_train + n_test) * math.prod(shape.sample) * shape.itemsize
    check_memory(cfg, estimate, shape.sample, shape.num_classes, stored)
    return sizes


def validator(estimate: Estimate) -> Callable[[Any], None]:
    """An image experiment's `validate`: validate_data with its model's estimate."""

    def validate(cfg: Any) -> None:
        validate_data(cfg, estimate)

    return validate


def augmentation(cfg: Any, image_size: int):
    if not cfg.augment:
        return None
    pad = max(1, round(image_size / 8))  # 4 px at 28 and 32, 1 px for 8x8 digits
    flip = registry.flips(cfg.dataset)
    return lambda X, generator: random_crop_flip(X, pad, flip, generator)


def build_classifier(
    cfg: Any,
    device: torch.device,
    layout: Layout,
    make_model: MakeModel,
    estimate: Estimate,
    memory_format: torch.memory_format = torch.contiguous_format,
    splits: Splits | None = None,
    *,
    base_epochs: int,
) -> Built:
    """Data on the device, the model, the learner and the loop settings of an image run,
    once the model's memory estimate fits the device.

    `splits` replaces the data the config names (benchmarks time the same path on their own);
    `base_epochs` is what the automatic --epochs starts from (budget).
    """
    check_recipe(cfg)
    splits = splits or load_splits(cfg)
    X_train = splits.arrays["train"][0]
    check_vectors(cfg, X_train.shape[1:], layout == "flat")
    if X_train.ndim == 2:  # vectors (N, D) as D channels of 1×1 (views): the source then
        # standardises each feature with the training split's mean and std, as it does a channel
        arrays = {k: (X[:, :, None, None], y) for k, (X, y) in splits.arrays.items()}
        splits = Splits(arrays, splits.num_classes)
        X_train = splits.arrays["train"][0]
    if X_train.ndim != 4:
        raise UsageError(
            f"--dataset {cfg.dataset}: X_train has shape {X_train.shape}; this experiment "
            "takes images N×C×H×W or N×H×W"
        )
    stored = sum(X.nbytes for X, _ in splits.arrays.values())
    check_memory(cfg, estimate, X_train.shape[1:], splits.num_classes, stored, device)
    augment = augmentation(cfg, X_train.shape[-1])
    source = TensorSource(splits, device, layout, augment, memory_format, seed=cfg.seed)
    seed_torch(cfg.seed)  # the initial weights
    model = make_model(source.sample_shape, splits.num_classes)
    steps_per_epoch = math.ceil(len(source) / cfg.batch_size)
    epochs, eval_freq = budget(cfg, base_epochs, steps_per_epoch)
    learner = ClassifierLearner(
        model,
        source,
        scaled_rate(cfg),
        device,
        epochs * steps_per_epoch,
        memory_format,
        ema=cfg.ema,
        mirror=source.mirror if cfg.tta else None,
    )
    return Built(learner, LoopSettings.from_keys(cfg, epochs=epochs, eval_freq=eval_freq), source)


def budget(cfg: Any, base_epochs: int, steps_per_epoch: int) -> tuple[int, int]:
    """(epochs, eval_freq) of a run. An --epochs given is kept as given. The automatic one
    (0) is the experiment's `base_epochs`, times the smallest whole k for which they make
    --min_updates updates: a budget counted in passes alone gives a small data set a few
    hundred updates (8x8 digits: 1,293 images make 41 a pass at batch 32). --eval_freq is
    multiplied by the same k, so the run evaluates as often, and --patience, counted in
    evaluations, stops it at the same point of its course."""
    if cfg.epochs:
        return cfg.epochs, cfg.eval_freq
    k = max(1, math.ceil(cfg.min_updates / (base_epochs * steps_per_epoch)))
    return k * base_epochs, k * cfg.eval_freq


def curves_figure(title: str) -> Callable[[RunDir], list[Path]]:
    def figures(run: RunDir) -> list[Path]:
        cfg = run.config()
        name = f"{title} on {registry.title(cfg['dataset'])}"
        return [plots.curves({title: run.metrics()}, run.figures / "curves.png", name)]

    return figures
