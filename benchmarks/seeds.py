"""S seeds of one configuration trained together against S separate runs, one thread.

What is measured: the wall time of training S seeds of one configuration (a) one after the
other, each seed's own learner stepped by train/together.py's schedule (`OneSeed`: the loop's
batches, steps and evaluations, without its run record), and (b) all at once, stacked
(`StackedNumpyLearner`: weights (S, in, out), batched matmuls; `StackedRNNLearner`: the
cells through torch.func.vmap and functional_call, per-seed clipping and RMSprop on stacked
tensors), the stacking itself inside the timer. Both start from the same S learners, made by
the experiment's build (initial weights, data, held-out sets: outside the timer, the same
work for both), train the same steps and evaluate at the same steps.

Workloads: mlp-toy (NumPy, float64, batch size 1, moons, 2 -> 20 -> 2); rnn-palindrome's
vanilla RNN and LSTM at 16 hidden units, batch 32, T = 10; and the LSTM at the course's size
(128 units, batch 128), where the step is arithmetic, not overhead, to show where stacking
stops paying. The RNNs run in torch's default float32, as rnn-palindrome does (--rnn_dtype
float64 for the precision the tests hold to 1e-10).

Printed: per workload the median over rounds of each way's time, speed-up = separate ÷
together, and the largest |together - separate| over every logged loss and accuracy and over
every final weight (float32 runs round differently in the two ways; float64 agrees to
~1e-15). The rounds interleave the workloads and alternate which way goes first, so that the
drift of this shared machine hits both alike; the load average is printed with them.

Run:  python3 benchmarks/seeds.py [--seeds 8] [--rounds 3] [--rnn_dtype float32|float64]
          [--quick] [--json PATH]
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ[_var] = "1"  # before numpy/torch are imported: one thread for small work

import argparse  # noqa: E402
import dataclasses  # noqa: E402
import json  # noqa: E402
import shlex  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402

from classicnets.experiments import mlp_toy, rnn_palindrome  # noqa: E402
from classicnets.experiments.spec import Experiment  # noqa: E402
from classicnets.train.together import (  # noqa: E402
    OneSeed,
    SeedRun,
    StackedNumpyLearner,
    train_together,
)
from classicnets.train.together_rnn import StackedRNNLearner  # noqa: E402

THREADS = 1  # torch threads: one, for small work (run_all.py sets it per round)
torch.set_num_threads(THREADS)
CPU = torch.device("cpu")


@dataclasses.dataclass(frozen=True)
class Workload:
    key: str  # the JSON's and run_all's name
    label: str  # what the table says
    experiment: Experiment
    full: Any  # the config timed (its seed is replaced by each of the seeds)
    smoke: Any  # the smallest run: --quick and run_all's smoke size
    stacked: type  # the stacked learner of the experiment's learners


TOY = mlp_toy.MLPToyConfig(
    dataset="moons",  # 1000 samples: 640 train, 160 val, 200 test
    epochs=10,  # passes of 640 per-sample SGD updates each
    eval_freq=5,  # epochs: evaluations at 0, 5 and 10
)
SMALL_RNN = rnn_palindrome.PalindromeConfig(
    num_hidden=16,  # units: small enough that a step is per-op overhead
    input_length=10,  # T: digits read
    batch_size=32,  # palindromes per step
    train_steps=100,  # updates
    eval_freq=50,  # steps: evaluations at 0, 50, 100 of 1000 palindromes per split
)
COURSE_LSTM = rnn_palindrome.PalindromeConfig(
    cell="lstm",
    num_hidden=128,  # the course's default: the step is matrix products
    input_length=10,
    batch_size=128,  # the course's default
    train_steps=20,
    eval_freq=20,
)
TINY_RNN = dataclasses.replace(
    SMALL_RNN, num_hidden=8, input_length=5, batch_size=8, train_steps=2, eval_freq=2, eval_size=50
)
WORKLOADS = (
    Workload(
        "mlp",
        "mlp-toy, NumPy float64, batch 1",
        mlp_toy.EXPERIMENT,
        TOY,
        dataclasses.replace(TOY, n_samples=100, epochs=1, eval_freq=1),
        StackedNumpyLearner,
    ),
    Workload(
        "rnn",
        "rnn-palindrome, vanilla RNN, 16 units, batch 32",
        rnn_palindrome.EXPERIMENT,
        SMALL_RNN,
        TINY_RNN,
        StackedRNNLearner,
    ),
    Workload(
        "lstm",
        "rnn-palindrome, LSTM, 16 units, batch 32",
        rnn_palindrome.EXPERIMENT,
        dataclasses.replace(SMALL_RNN, cell="lstm"),
        dataclasses.replace(TINY_RNN, cell="lstm"),
        StackedRNNLearner,
    ),
    Workload(
        "lstm128",
        "rnn-palindrome, LSTM, 128 units, batch 128",
        rnn_palindrome.EXPERIMENT,
        COURSE_LSTM,
        dataclasses.replace(TINY_RNN, cell="lstm", num_hidden=32),
        StackedRNNLearner,
    ),
)


def learners(w: Workload, cfg: Any, seeds: tuple[int, ...], dtype: torch.dtype) -> list:
    """The experiment's build for every seed: (learner, loop settings) pairs."""
    before = torch.get_default_dtype()
    torch.set_default_dtype(dtype)  # the RNN's parameters are made in the default dtype
    try:
        built = [w.experiment.build(dataclasses.replace(cfg, seed=s), CPU) for s in seeds]
    finally:
        torch.set_default_dtype(before)
    return [(b.learner, b.settings) for b in built]


def separately(w, cfg, seeds, dtype) -> tuple[float, list[SeedRun]]:
    made = learners(w, cfg, seeds, dtype)
    started = time.perf_counter()
    runs = [train_together(OneSeed(ln, s), st)[0] for s, (ln, st) in zip(seeds, made)]
    return time.perf_counter() - started, runs


def together(w, cfg, seeds, dtype) -> tuple[float, list[SeedRun]]:
    made = learners(w, cfg, seeds, dtype)
    started = time.perf_counter()
    runs = train_together(w.stacked([ln for ln, _ in made], seeds), made[0][1])
    return time.perf_counter() - started, runs


def differences(a: list[SeedRun], b: list[SeedRun]) -> tuple[float, float]:
    """The largest |a - b| over every row's loss and accuracy, and over every final weight."""
    metrics = weights = 0.0
    for x, y in zip(a, b):
        assert [(r["step"], r["split"]) for r in x.rows] == [
            (r["step"], r["split"]) for r in y.rows
        ]
        for r, s in zip(x.rows, y.rows):
            metrics = max(metrics, abs(r["loss"] - s["loss"]), abs(r["accuracy"] - s["accuracy"]))
        for name, value in x.weights.items():
            gap = torch.as_tensor(value).double() - torch.as_tensor(y.weights[name]).double()
            weights = max(weights, float(gap.abs().max()))
    return metrics, weights


def rounds_of(size: str, seeds: int, dtype: torch.dtype):
    """one_round(r) -> {"<key>_separate": s, "<key>_together": s, "<key>_dmetrics": ...}."""
    chosen = tuple(range(1, seeds + 1))

    def one_round(r: int) -> dict[str, float]:
        out = {}
        first = r % len(WORKLOADS)
        for w in WORKLOADS[first:] + WORKLOADS[:first]:  # rotate which workload goes first
            cfg = w.smoke if size == "smoke" else w.full
            ways = (("separate", separately), ("together", together))
            results = {}
            for name, way in ways[r % 2 :] + ways[: r % 2]:  # alternate which way goes first
                out[f"{w.key}_{name}"], results[name] = way(w, cfg, chosen, dtype)
            dm, dw = differences(results["together"], results["separate"])
            out[f"{w.key}_dmetrics"], out[f"{w.key}_dweights"] = dm, dw
        return out

    return one_round


def suite(size: str, seeds: int = 8):
    """For benchmarks/run_all.py: (one_round(r) -> {key: s for all seeds}, rows), rows as
    (thing, thing key, peer, peer key); size smoke: 2 seeds of the smallest runs."""
    seeds = 2 if size == "smoke" else seeds
    rows = [
        (f"{seeds} seeds together: {w.label}", f"{w.key}_together")
        + (f"{seeds} separate runs", f"{w.key}_separate")
        for w in WORKLOADS
    ]
    return rounds_of(size, seeds, torch.float32), rows, "s / all seeds"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=8, help="seeds of each configuration")
    parser.add_argument("--rounds", type=int, default=3, help="rounds; the median is reported")
    parser.add_argument(
        "--rnn_dtype", choices=("float32", "float64"), default="float32", help="the RNNs' dtype"
    )
    parser.add_argument("--quick", action="store_true", help="smoke run: 1 round, 2 seeds, tiny")
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    args = parser.parse_args(argv)
    if args.seeds < 1 or args.rounds < 1:
        parser.error("--seeds and --rounds: expected positive integers, e.g. 8 and 3")
    seeds, rounds = (2, 1) if args.quick else (args.seeds, args.rounds)
    size = "smoke" if args.quick else "full"
    argv = sys.argv[1:] if argv is None else argv
    command = shlex.join(["python3", "benchmarks/seeds.py", *argv])
    versions = {"python": sys.version.split()[0], "numpy": np.__version__}
    versions["torch"] = torch.__version__
    print(f"command: {command}")
    print("versions: " + ", ".join(f"{k} {v}" for k, v in versions.items()))
    load = os.getloadavg()
    print(
        f"os.cpu_count(): {os.cpu_count()}, torch threads: {torch.get_num_threads()}, "
        f"OMP/MKL/OPENBLAS_NUM_THREADS=1; {seeds} seeds, {rounds} round(s), size {size}; "
        f"RNNs in {args.rnn_dtype}; load average at the start {load[0]:.2f}, {load[1]:.2f}, "
        f"{load[2]:.2f}"
    )

    started = time.perf_counter()
    one_round = rounds_of(size, seeds, getattr(torch, args.rnn_dtype))
    per_round: dict[str, list[float]] = {}
    for r in range(rounds):
        for key, value in one_round(r).items():
            per_round.setdefault(key, []).append(value)
    elapsed = time.perf_counter() - started
    load = os.getloadavg()

    print(
        "\n| workload | separate runs (median) | together (median) | speed-up | max abs Δ "
        "metrics | max abs Δ weights | rounds: separate; together (s) |"
    )
    print("|---|---:|---:|---:|---:|---:|---|")
    results = {}
    for w in WORKLOADS:
        sep, tog = per_round[f"{w.key}_separate"], per_round[f"{w.key}_together"]
        row = {"label": w.label, "separate_s": statistics.median(sep)}
        row |= {"together_s": statistics.median(tog), "rounds_separate_s": sep}
        row |= {"rounds_together_s": tog, "speedup": row["separate_s"] / row["together_s"]}
        row |= {"max_diff_metrics": max(per_round[f"{w.key}_dmetrics"])}
        row |= {"max_diff_weights": max(per_round[f"{w.key}_dweights"])}
        results[w.key] = row
        spread = ", ".join(f"{v:.3g}" for v in sep) + "; " + ", ".join(f"{v:.3g}" for v in tog)
        print(
            f"| {w.label} | {row['separate_s']:.3g} s | {row['together_s']:.3g} s "
            f"| {row['speedup']:.2f}× | {row['max_diff_metrics']:.1e} "
            f"| {row['max_diff_weights']:.1e} | {spread} |"
        )
    print(f"\nspeed-up: separate ÷ together, {seeds} seeds each way")
    print(f"measured in {elapsed:.1f} s; load average at the end {load[0]:.2f}, {load[1]:.2f}")

    if args.json:
        with open(args.json, "w") as f:
            json.dump(
                {"command": command, "versions": versions, "cpu_count": os.cpu_count()}
                | {"seeds": seeds, "rounds": rounds, "size": size, "rnn_dtype": args.rnn_dtype}
                | {"workloads": results, "elapsed_s": elapsed},
                f,
                indent=2,
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
