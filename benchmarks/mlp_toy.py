"""Per-sample SGD speed of the mlp-toy learners against named peers, in one process.

What is measured: updates per second at batch size 1 on moons (1000 samples, 800 train,
2 features -> 20 hidden -> 2 classes, lr 1e-2), one BLAS/torch thread. Our learners run the
real training-loop path: each epoch is `batches(*learner.train_data, epoch_order(seed, epoch,
n), 1)` followed by `learner.step(X, y)` per batch, both inside the timer (the loop prepares
the batches every epoch, so that is part of the cost). Time per update = epoch time / updates.

Peers, on the same data in the same process:
  * scikit-learn MLPClassifier(hidden (20,), solver sgd, momentum 0, alpha 0, batch_size 1,
    learning_rate_init 1e-2, shuffle): `fit` timed for E epochs (float64, sklearn's default);
  * a plain PyTorch loop: nn.Sequential, CrossEntropyLoss, optim.SGD, DataLoader(batch_size 1,
    shuffle), zero_grad/forward/loss/backward/step per batch (float32, what such a loop uses);
  * the same plain loop without the DataLoader (indexing pre-shuffled tensors): reference.

Every contender runs E epochs once per round (untimed warm-up epoch first); the rounds
interleave the contenders so drift hits all alike; the median round is reported. Targets
(issue): NumPy MLP >= 5x MLPClassifier (aim 8x), PyTorch MLP >= 3x the DataLoader loop.

Run:  python3 benchmarks/mlp_toy.py [--epochs 10] [--rounds 3] [--quick] [--json PATH]
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ[_var] = "1"  # before numpy/torch are imported: one thread for small work

import argparse  # noqa: E402
import json  # noqa: E402
import shlex  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402

import numpy as np  # noqa: E402
import sklearn  # noqa: E402
import torch  # noqa: E402
from sklearn.exceptions import ConvergenceWarning  # noqa: E402
from sklearn.neural_network import MLPClassifier  # noqa: E402
from torch import nn  # noqa: E402
from torch.utils.data import DataLoader, TensorDataset  # noqa: E402

from classicnets.experiments.mlp_toy import MLPToyConfig, build, load_data  # noqa: E402
from classicnets.seeds import epoch_order  # noqa: E402
from classicnets.train.loop import batches  # noqa: E402

THREADS = 1  # torch threads: one, for small work (run_all.py sets it per round)
torch.set_num_threads(THREADS)
SEED, LR = 42, 1e-2
DATA = load_data(MLPToyConfig(dataset="moons"))  # the data every contender trains on
N = len(DATA.X_train)


def ours(impl: str, dtype: str):
    def run(epochs: int) -> tuple[float, int]:
        learner = build(
            MLPToyConfig(impl=impl, dataset="moons", dtype=dtype, seed=SEED), torch.device("cpu")
        ).learner
        n, updates = len(learner.train_data[0]), 0
        t0 = time.perf_counter()
        for epoch in range(epochs):
            for X, y in batches(*learner.train_data, epoch_order(SEED, epoch, n), 1):
                learner.step(X, y)
                updates += 1
        return time.perf_counter() - t0, updates

    return run


def sklearn_mlp(epochs: int) -> tuple[float, int]:
    clf = MLPClassifier(
        hidden_layer_sizes=(20,),
        solver="sgd",
        momentum=0,
        alpha=0,
        batch_size=1,
        learning_rate_init=LR,
        shuffle=True,
        max_iter=epochs,
        tol=0,
        n_iter_no_change=10**9,
        random_state=SEED,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        t0 = time.perf_counter()
        clf.fit(DATA.X_train, DATA.y_train)
        elapsed = time.perf_counter() - t0
    assert clf.n_iter_ == epochs, f"MLPClassifier ran {clf.n_iter_} epochs, not {epochs}"
    return elapsed, clf.n_iter_ * N


def torch_loop(dataloader: bool):
    def run(epochs: int) -> tuple[float, int]:
        torch.manual_seed(SEED)
        X = torch.as_tensor(DATA.X_train, dtype=torch.float32)
        y = torch.as_tensor(DATA.y_train, dtype=torch.int64)
        model = nn.Sequential(nn.Linear(2, 20), nn.ReLU(), nn.Linear(20, 2))
        loss_fn = nn.CrossEntropyLoss()
        opt = torch.optim.SGD(model.parameters(), lr=LR)
        loader = DataLoader(TensorDataset(X, y), batch_size=1, shuffle=True)
        updates = 0
        t0 = time.perf_counter()
        for _ in range(epochs):
            if dataloader:
                epoch = iter(loader)
            else:
                order = torch.randperm(N)
                Xs, ys = X[order], y[order]
                epoch = ((Xs[i : i + 1], ys[i : i + 1]) for i in range(N))
            for xb, yb in epoch:
                opt.zero_grad()
                loss = loss_fn(model(xb), yb)
                loss.backward()
                opt.step()
                updates += 1
        return time.perf_counter() - t0, updates

    return run


# key: (label, dtype, function)
CONTENDERS = {
    "numpy_float64": ("NumPy MLP (ours)", "float64", ours("numpy", "float64")),
    "numpy_float32": ("NumPy MLP (ours)", "float32", ours("numpy", "float32")),
    "sklearn": ("scikit-learn MLPClassifier", "float64", sklearn_mlp),
    "torch_float32": ("PyTorch MLP (ours)", "float32", ours("torch", "float32")),
    "torch_float64": ("PyTorch MLP (ours)", "float64", ours("torch", "float64")),
    "torch_dataloader": ("plain PyTorch loop, DataLoader", "float32", torch_loop(True)),
    "torch_plain": ("plain PyTorch loop, no DataLoader", "float32", torch_loop(False)),
}
# (name, ours, peer, target, aim); target None: a reference row without a target
RATIOS = [
    ("NumPy MLP (float64) vs MLPClassifier", "numpy_float64", "sklearn", 5.0, 8.0),
    ("NumPy MLP (float32) vs MLPClassifier", "numpy_float32", "sklearn", None, None),
    ("PyTorch MLP (float32) vs DataLoader loop", "torch_float32", "torch_dataloader", 3.0, None),
    (
        "PyTorch MLP (float32) vs loop without DataLoader",
        "torch_float32",
        "torch_plain",
        None,
        None,
    ),
]


def measure(epochs: int, rounds: int) -> dict[str, list[float]]:
    """µs per update of every contender, one entry per round."""
    keys = list(CONTENDERS)
    for key in keys:  # warm-up: first calls, allocator, lazy imports
        CONTENDERS[key][2](1)
    per_round: dict[str, list[float]] = {key: [] for key in keys}
    for r in range(rounds):
        for key in keys[r % len(keys) :] + keys[: r % len(keys)]:  # rotate who goes first
            seconds, updates = CONTENDERS[key][2](epochs)
            assert updates == epochs * N, (key, updates)
            per_round[key].append(seconds / updates * 1e6)
    return per_round


def suite(size: str):
    """For benchmarks/run_all.py: (one_round(r) -> {key: µs per update}, rows), rows as
    (thing, thing key, peer, peer key); size smoke: 1 epoch a round, full: 10."""
    epochs = 1 if size == "smoke" else 10
    keys = list(CONTENDERS)
    warm = []

    def one_round(r: int) -> dict[str, float]:
        if not warm:
            warm.extend(CONTENDERS[key][2](1) for key in keys)  # first calls, lazy imports
        out = {}
        for key in keys[r % len(keys) :] + keys[: r % len(keys)]:  # rotate who goes first
            seconds, updates = CONTENDERS[key][2](epochs)
            out[key] = seconds / updates * 1e6
        return out

    def label(key: str) -> str:
        return f"{CONTENDERS[key][0]} {CONTENDERS[key][1]}"

    rows = [(label(mine), mine, label(peer), peer) for _, mine, peer, _, _ in RATIOS]
    return one_round, rows, "µs / update"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", type=int, default=10, help="epochs of 800 updates per round")
    parser.add_argument("--rounds", type=int, default=3, help="rounds; the median is reported")
    parser.add_argument("--quick", action="store_true", help="smoke run: 1 round of 1 epoch")
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    args = parser.parse_args(argv)
    epochs, rounds = (1, 1) if args.quick else (args.epochs, args.rounds)
    argv = sys.argv[1:] if argv is None else argv
    command = shlex.join(["python3", "benchmarks/mlp_toy.py", *argv])
    versions = {"python": sys.version.split()[0], "numpy": np.__version__}
    versions |= {"torch": torch.__version__, "scikit-learn": sklearn.__version__}
    print(f"command: {command}")
    print("versions: " + ", ".join(f"{k} {v}" for k, v in versions.items()))
    print(
        f"os.cpu_count(): {os.cpu_count()}, torch threads: {torch.get_num_threads()}, "
        f"OMP/MKL/OPENBLAS_NUM_THREADS=1; {N} train samples, batch size 1, "
        f"{epochs} epoch(s) = {epochs * N} updates per contender per round, {rounds} round(s)"
    )

    started = time.perf_counter()
    per_round = measure(epochs, rounds)
    results = {}
    for key, (label, dtype, _) in CONTENDERS.items():
        us = statistics.median(per_round[key])
        results[key] = {
            "label": label,
            "dtype": dtype,
            "us_per_update": us,
            "updates_per_s": 1e6 / us,
            "rounds_us_per_update": per_round[key],
        }
    ratios = []
    for name, mine, peer, target, aim in RATIOS:
        ratio = results[peer]["us_per_update"] / results[mine]["us_per_update"]
        mark = "reference" if target is None else ("PASS" if ratio >= target else "BELOW")
        ratios.append(
            {"name": name, "ours": mine, "peer": peer, "ratio": ratio}
            | {"target": target, "aim": aim, "mark": mark}
        )
    elapsed = time.perf_counter() - started

    print("\n| contender | dtype | µs / update (median) | updates / s | rounds (µs / update) |")
    print("|---|---|---:|---:|---|")
    for row in results.values():
        spread = ", ".join(f"{v:.1f}" for v in row["rounds_us_per_update"])
        print(
            f"| {row['label']} | {row['dtype']} | {row['us_per_update']:.1f} "
            f"| {row['updates_per_s']:,.0f} | {spread} |"
        )
    print("\n| speed-up (updates / s, ours ÷ peer) | measured | target | |")
    print("|---|---:|---|---|")
    for r in ratios:
        goal = "-" if r["target"] is None else f"≥ {r['target']:g}×"
        goal += f" (aim {r['aim']:g}×)" if r["aim"] else ""
        print(f"| {r['name']} | {r['ratio']:.2f}× | {goal} | {r['mark']} |")
    print(f"\nmeasured in {elapsed:.1f} s")

    if args.json:
        with open(args.json, "w") as f:
            json.dump(
                {"command": command, "versions": versions, "cpu_count": os.cpu_count()}
                | {"epochs": epochs, "rounds": rounds, "train_samples": N, "batch_size": 1}
                | {"contenders": results, "ratios": ratios, "elapsed_s": elapsed},
                f,
                indent=2,
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
