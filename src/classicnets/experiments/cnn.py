"""cnn: the VGG-style network on images, the course's optimizer x learning-rate study, and
the MLP beside the CNN on the same data."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from classicnets import config
from classicnets.config import Key, positive
from classicnets.data import registry
from classicnets.data.sources import EVAL_BATCH
from classicnets.data.splits import Splits
from classicnets.experiments import findings, keys, memory, reproduce
from classicnets.experiments.confusion import analyze_errors
from classicnets.experiments.images import build_classifier, curves_figure, validator
from classicnets.experiments.spec import (
    Built,
    Experiment,
    Range,
    ReportSection,
    Sweep,
    checkpointed,
    grid,
)
from classicnets.experiments.tables import config_name, grouped_figures, side_by_side_figures
from classicnets.models.vgg import SIDE, VGG, channels
from classicnets.records import RunDir

ANALYSIS_IMAGES = 200  # test images the analysis reads (statistics, top activations, occlusion)

# The course's network: conv 64, pool, conv 128, pool, conv 256 x2, pool, conv 512 x2, pool,
# conv 512 x2, pool, linear 512 -> classes (VGG-11's convolutions on 32x32 images).
ARCH = ((1, 64), (1, 128), (2, 256), (2, 512), (2, 512))  # (convs, channels) per stage

EPOCHS = 10  # passes of the automatic --epochs: the course's; more on a small data set

WIDTH = Key(
    float,
    1.0,
    "channel multiplier: 0.25 trains a quarter-width copy ~10x faster on a CPU",
    positive,
)
CNNConfig = config.define(
    "CNNConfig",
    keys.IMAGE,
    keys.TRAINING,
    keys.OPTIM,
    keys.RECIPE,
    width=WIDTH,
    learning_rate=1e-4,  # Adam's step size: the course's
    batch_size=32,  # images per update: the course's
    epochs=keys.auto_epochs(EPOCHS),
)


def memory_parts(cfg, shape: tuple[int, ...], num_classes: int) -> list[memory.Part]:
    """The VGG's memory (experiments/memory.py), walked as VGG builds it: per conv its 3x3
    weights and batch norm's scale and shift; per sample the conv's and batch norm's outputs
    (the ReLU works in place), each pool's output and its int64 indices."""
    C, H, W = shape
    if (H < SIDE or W < SIDE) and W > 1:  # VGG.pad_to_32
        H = W = SIDE
    count, saved, widest = 0, C * H * W, 0  # parameters; floats kept per sample; eval's peak
    c_in = C
    for (convs, _), c in zip(ARCH, channels(ARCH, cfg.width)):
        for _ in range(convs):
            count += 9 * c_in * c + 2 * c
            saved += 2 * c * H * W
            widest = max(widest, max(c_in + c, 2 * c) * H * W)  # a layer's input and output
            c_in = c
        H, W = (H + 1) // 2, (W + 1) // 2  # 3x3 pool, stride 2, padding 1
        saved += 3 * c * H * W
    count += c_in * num_classes + num_classes
    width = f"{cfg.width:g}"
    return [
        memory.parameters(cfg, count, "width", width, "use a smaller width, e.g. 0.25"),
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
            "use a smaller width, e.g. 0.25",
        ),
    ]


def build(cfg, device: torch.device, splits: Splits | None = None) -> Built:
    def make_model(sample_shape: tuple[int, ...], num_classes: int) -> VGG:
        return VGG(sample_shape[0], num_classes, ARCH, cfg.width)

    # channels_last: measured ~1.4x faster for this network on the 2-core CPU (and the layout
    # tensor cores want on a GPU); see benchmarks/cnn.py.
    return build_classifier(
        cfg,
        device,
        "image",
        make_model,
        memory_parts,
        torch.channels_last,
        splits,
        base_epochs=EPOCHS,
    )


def analyze_convnet(
    cfg: Any, built: Built, out: Path, layer: int | None, say: Callable[[str], None] = print
) -> list[Path]:
    """`classicnets analyze` for a convolutional run (restored by the runner): where its
    errors are (experiments/confusion.py), then filters, activation statistics, occlusion
    and, for plain stacks, the deconvnet, on the first test images, into `out`."""
    from classicnets.analysis.cnn import analyze_cnn

    X, y = built.data.sample("test", ANALYSIS_IMAGES)
    names = registry.class_names(cfg.dataset)
    mean_std = (built.data.mean, built.data.std)
    weights = built.weights.label if built.weights else ""
    inside = analyze_cnn(
        built.learner.model, X, y, names, out, layer, mean_std, say=say, weights=weights
    )
    return [*analyze_errors(cfg, built, out, say), *inside]


EXPERIMENT = Experiment(
    name="cnn",
    description="VGG-style CNN (conv 64-128-256x2-512x2-512x2, batch norm) on images",
    config=CNNConfig,
    validate=validator(memory_parts),
    build=build,
    figures=curves_figure("CNN"),
    analyze=analyze_convnet,
    data_parallel=True,
)


# --- the studies ---
OPTIMIZERS = Sweep(
    name="cnn-optimizers",
    description="cnn: optimizer {adam, sgd, adagrad} x learning_rate {1e-2 .. 1e-6} (12 runs)",
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
    report=ReportSection(
        "CNN: optimizer and learning rate",
        "The VGG-style CNN under Adam, SGD and Adagrad at learning rates 1e-2 to 1e-6.",
        (("curves.png", "Curves per optimizer, a line per learning rate."),),
        findings.optimizers,
        conclude=reproduce.ranked(findings.optimizer_label),
    ),
)


def mlp_vs_cnn_figures(out: Path, trials: list[dict[str, Any]]) -> list[Path]:
    """The comparison, and the look inside the CNN that the report shows beside it (where
    the CNN has a checkpoint: not when it diverged at its first evaluation)."""
    # the CNN looked inside: its trial (with several seeds, its first seed's)
    cnn = next((t["dir"] for t in trials if config_name(t) == "cnn"), "cnn")
    run = RunDir(out / cnn)
    if not checkpointed(run):
        return side_by_side_figures(out, trials)
    cfg, built = EXPERIMENT.restore(run)
    return [*side_by_side_figures(out, trials), *analyze_convnet(cfg, built, run.figures, None)]


# the analysis figures show the CNN's chosen model (best.pt); each title says which epoch
CHOSEN = ", of the chosen model (best validation; its title names the epoch)."

MLP_VS_CNN = Sweep(
    name="mlp-vs-cnn",
    description="mlp-images and cnn on the same data, side by side",
    trials=(("mlp", "mlp-images", {}), ("cnn", "cnn", {})),
    figures=mlp_vs_cnn_figures,
    report=ReportSection(
        "Images: the MLP and the VGG-style CNN",
        "mlp-images (flattened pixels, dropout, batch norm, AdamW, early stopping on the "
        "validation split) and the VGG-style CNN trained on the same split of the same data.",
        (
            ("curves.png", "Accuracy and loss of both, train, validation and test."),
            ("cnn/figures/filters.png", "The CNN's first-layer filters" + CHOSEN),
            (
                "cnn/figures/activation_stats.png",
                "Activations after each ReLU on a test batch" + CHOSEN,
            ),
            (
                "cnn/figures/deconvnet.png",
                "Deconvnet: top activations projected to pixels" + CHOSEN,
            ),
            (
                "cnn/figures/occlusion.png",
                "Occlusion: drop in the true class's probability" + CHOSEN,
            ),
        ),
        findings.side_by_side,
        analysis_trial="cnn",
        conclude=reproduce.ranked(config_name),
    ),
)
