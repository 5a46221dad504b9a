"""Wall time of a 16-trial grid sweep with 1 and 2 worker processes, on SQLite and (given a
server) PostgreSQL, in one run.

What is measured: `run_sweep` (the code behind `classicnets sweep`) on a grid of 16 mlp-toy
trials (moons; impl numpy and torch x seeds 1..8; batch size 1, E epochs): study set-up,
workers started (forkserver), every trial trained and recorded, sweep.json written. The
sweep's figures are left out (the same for every contender). Each contender starts from an
empty directory (and, for PostgreSQL, an empty database) every round; rounds interleave the
contenders so drift hits all alike; medians are reported, with the ratio to 1 worker on
SQLite. mlp-toy trials use one thread each, so on a 2-core machine 2 workers can at best
halve the time; what is lost to start-up and the shared study shows in the ratio.

Run:  python3 benchmarks/sweep_workers.py [--epochs 8] [--rounds 3]
          [--postgres postgresql://USER:PASSWORD@HOST/DB] [--json PATH]
      (--postgres: a database the user may CREATE DATABASE in; each round gets a new one)
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import sys
import tempfile
import uuid
from pathlib import Path

from classicnets.experiments.spec import Sweep, grid
from classicnets.runner.sweep import run_sweep

THREADS = 1  # torch threads of this process; each trial worker sets its own


def sixteen_trials(seeds: int = 8) -> Sweep:
    """2 x seeds mlp-toy trials (16 by default): impl numpy and torch x seeds 1..seeds."""
    return Sweep(
        name=f"bench-{2 * seeds}",
        description=f"{2 * seeds} mlp-toy trials",
        trials=grid(
            "mlp-toy", "{impl}-seed{seed}", impl=("numpy", "torch"), seed=tuple(range(1, seeds + 1))
        ),
        figures=lambda out, trials: [],
    )


def fresh_postgres(url: str) -> tuple[str, object]:
    """A new empty database beside the one in `url`, and the connection that drops it."""
    import psycopg

    conn = psycopg.connect(url, autocommit=True)
    name = f"classicnets_bench_{uuid.uuid4().hex[:10]}"
    conn.execute(f"CREATE DATABASE {name}")
    return url.rsplit("/", 1)[0] + f"/{name}", (conn, name)


@contextlib.contextmanager
def silenced_stdout():
    """The sweep's own lines (a line per finished trial, from this process and from the
    worker processes, which write to the same descriptor) go to /dev/null: what this
    benchmark prints is its timings."""
    sys.stdout.flush()
    saved = os.dup(1)
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), 1)
        yield
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)


def one_sweep(workers: int, epochs: int, postgres: str | None, seeds: int = 8) -> float:
    with tempfile.TemporaryDirectory() as tmp, silenced_stdout():
        storage, drop = (None, None) if postgres is None else fresh_postgres(postgres)
        try:
            record = run_sweep(
                sixteen_trials(seeds),
                {"epochs": str(epochs), "eval_freq": str(epochs), "dataset": "moons"},
                Path(tmp) / "sweep",
                "cpu",
                progress=False,
                workers=workers,
                storage=storage,
            )
        finally:
            if drop is not None:
                conn, name = drop
                conn.execute(f"DROP DATABASE {name} WITH (FORCE)")
                conn.close()
    assert [t["status"] for t in record["trials"]] == ["completed"] * (2 * seeds), record["trials"]
    return record["wall_time_s"]


def suite(size: str):
    """For benchmarks/run_all.py: (one_round(r) -> {workers: s per sweep}, rows), on SQLite;
    size smoke: 2 trials of 1 epoch, full: 16 trials of 8 epochs."""
    seeds, epochs = (1, 1) if size == "smoke" else (8, 8)
    order = ("1 worker", "2 workers")

    def one_round(r: int) -> dict[str, float]:
        keys = order[r % 2 :] + order[: r % 2]
        return {key: one_sweep(int(key[0]), epochs, None, seeds) for key in keys}

    trials = f"{2 * seeds} trials"
    return one_round, [(f"2 workers, {trials}", order[1], "1 worker", order[0])], "s / sweep"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=8, help="epochs per trial (default 8)")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds (default 3)")
    parser.add_argument("--postgres", help="a PostgreSQL URL to measure too")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()

    contenders = {"sqlite, 1 worker": (1, None), "sqlite, 2 workers": (2, None)}
    if args.postgres:
        contenders["postgresql, 1 worker"] = (1, args.postgres)
        contenders["postgresql, 2 workers"] = (2, args.postgres)
    times: dict[str, list[float]] = {name: [] for name in contenders}
    for r in range(args.rounds):
        for name, (workers, postgres) in contenders.items():
            times[name].append(one_sweep(workers, args.epochs, postgres))
            print(f"round {r + 1}: {name:<22} {times[name][-1]:7.1f} s", flush=True)
    base = statistics.median(times["sqlite, 1 worker"])
    print(f"\n16 mlp-toy trials, {args.epochs} epochs each; medians of {args.rounds} rounds")
    result = {}
    for name, ts in times.items():
        median = statistics.median(ts)
        result[name] = {"median_s": median, "rounds_s": ts, "speedup_vs_1_worker": base / median}
        print(f"  {name:<22} {median:7.1f} s   {base / median:5.2f}x of sqlite, 1 worker")
    if args.json:
        args.json.write_text(json.dumps({"epochs": args.epochs, "contenders": result}, indent=2))


if __name__ == "__main__":
    main()
