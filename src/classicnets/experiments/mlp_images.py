"""mlp-images: the MLP on flattened images (or a user's vectors N×D: tabular data), with the
course's improvements (dropout, batch norm, augmentation, AdamW with weight decay, early
stopping on the validation split)."""

from __future__ import annotations

import math

import torch

from classicnets import config
from classicnets.config import Key, positive_ints
from classicnets.data.sources import EVAL_BATCH
from classicnets.errors import UsageError
from classicnets.experiments import confusion, keys, memory
from classicnets.experiments.images import (
    build_classifier,
    curves_figure,
    load_splits,
    validate_data,
)
from classicnets.experiments.spec import Built, Experiment
from classicnets.models import ImageMLP


def _dropout(value: float) -> str | None:
    return None if 0 <= value < 1 else "must be in [0, 1), e.g. 0.1"


# Defaults: what reached 0.91 test accuracy on Fashion-MNIST here (README, Results); the
# course's set-up was 512,256,128 with dropout 0.1, no batch norm, constant lr 1e-3.
EPOCHS = 40  # passes of the automatic --epochs; more on a small data set
MLPImagesConfig = config.define(
    "MLPImagesConfig",
    keys.IMAGE,
    keys.TRAINING,
    keys.OPTIM,
    keys.RECIPE,
    dnn_hidden_units=Key(
        tuple[int, ...],
        (1024, 512),
        "hidden layer widths, comma-separated, e.g. 512,256,128",
        positive_ints,
    ),
    dropout=Key(float, 0.2, "dropout after each hidden ReLU (0 = none)", _dropout),
    batchnorm=Key(bool, True, "batch norm between each hidden Linear and its ReLU"),
    optimizer="adamw",  # decoupled weight decay: the regulariser the course adds
    weight_decay=1e-4,  # AdamW's decay per unit of learning rate
    lr_schedule="cosine",  # to 0 over the run: the last epochs settle
    patience=10,  # evaluations (epochs): stops a run that stopped improving
    epochs=keys.auto_epochs(EPOCHS),  # early stopping may end sooner
)


def memory_parts(cfg, shape: tuple[int, ...], num_classes: int) -> list[memory.Part]:
    """The MLP's memory (experiments/memory.py): its Linear layers (and batch norm's scale
    and shift), and per sample the input and, at each hidden layer, the Linear's and batch
    norm's outputs (the ReLU works in place), dropout's output and its mask."""
    sizes = (math.prod(shape), *cfg.dnn_hidden_units, num_classes)
    hidden = sum(cfg.dnn_hidden_units)
    count = sum(a * b for a, b in zip(sizes[:-1], sizes[1:])) + 3 * hidden + num_classes
    per_sample = sizes[0] + 4 * hidden + 2 * num_classes
    widest = max(sizes[1:])
    units = config.format_value(cfg.dnn_hidden_units)
    return [
        memory.parameters(cfg, count, "dnn_hidden_units", units, "use smaller layers"),
        memory.Part(
            f"activations of a batch of {cfg.batch_size}, and their gradients",
            2 * cfg.batch_size * per_sample * memory.FLOAT,
            "batch_size",
            cfg.batch_size,
            "use a smaller batch",
        ),
        memory.Part(
            f"an evaluation batch of {EVAL_BATCH}",
            EVAL_BATCH * (sizes[0] + 2 * widest) * memory.FLOAT,
            "dnn_hidden_units",
            units,
            "use smaller layers",
        ),
    ]


def _check_batch_norm(cfg, n_train: int) -> None:
    """Batch norm cannot train on a batch of one image (its variance is 0/0): refuse a split
    and batch size whose last batch of an epoch would be one image."""
    B = cfg.batch_size
    if not cfg.batchnorm or (B > 1 and n_train % B != 1):
        return
    if n_train == 1:
        raise UsageError(
            "--batchnorm true: the training split holds 1 image, and batch norm trains on "
            "2 or more; keep more (--train_samples, --val_size) or use --batchnorm false"
        )
    # the nearest batch size below (else above) whose last batch is not one image alone
    fits = next(b for b in (*range(B, 1, -1), *range(B + 1, n_train + 1)) if n_train % b != 1)
    alone = f"the last batch of each epoch would be 1 of the {n_train} training images"
    if B == 1:
        alone = "every batch would be one image"
    raise UsageError(
        f"--batch_size {B}: {alone}, and batch norm trains on 2 or more; use e.g. "
        f"--batch_size {fits}, or --batchnorm false"
    )


def validate(cfg) -> None:
    _check_batch_norm(cfg, validate_data(cfg, memory_parts, takes_vectors=True)["train"])


def build(cfg, device: torch.device) -> Built:
    def make_model(sample_shape: tuple[int, ...], num_classes: int) -> ImageMLP:
        sizes = (math.prod(sample_shape), *cfg.dnn_hidden_units, num_classes)
        return ImageMLP(sizes, cfg.dropout, cfg.batchnorm)

    splits = load_splits(cfg)
    _check_batch_norm(cfg, len(splits.arrays["train"][1]))
    return build_classifier(
        cfg, device, "flat", make_model, memory_parts, splits=splits, base_epochs=EPOCHS
    )


EXPERIMENT = Experiment(
    name="mlp-images",
    description="MLP on images or signals, with dropout, batch norm and AdamW",
    config=MLPImagesConfig,
    validate=validate,
    build=build,
    figures=curves_figure("MLP"),
    analyze=confusion.analyze,
    data_parallel=True,
)
