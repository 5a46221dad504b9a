"""mlp-toy: the NumPy MLP beside the PyTorch MLP on 2-D toy data.

Both implementations start from the same weights (one initialiser, copied into both) and see
the same batches in the same order, so in float64 their logged losses agree to ~1e-16: any
gap in a comparison is the implementation's, not the luck of the draw.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch

from classicnets import config, plots
from classicnets.config import Key, fraction, non_negative, positive, positive_ints
from classicnets.data import TOY_DATASETS, ArrayData, load_npz, make_toy
from classicnets.data.arrays import NPZ, is_npz
from classicnets.errors import UsageError
from classicnets.experiments import findings, keys
from classicnets.experiments.spec import Built, Experiment, ReportSection, Sweep, grid
from classicnets.models import TorchMLP
from classicnets.numpy_nn import MLP, init_linear_layers
from classicnets.records import RunDir
from classicnets.seeds import seed_torch
from classicnets.train.learners import NumpyLearner, ToyTorchLearner
from classicnets.train.loop import LoopSettings


def _dataset_name(name: str) -> str | None:
    if name in TOY_DATASETS or is_npz(name):
        return None
    return f"unknown data set; choose {', '.join(TOY_DATASETS)} or npz:PATH"


MLPToyConfig = config.define(
    "MLPToyConfig",
    impl=Key(
        Literal["numpy", "torch"],
        "numpy",
        "which MLP: the from-scratch NumPy one or the PyTorch (autograd) one",
    ),
    dataset=Key(
        str,
        "moons",
        "moons, circles, classification, or npz:PATH (arrays X_train, "
        "y_train, X_test, y_test; rows of features)",
        _dataset_name,
    ),
    n_samples=Key(int, 1000, "toy samples generated, before the train/test split", positive),
    noise=Key(float, 0.1, "std of Gaussian noise added to moons and circles", non_negative),
    factor=Key(float, 0.5, "circles: radius of the inner circle relative to the outer", fraction),
    test_size=Key(float, 0.2, "fraction of the toy samples held out for testing", fraction),
    dnn_hidden_units=Key(
        tuple[int, ...],
        (20,),
        "hidden layer widths, comma-separated, e.g. 1024,512",
        positive_ints,
    ),
    learning_rate=Key(float, 1e-2, "SGD step size", positive),
    optimizer=Key(Literal["sgd"], "sgd", "plain SGD (no momentum), as both MLPs implement it"),
    batch_size=Key(int, 1, "samples per update: 1 = per-sample SGD, 0 = full batch", non_negative),
    epochs=keys.EPOCHS.with_default(200),  # passes; the toy sets converge in ~100
    eval_freq=keys.EVAL_FREQ.with_default(10),  # epochs between evaluations
    seed=keys.SEED,
    dtype=Key(
        Literal["float64", "float32"],
        "float64",
        "floating-point precision of weights and data in both implementations",
    ),
)


def load_data(cfg) -> ArrayData:
    if is_npz(cfg.dataset):
        data = load_npz(cfg.dataset[len(NPZ) :])
        if data.X_train.ndim != 2:
            raise UsageError(
                f"--dataset {cfg.dataset}: X_train has shape {data.X_train.shape}; "
                "mlp-toy takes rows of features (N, D)"
            )
        return data
    return make_toy(cfg.dataset, cfg.n_samples, cfg.noise, cfg.factor, cfg.test_size, cfg.seed)


def checked_data(cfg) -> ArrayData:
    """The run's data, after the checks that need it."""
    data = load_data(cfg)
    n_train = len(data.X_train)
    if cfg.batch_size > n_train:
        raise UsageError(
            f"--batch_size {cfg.batch_size}: larger than the training split "
            f"({n_train} samples); use at most {n_train}, or 0 for full batch"
        )
    return data


def validate(cfg) -> None:
    checked_data(cfg)


def build(cfg, device: torch.device) -> Built:
    data = checked_data(cfg)
    sizes = (data.num_features, *cfg.dnn_hidden_units, data.num_classes)
    layers = init_linear_layers(sizes, cfg.seed)
    # torch's RNG is seeded at random in each process; these MLPs draw nothing from it, but
    # the checkpoint holds its state: from the seed, that too is the same in every run
    seed_torch(cfg.seed)
    if cfg.impl == "numpy":
        learner: Any = NumpyLearner(MLP(layers, dtype=np.dtype(cfg.dtype)), data, cfg.learning_rate)
    else:
        model = TorchMLP(sizes).to(torch.float64).copy_from(layers)
        learner = ToyTorchLearner(model, data, cfg.learning_rate, device, getattr(torch, cfg.dtype))
    return Built(learner, LoopSettings.from_keys(cfg), data)


def figures(run: RunDir) -> list[Path]:
    cfg, built = EXPERIMENT.restore(run)
    data, learner = built.data, built.learner
    title = f"{cfg.impl} MLP on {cfg.dataset}"
    paths = [plots.curves({cfg.impl: run.metrics()}, run.figures / "curves.png", title)]
    if data.num_features == 2:
        paths.append(
            plots.boundaries([(title, data, learner.predict_proba)], run.figures / "boundary.png")
        )
    return paths


EXPERIMENT = Experiment(
    name="mlp-toy",
    description="NumPy vs PyTorch MLP on 2-D toy data (moons, circles, classification)",
    config=MLPToyConfig,
    validate=validate,
    build=build,
    figures=figures,
    threads=1,  # tiny sequential ops: one thread is fastest (spec.Experiment.threads)
)


# --- the study: both implementations on all three toy sets ---
IMPLS = ("numpy", "torch")


def compare_figures(out: Path, trials: list[dict[str, Any]]) -> list[Path]:
    """Data, curves of both implementations on one axis per data set, decision boundaries and
    the comparison table, from the trials' run directories."""
    by_dataset: dict[str, dict[str, RunDir]] = {}
    for trial in trials:
        by_dataset.setdefault(trial["keys"]["dataset"], {})[trial["keys"]["impl"]] = RunDir(
            out / trial["dir"]
        )
    figures_dir = out / "figures"
    restored = {  # dataset -> impl -> Built
        ds: {impl: EXPERIMENT.restore(run)[1] for impl, run in runs.items()}
        for ds, runs in by_dataset.items()
    }
    datasets = {ds: next(iter(r.values())).data for ds, r in restored.items()}
    paths = [
        plots.data_scatter(datasets, figures_dir / "data.png"),
        plots.curves_grid(
            {
                ds: {impl: run.metrics() for impl, run in runs.items()}
                for ds, runs in by_dataset.items()
            },
            figures_dir / "curves.png",
        ),
        plots.boundaries(
            [
                (f"{impl} MLP on {ds}", built.data, built.learner.predict_proba)
                for ds, r in restored.items()
                for impl, built in r.items()
            ],
            figures_dir / "boundaries.png",
            columns=len(IMPLS),
        ),
    ]
    table = comparison_table(trials)
    paths.append(plots.write_table(table, figures_dir / "table"))
    return paths


def comparison_table(trials: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per trial: final accuracy, epochs to the best test accuracy, wall time."""
    rows = []
    for t in trials:
        final, best = t.get("final", {}), t.get("best", {}).get("test", {})
        rows.append(
            {
                "dataset": t["keys"]["dataset"],
                "impl": t["keys"]["impl"],
                "status": t["status"],
                "train accuracy": final.get("train", {}).get("accuracy"),
                "test accuracy": final.get("test", {}).get("accuracy"),
                "best test accuracy": best.get("accuracy"),
                "epochs to best": best.get("epoch"),
                "wall time (s)": t.get("wall_time_s"),
                "train samples/s": t.get("train_samples_per_s"),
            }
        )
    return rows


COMPARE = Sweep(
    name="mlp-toy-compare",
    description="numpy and torch MLP on moons, circles and classification (6 runs), side by side",
    trials=grid("mlp-toy", "{dataset}-{impl}", dataset=TOY_DATASETS, impl=IMPLS),
    figures=compare_figures,
    report=ReportSection(
        "MLP from scratch: NumPy beside PyTorch",
        "The same MLP (2 → 20 → 2, ReLU, cross-entropy, SGD) written by hand in NumPy and in "
        "PyTorch, started from the same weights and fed the same batches.",
        (
            ("data.png", "The three toy sets, train and test splits."),
            ("curves.png", "Accuracy and loss of both implementations, one row per data set."),
            ("boundaries.png", "Decision boundaries after training, with the test points."),
        ),
        findings.mlp_toy,
    ),
)
