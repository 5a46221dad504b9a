"""Training speed of the explicit vanilla RNN, LSTM and GRU against torch's fused ones.

What is measured: training steps per second of rnn-palindrome's real training path at
T = 20 digits, batch 128, num_hidden 128, one-hot input (10 features), 10 classes, one thread:
the learner rnn-palindrome builds (train/classifier.py's ClassifierLearner with the
experiment's defaults: RMSprop, lr 1e-3, max_norm 10; weights from torch.manual_seed(seed)) and
its `step(X, y)` (forward, cross-entropy, backward, clipping, RMSprop) on streaming batches
(data/palindrome.py) drawn before the timer. Contenders: `impl` explicit (models/rnn.py: the
equations written out, the backward through time too) and fused (torch.nn.RNN / LSTM / GRU;
on CPU nn.LSTM runs oneDNN's LSTM kernels), the same weights at the start.

Also printed: the vanilla RNN's bound, what its step cannot go below on this core: the FLOPs
of one step's matrix products (forward and backward) at the single-thread float32 rate of a
(128 x 128) @ (128 x 128) product (one recurrent step's), plus the step's elementwise passes
(T tanh and T tanh_backward over (128 x 128)) timed alone, both measured in the same rounds;
and, for reference, the explicit RNN's forward and backward alone (no clipping, no RMSprop)
against that bound.

Every contender runs S timed steps a round, in turns of 4 (each after one untimed step, so
that the caches hold the contender's own data again), the turns rotating through the
contenders, so that the machine's drift hits all alike; each round gives a mean per step,
and the median round is reported. Targets (issue #16): explicit rnn, lstm, gru >= 1.0x the
speed of nn.RNN, nn.LSTM, nn.GRU; the explicit rnn's step within 2x of its bound.

Run:  python3 benchmarks/rnn.py [--steps 20] [--rounds 3] [--quick] [--json PATH]
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ[_var] = "1"  # before numpy/torch are imported: one thread

import argparse  # noqa: E402
import json  # noqa: E402
import shlex  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from types import SimpleNamespace  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402

from classicnets.data.palindrome import encode, palindrome_batch  # noqa: E402
from classicnets.experiments.keys import OptimConfig  # noqa: E402
from classicnets.models.rnn import RNNClassifier  # noqa: E402
from classicnets.train.classifier import ClassifierLearner  # noqa: E402

tanh_backward = torch.ops.aten.tanh_backward.grad_input  # as models/bptt.py calls it

THREADS = 1  # torch threads: one, for small work (run_all.py sets it per round)
torch.set_num_threads(THREADS)
T, B, H, F, K = 20, 128, 128, 10, 10  # input_length, batch, num_hidden, one-hot digits, classes
SEED = 42
CELLS = ("rnn", "lstm", "gru")
FUSED = {"rnn": "nn.RNN", "lstm": "nn.LSTM", "gru": "nn.GRU"}
SOURCE = SimpleNamespace(splits=("train",))  # the learner asks its source only for the splits


def contender(cell: str, impl: str, steps: int, model_only: bool = False):
    """One training step on batch `step`; model_only: forward, cross-entropy and backward
    alone (no clipping, no RMSprop), to show what the learner's part costs."""
    torch.manual_seed(SEED)
    model = RNNClassifier(cell, impl, F, H, K)
    keys = OptimConfig(optimizer="rmsprop", learning_rate=1e-3, max_norm=10.0)
    learner = ClassifierLearner(model, SOURCE, keys, torch.device("cpu"), steps)
    batches = []
    for s in range(steps):
        digits, targets = palindrome_batch(B, T, SEED, s)
        batches.append((torch.from_numpy(encode(digits, F)), torch.from_numpy(targets)))

    def run(step: int) -> float:  # seconds of one training step
        X, y = batches[step]
        t0 = time.perf_counter()
        if model_only:
            model.zero_grad(set_to_none=True)
            torch.nn.functional.cross_entropy(model(X), y).backward()
        else:
            learner.step(X, y)
        return time.perf_counter() - t0

    return run


def gemm(repeats: int = 100):
    """The single-thread matrix-multiply rate: (B, H) @ (H, H), one recurrent step's product."""
    A, W = torch.randn(B, H), torch.randn(H, H)

    def run(step: int) -> float:  # seconds of one product, the mean of `repeats`
        t0 = time.perf_counter()
        for _ in range(repeats):
            torch.mm(A, W)
        return (time.perf_counter() - t0) / repeats

    return run


def elementwise():
    """The vanilla-RNN step's elementwise passes alone, as models/bptt.py runs them: T tanh
    (forward) and T tanh_backward (backward) over (B, H), each into a buffer."""
    Z, Hs, dZ, dh = (
        torch.randn(T, B, H),
        torch.empty(T, B, H),
        torch.empty(T, B, H),
        torch.randn(B, H),
    )
    z, h, dz = Z.unbind(0), Hs.unbind(0), dZ.unbind(0)

    def run(step: int) -> float:  # seconds of the 2 T passes
        t0 = time.perf_counter()
        for t in range(T):
            torch.tanh(z[t], out=h[t])
        for t in range(T - 1, -1, -1):
            tanh_backward(dh, h[t], grad_input=dz[t])
        return time.perf_counter() - t0

    return run


def rnn_bound_ms(gemm_ms: float, tanh_ms: float) -> float:
    """The vanilla-RNN step's bound: its matrix-product FLOPs at the rate of one (B, H) @ (H, H)
    product (gemm_ms each), plus its elementwise passes timed alone (tanh_ms)."""
    return rnn_step_flops() / (2 * B * H * H) * gemm_ms + tanh_ms


def rnn_step_flops() -> int:
    """Matrix-product FLOPs of one vanilla-RNN training step (biases and the ones column of the
    input projection aside): forward x W_hx^T (all t), h W_hh^T (t >= 2), h_T W_ph^T;
    backward dW_hx, dh_t-1 = dz_t W_hh and dW_hh (t >= 2), the readout's two."""
    recurrent = 2 * (T - 1) * B * H * H
    return 3 * recurrent + 2 * (2 * T * B * F * H) + 3 * (2 * B * H * K)


def data_ms(steps: int) -> float:
    """ms per training batch of streaming palindromes: drawn and one-hot encoded (numpy)."""
    t0 = time.perf_counter()
    for s in range(steps):
        digits, targets = palindrome_batch(B, T, SEED, s)
        torch.from_numpy(encode(digits, F)), torch.from_numpy(targets)
    return (time.perf_counter() - t0) / steps * 1e3


def rounds_of(steps: int, block: int = 4):
    """(runners, one_round(r) -> {key: seconds per step, per product for "gemm"}); "tanh" is
    the step's elementwise passes alone.

    In turns of `block` timed steps, after one untimed step that brings the contender's own
    data back into the caches; the turns rotate through the contenders, who goes first
    rotating too: the speed of this shared machine drifts in phases of a fraction of a
    second, which rounds of many steps of one contender would catch for some contenders only.
    """
    runners = {f"{c}_{i}": contender(c, i, steps) for c in CELLS for i in ("explicit", "fused")}
    runners["rnn_explicit_model"] = contender("rnn", "explicit", steps, model_only=True)
    runners["gemm"] = gemm()
    runners["tanh"] = elementwise()
    keys = list(runners)
    turns = [range(start, min(start + block, steps)) for start in range(0, steps, block)]

    def one_round(r: int) -> dict[str, float]:
        total = dict.fromkeys(keys, 0.0)
        for i, turn in enumerate(turns):
            first = (r * len(turns) + i) % len(keys)
            for key in keys[first:] + keys[:first]:
                runners[key](turn[0])  # untimed
                total[key] += sum(runners[key](s) for s in turn)
        return {key: total[key] / steps for key in keys}

    return runners, one_round


def measure(steps: int, rounds: int, block: int = 4) -> dict[str, list[float]]:
    """Seconds per step (per product for "gemm", the passes for "tanh") of every contender,
    one mean a round."""
    _, one_round = rounds_of(steps, block)
    per_round: dict[str, list[float]] = {}
    for r in range(rounds):
        for key, seconds in one_round(r).items():
            per_round.setdefault(key, []).append(seconds)
    return per_round


def suite(size: str):
    """For benchmarks/run_all.py: (one_round(r) -> {key: ms per step}, rows), rows as
    (thing, thing key, peer, peer key); the peer of the explicit RNN is its bound (its products
    at the round's measured (B, H) @ (H, H) rate, plus its tanh passes timed alone). size
    smoke: 2 steps a round, full: 20."""
    _, measured = rounds_of(2 if size == "smoke" else 20)

    def one_round(r: int) -> dict[str, float]:
        out = {key: seconds * 1e3 for key, seconds in measured(r).items()}
        out["rnn_bound"] = rnn_bound_ms(out["gemm"], out["tanh"])
        return out

    rows = [(f"{c} (ours)", f"{c}_explicit", FUSED[c], f"{c}_fused") for c in CELLS]
    rows.append(("rnn (ours)", "rnn_explicit", "bound: products + tanh passes", "rnn_bound"))
    return one_round, rows, "ms / step"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=20, help="training steps per round")
    parser.add_argument("--rounds", type=int, default=3, help="rounds; the median is reported")
    parser.add_argument("--quick", action="store_true", help="smoke run: 1 round of 2 steps")
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    args = parser.parse_args(argv)
    steps, rounds = (2, 1) if args.quick else (args.steps, args.rounds)
    argv = sys.argv[1:] if argv is None else argv
    command = shlex.join(["python3", "benchmarks/rnn.py", *argv])
    versions = {"python": sys.version.split()[0], "numpy": np.__version__}
    versions["torch"] = torch.__version__
    print(f"command: {command}")
    print("versions: " + ", ".join(f"{k} {v}" for k, v in versions.items()))
    print(
        f"os.cpu_count(): {os.cpu_count()}, torch threads: {torch.get_num_threads()}; "
        f"T {T}, batch {B}, num_hidden {H}, one-hot {F}, {K} classes; "
        f"{steps} step(s) per contender per round, {rounds} round(s)"
    )

    started = time.perf_counter()
    per_round = measure(steps, rounds)
    ms = {k: [s * 1e3 for s in v] for k, v in per_round.items()}
    med = {k: statistics.median(v) for k, v in ms.items()}
    gemm_gflops = 2 * B * H * H / (med["gemm"] / 1e3) / 1e9
    flops = rnn_step_flops()
    products_ms = flops / (gemm_gflops * 1e9) * 1e3
    bound_ms = rnn_bound_ms(med["gemm"], med["tanh"])
    data = data_ms(steps)
    elapsed = time.perf_counter() - started

    print("\n| cell | impl | ms / step (median) | steps / s | rounds (ms / step) |")
    print("|---|---|---:|---:|---|")
    contenders = {}
    for cell in CELLS:
        for impl in ("explicit", "fused"):
            key = f"{cell}_{impl}"
            label = FUSED[cell] if impl == "fused" else f"{cell} (ours)"
            contenders[key] = {"cell": cell, "impl": impl, "label": label}
            contenders[key] |= {"ms_per_step": med[key], "steps_per_s": 1e3 / med[key]}
            contenders[key]["rounds_ms_per_step"] = ms[key]
            spread = ", ".join(f"{v:.2f}" for v in ms[key])
            print(f"| {cell} | {label} | {med[key]:.2f} | {1e3 / med[key]:.1f} | {spread} |")

    ratios = []
    for cell, target in (("rnn", 1.0), ("lstm", 1.0), ("gru", 1.0)):
        ratio = med[f"{cell}_fused"] / med[f"{cell}_explicit"]
        name = f"explicit {cell} vs {FUSED[cell]} (steps / s)"
        mark = "PASS" if ratio >= target else "BELOW"
        ratios.append({"name": name, "ratio": ratio, "target": f"≥ {target:.2f}×", "mark": mark})
    over = med["rnn_explicit"] / bound_ms
    ratios.append(
        {
            "name": "explicit rnn time vs its bound (products + tanh passes)",
            "ratio": over,
            "target": "≤ 2.00×",
            "mark": "PASS" if over <= 2.0 else "BELOW",
        }
    )
    ratios.append(
        {
            "name": "explicit rnn forward + backward alone (no clip, no RMSprop) vs the bound",
            "ratio": med["rnn_explicit_model"] / bound_ms,
            "target": "-",
            "mark": "reference",
        }
    )
    print("\n| ratio | measured | target | |")
    print("|---|---:|---|---|")
    for r in ratios:
        print(f"| {r['name']} | {r['ratio']:.2f}× | {r['target']} | {r['mark']} |")
    print(
        f"\nbound of the vanilla RNN step: its matrix products, {flops / 1e6:.0f} MFLOP at "
        f"{gemm_gflops:.1f} GFLOP/s (one thread, ({B} x {H}) @ ({H} x {H}), median "
        f"{med['gemm'] * 1e3:.1f} µs) = {products_ms:.2f} ms (the matrix-multiply bound), plus "
        f"its {T} tanh and {T} tanh_backward passes over ({B} x {H}) timed alone, "
        f"{med['tanh']:.2f} ms: {bound_ms:.2f} ms"
    )
    print(f"data (not in the steps above): {data:.2f} ms per batch, drawn and one-hot encoded")
    print(f"measured in {elapsed:.1f} s")

    if args.json:
        with open(args.json, "w") as f:
            json.dump(
                {"command": command, "versions": versions, "cpu_count": os.cpu_count()}
                | {"steps": steps, "rounds": rounds, "T": T, "batch": B, "num_hidden": H}
                | {"contenders": contenders, "ratios": ratios, "gemm_gflops": gemm_gflops}
                | {"rnn_step_mflop": flops / 1e6, "products_ms": products_ms}
                | {"tanh_ms": med["tanh"], "bound_ms": bound_ms, "data_ms": data}
                | {"elapsed_s": elapsed},
                f,
                indent=2,
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
