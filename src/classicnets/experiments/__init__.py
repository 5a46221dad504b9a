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

# `classicnets run --suite NAME`: (sweep, the keys that size it for the suite, seeds), in
# order. Every study here ends in a comparison, so the quick suite trains each configuration
# with 3 seeds (findings.py names a winner only where Welch's t-test over them holds), and
# each trial is sized down to keep the whole suite near 15 minutes on 2 cores.
Suite = tuple[tuple[str, dict[str, str], int], ...]
FASHION = {"dataset": "fashion-mnist"}  # the quick suite falls back to digits offline (cli)
QUICK_SEEDS = 3
SUITES: dict[str, Suite] = {
    "quick": (
        # 6 configurations x 3 seeds; 50 epochs (the toy sets' validation accuracy settles
        # within ~50 at batch size 1), evaluated every 5: parity needs no more
        ("mlp-toy-compare", {"epochs": "50", "eval_freq": "5"}, QUICK_SEEDS),
        # 4,000 training and 2,000 test images, 2 epochs, a quarter-width CNN, x 3 seeds
        (
            "mlp-vs-cnn",
            {
                **FASHION,
                "train_samples": "4000",
                "test_samples": "2000",
                "epochs": "2",
                "width": "0.25",
            },
            QUICK_SEEDS,
        ),  # fmt: skip
        # 12 configurations x 3 seeds of an eighth-width CNN on 1,000 images for 2 epochs:
        # which optimizer learns fastest, not where each ends
        (
            "cnn-optimizers",
            {
                **FASHION,
                "width": "0.125",
                "train_samples": "1000",
                "test_samples": "1000",
                "epochs": "2",
            },
            QUICK_SEEDS,
        ),  # fmt: skip
        # 18 configurations x 3 seeds of 150 steps of 64 palindromes, evaluated every 50 on
        # 500: the short lengths and the gated cells learn within it, the long ones do not
        (
            "rnn-lengths",
            {"train_steps": "150", "batch_size": "64", "eval_freq": "50", "eval_size": "500"},
            QUICK_SEEDS,
        ),
        # 24 configurations x 3 seeds on 2,000 images for 2 epochs
        (
            "rnn-images-grid",
            {**FASHION, "train_samples": "2000", "test_samples": "1000", "epochs": "2"},
            QUICK_SEEDS,
        ),
    ),
    # The course's own configurations: hours on a CPU, meant for a GPU box.
    "full": (
        ("mlp-toy-compare", {}, QUICK_SEEDS),
        ("mlp-vs-cnn", FASHION, QUICK_SEEDS),
        ("cnn-optimizers", {"dataset": "cifar10", "download": "true"}, QUICK_SEEDS),
        ("resnet-optimizers", {"dataset": "cifar10", "download": "true"}, QUICK_SEEDS),
        ("rnn-lengths", {"train_steps": "10000"}, QUICK_SEEDS),
        ("rnn-images-grid", FASHION, QUICK_SEEDS),
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
