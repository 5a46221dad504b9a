"""The registry: every study, and the suites `classicnets run` makes of them.

A study is one module here: its config, build, figures, sweeps and report section. Adding
one is adding its module and its line below; the runner, the CLI and the report read these
tables and nothing else. Sweeps are listed in the order the report shows them.
"""

from __future__ import annotations

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

# `classicnets run --suite NAME`: (sweep, the keys that size it for the suite), in order.
Suite = tuple[tuple[str, dict[str, str]], ...]
# Fetched when absent; the quick suite falls back to digits if that fails (runner/suite.py).
FASHION = {"dataset": "fashion-mnist"}
SUITES: dict[str, Suite] = {
    # Every study on data available offline, sized for a 2-core CPU in about 15 minutes.
    "quick": (
        ("mlp-toy-compare", {}),  # the toy sets are small: the course's own settings
        # 10,000 images, 3 epochs, a quarter-width CNN: ~70 s for both on 2 cores
        ("mlp-vs-cnn", {**FASHION, "train_samples": "10000", "epochs": "3", "width": "0.25"}),
        # 12 runs of an eighth-width CNN on 2,000 images for 2 epochs: ~60 s
        (
            "cnn-optimizers",
            {
                **FASHION,
                "width": "0.125",
                "train_samples": "2000",
                "test_samples": "2000",
                "epochs": "2",
            },
        ),  # fmt: skip
        # 18 runs of 300 steps, evaluated every 50: ~3 min
        ("rnn-lengths", {"train_steps": "300", "eval_freq": "50"}),
        # 24 runs on 5,000 images for 2 epochs: ~2 min
        (
            "rnn-images-grid",
            {**FASHION, "train_samples": "5000", "test_samples": "2000", "epochs": "2"},
        ),
    ),
    # The course's own configurations: hours on a CPU, meant for a GPU box.
    "full": (
        ("mlp-toy-compare", {}),
        ("mlp-vs-cnn", FASHION),
        ("cnn-optimizers", {"dataset": "cifar10", "download": "true"}),
        ("resnet-optimizers", {"dataset": "cifar10", "download": "true"}),
        ("rnn-lengths", {"train_steps": "10000"}),
        ("rnn-images-grid", FASHION),
    ),
}


def experiment(name: str) -> Experiment:
    if name not in EXPERIMENTS:
        raise UsageError(f"unknown experiment {name!r}; 'classicnets list' names them")
    return EXPERIMENTS[name]


def reported() -> list[tuple[Sweep, ReportSection]]:
    """The sweeps that have a report section, in the report's order."""
    return [(s, s.report) for s in SWEEPS.values() if s.report is not None]


__all__ = ["EXPERIMENTS", "STUDIES", "SUITES", "SWEEPS", "Experiment", "Sweep", "experiment"]
