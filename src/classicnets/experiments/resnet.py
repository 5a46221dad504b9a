"""resnet: the CIFAR-style ResNet (He et al. 2016, section 4.2) on images, the standard next
step after VGG, and the same optimizer x learning-rate study the CNN has."""

from __future__ import annotations

import torch

from classicnets import config
from classicnets.config import Key
from classicnets.experiments import findings, keys
from classicnets.experiments.cnn import WIDTH, analyze_convnet
from classicnets.experiments.images import build_classifier, curves_figure, validate_data
from classicnets.experiments.spec import Built, Experiment, Range, ReportSection, Sweep, grid
from classicnets.experiments.tables import grouped_figures
from classicnets.models import ResNet


def _depth(value: int) -> str | None:
    ok = value >= 8 and (value - 2) % 6 == 0
    return None if ok else "must be 6n + 2 with n >= 1, e.g. 20, 32, 44, 56 or 110"


ResNetConfig = config.define(
    "ResNetConfig",
    keys.IMAGE,
    keys.TRAINING,
    keys.OPTIM,
    depth=Key(int, 20, "layers: 6n + 2, n basic blocks in each of the 3 stages", _depth),
    width=WIDTH,
    optimizer="sgd",  # the paper's: SGD with Nesterov momentum 0.9
    momentum=0.9,  # the paper's
    nesterov=True,  # a little faster to converge than plain momentum here
    learning_rate=0.1,  # the paper's peak, per batch of 128
    weight_decay=5e-4,  # the paper's 1e-4 is for 64k steps; short runs take more
    lr_schedule="onecycle",  # warm-up then down: short budgets, as airbench trains
    epochs=10,  # passes over the training split
)


def build(cfg, device: torch.device) -> Built:
    def make_model(sample_shape: tuple[int, ...], num_classes: int) -> ResNet:
        return ResNet(sample_shape[0], num_classes, cfg.depth, cfg.width)

    return build_classifier(cfg, device, "image", make_model, torch.channels_last)


EXPERIMENT = Experiment(
    name="resnet",
    description="CIFAR-style ResNet (3 stages of basic blocks, depth 6n+2) on images",
    config=ResNetConfig,
    validate=validate_data,
    build=build,
    figures=curves_figure("ResNet"),
    analyze=analyze_convnet,
    data_parallel=True,
)

OPTIMIZERS = Sweep(
    name="resnet-optimizers",
    description="resnet: optimizer {sgd, adam} x learning_rate {1e-1 .. 1e-4} (8 runs)",
    trials=grid(
        "resnet",
        "{optimizer}-lr{learning_rate}",
        optimizer=("sgd", "adam"),
        learning_rate=(1e-1, 1e-2, 1e-3, 1e-4),
    ),
    figures=grouped_figures("optimizer", ("learning_rate",)),
    space=(
        Range("optimizer", choices=("sgd", "adam")),
        Range("learning_rate", 1e-4, 3e-1, log=True),
    ),
    report=ReportSection(
        "ResNet: optimizer and learning rate",
        "The CIFAR-style ResNet beside the VGG-style CNN: SGD with Nesterov momentum and Adam "
        "at learning rates 1e-1 to 1e-4.",
        (("curves.png", "Curves per optimizer, a line per learning rate."),),
        findings.optimizers,
    ),
)
