"""What the image experiments share: their data keys, loading and splitting the data, and
the run's figures. mlp-images, cnn and rnn-images differ only in the model and its layout."""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from classicnets import config, plots
from classicnets.config import hp, non_negative, positive
from classicnets.data.images import IMAGE_DATASETS, load_images
from classicnets.data.pipeline import Layout, Splits, TensorSource, make_splits, random_crop_flip
from classicnets.errors import UsageError
from classicnets.experiments.base import Built, Experiment
from classicnets.train.classifier import ClassifierLearner
from classicnets.train.loop import LoopSettings
from classicnets.train.optim import OptimKeys
from classicnets.train.runs import RunDir

MIRROR_ENV = "CLASSICNETS_DATA_MIRROR"  # a base URL that replaces the official download hosts
NO_FLIP = ("mnist", "digits")  # a mirrored digit is another digit, or none


def _image_dataset(name: str) -> str | None:
    if name in IMAGE_DATASETS or (name.startswith("npz:") and len(name) > 4):
        return None
    return f"unknown data set; choose {', '.join(IMAGE_DATASETS)} or npz:PATH"


def _fraction_or_zero(value: float) -> str | None:
    return None if 0 <= value < 1 else "must be in [0, 1), e.g. 0.1 (0 = no validation split)"


@dataclass(frozen=True)
class ImageKeys:
    dataset: str = hp(
        "fashion-mnist",
        "cifar10, mnist, fashion-mnist, digits (scikit-learn's 8x8), or npz:PATH (X_train, "
        "y_train, X_test, y_test; images N×C×H×W or N×H×W)",
        _image_dataset,
    )
    data_dir: str = hp("data", "where data sets are looked for and --download puts them")
    download: bool = hp(False, "fetch a missing data set from its official location (MD5-checked)")
    val_size: float = hp(
        0.1,
        "fraction of the training split held out for validation, which alone picks the best "
        "epoch and early stopping (0 = none: then best is the best test evaluation)",
        _fraction_or_zero,
    )
    train_samples: int = hp(
        0, "train on a stratified random subset of this many images (0 = all)", non_negative
    )
    test_samples: int = hp(
        0, "evaluate on a stratified subset of the test split (0 = all)", non_negative
    )
    augment: bool = hp(
        False,
        "random crops after zero padding (4 px at 28-32 px) and horizontal flips "
        "(not for mnist and digits), drawn per batch from (seed, epoch)",
    )
    batch_size: int = hp(128, "images per update", positive)
    epochs: int = hp(20, "passes over the training split", positive)
    eval_freq: int = hp(1, "epochs between evaluations of train, val and test", positive)
    patience: int = hp(
        0,
        "evaluations without a better validation accuracy before stopping (0 = never)",
        non_negative,
    )
    seed: int = hp(42, "seeds the split, the initial weights, the batch order and augmentation")


def load_splits(cfg: Any, progress: bool = True) -> Splits:
    """The run's train/val/test arrays, after the checks that need the data."""
    data = load_images(
        cfg.dataset, Path(cfg.data_dir), cfg.download, progress, mirror=os.environ.get(MIRROR_ENV)
    )
    splits = make_splits(data, cfg.val_size, cfg.seed, cfg.train_samples, cfg.test_samples)
    n_train = len(splits.arrays["train"][1])
    if cfg.batch_size > n_train:
        raise UsageError(
            f"--batch_size {cfg.batch_size}: larger than the training split ({n_train} "
            f"images); use at most {n_train}"
        )
    return splits


def validate_data(cfg: Any) -> None:
    load_splits(cfg, progress=False)


def augmentation(cfg: Any, image_size: int):
    if not cfg.augment:
        return None
    pad = max(1, round(image_size / 8))  # 4 px at 28 and 32, 1 px for 8x8 digits
    flip = cfg.dataset not in NO_FLIP
    return lambda X, generator: random_crop_flip(X, pad, flip, generator)


def build_classifier(
    cfg: Any,
    device: torch.device,
    layout: Layout,
    make_model,  # (sample_shape, num_classes) -> nn.Module
    memory_format: torch.memory_format = torch.contiguous_format,
    splits: Splits | None = None,
) -> Built:
    """Data on the device, the model, the learner and the loop settings of an image run.

    `splits` replaces the data the config names (benchmarks time the same path on their own).
    """
    splits = splits or load_splits(cfg)
    X_train = splits.arrays["train"][0]
    if X_train.ndim != 4:
        raise UsageError(
            f"--dataset {cfg.dataset}: X_train has shape {X_train.shape}; this experiment "
            "takes images N×C×H×W or N×H×W"
        )
    source = TensorSource(
        splits, device, layout, augmentation(cfg, X_train.shape[-1]), memory_format
    )
    torch.manual_seed(cfg.seed)  # the initial weights (stream: torch's own, from the seed)
    model = make_model(source.sample_shape, splits.num_classes)
    steps_per_epoch = math.ceil(len(source) / cfg.batch_size)
    learner = ClassifierLearner(
        model, source, cfg, device, cfg.epochs * steps_per_epoch, memory_format
    )
    settings = LoopSettings(
        epochs=cfg.epochs,
        eval_freq=cfg.eval_freq,
        batch_size=cfg.batch_size,
        seed=cfg.seed,
        patience=cfg.patience,
    )
    return Built(learner, settings, source)


def restore(experiment: Experiment, run: RunDir) -> tuple[Any, Built]:
    """A run's config and its learner on the CPU with the last checkpointed weights."""
    cfg = config.from_dict(experiment.config, run.config())
    built = experiment.build(cfg, torch.device("cpu"))
    built.learner.load_state_dict(run.load_checkpoint()["learner"])
    return cfg, built


def curves_figure(title: str):
    def figures(run: RunDir) -> list[Path]:
        cfg = run.config()
        name = f"{title} on {cfg['dataset']}"
        return [plots.curves({title: run.metrics()}, run.figures / "curves.png", name)]

    return figures


__all__ = [
    "ImageKeys",
    "OptimKeys",
    "build_classifier",
    "curves_figure",
    "restore",
    "validate_data",
]
