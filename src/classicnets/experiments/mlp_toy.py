"""mlp-toy: the NumPy MLP beside the PyTorch MLP on 2-D toy data.

Both implementations start from the same weights (one initialiser, copied into both) and see
the same batches in the same order, so in float64 their logged losses agree to ~1e-16: any
gap in a comparison is the implementation's, not the luck of the draw.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch

from classicnets import config, plots
from classicnets.config import Key, fraction, non_negative, positive, positive_ints
from classicnets.data import TOY_DATASETS, ArrayData, load_npz, make_toy
from classicnets.data.arrays import NPZ, is_npz
from classicnets.data.splits import with_validation
from classicnets.errors import UsageError
from classicnets.experiments import findings, keys, memory, reproduce, tables
from classicnets.experiments.spec import (
    Built,
    Experiment,
    ReportSection,
    Sweep,
    checkpointed,
    grid,
)
from classicnets.models import TorchMLP
from classicnets.numpy_nn import MLP, init_linear_layers
from classicnets.records import CONFIG, RunDir, test_at_chosen
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
    # of the training part (after test_size): 1000 samples -> 640 train, 160 val, 200 test
    val_size=keys.VAL_SIZE.with_default(0.2),
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


FLOAT64 = 8  # bytes: the data are float64 (make_toy, load_npz), as the weights by default


def memory_parts(
    cfg, n_train: int, n_test: int, num_features: int, num_classes: int
) -> list[memory.Part]:
    """The toy MLP's memory (experiments/memory.py): the weights, their gradients, the
    checkpoint's copy and its bytes, and the initial float64 layers; the data, generated,
    split, standardised and cast (and each epoch's shuffled copy); the activations (inputs
    and outputs of every layer, and their gradients) of a batch, and of evaluation, which
    reads a whole split at once."""
    sizes = (num_features, *cfg.dnn_hidden_units, num_classes)
    count = sum(a * b + b for a, b in zip(sizes[:-1], sizes[1:]))
    n_samples = n_train + n_test
    batch = cfg.batch_size or n_train
    data_key = ("dataset", cfg.dataset) if is_npz(cfg.dataset) else ("n_samples", n_samples)
    units = config.format_value(cfg.dnn_hidden_units)
    smaller = "use smaller layers"
    return [
        memory.Part(
            "parameters, gradients and their checkpoint",
            5 * count * FLOAT64,
            "dnn_hidden_units",
            units,
            smaller,
        ),
        memory.Part(
            f"the data set of {n_samples:,} samples",
            5 * n_samples * (num_features + num_classes) * FLOAT64,
            *data_key,
            "use fewer samples",
        ),
        memory.Part(
            f"activations of a batch of {batch:,}",
            3 * batch * sum(sizes) * FLOAT64,
            "batch_size",
            cfg.batch_size,
            "use a smaller batch (0 = the whole split)",
        ),
        memory.Part(
            f"activations of evaluating the training split ({n_train:,} samples) at once",
            2 * n_train * sum(sizes) * FLOAT64,
            *data_key,
            "use fewer samples",
        ),
    ]


def load_data(cfg) -> ArrayData:
    if is_npz(cfg.dataset):
        data = load_npz(cfg.dataset[len(NPZ) :])
        if data.X_train.ndim != 2:
            raise UsageError(
                f"--dataset {cfg.dataset}: X_train has shape {data.X_train.shape}; "
                "mlp-toy takes rows of features (N, D)"
            )
        return with_validation(data, cfg.val_size, cfg.seed)
    # checked before the arrays are made: n_samples can ask for more than the machine holds
    n_test = math.ceil(cfg.test_size * cfg.n_samples)  # as make_toy's split rounds
    memory.check(memory_parts(cfg, cfg.n_samples - n_test, n_test, 2, 2))
    return make_toy(
        cfg.dataset, cfg.n_samples, cfg.noise, cfg.factor, cfg.test_size, cfg.seed, cfg.val_size
    )


def checked_data(cfg) -> ArrayData:
    """The run's data, after the checks that need it."""
    data = load_data(cfg)
    n_train = len(data.X_train)
    n_test = len(data.X_test)
    memory.check(memory_parts(cfg, n_train, n_test, data.num_features, data.num_classes))
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
    """The curves; and the decision boundary of the checkpointed model, where the run has
    one (a run that diverged at its first evaluation has none) and the data are 2-D."""
    cfg = run.config()
    title = f"{cfg['impl']} MLP on {cfg['dataset']}"
    paths = [plots.curves({cfg["impl"]: run.metrics()}, run.figures / "curves.png", title)]
    if not checkpointed(run):
        return paths
    _, built = EXPERIMENT.restore(run)
    if built.data.num_features == 2:
        boundary = [(f"{title}\n{built.weights.label}", built.data, built.learner.predict_proba)]
        paths.append(plots.boundaries(boundary, run.figures / "boundary.png"))
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
    """Data, curves of both implementations on one axis per data set (several seeds: their
    mean and min-max band), decision boundaries (of each implementation's first seed) and
    the comparison table, from the trials' run directories."""
    by_dataset: dict[str, dict[str, list[RunDir]]] = {}
    for trial in trials:
        impls = by_dataset.setdefault(trial["keys"]["dataset"], {})
        impls.setdefault(trial["keys"]["impl"], []).append(RunDir(out / trial["dir"]))
    figures_dir = out / "figures"
    restored = {  # dataset -> impl -> Built, of the first run with a checkpoint (see figures)
        ds: {
            impl: EXPERIMENT.restore(ran[0])[1] for impl, runs in by.items() if (ran := _ran(runs))
        }
        for ds, by in by_dataset.items()
    }
    datasets = {  # the data need no model: made again from the first run's config
        ds: load_data(config.from_dict(MLPToyConfig, run.config(), str(run.file(CONFIG))))
        for ds, by in by_dataset.items()
        for run in list(by.values())[0][:1]
    }
    seeded = any(len(runs) > 1 for by in by_dataset.values() for runs in by.values())
    boundaries = [
        (
            f"{impl} MLP on {ds}{' (first seed)' if seeded else ''}\n{b.weights.label}",
            b.data,
            b.learner.predict_proba,
        )
        for ds, r in restored.items()
        for impl, b in r.items()
    ]
    paths = [
        plots.data_scatter(datasets, figures_dir / "data.png"),
        plots.curves_grid(
            {
                ds: {impl: [run.metrics() for run in runs] for impl, runs in by.items()}
                for ds, by in by_dataset.items()
            },
            figures_dir / "curves.png",
        ),
    ]
    if boundaries:
        paths.append(
            plots.boundaries(boundaries, figures_dir / "boundaries.png", columns=len(IMPLS))
        )
    paths.append(plots.write_table(comparison_table(trials), figures_dir / "table"))
    return paths


def _ran(runs: list[RunDir]) -> list[RunDir]:
    return [run for run in runs if checkpointed(run)]


def comparison_table(trials: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per trial: final accuracies, the validation-chosen evaluation (its epoch and
    the test accuracy there), wall time. With several seeds: a row per (dataset, impl), mean
    ± sd over the seeds, and n."""
    if tables.seeded(trials):
        return tables.config_table(trials, ("dataset", "impl"))
    rows = []
    for t in trials:
        final, best = t.get("final") or {}, t.get("best") or {}
        rows.append(
            {
                "dataset": t["keys"]["dataset"],
                "impl": t["keys"]["impl"],
                "status": t["status"],
                "final train accuracy": final.get("train", {}).get("accuracy"),
                "final test accuracy": final.get("test", {}).get("accuracy"),
                "best val accuracy": best.get("val", {}).get("accuracy"),
                "test accuracy at val's choice": test_at_chosen(t),
                "chosen epoch (by val)": best.get("val", {}).get("epoch"),
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
            ("data.png", "The three toy sets: train, validation and test splits."),
            ("curves.png", "Accuracy and loss of both implementations, one row per data set."),
            ("boundaries.png", "Decision boundaries after training, with the test points."),
        ),
        findings.mlp_toy,
        conclude=reproduce.parity,
    ),
)
