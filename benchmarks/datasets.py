"""The image experiments' defaults on data sets of other sizes and shapes, beside a peer.

The defaults (budget, schedule, regularisation) were tuned on Fashion-MNIST, whose 54,000
training images make 422 updates a pass at batch 128. Counted in passes alone, the same
defaults give scikit-learn's 8x8 digits (1,293 training images) a few hundred updates. The
automatic --epochs (experiments/images.py: budget) multiplies the experiment's passes by
the smallest whole k that makes --min_updates updates, and --eval_freq by the same k.

For each data set of --datasets and each experiment (mlp-images, cnn at --width 0.25: the
default width 1 is ~10x slower on a CPU, rnn-images), every seed of --seeds trains twice:
  passes:  --epochs fixed at the experiment's base passes (the budget as it was counted);
  auto:    every default.
The accuracy is the test accuracy at the best validation evaluation (validation chooses);
"(ran)" is what the seeds ran where early stopping ended them sooner. A finished run already
in --out with the same keys is read, not trained again (an interrupted call goes on).
Rounds are interleaved (a seed at a time, each trains both ways) so a slower hour weighs on
both alike.

Peers: scikit-learn's MLPClassifier with its defaults (one hidden layer of 100, Adam, 200
passes), fitted per seed on the same training split less the same validation split (ours
train without it), and, for MNIST-1D, the test accuracies its paper published (Greydanus
2020; github.com/greydanus/mnist1d): MLP 68%, CNN 94%, GRU 91%. "holds" is Welch's t-test
at 95% (stats.compare); against a published number, whether it lies outside our 95%
t-interval. Fashion-MNIST is not trained here: the script prints its automatic epochs,
which equal the base passes (k = 1), so its defaults are as they were.

Run:  python3 benchmarks/datasets.py --seeds 0,1,2
      python3 benchmarks/datasets.py --quick   (digits, one seed, small models, 600 updates)
"""

from __future__ import annotations

import argparse
import math
import os
import shlex
import sys
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from classicnets import api, config, stats
from classicnets.data import registry
from classicnets.data.splits import make_splits, validation_size
from classicnets.errors import UsageError
from classicnets.experiments import cnn, experiment, keys, mlp_images, rnn_images
from classicnets.experiments.images import budget
from classicnets.records import RunDir

EXPERIMENTS = {  # name: (base passes, keys beyond the defaults, the published peer's name)
    "mlp-images": (mlp_images.EPOCHS, {}, "mlp"),
    "cnn": (cnn.EPOCHS, {"width": "0.25"}, "cnn"),
    "rnn-images": (rnn_images.EPOCHS, {}, "gru"),
}
PUBLISHED = {"mnist1d": {"mlp": 0.68, "cnn": 0.94, "gru": 0.91}}  # the paper's test accuracy
QUICK_KEYS = {  # --quick: seconds, and proves nothing
    "mlp-images": {"min_updates": "600", "dnn_hidden_units": "32"},
    "cnn": {"min_updates": "600", "width": "0.0625"},
    "rnn-images": {"min_updates": "600", "num_hidden": "16"},
}


def peer(dataset: str, seed: int, val_size: float = 0.1) -> float:
    """scikit-learn's MLPClassifier (defaults) on the training split less the validation
    split our runs hold out with this seed: its test accuracy."""
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier

    data = registry.load(dataset, Path("data"), False, False, None)
    splits = make_splits(data, val_size, seed).arrays  # the cut our runs make with `seed`
    (X_train, y_train), (X_test, y_test) = splits["train"], splits["test"]
    flat = lambda X: np.asarray(X, np.float64).reshape(len(X), -1)  # noqa: E731
    X_fit, X_test = flat(X_train), flat(X_test)
    mean, std = X_fit.mean(0), X_fit.std(0)
    std[std == 0] = 1.0
    model = MLPClassifier(random_state=seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # 200 passes: its default
        model.fit((X_fit - mean) / std, y_train)
    return float(model.score((X_test - mean) / std, y_test))


def finished(out: Path, name: str, given: dict[str, str]) -> tuple[dict | None, str]:
    """A finished run already in `out` with these keys (an earlier, interrupted call of this
    script): its summary, read rather than trained again; (None, "") where there is none."""
    if not (out / "summary.json").is_file():
        return None, ""
    run = RunDir(out)
    wanted = config.to_dict(config.build(experiment(name).config, given))
    if any(run.config().get(k) != v for k, v in wanted.items()) or run.summary() is None:
        raise UsageError(f"{out}: holds another run; give another --out, or remove it")
    return run.summary(), "read"


def budget_of(dataset: str, name: str, given: dict[str, str]) -> tuple[int, int]:
    """(epochs, updates) the run's budget allows: its --epochs, or the automatic ones."""
    cfg = config.build(experiment(name).config, given)
    n_train = registry.IMAGE_SETS[dataset].sizes[0]
    n_train -= validation_size(n_train, cfg.val_size)
    per_pass = math.ceil(n_train / cfg.batch_size)
    epochs, _ = budget(cfg, EXPERIMENTS[name][0], per_pass)
    return epochs, epochs * per_pass


def ran(rows: list[dict[str, Any]], i: int) -> str:
    """The budget's epochs or updates (i = 0, 1), and what the seeds ran where they stopped
    early: "400 (110–400)"."""
    planned, done = rows[0]["planned"][i], sorted(r["ran"][i] for r in rows)
    if done == [planned] * len(rows):
        return f"{planned:,}"
    spread = f"{done[0]:,}" if done[0] == done[-1] else f"{done[0]:,}–{done[-1]:,}"
    return f"{planned:,} ({spread})"


def cell(values: list[float]) -> str:
    s = stats.summarize(values)
    if s is None:
        return "—"
    return f"{100 * s.mean:.1f}" if s.n == 1 else f"{100 * s.mean:.1f} ± {100 * s.sd:.1f}"


def versus(ours: list[float], peers: list[float]) -> str:
    c = stats.compare(ours, peers)
    if not c.testable:
        return "not tested (n < 2)"
    sign = "+" if c.difference >= 0 else "−"
    what = "holds" if c.holds else "cannot tell"
    return f"{sign}{100 * abs(c.difference):.1f} points: {what}, p = {c.p:.2g}"


def versus_published(ours: list[float], published: float) -> str:
    band = stats.interval(ours)
    if band is None:
        return f"{published:.0%} published; not tested (n < 2)"
    lo, hi = band
    where = "above" if lo > published else "below" if hi < published else "cannot tell"
    return f"{published:.0%} published: {where} (our 95% interval {100 * lo:.1f}–{100 * hi:.1f})"


def fashion_rows() -> list[str]:
    """The automatic epochs on Fashion-MNIST (54,000 training images), trained nowhere."""
    rows = []
    for name, (base, extra, _) in EXPERIMENTS.items():
        epochs, updates = budget_of("fashion-mnist", name, extra)
        rows.append(f"| {name} | {base} | {updates // epochs:,} | {updates:,} | {epochs // base} |")
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--datasets", default="digits,mnist1d", help="comma-separated")
    parser.add_argument("--experiments", default=",".join(EXPERIMENTS), help="comma-separated")
    parser.add_argument("--seeds", default="0,1,2", help="comma-separated; a round per seed")
    parser.add_argument("--out", type=Path, default=Path("runs/datasets"), help="the runs")
    parser.add_argument("--quick", action="store_true", help="digits, one seed, small models")
    args = parser.parse_args(argv)
    if args.quick:
        args.datasets, args.seeds = "digits", "0"
    try:
        datasets = args.datasets.split(",")
        names = args.experiments.split(",")
        unknown = [d for d in datasets if d not in registry.IMAGE_SETS]
        if unknown or any(n not in EXPERIMENTS for n in names):
            raise UsageError(
                f"--datasets {args.datasets} --experiments {args.experiments}: choose from "
                f"{', '.join(registry.IMAGE_SETS)} and {', '.join(EXPERIMENTS)}"
            )
        seeds = [int(s) for s in args.seeds.split(",")]
        results: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
        peers: dict[str, list[float]] = {d: [peer(d, seed) for seed in seeds] for d in datasets}
        for i, seed in enumerate(seeds):
            for dataset in datasets:
                for name in names:
                    base, extra, _ = EXPERIMENTS[name]
                    ways = {"passes": {"epochs": str(base)}, "auto": {}}
                    quick = QUICK_KEYS[name] if args.quick else {}
                    for way in list(ways)[:: 1 - 2 * (i % 2)]:
                        given = {"dataset": dataset, "seed": str(seed), **extra, **ways[way]}
                        given.update((k, v) for k, v in quick.items() if k not in ways[way])
                        out = args.out / dataset / name / way / f"seed{seed}"
                        s, said = finished(out, name, given)
                        if s is None:
                            s, said = (
                                api.train(name, out=out, progress=False, **given).summary,
                                "trained",
                            )
                        planned = budget_of(dataset, name, given)
                        results.setdefault((dataset, name, way), []).append(
                            {
                                "test": s["best"]["test"]["accuracy"],
                                "planned": planned,  # (epochs, updates) the budget allowed
                                "ran": (s["epochs"], s["steps"]),  # early stopping may end sooner
                                "wall": s["wall_time_s"],
                            }
                        )
                        print(
                            f"{said} {dataset} {name} {way} seed {seed}: "
                            f"{s['steps']} updates, {s['wall_time_s']:.0f} s",
                            flush=True,
                        )
    except (UsageError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    command = "python3 benchmarks/datasets.py " + shlex.join(
        argv if argv is not None else sys.argv[1:]
    )
    print(f"\n{command}\n(os.cpu_count() = {os.cpu_count()}; seeds {args.seeds})\n")
    print(
        "| data set | experiment | passes alone: updates (ran) | test acc | automatic: epochs "
        "(ran) | updates (ran) | test acc | automatic vs passes alone | wall time (s) | "
        "MLPClassifier | automatic vs MLPClassifier | published |"
    )
    print("|---|---|---:|---:|---:|---:|---:|---|---:|---:|---|---|")
    for dataset in datasets:
        for name in names:
            before = results[(dataset, name, "passes")]
            after = results[(dataset, name, "auto")]
            ours = [r["test"] for r in after]
            published = PUBLISHED.get(dataset, {}).get(EXPERIMENTS[name][2])
            print(
                f"| {registry.title(dataset)} | {name} | {ran(before, 1)} | "
                f"{cell([r['test'] for r in before])} | {ran(after, 0)} | "
                f"{ran(after, 1)} | {cell(ours)} | {versus(ours, [r['test'] for r in before])} | "
                f"{np.median([r['wall'] for r in after]):.0f} | {cell(peers[dataset])} | "
                f"{versus(ours, peers[dataset])} | "
                f"{'—' if published is None else versus_published(ours, published)} |"
            )
    print(
        "\nFashion-MNIST (not trained here): the automatic epochs at --min_updates "
        f"{keys.MIN_UPDATES.default:,}\n"
    )
    print("| experiment | base passes | updates a pass | updates | k |")
    print("|---|---:|---:|---:|---:|")
    print("\n".join(fashion_rows()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
