"""rnn-images: images read row by row by a vanilla RNN, LSTM or GRU, and the RNN/LSTM/GRU
grid on Fashion-MNIST rows; the gradient flow over time that rnn-palindrome draws too."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from classicnets import config
from classicnets.data.sources import EVAL_BATCH
from classicnets.experiments import findings, keys, memory, reproduce
from classicnets.experiments.confusion import analyze_errors
from classicnets.experiments.images import build_classifier, curves_figure, validator
from classicnets.experiments.spec import Built, Experiment, Range, ReportSection, Sweep, grid
from classicnets.experiments.tables import grouped_figures
from classicnets.models.rnn import RNNClassifier
from classicnets.seeds import seed_torch

GRADIENT_BATCH = 256  # test sequences the gradient flow averages over


def make_rnn(cfg: Any, input_dim: int, num_classes: int) -> RNNClassifier:
    return RNNClassifier(cfg.cell, cfg.impl, input_dim, cfg.num_hidden, num_classes, cfg.init)


GATES = {"rnn": 1, "lstm": 4, "gru": 3}  # G = gates x H: the rows of W_hx and W_hh
# (T, B, H)-sized float buffers the cells' loops keep (models/bptt.py), per unit of H:
TRAINED = {"rnn": 2, "lstm": 11, "gru": 11}  # forward and backward: rnn Z, dZ; lstm A (4H),
# c_t and h_t (2H), tanh(c_t), dG (4H); gru Gx (3H), h_t, Gh (3H), dGh (3H), dN
EVALUATED = {"rnn": 1, "lstm": 7, "gru": 7}  # the forward alone


def rnn_memory(
    cfg: Any,
    T: int,
    F_: int,
    num_classes: int,
    sized_by: tuple[str, Any, Any] | None = None,
    eval_batch: int = EVAL_BATCH,
) -> list[memory.Part]:
    """The recurrent classifier's memory (experiments/memory.py): W_hx (G, F), W_hh (G, H),
    two biases and the head; per batch the inputs (B, T, F) with their ones column, and the
    buffers of the loop through time, B x T x H floats each (B x T x G for the gates).
    `sized_by` (key, value, fix) is what to change when the buffers are too large
    (default: --num_hidden; rnn-palindrome's --input_length). Evaluation reads `eval_batch`
    sequences at a time (EVAL_BATCH, or a smaller split whole)."""
    H, cell = cfg.num_hidden, cfg.cell
    G = GATES[cell] * H
    count = G * F_ + G * H + 2 * G + H * num_classes + num_classes
    train = cfg.batch_size * T * (2 * F_ + 1 + TRAINED[cell] * H) * memory.FLOAT
    evaluate = eval_batch * T * (2 * F_ + 1 + EVALUATED[cell] * H) * memory.FLOAT
    key, value, fix = sized_by or ("num_hidden", H, "use fewer units")
    if cfg.batch_size > eval_batch:  # the training batch is the larger: it is what to cut
        batch_key = ("batch_size", cfg.batch_size, "use a smaller batch")
    else:
        batch_key = (key, value, fix)
    steps = f"{T:,} steps x {H:,} units"
    return [
        memory.parameters(cfg, count, "num_hidden", H, "use fewer units"),
        memory.Part(
            f"the loop's buffers for a batch of {cfg.batch_size} x {steps}", train, *batch_key
        ),
        memory.Part(
            f"the loop's buffers for an evaluation batch of {eval_batch} x {steps}",
            evaluate,
            key,
            value,
            fix,
        ),
    ]


def memory_parts(cfg: Any, shape: tuple[int, ...], num_classes: int) -> list[memory.Part]:
    """Images read by rows: T = H steps of F = C x W pixels."""
    C, H, W = shape
    return rnn_memory(cfg, H, C * W, num_classes)


# Tuned on the validation split of Fashion-MNIST rows: 256 units for 15 epochs with a
# cosine schedule reached 0.919 (test 0.909); 128 units for 20 epochs 0.914 (test 0.898).
EPOCHS = 15  # passes of the automatic --epochs (tuned as above); more on a small data set
RNNImagesConfig = config.define(
    "RNNImagesConfig",
    keys.IMAGE,
    keys.TRAINING,
    keys.OPTIM,
    keys.RECIPE,
    keys.RECURRENT,
    cell="gru",  # the best cell of the grid on rows
    num_hidden=256,  # units in h_t: 256 beat 128 on validation
    max_norm=10.0,  # clip the gradient's global L2 norm: recurrent nets spike
    lr_schedule="cosine",  # to 0 over the run
    epochs=keys.auto_epochs(EPOCHS),
)


def build(cfg, device: torch.device) -> Built:
    def make_model(sample_shape: tuple[int, ...], num_classes: int) -> RNNClassifier:
        return make_rnn(cfg, sample_shape[-1], num_classes)  # (T=H, F=C*W)

    return build_classifier(cfg, device, "rows", make_model, memory_parts, base_epochs=EPOCHS)


def gradient_flow(cfg: Any, trained: Built) -> dict[str, np.ndarray]:
    """|dL/dh_t| over t on test sequences, of the trained model and of the same model at
    its initial weights (the run's seed makes them again)."""
    from classicnets.analysis.gradient_flow import gradient_norms

    model = trained.learner.model
    X, y = trained.data.sample("test", GRADIENT_BATCH)
    seed_torch(cfg.seed)  # the weights build drew first, drawn again
    untrained = make_rnn(cfg, X.shape[-1], model.head.out_features)
    return {
        f"{cfg.cell} (untrained)": gradient_norms(untrained, X, y),
        f"{cfg.cell} (trained)": gradient_norms(model, X, y),
    }


def analyze(
    cfg: Any, built: Built, out: Path, layer: int | None, say: Callable[[str], None] = print
) -> list[Path]:
    """`classicnets analyze` for a sequence run: the gradient flow, trained and untrained;
    for images read row by row, where its errors are too (experiments/confusion.py)."""
    from classicnets.analysis.gradient_flow import plot_gradient_flow

    written = []
    if getattr(built.data, "is_image", False):  # rnn-images, not palindromes
        written = analyze_errors(cfg, built, out, say)
    curves = gradient_flow(cfg, built)
    T = built.data.sample("test", 1)[0].shape[1]
    title = f"gradient flow: {cfg.cell}, T = {T}"
    if built.weights:  # "trained" is these weights
        title += f"; trained = {built.weights.label}"
    return [*written, plot_gradient_flow(curves, out / "gradient_flow.png", title)]


EXPERIMENT = Experiment(
    name="rnn-images",
    description="images read row by row (H steps of W pixels) by an RNN, LSTM or GRU",
    config=RNNImagesConfig,
    validate=validator(memory_parts),
    build=build,
    figures=curves_figure("RNN"),
    analyze=analyze,
    data_parallel=True,
)

GRID = Sweep(
    name="rnn-images-grid",
    description="rnn-images: cell x learning_rate {1e-2, 1e-3} x num_hidden {64, 128} x "
    "optimizer {adam, adagrad} (24 runs)",
    trials=grid(
        "rnn-images",
        "{cell}-{optimizer}-lr{learning_rate}-h{num_hidden}",
        cell=("rnn", "lstm", "gru"),
        optimizer=("adam", "adagrad"),
        learning_rate=(1e-2, 1e-3),
        num_hidden=(64, 128),
    ),
    figures=grouped_figures("cell", ("optimizer", "learning_rate", "num_hidden")),
    space=(
        Range("cell", choices=("rnn", "lstm", "gru")),
        Range("optimizer", choices=("adam", "adagrad")),
        Range("learning_rate", 1e-4, 3e-2, log=True),
        Range("num_hidden", 32, 256, log=True, integer=True),
    ),
    report=ReportSection(
        "Sequences: images read row by row",
        "Images as H steps of W pixels: cell × learning rate × hidden size × optimizer.",
        (("curves.png", "Curves per cell, a line per configuration."),),
        findings.rnn_grid,
        conclude=reproduce.ranked(findings.grid_label),
    ),
)
