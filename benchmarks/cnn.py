"""Training speed of the VGG-style CNN: classicnets' real training path against named peers.

What is measured: images per second of training steps (forward, cross-entropy, backward,
Adam step) at width 1 and 0.25, batch 32 and 128, on CIFAR-shaped data (3x32x32 uint8, made
here: CIFAR-10 itself cannot be downloaded on the development machine; the cost of a step
does not depend on the pixel values). Two threads, as the CPU has.

Contenders, in the same process:
  * ours: `cnn.build` on the data, then the loop's own calls: `learner.epoch_batches(...)`
    and `learner.step(X, y)` (uint8 batches gathered on the device, normalised, augmented
    with random crops and flips as tensor ops, channels_last);
  * bare: the same network on one fixed float batch, channels_last, a plain
    zero_grad/forward/loss/backward/step loop: the best a training path can do;
  * dataloader: the conventional pipeline, a per-image `Dataset` (normalise, random crop,
    flip per image) with `DataLoader(shuffle=True)`, default memory format.
Targets (issue): ours >= 0.9x bare, ours >= 1.3x dataloader. Also printed: the achieved
GFLOP/s (3x the forward FLOPs per image) beside the measured float32 matrix-multiply rate.

Run:  python3 benchmarks/cnn.py [--rounds 3] [--steps 4] [--quick] [--json PATH]
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import statistics
import sys
import time
from itertools import islice

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, Dataset

from classicnets.config import build as build_config
from classicnets.data.arrays import ArrayData
from classicnets.data.splits import make_splits
from classicnets.experiments.cnn import ARCH, CNNConfig, build
from classicnets.models.vgg import VGG

THREADS = 2  # torch threads: the CNN is large work, two as the CPU has (run_all.py too)
torch.set_num_threads(THREADS)
N_IMAGES = 2048  # the synthetic training split (uint8, 3x32x32)


def synthetic_splits(n: int):
    rng = np.random.default_rng(0)
    X = rng.integers(0, 256, size=(n, 3, 32, 32), dtype=np.uint8)
    y = rng.integers(0, 10, size=n)
    return make_splits(ArrayData(X, y, X[:256], y[:256], 10), val_size=0, seed=0)


def ours(width: float, batch: int, splits):
    cfg = build_config(
        CNNConfig, {"width": str(width), "batch_size": str(batch), "augment": "true"}
    )
    learner = build(cfg, torch.device("cpu"), splits).learner

    def run(steps: int) -> float:
        batches = islice(learner.epoch_batches(0, 0, batch), steps)
        t0 = time.perf_counter()
        for X, y in batches:
            learner.step(X, y)
        return time.perf_counter() - t0

    return run


def bare(width: float, batch: int, splits):
    torch.manual_seed(0)
    model = VGG(3, 10, ARCH, width).to(memory_format=torch.channels_last)
    opt = torch.optim.Adam(model.parameters(), lr=1e-4)
    X = torch.randn(batch, 3, 32, 32).contiguous(memory_format=torch.channels_last)
    y = torch.randint(0, 10, (batch,))

    def run(steps: int) -> float:
        t0 = time.perf_counter()
        for _ in range(steps):
            opt.zero_grad()
            F.cross_entropy(model(X), y).backward()
            opt.step()
        return time.perf_counter() - t0

    return run


class PerImage(Dataset):
    """The conventional per-image pipeline: normalise, pad-and-crop, flip, one image a call."""

    def __init__(self, X: np.ndarray, y: np.ndarray):
        self.X, self.y = torch.from_numpy(X), torch.from_numpy(y)
        self.mean = self.X.float().mean(dim=(0, 2, 3))[:, None, None]
        self.std = self.X.float().std(dim=(0, 2, 3))[:, None, None]

    def __len__(self) -> int:
        return len(self.y)

    def __getitem__(self, i: int):
        x = (self.X[i].float() - self.mean) / self.std
        x = F.pad(x, (4, 4, 4, 4))
        top, left = torch.randint(0, 9, (2,)).tolist()
        x = x[:, top : top + 32, left : left + 32]
        if torch.rand(()) < 0.5:
            x = x.flip(2)
        return x, self.y[i]


def dataloader(width: float, batch: int, splits):
    torch.manual_seed(0)
    model = VGG(3, 10, ARCH, width)
    opt = torch.optim.Adam(model.parameters(), lr=1e-4)
    X, y = splits.arrays["train"]
    loader = DataLoader(PerImage(X, y), batch_size=batch, shuffle=True)

    def run(steps: int) -> float:
        t0 = time.perf_counter()
        for xb, yb in islice(loader, steps):
            opt.zero_grad()
            F.cross_entropy(model(xb), yb).backward()
            opt.step()
        return time.perf_counter() - t0

    return run


CONTENDERS = {"ours": ours, "bare": bare, "dataloader": dataloader}
RATIOS = [("ours vs bare synthetic step", "bare", 0.9), ("ours vs DataLoader", "dataloader", 1.3)]


def forward_flops(width: float) -> float:
    """Multiply-adds x 2 of one 32x32 image's forward pass (convolutions and the linear)."""
    flops, channels, size = 0.0, 3, 32
    for convs, out in ARCH:
        out = max(1, round(out * width))
        for _ in range(convs):
            flops += 2 * channels * out * 9 * size * size
            channels = out
        size = (size + 1) // 2  # 3x3 pool, stride 2, padding 1
    return flops + 2 * channels * 10


def matmul_rate(n: int = 2048, repeats: int = 5) -> float:
    """GFLOP/s of a float32 n x n matrix product on this machine's threads (best of repeats)."""
    A, B = torch.randn(n, n), torch.randn(n, n)
    A @ B
    best = min(_timed(lambda: A @ B) for _ in range(repeats))
    return 2 * n**3 / best / 1e9


def _timed(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def suite(size: str):
    """For benchmarks/run_all.py: (one_round(r) -> {key: ms per image}, rows), rows as
    (thing, thing key, peer, peer key); size smoke: width 1/16, batch 8, one step a round."""
    if size == "smoke":
        settings, steps = [(0.0625, 8)], 1
    else:
        settings, steps = [(w, b) for w in (1.0, 0.25) for b in (32, 128)], 4
    splits = synthetic_splits(max(N_IMAGES, 128 * (steps + 1)))
    runners = {}
    for width, batch in settings:
        for key, make in CONTENDERS.items():
            runners[f"{key} w{width:g} b{batch}"] = (make(width, batch, splits), batch)
    warm = []

    def one_round(r: int) -> dict[str, float]:
        if not warm:
            warm.extend(run(1) for run, _ in runners.values())
        keys, out = list(runners), {}
        for key in keys[r % len(keys) :] + keys[: r % len(keys)]:
            run, batch = runners[key]
            out[key] = run(steps) / (batch * steps) * 1e3
        return out

    rows = [
        (f"ours w{w:g} b{b}", f"ours w{w:g} b{b}", f"{peer} w{w:g} b{b}", f"{peer} w{w:g} b{b}")
        for w, b in settings
        for _, peer, _ in RATIOS
    ]
    return one_round, rows, "ms / image"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3, help="rounds; the median is reported")
    parser.add_argument("--steps", type=int, default=4, help="training steps per round")
    parser.add_argument("--quick", action="store_true", help="smoke run: tiny, 1 round")
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    args = parser.parse_args(argv)
    argv = sys.argv[1:] if argv is None else argv
    if args.quick:
        settings, rounds, steps = [(0.0625, 8)], 1, 1
    else:
        settings = [(w, b) for w in (1.0, 0.25) for b in (32, 128)]
        rounds, steps = args.rounds, args.steps
    print(f"command: {shlex.join(['python3', 'benchmarks/cnn.py', *argv])}")
    print(
        f"torch {torch.__version__}, os.cpu_count() {os.cpu_count()}, "
        f"torch threads {torch.get_num_threads()}; {steps} step(s) x {rounds} round(s)"
    )
    peak = matmul_rate(256 if args.quick else 2048)
    print(f"float32 matrix multiply: {peak:.1f} GFLOP/s")
    splits = synthetic_splits(max(N_IMAGES, 128 * (steps + 1)))
    results = []
    for width, batch in settings:
        runners = {key: make(width, batch, splits) for key, make in CONTENDERS.items()}
        for run in runners.values():
            run(1)  # warm-up
        times: dict[str, list[float]] = {key: [] for key in runners}
        for r in range(rounds):
            keys = list(runners)
            for key in keys[r % len(keys) :] + keys[: r % len(keys)]:
                times[key].append(runners[key](steps))
        ips = {k: batch * steps / statistics.median(v) for k, v in times.items()}
        gflops = ips["ours"] * 3 * forward_flops(width) / 1e9
        row = {"width": width, "batch": batch, "images_per_s": ips, "gflops": gflops}
        row["ratios"] = {name: ips["ours"] / ips[peer] for name, peer, _ in RATIOS}
        results.append(row)

    print(
        "\n| width | batch | ours img/s | bare img/s | DataLoader img/s | ours GFLOP/s "
        "| ours/bare (≥ 0.9) | ours/DataLoader (≥ 1.3) |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|---:|")
    for row in results:
        ips, ratios = row["images_per_s"], row["ratios"]
        marks = [
            f"{ratios[name]:.2f}× {'PASS' if ratios[name] >= target else 'BELOW'}"
            for name, _, target in RATIOS
        ]
        print(
            f"| {row['width']:g} | {row['batch']} | {ips['ours']:.1f} | {ips['bare']:.1f} "
            f"| {ips['dataloader']:.1f} | {row['gflops']:.1f} | {marks[0]} | {marks[1]} |"
        )
    print(f"\nachieved GFLOP/s is against a {peak:.1f} GFLOP/s float32 matrix-multiply peak")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(
                {"matmul_gflops": peak, "rounds": rounds, "steps": steps, "results": results},
                f,
                indent=2,
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
