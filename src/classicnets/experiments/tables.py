"""The figures and tables of a grid sweep, from its trials' records: one table row per trial
(best and final loss and accuracy of every split), and curves grouped by one key with a line
per value of another. A diverged trial stays in both, marked as diverged."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from classicnets import plots
from classicnets.plots import Metrics
from classicnets.records import (
    RunDir,
    choosing_split,
    chosen_accuracy,
    final_test_accuracy,
    test_at_chosen,
)
from classicnets.stats import summarize

SPLITS = ("train", "val", "test")


SCORED = ("completed", "early_stopped")  # statuses whose results count in a configuration
SEEDED = re.compile(r"-seed\d+$")  # the suffix of a --seeds N > 1 trial (runner/sweep/plan.py)


def config_name(trial: dict[str, Any]) -> str:
    """A trial's configuration: its name without the seed (trials that differ only in seed
    are one configuration)."""
    return SEEDED.sub("", str(trial.get("trial", "")))


def trial_table(trials: list[dict[str, Any]], keys: tuple[str, ...]) -> list[dict[str, Any]]:
    """A row per trial: its keys, status, the evaluation the validation split chose (its
    epoch and every split's result there; none without a validation split: nothing is
    chosen) and the final loss and accuracy of each split."""
    rows = []
    for t in trials:
        best = t.get("best") or {}
        chooser = choosing_split(best)
        row: dict[str, Any] = {k: t["keys"][k] for k in keys} if keys else {"trial": t["trial"]}
        if "seed" in t.get("keys", {}) and keys and config_name(t) != t.get("trial"):
            row["seed"] = t["keys"]["seed"]
        row["status"] = t["status"]
        row["chosen epoch (by val)"] = best[chooser].get("epoch") if chooser else None
        for split in SPLITS:
            if chooser and split in best:
                there = "" if split == chooser else " at val's choice"
                row[f"{'best ' if split == chooser else ''}{split} accuracy{there}"] = best[
                    split
                ].get("accuracy")
                row[f"{'best ' if split == chooser else ''}{split} loss{there}"] = best[split].get(
                    "loss"
                )
        for split in SPLITS:
            final = (t.get("final") or {}).get(split)
            if final is not None:
                row[f"final {split} accuracy"] = final.get("accuracy")
                row[f"final {split} loss"] = final.get("loss")
        row["epochs"] = t.get("epochs")
        row["wall time (s)"] = t.get("wall_time_s")
        row["train samples/s"] = t.get("train_samples_per_s")
        rows.append(row)
    columns = list(dict.fromkeys(c for row in rows for c in row))
    return [{c: row.get(c) for c in columns} for row in rows]


RESULTS = {  # a configuration's results, each over its seeds (stats.summarize)
    "val accuracy (chosen by val)": chosen_accuracy,
    "test accuracy at val's choice": test_at_chosen,
    "final test accuracy": final_test_accuracy,
}


def configurations(trials: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A record per configuration (its trials over seeds together), in the trials' order: its
    keys but the seed, the seeds, the statuses, and each of RESULTS as {mean, sd, n} over the
    seeds that finished with one (None where none did)."""
    groups: dict[str, list[dict[str, Any]]] = {}
    for t in trials:
        groups.setdefault(config_name(t), []).append(t)
    records = []
    for name, group in groups.items():
        scored = [t for t in group if t.get("status") in SCORED]
        results = {}
        for label, value in RESULTS.items():
            s = summarize([v for t in scored if (v := value(t)) is not None])
            results[label] = None if s is None else {"mean": s.mean, "sd": s.sd, "n": s.n}
        keys = {k: v for k, v in (group[0].get("keys") or {}).items() if k != "seed"}
        records.append(
            {
                "configuration": name,
                "experiment": group[0].get("experiment"),
                "keys": keys,
                "seeds": [(t.get("keys") or {}).get("seed") for t in group],
                "statuses": dict(Counter(str(t.get("status")) for t in group)),
                "results": results,
            }
        )
    return records


def seeded(trials: list[dict[str, Any]]) -> bool:
    """Were some configurations run with several seeds?"""
    return any(config_name(t) != t.get("trial") for t in trials)


def _mean_sd(result: dict[str, Any] | None) -> str | None:
    if result is None:
        return None
    return f"{result['mean']:.4f} ± {result['sd']:.4f}"


def config_table(trials: list[dict[str, Any]], keys: tuple[str, ...]) -> list[dict[str, Any]]:
    """A row per configuration: its keys, its statuses, n (the seeds that finished with a
    result) and each of RESULTS as mean ± sd (sample sd; 0 for n = 1) over those seeds."""
    rows = []
    for c in configurations(trials):
        row: dict[str, Any] = {k: c["keys"].get(k) for k in keys} if keys else {}
        if not keys:
            row["configuration"] = c["configuration"]
        row["status"] = ", ".join(f"{n} {s}" for s, n in c["statuses"].items())
        counts = [r["n"] for r in c["results"].values() if r]
        row["n"] = max(counts, default=0)
        for label, result in c["results"].items():
            row[f"{label}, mean ± sd"] = _mean_sd(result)
        group = [t for t in trials if config_name(t) == c["configuration"]]
        wall = summarize([t.get("wall_time_s") for t in group if t.get("status") in SCORED])
        row["wall time (s), mean"] = None if wall is None else f"{wall.mean:.1f}"
        rows.append(row)
    return rows


def sweep_table(trials: list[dict[str, Any]], keys: tuple[str, ...]) -> list[dict[str, Any]]:
    """The sweep's table: a row per configuration (mean ± sd, n) when it ran several seeds,
    else a row per trial."""
    return config_table(trials, keys) if seeded(trials) else trial_table(trials, keys)


def _runs(out: Path, trials: list[dict[str, Any]]) -> list[Metrics]:
    """The metrics of a configuration's trials: one run's, or one per seed (a band)."""
    return [RunDir(out / t["dir"]).metrics() for t in trials]


def _label(trial: dict[str, Any], keys: tuple[str, ...]) -> str:
    label = ", ".join(f"{k} {trial['keys'][k]}" for k in keys)
    cut = trial["status"] in ("diverged", "pruned")  # its curve ends early: say why
    return f"{label} ({trial['status']})" if cut else label


def grouped_figures(
    group_key: str, line_keys: tuple[str, ...]
) -> Callable[[Path, list[dict[str, Any]]], list[Path]]:
    """Sweep figures: curves.png with a row per value of group_key (a line per combination
    of line_keys: with several seeds, their mean and min-max band), and table.md/.csv (a row
    per configuration with mean ± sd and n when seeded, else per trial)."""

    def figures(out: Path, trials: list[dict[str, Any]]) -> list[Path]:
        grid: dict[str, dict[str, list[Metrics]]] = {}
        for t in trials:
            group = grid.setdefault(f"{group_key} {t['keys'][group_key]}", {})
            group.setdefault(_label(t, line_keys), []).extend(_runs(out, [t]))
        table = sweep_table(trials, (group_key, *line_keys))
        return [
            plots.curves_grid(grid, out / "figures" / "curves.png", splits=("train", "val")),
            plots.write_table(table, out / "figures" / "table"),
        ]

    return figures


def side_by_side_figures(out: Path, trials: list[dict[str, Any]]) -> list[Path]:
    """Sweep figures for a few runs compared on the same data (MLP vs CNN): their curves on
    one pair of axes (several seeds: mean and min-max band), and the table."""
    runs: dict[str, list[Metrics]] = {}
    for t in trials:
        runs.setdefault(config_name(t), []).extend(_runs(out, [t]))
    dataset = trials[0]["keys"].get("dataset", "")
    grid = {f"{' vs '.join(runs)} on {dataset}": runs}
    return [
        plots.curves_grid(grid, out / "figures" / "curves.png", splits=("train", "val", "test")),
        plots.write_table(sweep_table(trials, ()), out / "figures" / "table"),
    ]


def search_figures(keys: tuple[str, ...]) -> Callable[[Path, list[dict[str, Any]]], list[Path]]:
    """Figures of a --search sweep: accuracy against each drawn key, every trial's curves,
    and the table (a row per trial, its drawn keys first)."""

    def figures(out: Path, trials: list[dict[str, Any]]) -> list[Path]:
        points = []
        for t in trials:
            best = t.get("best") or {}
            points.append(({k: t["keys"][k] for k in keys}, best.get("val", {}).get("accuracy")))
        runs = {_label(t, keys): RunDir(out / t["dir"]).metrics() for t in trials}
        return [
            plots.search_scatter(points, keys, out / "figures" / "search.png"),
            plots.curves_grid({"every trial": runs}, out / "figures" / "curves.png", ("val",)),
            plots.write_table(trial_table(trials, keys), out / "figures" / "table"),
        ]

    return figures
