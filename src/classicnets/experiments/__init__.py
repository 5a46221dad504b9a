"""The registry: every study, and the suites `classicnets run` makes of them.

A study is one module here: its config, build, figures, sweeps and report section. Adding
one is adding its module and its line below; the runner, the CLI and the report read these
tables and nothing else. Sweeps are listed in the order the report shows them.
"""

from __future__ import annotations

from typing import NamedTuple

from classicnets.errors import UsageError
from classicnets.experiments import cnn, mlp_images, mlp_toy, resnet, rnn_images, rnn_palindrome
from classicnets.experiments.spec import Experiment, ReportSection, Sweep

STUDIES = (  # (the module's experiment, its sweeps), in the course's order
    (mlp_toy.EXPERIMENT, (mlp_toy.COMPARE,)),
    (mlp_images.EXPERIMENT, ()),
    (cnn.EXPERIMENT, (cnn.MLP_VS_CNN, cnn.OPTIMIZERS)),
    (resnet.EXPERIMENT, (resnet.OPTIMIZERS,)),
    (rnn_palindrome.EXPERIMENT, (rnn_palindrome.LENGTHS_SWEEP,)),
    (rnn_images.EXPERIMENT, (rnn_images.GRID,)),
)
EXPERIMENTS: dict[str, Experiment] = {e.name: e for e, _ in STUDIES}
SWEEPS: dict[str, Sweep] = {s.name: s for _, sweeps in STUDIES for s in sweeps}


class SuiteSweep(NamedTuple):
    """A sweep as a suite runs it."""

    sweep: str
    keys: dict[str, str]  # the keys that size it for the suite
    seeds: int  # seeds per configuration (every study here ends in a comparison: 3 or more)
    sized_for: str  # what this size can show, said when the suite runs it


# `classicnets run --suite NAME`: its sweeps, in order. Every study here ends in a comparison,
# so each configuration trains with 3 seeds (findings.py names a winner only where Welch's
# t-test over them holds), and the quick suite sizes each trial down to keep the whole
# suite near 15 minutes on 2 cores.
Suite = tuple[SuiteSweep, ...]
# Fetched when absent; the quick suite falls back to digits if that fails (runner/suite.py).
FASHION = {"dataset": "fashion-mnist"}
SEEDS = 3
SUITES: dict[str, Suite] = {
    "quick": (
        SuiteSweep(
            "mlp-toy-compare",
            {"epochs": "50", "eval_freq": "5"},
            SEEDS,
            "50 epochs evaluated every 5, not 200 every 10: parity of the two MLPs, seed by "
            "seed, needs no more",
        ),
        SuiteSweep(
            "mlp-vs-cnn",
            {
                **FASHION,
                "train_samples": "4000",
                "test_samples": "2000",
                "epochs": "2",
                "width": "0.25",
            },  # fmt: skip
            SEEDS,
            "4,000 training images, 2 epochs, a quarter-width CNN: which learns faster at the "
            "start, not where each ends",
        ),
        SuiteSweep(
            "cnn-optimizers",
            {
                **FASHION,
                "width": "0.125",
                "train_samples": "1000",
                "test_samples": "1000",
                "epochs": "2",
            },  # fmt: skip
            SEEDS,
            "an eighth-width CNN, 1,000 images, 2 epochs: how fast each optimizer and rate "
            "starts to learn, not where each ends",
        ),
        SuiteSweep(
            "rnn-lengths",
            {"train_steps": "150", "batch_size": "64", "eval_freq": "50", "eval_size": "500"},
            SEEDS,
            "150 steps of 64 palindromes, not 5,000 of 128: what each cell learns that fast, "
            "a lower bound on what it can remember",
        ),
        SuiteSweep(
            "rnn-images-grid",
            {**FASHION, "train_samples": "2000", "test_samples": "1000", "epochs": "2"},
            SEEDS,
            "2,000 images for 2 epochs: how fast each configuration learns, not where it ends",
        ),
    ),
    "full": (  # the course's own configurations: hours on a CPU, meant for a GPU box
        SuiteSweep("mlp-toy-compare", {}, SEEDS, "the course's own settings"),
        SuiteSweep("mlp-vs-cnn", FASHION, SEEDS, "the experiments' defaults"),
        SuiteSweep("cnn-optimizers", {"dataset": "cifar10", "download": "true"}, SEEDS, "CIFAR-10"),
        SuiteSweep(
            "resnet-optimizers", {"dataset": "cifar10", "download": "true"}, SEEDS, "CIFAR-10"
        ),
        SuiteSweep("rnn-lengths", {"train_steps": "10000"}, SEEDS, "10,000 steps"),
        SuiteSweep("rnn-images-grid", FASHION, SEEDS, "the experiments' defaults"),
    ),
}


def experiment(name: str) -> Experiment:
    if name not in EXPERIMENTS:
        raise UsageError(f"unknown experiment {name!r}; 'classicnets list' names them")
    return EXPERIMENTS[name]


def reported() -> list[tuple[Sweep, ReportSection]]:
    """The sweeps that have a report section, in the report's order."""
    return [(s, s.report) for s in SWEEPS.values() if s.report is not None]


__all__ = [
    "EXPERIMENTS",
    "STUDIES",
    "SUITES",
    "SWEEPS",
    "Experiment",
    "SuiteSweep",
    "Sweep",
    "experiment",
]
