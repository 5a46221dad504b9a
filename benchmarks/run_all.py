"""Every benchmark in benchmarks/, in one run, in one table.

What is run: the `suite(size)` of mlp_toy.py, cnn.py, rnn.py, sweep_workers.py and seeds.py
(each also runs alone: python3 benchmarks/NAME.py). A suite gives `one_round(r)`, which times
each of its contenders once (its own rotation inside), and the rows to print: a thing of ours
and the peer it is compared with. The rounds interleave the benchmarks: round 1 of each, then
round 2 of each, ..., the benchmark that goes first rotating, so that the drift of this shared
machine hits all alike. The float32 matrix-multiply peak (one thread,
(1024 x 1024) @ (1024 x 1024), best of 3) is measured in every round as well, and its median
printed in the header.
Threads: one (the BLAS variables, and torch's for every suite but the CNN, which uses the two
the CPU has; each suite's THREADS is set before each of its rounds).

Printed: one markdown table, a row per (benchmark, thing, peer): the median over rounds of
each one's time per unit (the unit in the cell), ratio = peer's median time / thing's median
time (above 1: ours is faster; for the RNN's matrix-multiply bound the fraction of the bound
reached), and the rounds counted.

Run:  python3 benchmarks/run_all.py [--size smoke|full] [--rounds N] [--json PATH]
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ[_var] = "1"  # before numpy/torch are imported: one thread for small work

import argparse  # noqa: E402
import importlib  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import shlex  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

import torch  # noqa: E402

BENCHMARKS = ("mlp_toy", "cnn", "rnn", "sweep_workers", "seeds")  # the scripts in benchmarks/


def matmul_gflops(n: int = 1024, repeats: int = 3) -> float:
    """GFLOP/s of a float32 (n x n) @ (n x n) product on one thread, best of `repeats`."""
    torch.set_num_threads(1)
    A, W = torch.randn(n, n), torch.randn(n, n)
    A @ W  # first call
    best = math.inf
    for _ in range(repeats):
        t0 = time.perf_counter()
        A @ W
        best = min(best, time.perf_counter() - t0)
    return 2 * n**3 / best / 1e9


def measure(size: str, rounds: int, names=BENCHMARKS) -> dict:
    """{"peak_gflops": [...], name: {"rows", "unit", "rounds": {key: [...]}}} over `rounds`."""
    modules = {name: importlib.import_module(name) for name in names}
    suites = {}
    for name, module in modules.items():
        torch.set_num_threads(module.THREADS)
        one_round, rows, unit = module.suite(size)
        suites[name] = {"one_round": one_round, "rows": rows, "unit": unit, "rounds": {}}
    peaks = []
    for r in range(rounds):
        peaks.append(matmul_gflops())
        first = r % len(names)
        for name in names[first:] + names[:first]:
            torch.set_num_threads(modules[name].THREADS)
            for key, value in suites[name]["one_round"](r).items():
                suites[name]["rounds"].setdefault(key, []).append(value)
    return {"peak_gflops": peaks} | {
        name: {k: v for k, v in s.items() if k != "one_round"} for name, s in suites.items()
    }


def table(measured: dict) -> list[dict]:
    """One row per (benchmark, thing, peer): medians, their ratio, the rounds behind them."""
    rows = []
    for name in BENCHMARKS:
        if name not in measured:
            continue
        suite = measured[name]
        for thing, thing_key, peer, peer_key in suite["rows"]:
            mine, theirs = suite["rounds"][thing_key], suite["rounds"][peer_key]
            t, p = statistics.median(mine), statistics.median(theirs)
            rows.append(
                {"benchmark": name, "thing": thing, "peer": peer, "unit": suite["unit"]}
                | {"thing_median": t, "peer_median": p, "ratio": p / t}
                | {"rounds": min(len(mine), len(theirs))}
            )
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--size", choices=("smoke", "full"), default="full", help="smoke: the smallest run"
    )
    parser.add_argument("--rounds", type=int, default=3, help="rounds; medians are reported")
    parser.add_argument("--json", metavar="PATH", help="also write the table as JSON")
    args = parser.parse_args(argv)
    if args.rounds < 1:
        parser.error(f"--rounds {args.rounds}: expected a positive integer, e.g. 3")
    argv = sys.argv[1:] if argv is None else argv
    command = shlex.join(["python3", "benchmarks/run_all.py", *argv])

    started = time.perf_counter()
    measured = measure(args.size, args.rounds)
    rows = table(measured)
    peak = statistics.median(measured["peak_gflops"])
    elapsed = time.perf_counter() - started

    print(f"command: {command}")
    print(
        f"torch {torch.__version__}, os.cpu_count() {os.cpu_count()}; size {args.size}, "
        f"{args.rounds} round(s), interleaved; float32 matmul peak {peak:.1f} GFLOP/s "
        f"(one thread, 1024^3, median of the rounds); measured in {elapsed:.0f} s"
    )
    print("\n| benchmark | thing | peer | thing (median) | peer (median) | ratio | rounds |")
    print("|---|---|---|---:|---:|---:|---:|")
    for row in rows:
        unit = row["unit"]
        print(
            f"| {row['benchmark']} | {row['thing']} | {row['peer']} "
            f"| {row['thing_median']:.3g} {unit} | {row['peer_median']:.3g} {unit} "
            f"| {row['ratio']:.2f}× | {row['rounds']} |"
        )
    print("\nratio: peer's time ÷ thing's time (above 1: the thing is faster)")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(
                {"command": command, "size": args.size, "rounds": args.rounds}
                | {"peak_gflops": peak, "rows": rows, "elapsed_s": elapsed},
                f,
                indent=2,
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
