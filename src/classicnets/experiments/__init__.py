"""The registry of experiments (one run each), sweeps (many runs and a comparison) and suites
(the sweeps `classicnets run` makes, each with the keys that size it).

Each experiment is one commented config dataclass plus how to build its learner and draw its
figures; each sweep names its trials. Adding a study means adding a module here and a line
to EXPERIMENTS or SWEEPS.
"""

from __future__ import annotations

from classicnets.errors import UsageError
from classicnets.experiments import cnn, mlp_images, mlp_toy, palindrome, rnn
from classicnets.experiments.base import Experiment, Sweep

EXPERIMENTS: dict[str, Experiment] = {
    e.name: e
    for e in [
        mlp_toy.EXPERIMENT,
        mlp_images.EXPERIMENT,
        cnn.EXPERIMENT,
        palindrome.EXPERIMENT,
        rnn.IMAGES,
    ]
}
SWEEPS: dict[str, Sweep] = {
    s.name: s
    for s in [
        mlp_toy.COMPARE,
        cnn.MLP_VS_CNN,
        cnn.OPTIMIZERS,
        palindrome.LENGTHS_SWEEP,
        rnn.IMAGES_GRID,
    ]
}

# `classicnets run --suite NAME`: (sweep, the keys that size it for the suite), in order.
# quick: every study on data available offline, sized for a 2-core CPU in about 15 minutes
#   (Fashion-MNIST is Debian's dataset-fashion-mnist; digits where it is absent: see cli);
# full: the course's own configurations (hours on a CPU: meant for a GPU box).
Suite = tuple[tuple[str, dict[str, str]], ...]
SUITES: dict[str, Suite] = {
    "quick": (
        ("mlp-toy-compare", {}),
        (
            "mlp-vs-cnn",
            {"dataset": "fashion-mnist", "train_samples": "10000", "epochs": "3", "width": "0.25"},
        ),
        (
            "cnn-optimizers",
            {
                "dataset": "fashion-mnist",
                "width": "0.125",
                "train_samples": "2000",
                "test_samples": "2000",
                "epochs": "2",
            },
        ),
        ("rnn-lengths", {"train_steps": "300", "eval_freq": "50"}),
        (
            "rnn-images-grid",
            {
                "dataset": "fashion-mnist",
                "train_samples": "5000",
                "test_samples": "2000",
                "epochs": "2",
            },
        ),
    ),
    "full": (
        ("mlp-toy-compare", {}),
        ("mlp-vs-cnn", {"dataset": "fashion-mnist"}),
        ("cnn-optimizers", {"dataset": "cifar10", "download": "true"}),
        ("rnn-lengths", {"train_steps": "10000"}),
        ("rnn-images-grid", {"dataset": "fashion-mnist"}),
    ),
}


def experiment(name: str) -> Experiment:
    if name not in EXPERIMENTS:
        raise UsageError(f"unknown experiment {name!r}; 'classicnets list' names them")
    return EXPERIMENTS[name]


__all__ = ["EXPERIMENTS", "SUITES", "SWEEPS", "Experiment", "Sweep", "experiment"]
