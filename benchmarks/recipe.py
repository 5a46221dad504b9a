"""Training recipes side by side: which reaches a validation accuracy first, and where each
ends (the small-budget keys: ema, tta, lr_schedule linear with warmup, lr_scale_batch,
label_smoothing; experiments/keys.py).

Each recipe is NAME=KEYS, the keys as the command line writes them; --keys are given to
every recipe. Rounds are interleaved: in each round (a seed) every recipe trains once, the
order reversed every other round, so a machine that slows down over the session (another
job, heat) weighs on every recipe alike. Per run the table gives the best validation
accuracy, the test accuracy at that evaluation (the test split chooses nothing) and the
wall time (metrics.jsonl's time_s: the run's clock, evaluations included) at which the
validation accuracy first reached --target. The figure draws test accuracy against wall
time for every run on one axis (plots.time_to_accuracy). The first run of the process also
pays torch's one-time costs (first calls, allocations): compare times over two or more
seeds, whose alternating order spreads that cost.

Run:  python3 benchmarks/recipe.py cnn --recipe base= --recipe 'avg=--ema 0.99 --tta true' \\
          --keys '--dataset fashion-mnist --width 0.25 --epochs 10' --seeds 0,1 --target 0.9
      python3 benchmarks/recipe.py --quick   (digits, width 0.0625, two epochs: a smoke run)
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import sys
from pathlib import Path
from typing import Any

from classicnets import api, plots, stats
from classicnets.errors import UsageError

QUICK = {  # a smoke run: seconds on a CPU, and proves nothing about the recipes
    "experiment": "cnn",
    "keys": "--dataset digits --width 0.0625 --epochs 2 --train_samples 300 --batch_size 32 "
    "--learning_rate 0.003",
    "recipes": ["base=", "ema+linear=--ema 0.9 --lr_schedule linear --warmup 0.2"],
    "target": 0.3,
}
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+-]{0,39}")


def parse_keys(text: str, what: str) -> dict[str, str]:
    """'--key value --key2 value2' -> {key: value}: the keys api.train checks as flags."""
    words = shlex.split(text)
    if len(words) % 2 or not all(w.startswith("--") for w in words[::2]):
        raise UsageError(f"{what} {text!r}: expected --key value pairs, e.g. '--ema 0.99'")
    return {k[2:]: v for k, v in zip(words[::2], words[1::2])}


def parse_recipe(text: str) -> tuple[str, dict[str, str]]:
    name, sep, keys = text.partition("=")
    if not sep or not NAME.fullmatch(name):
        raise UsageError(
            f"--recipe {text!r}: expected NAME=KEYS, NAME of letters, digits and ._+-, e.g. "
            "'ema=--ema 0.99' (base= for the defaults)"
        )
    return name, parse_keys(keys, f"--recipe {name}")


def parse_seeds(text: str) -> list[int]:
    try:
        seeds = [int(s) for s in text.split(",")]
    except ValueError:
        seeds = []
    if not seeds or len(set(seeds)) != len(seeds) or min(seeds) < 0:
        raise UsageError(f"--seeds {text!r}: expected distinct integers >= 0, e.g. 0,1,2")
    return seeds


def rounds(names: list[str], seeds: list[int]) -> list[tuple[int, str]]:
    """(seed, recipe) in training order: a round per seed, every other round reversed."""
    return [(seed, name) for i, seed in enumerate(seeds) for name in names[:: 1 - 2 * (i % 2)]]


def time_to(rows: list[dict[str, Any]], target: float, split: str = "val") -> float | None:
    """The time_s of the first `split` evaluation at or above `target`; None if none."""
    return next(
        (r["time_s"] for r in rows if r["split"] == split and r["accuracy"] >= target), None
    )


def row_of(recipe: str, seed: int, run: api.Run, target: float) -> dict[str, Any]:
    best = run.summary["best"]
    return {
        "recipe": recipe,
        "seed": seed,
        "status": run.summary["status"],
        "best_val": best["val"]["accuracy"],
        "test_at_best_val": best["test"]["accuracy"],
        "best_epoch": best["val"]["epoch"],
        "time_to_target_s": time_to(run.history, target),
        "wall_time_s": run.summary["wall_time_s"],
    }


def markdown(rows: list[dict[str, Any]], target: float) -> str:
    lines = [
        f"| recipe | seed | status | best val acc | test acc at best val | best epoch | "
        f"time to val ≥ {target:g} (s) | wall time (s) |",
        "|---|---:|---|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        reached = "not reached" if r["time_to_target_s"] is None else f"{r['time_to_target_s']:.1f}"
        lines.append(
            f"| {r['recipe']} | {r['seed']} | {r['status']} | {r['best_val']:.4f} | "
            f"{r['test_at_best_val']:.4f} | {r['best_epoch']} | {reached} | "
            f"{r['wall_time_s']:.1f} |"
        )
    return "\n".join(lines)


def _mean_sd(values: list[float], digits: int = 4) -> str:
    s = stats.summarize(values)
    if s is None:
        return "—"
    return f"{s.mean:.{digits}f}" if s.n == 1 else f"{s.mean:.{digits}f} ± {s.sd:.{digits}f}"


def summary(rows: list[dict[str, Any]], names: list[str], target: float) -> str:
    """One row per recipe: mean ± sd over its seeds, and whether its test accuracy (at the
    best validation evaluation: validation chose) differs from the first recipe's under
    Welch's t-test at 95% (stats.compare); a recipe that never reached the target counts as
    not reached, not as a time."""
    lines = [
        f"| recipe | n | best val acc | test acc at best val | vs {names[0]} (test, Welch 95%) | "
        f"time to val ≥ {target:g} (s) | reached | wall time (s) |",
        "|---|---:|---:|---:|---|---:|---:|---:|",
    ]
    test_of = {n: [r["test_at_best_val"] for r in rows if r["recipe"] == n] for n in names}
    for name in names:
        mine = [r for r in rows if r["recipe"] == name]
        times = [r["time_to_target_s"] for r in mine if r["time_to_target_s"] is not None]
        if name == names[0]:
            verdict = "—"
        elif len(test_of[name]) < 2 or len(test_of[names[0]]) < 2:
            verdict = "not tested (n < 2)"
        else:
            c = stats.compare(test_of[name], test_of[names[0]])
            sign = "+" if c.difference >= 0 else "−"
            what = "holds" if c.holds else "cannot tell"
            p = "" if c.p is None else f", p = {c.p:.2g}"
            verdict = f"{sign}{100 * abs(c.difference):.2f} points: {what}{p}"
        lines.append(
            f"| {name} | {len(mine)} | {_mean_sd([r['best_val'] for r in mine])} | "
            f"{_mean_sd(test_of[name])} | {verdict} | {_mean_sd(times, 1)} | "
            f"{len(times)} of {len(mine)} | {_mean_sd([r['wall_time_s'] for r in mine], 1)} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("experiment", nargs="?", help="an image experiment, e.g. cnn or resnet")
    parser.add_argument("--recipe", action="append", default=[], help="NAME=KEYS, repeated")
    parser.add_argument("--keys", default="", help="keys every recipe takes, e.g. '--epochs 5'")
    parser.add_argument("--seeds", default="0", help="comma-separated; one round per seed")
    parser.add_argument("--target", type=float, default=0.9, help="validation accuracy to reach")
    parser.add_argument("--out", type=Path, default=Path("runs/recipe"), help="runs and figure")
    parser.add_argument("--device", default="auto", help="cpu, cuda or auto")
    parser.add_argument("--quick", action="store_true", help="the smoke size (digits, 2 epochs)")
    parser.add_argument("--json", type=Path, help="also write the rows here")
    args = parser.parse_args(argv)
    try:
        if args.quick:
            args.experiment, args.keys = QUICK["experiment"], QUICK["keys"]
            args.recipe, args.target = args.recipe or QUICK["recipes"], QUICK["target"]
        if not args.experiment or not args.recipe:
            raise UsageError("name an experiment and at least one --recipe (or use --quick)")
        if not 0 < args.target <= 1:
            raise UsageError(f"--target {args.target:g}: a validation accuracy in (0, 1]")
        common = parse_keys(args.keys, "--keys")
        recipes = dict(parse_recipe(text) for text in args.recipe)
        if len(recipes) != len(args.recipe):
            raise UsageError("--recipe: two recipes have the same NAME")
        seeds = parse_seeds(args.seeds)
        if "seed" in common or any("seed" in keys for keys in recipes.values()):
            raise UsageError("--seed is this script's --seeds: leave it out of the keys")
        if any(keys.get("val_size") in ("0", "0.0") for keys in (common, *recipes.values())):
            raise UsageError("--val_size 0: the target and best are validation accuracies")
        rows, curves = [], {name: [] for name in recipes}
        for seed, name in rounds(list(recipes), seeds):
            keys = {**common, **recipes[name], "seed": str(seed)}
            out = args.out / name / f"seed{seed}"
            run = api.train(args.experiment, out=out, device=args.device, progress=False, **keys)
            rows.append(row_of(name, seed, run, args.target))
            curves[name].append(list(run.history))
            print(f"trained {name} seed {seed}: {run.summary['wall_time_s']:.1f} s", flush=True)
    except UsageError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    rows.sort(key=lambda r: (list(recipes).index(r["recipe"]), r["seed"]))
    # the keys every run trained with: a key a recipe sets is in the legend's name, not here
    shared = [(k, v) for k, v in common.items() if all(k not in r for r in recipes.values())]
    title = " ".join([args.experiment, *(f"--{k} {v}" for k, v in shared)])
    figure = plots.time_to_accuracy(curves, args.out / "time_to_accuracy.png", title=title)
    command = "python3 benchmarks/recipe.py " + shlex.join(
        argv if argv is not None else sys.argv[1:]
    )
    print(f"\n{command}\n(os.cpu_count() = {os.cpu_count()}, --device {args.device})\n")
    print(markdown(rows, args.target))
    print()
    print(summary(rows, list(recipes), args.target))
    print(f"\nfigure: {figure}")
    if args.json:
        args.json.write_text(json.dumps({"target": args.target, "rows": rows}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
