"""resnet: the CIFAR-style ResNet (He et al. 2016, section 4.2) on images, the standard next
step after VGG, and the same optimizer x learning-rate study the CNN has."""

from __future__ import annotations

import torch

from classicnets import config
from classicnets.config import Key
from classicnets.data.sources import EVAL_BATCH
from classicnets.experiments import findings, keys, memory, reproduce
from classicnets.experiments.cnn import WIDTH, analyze_convnet
from classicnets.experiments.images import build_classifier, curves_figure, validator
from classicnets.experiments.spec import Built, Experiment, Range, ReportSection, Sweep, grid
from classicnets.experiments.tables import grouped_figures
from classicnets.models import ResNet
from classicnets.models.vgg import channels


def _depth(value: int) -> str | None:
    ok = value >= 8 and (value - 2) % 6 == 0
    return None if ok else "must be 6n + 2 with n >= 1, e.g. 20, 32, 44, 56 or 110"


EPOCHS = 10  # passes of the automatic --epochs; more on a small data set
ResNetConfig = config.define(
    "ResNetConfig",
    keys.IMAGE,
    keys.TRAINING,
    keys.OPTIM,
    keys.RECIPE,
    depth=Key(int, 20, "layers: 6n + 2, n basic blocks in each of the 3 stages", _depth),
    width=WIDTH,
    optimizer="sgd",  # the paper's: SGD with Nesterov momentum 0.9
    momentum=0.9,  # the paper's
    nesterov=True,  # a little faster to converge than plain momentum here
    learning_rate=0.1,  # the paper's peak, per batch of 128
    weight_decay=5e-4,  # the paper's 1e-4 is for 64k steps; short runs take more
    lr_schedule="onecycle",  # warm-up then down: short budgets, as airbench trains
    epochs=keys.auto_epochs(EPOCHS),
)


def memory_parts(cfg, shape: tuple[int, ...], num_classes: int) -> list[memory.Part]:
    """The ResNet's memory (experiments/memory.py), walked as ResNet builds it: per block two
    3x3 convs with batch norm (and the 1x1 projection where the shape changes); per sample
    and block the convs' and batch norms' outputs and the sum after the shortcut."""
    C, H, W = shape
    n = (cfg.depth - 2) // 6
    widths = channels(((n, 16), (n, 32), (n, 64)), cfg.width)
    count = 9 * C * widths[0] + 2 * widths[0]  # the stem
    saved = C * H * W + 2 * widths[0] * H * W  # floats kept per sample
    widest = max(C + widths[0], 2 * widths[0]) * H * W  # evaluation's peak per sample
    c_in = widths[0]
    for s, c in enumerate(widths, start=1):
        for b in range(1, n + 1):
            if s > 1 and b == 1:  # stride 2
                H, W = (H + 1) // 2, (W + 1) // 2
            count += 9 * c_in * c + 9 * c * c + 4 * c
            saved += 5 * c * H * W
            if c_in != c or (s > 1 and b == 1):  # the projection shortcut
                count += c_in * c + 2 * c
                saved += 2 * c * H * W
            widest = max(widest, 3 * c * H * W)  # the block's input, its branch and the sum
            c_in = c
    count += c_in * num_classes + num_classes
    width = f"{cfg.width:g}"
    return [
        memory.parameters(cfg, count, "width", width, "use a smaller width or depth"),
        memory.Part(
            f"activations of a batch of {cfg.batch_size}, and their gradients",
            2 * cfg.batch_size * saved * memory.FLOAT,
            "batch_size",
            cfg.batch_size,
            "use a smaller batch",
        ),
        memory.Part(
            f"an evaluation batch of {EVAL_BATCH}",
            EVAL_BATCH * widest * memory.FLOAT,
            "width",
            width,
            "use a smaller width",
        ),
    ]


def build(cfg, device: torch.device) -> Built:
    def make_model(sample_shape: tuple[int, ...], num_classes: int) -> ResNet:
        return ResNet(sample_shape[0], num_classes, cfg.depth, cfg.width)

    return build_classifier(
        cfg, device, "image", make_model, memory_parts, torch.channels_last, base_epochs=EPOCHS
    )


EXPERIMENT = Experiment(
    name="resnet",
    description="CIFAR-style ResNet (3 stages of basic blocks, depth 6n+2) on images",
    config=ResNetConfig,
    validate=validator(memory_parts),
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
        conclude=reproduce.ranked(findings.optimizer_label),
    ),
)
