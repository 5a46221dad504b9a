"""cnn: the VGG-style network on images, and the course's optimizer x learning-rate study."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from classicnets.config import hp, override, positive
from classicnets.data.pipeline import Splits
from classicnets.experiments.base import Built, Experiment, Range, Sweep, grid
from classicnets.experiments.images import (
    ImageKeys,
    OptimKeys,
    build_classifier,
    curves_figure,
    restore,
    validate_data,
)
from classicnets.experiments.studies import grouped_figures, side_by_side_figures
from classicnets.models.vgg import VGG
from classicnets.train.runs import RunDir

ANALYSIS_IMAGES = 200  # test images the analysis reads (statistics, top activations, occlusion)

# The course's network: conv 64, pool, conv 128, pool, conv 256 x2, pool, conv 512 x2, pool,
# conv 512 x2, pool, linear 512 -> classes (VGG-11's convolutions on 32x32 images).
ARCH = ((1, 64), (1, 128), (2, 256), (2, 512), (2, 512))  # (convs, channels) per stage


@dataclass(frozen=True)
class CNNConfig(ImageKeys, OptimKeys):
    width: float = hp(
        1.0, "channel multiplier: 0.25 trains a quarter-width copy ~10x faster on a CPU", positive
    )
    learning_rate: float = override(OptimKeys, "learning_rate", 1e-4)
    batch_size: int = override(ImageKeys, "batch_size", 32)
    epochs: int = override(ImageKeys, "epochs", 10)


def build(cfg: CNNConfig, device: torch.device, splits: Splits | None = None) -> Built:
    def make_model(sample_shape: tuple[int, ...], num_classes: int) -> VGG:
        return VGG(sample_shape[0], num_classes, ARCH, cfg.width)

    # channels_last: measured ~1.4x faster for this network on the 2-core CPU (and the layout
    # tensor cores want on a GPU); see benchmarks/cnn.py.
    return build_classifier(cfg, device, "image", make_model, torch.channels_last, splits)


def analyze(run: RunDir, layer: int | None) -> list[Path]:
    """`classicnets analyze` on a cnn run: filters, activation statistics, deconvnet and
    occlusion pictures of the last checkpoint, on the first test images, into figures/."""
    from classicnets.analysis.cnn import analyze_cnn
    from classicnets.data.images import CLASS_NAMES

    cfg, built = restore(EXPERIMENT, run)
    X, y = built.data.sample("test", ANALYSIS_IMAGES)
    names = CLASS_NAMES.get(cfg.dataset)
    mean_std = (built.data.mean, built.data.std)
    return analyze_cnn(built.learner.model, X, y, names, run.figures, layer, mean_std)


EXPERIMENT = Experiment(
    name="cnn",
    summary="VGG-style CNN (conv 64-128-256x2-512x2-512x2, batch norm) on images",
    config=CNNConfig,
    validate=validate_data,
    build=build,
    figures=curves_figure("CNN"),
    analyze=analyze,
)


# --- the studies ---
OPTIMIZERS = Sweep(
    name="cnn-optimizers",
    summary="cnn: optimizer {adam, sgd, adagrad} x learning_rate {1e-2 .. 1e-6} (12 runs)",
    trials=grid(
        "cnn",
        "{optimizer}-lr{learning_rate}",
        optimizer=("adam", "sgd", "adagrad"),
        learning_rate=(1e-2, 1e-3, 1e-4, 1e-6),
    ),
    figures=grouped_figures("optimizer", ("learning_rate",)),
    space=(
        Range("optimizer", choices=("adam", "sgd", "adagrad")),
        Range("learning_rate", 1e-5, 1e-1, log=True),
    ),
)


def mlp_vs_cnn_figures(out: Path, trials: list[dict[str, Any]]) -> list[Path]:
    """The comparison, and the look inside the CNN that the report shows beside it."""
    return [*side_by_side_figures(out, trials), *analyze(RunDir(out / "cnn"), None)]


MLP_VS_CNN = Sweep(
    name="mlp-vs-cnn",
    summary="mlp-images and cnn on the same data, side by side",
    trials=(("mlp", "mlp-images", {}), ("cnn", "cnn", {})),
    figures=mlp_vs_cnn_figures,
)
