"""The figures and tables of a grid sweep, from its trials' records: one table row per trial
(best and final loss and accuracy of every split), and curves grouped by one key with a line
per value of another. A diverged trial stays in both, marked as diverged."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from classicnets import plots
from classicnets.records import RunDir, choosing_split

SPLITS = ("train", "val", "test")


def trial_table(trials: list[dict[str, Any]], keys: tuple[str, ...]) -> list[dict[str, Any]]:
    """A row per trial: its keys, status, best (by validation when there is one) and final
    loss and accuracy of each split."""
    rows = []
    for t in trials:
        best = t.get("best", {})
        chooser = choosing_split(best)
        at_best = best.get(chooser, {})
        row: dict[str, Any] = {k: t["keys"][k] for k in keys} if keys else {"trial": t["trial"]}
        row["status"] = t["status"]
        row[f"best epoch (by {chooser})"] = at_best.get("epoch")
        for split in SPLITS:
            if split in best:
                row[f"best {split} accuracy"] = best[split].get("accuracy")
                row[f"best {split} loss"] = best[split].get("loss")
        for split in SPLITS:
            final = t.get("final", {}).get(split)
            if final is not None:
                row[f"final {split} accuracy"] = final.get("accuracy")
                row[f"final {split} loss"] = final.get("loss")
        row["epochs"] = t.get("epochs")
        row["wall time (s)"] = t.get("wall_time_s")
        row["train samples/s"] = t.get("train_samples_per_s")
        rows.append(row)
    columns = list(dict.fromkeys(c for row in rows for c in row))
    return [{c: row.get(c) for c in columns} for row in rows]


def _label(trial: dict[str, Any], keys: tuple[str, ...]) -> str:
    label = ", ".join(f"{k} {trial['keys'][k]}" for k in keys)
    cut = trial["status"] in ("diverged", "pruned")  # its curve ends early: say why
    return f"{label} ({trial['status']})" if cut else label


def grouped_figures(
    group_key: str, line_keys: tuple[str, ...]
) -> Callable[[Path, list[dict[str, Any]]], list[Path]]:
    """Sweep figures: curves.png with a row per value of group_key (a line per combination
    of line_keys), and table.md/.csv with a row per trial."""

    def figures(out: Path, trials: list[dict[str, Any]]) -> list[Path]:
        grid: dict[str, dict[str, list[dict[str, Any]]]] = {}
        for t in trials:
            group = f"{group_key} {t['keys'][group_key]}"
            grid.setdefault(group, {})[_label(t, line_keys)] = RunDir(out / t["dir"]).metrics()
        table = trial_table(trials, (group_key, *line_keys))
        return [
            plots.curves_grid(grid, out / "figures" / "curves.png", splits=("train", "val")),
            plots.write_table(table, out / "figures" / "table"),
        ]

    return figures


def side_by_side_figures(out: Path, trials: list[dict[str, Any]]) -> list[Path]:
    """Sweep figures for a few runs compared on the same data (MLP vs CNN): their curves on
    one pair of axes, and the table."""
    runs = {t["trial"]: RunDir(out / t["dir"]).metrics() for t in trials}
    dataset = trials[0]["keys"].get("dataset", "")
    grid = {f"{' vs '.join(runs)} on {dataset}": runs}
    return [
        plots.curves_grid(grid, out / "figures" / "curves.png", splits=("train", "val", "test")),
        plots.write_table(trial_table(trials, ()), out / "figures" / "table"),
    ]


def search_figures(keys: tuple[str, ...]) -> Callable[[Path, list[dict[str, Any]]], list[Path]]:
    """Figures of a --search sweep: accuracy against each drawn key, every trial's curves,
    and the table (a row per trial, its drawn keys first)."""

    def figures(out: Path, trials: list[dict[str, Any]]) -> list[Path]:
        points = []
        for t in trials:
            best = t.get("best", {})
            points.append(({k: t["keys"][k] for k in keys}, best.get("val", {}).get("accuracy")))
        runs = {_label(t, keys): RunDir(out / t["dir"]).metrics() for t in trials}
        return [
            plots.search_scatter(points, keys, out / "figures" / "search.png"),
            plots.curves_grid({"every trial": runs}, out / "figures" / "curves.png", ("val",)),
            plots.write_table(trial_table(trials, keys), out / "figures" / "table"),
        ]

    return figures
