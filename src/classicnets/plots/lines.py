"""Curves and tables from metrics rows: accuracy and loss against epoch or step, seeds as a
mean with a band, accuracy against a key, time to accuracy, the range test, tables."""

from __future__ import annotations

import csv
import io
import textwrap
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.axes import Axes

from classicnets.plots.base import (
    COLOR,
    LEGEND_INSIDE,
    OVERLAY,
    SPLIT_STYLE,
    UNDERLAY,
    Figure,
    Metrics,
    save_figure,
    subplots,
)
from classicnets.records import atomic_write


def _series(
    metrics: Metrics, split: str, key: str, x: str = "epoch"
) -> tuple[list[int], list[float]]:
    rows = [r for r in metrics if r["split"] == split]
    return [r[x] for r in rows], [np.nan if r[key] is None else r[key] for r in rows]


def _seeds(value: Metrics | list[Metrics]) -> list[Metrics]:
    """A label's runs: one run's metrics, or a list of them (one per seed)."""
    return value if value and isinstance(value[0], list) else [value]  # type: ignore[return-value]


def _banded(
    runs: list[Metrics], split: str, key: str, x: str
) -> tuple[list[int], list[float], list[float], list[float]]:
    """Over the seeds' runs of one configuration, at each x any of them logged: the mean and
    the min-max band of the finite values (NaN where none is finite)."""
    by_x: dict[int, list[float]] = {}
    for metrics in runs:
        for at, value in zip(*_series(metrics, split, key, x)):
            by_x.setdefault(at, []).append(value)
    xs = sorted(by_x)
    mean, low, high = [], [], []
    for at in xs:
        values = np.asarray(by_x[at], dtype=float)
        finite = values[np.isfinite(values)]
        mean.append(finite.mean() if len(finite) else np.nan)
        low.append(finite.min() if len(finite) else np.nan)
        high.append(finite.max() if len(finite) else np.nan)
    return xs, mean, low, high


def _plot_curves(
    ax_acc: Axes,
    ax_loss: Axes,
    runs: dict[str, Metrics | list[Metrics]],
    splits: tuple[str, ...] = tuple(SPLIT_STYLE),
    underlay: bool = True,
    x: str = "epoch",
) -> None:
    """Accuracy and loss against epoch (or step), every run and split on the same pair of axes.

    A label given several runs (one per seed) is drawn as their mean, with a shaded band from
    the lowest to the highest seed (min-max), and "mean of n" in its legend entry. A run
    without a "val" split shows its "test" split where "val" was asked for.
    """
    for i, (label, value) in enumerate(runs.items()):
        color = COLOR.get(label, f"C{i}")
        look = UNDERLAY if underlay and i == 0 and len(runs) > 1 else OVERLAY
        seeds = _seeds(value)
        logged = {r["split"] for metrics in seeds for r in metrics}
        shown = [s if s in logged or s != "val" else "test" for s in splits]
        name = label if len(seeds) == 1 else f"{label} (mean of {len(seeds)}, band min–max)"
        for split in dict.fromkeys(shown):
            style = SPLIT_STYLE[split]
            for ax, key in ((ax_acc, "accuracy"), (ax_loss, "loss")):
                xs, ys, low, high = _banded(seeds, split, key, x)
                if not xs:  # a run without this split
                    continue
                ax.plot(xs, ys, style, color=color, label=f"{name} {split}", **look)
                if len(seeds) > 1:
                    ax.fill_between(xs, low, high, color=color, alpha=0.15, linewidth=0)
    ax_acc.set_ylabel("accuracy")
    ax_loss.set_ylabel("cross-entropy loss")
    ax_loss.set_yscale("log")
    for ax in (ax_acc, ax_loss):
        ax.set_xlabel(x)
        ax.grid(alpha=0.3)
    lines = len(ax_acc.get_legend_handles_labels()[0])
    if 0 < lines <= LEGEND_INSIDE:
        ax_acc.legend(fontsize=7)
        ax_loss.legend(fontsize=7)
    elif lines:  # a grid's many lines: one legend beside the row, not over the curves
        ax_loss.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.02, 1.0))


def _largest_gap(runs: dict[str, Metrics]) -> str:
    """For two runs logged at the same steps: the largest loss difference, as a title suffix."""
    if len(runs) != 2 or any(len(_seeds(v)) != 1 for v in runs.values()):
        return ""
    a, b = (_seeds(v)[0] for v in runs.values())
    if [(r["step"], r["split"]) for r in a] != [(r["step"], r["split"]) for r in b]:
        return ""
    gaps = [
        abs(x["loss"] - y["loss"])
        for x, y in zip(a, b)
        if x["loss"] is not None and y["loss"] is not None
    ]
    return f" (largest gap between the two: {max(gaps):.1e})" if gaps else ""


def _listed(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def accuracy_against(
    lines: dict[str, dict[int, float | None | list[float | None]]],
    path: Path,
    xlabel: str,
    title: str = "",
) -> Path:
    """Accuracy against one key (input length), a line per label (cell); missing or
    diverged points (None) leave a gap. A point given several values (one per seed) is
    drawn at their mean, with a min-max band, and the legend says so."""
    fig, ax = subplots(figsize=(6.5, 4))
    for label, points in lines.items():
        xs = sorted(points)
        values = [[v for v in _listed(points[x]) if v is not None] for x in xs]
        ys = [np.mean(v) if v else np.nan for v in values]
        n = max((len(_listed(points[x])) for x in xs), default=1)
        name = label if n == 1 else f"{label} (mean of {n} seeds, band min–max)"
        ax.plot(xs, ys, "o-", color=COLOR.get(label), label=name)
        if n > 1:
            low = [min(v) if v else np.nan for v in values]
            high = [max(v) if v else np.nan for v in values]
            ax.fill_between(xs, low, high, color=COLOR.get(label), alpha=0.15, linewidth=0)
    ax.axhline(0.1, color="grey", linewidth=0.8, linestyle=":", label="chance (10 classes)")
    ax.set_xlabel(xlabel)
    ax.set_ylabel("test accuracy (at the best validation step)")
    ax.set_ylim(0, 1.02)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    ax.set_title(title)
    return save_figure(fig, path)


def search_scatter(
    points: list[tuple[dict[str, Any], float | None]], keys: Sequence[str], path: Path
) -> Path:
    """A --search sweep: each trial's best validation accuracy against each drawn key, one
    pair of axes per key (log x for keys drawn in log space: numbers spanning decades)."""
    fig, axes = subplots(1, len(keys), figsize=(4.2 * len(keys), 3.6), squeeze=False)
    for ax, key in zip(axes[0], keys):
        xs = [p[key] for p, acc in points if acc is not None]
        ys = [acc for _, acc in points if acc is not None]
        if all(isinstance(x, (int, float)) for x in xs):
            ax.scatter(xs, ys, s=18, color="tab:blue")
            if xs and min(xs) > 0 and max(xs) / min(xs) > 50:
                ax.set_xscale("log")
        else:  # a categorical key: one column of points per value, in first-seen order
            labels = list(dict.fromkeys(map(str, xs)))
            ax.scatter([labels.index(str(x)) for x in xs], ys, s=18, color="tab:blue")
            ax.set_xticks(range(len(labels)), labels)
        ax.set_xlabel(key)
        ax.set_ylabel("best validation accuracy")
        ax.grid(alpha=0.3)
    fig.suptitle(f"{len(points)} trials drawn by TPE")
    return save_figure(fig, path)


def curves_figure(runs: dict[str, Metrics], title: str = "", x: str = "epoch") -> Figure:
    """One run's (or a few runs') accuracy and loss curves, side by side."""
    fig, (ax_acc, ax_loss) = subplots(1, 2, figsize=(10, 3.8))
    _plot_curves(ax_acc, ax_loss, runs, x=x)
    fig.suptitle(title)
    return fig


def curves(runs: dict[str, Metrics], path: Path, title: str = "", x: str = "epoch") -> Path:
    """curves_figure, saved to path."""
    return save_figure(curves_figure(runs, title, x), path)


def curves_grid(
    grid: dict[str, dict[str, Metrics | list[Metrics]]],
    path: Path,
    splits: tuple[str, ...] | None = None,
    x: str = "epoch",
) -> Path:
    """A row per group (data set, optimizer): accuracy and loss of every run in the group on
    one pair of axes. With `splits`, only those (and runs are not drawn as an underlay)."""
    fig, axes = subplots(len(grid), 2, figsize=(10, 3.6 * len(grid)), squeeze=False)
    for (name, runs), (ax_acc, ax_loss) in zip(grid.items(), axes):
        if splits is None:
            _plot_curves(ax_acc, ax_loss, runs, x=x)
        else:
            _plot_curves(ax_acc, ax_loss, runs, splits, underlay=False, x=x)
        ax_acc.set_title(f"{name}: accuracy")
        ax_loss.set_title(f"{name}: loss{_largest_gap(runs)}")
    fig.tight_layout()
    return save_figure(fig, path)


def time_to_accuracy_figure(
    recipes: dict[str, list[Metrics]], split: str = "test", title: str = ""
) -> Figure:
    """Accuracy of `split` against wall time, every run on one axis: a colour per recipe,
    a line per run of it (its seeds). The time is metrics.jsonl's time_s, the run's own clock
    (evaluations and checkpoints included). A curve, not a result: nothing is chosen on it."""
    fig, ax = subplots(figsize=(6.5, 4))
    for i, (recipe, runs) in enumerate(recipes.items()):
        for j, metrics in enumerate(runs):
            xs, ys = _series(metrics, split, "accuracy", x="time_s")
            label = f"{recipe} ({len(runs)} run{'s' if len(runs) != 1 else ''})" if j == 0 else None
            ax.plot(xs, ys, ".-", color=f"C{i}", linewidth=1.2, alpha=0.85, label=label)
    ax.set_xlabel("wall time (s)")
    ax.set_ylabel(f"{split} accuracy")
    ax.grid(alpha=0.3)
    if recipes:
        ax.legend(fontsize=8)
    ax.set_title(textwrap.fill(title, 70), fontsize=9)  # a long command wraps
    return fig


def time_to_accuracy(
    recipes: dict[str, list[Metrics]], path: Path, split: str = "test", title: str = ""
) -> Path:
    """time_to_accuracy_figure, saved to path."""
    return save_figure(time_to_accuracy_figure(recipes, split, title), path)


def _cell(value: Any) -> str:
    if isinstance(value, float):  # accuracies (<= 1) to 4 places, times and rates to 1
        if 0 < abs(value) < 1e-3:  # learning rates such as 1e-6: never round them to 0
            return f"{value:g}"
        return f"{value:.4f}" if abs(value) <= 1 else f"{value:.1f}"
    return "—" if value is None else str(value)


def write_table(rows: list[dict[str, Any]], stem: Path) -> Path:
    """A table as STEM.md (to read) and STEM.csv (to load); returns the .md path."""
    columns = list(rows[0]) if rows else []
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(_cell(row[c]) for c in columns) + " |" for row in rows]
    atomic_write(stem.with_suffix(".md"), "\n".join(lines) + "\n")
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns)
    writer.writeheader()
    writer.writerows(rows)
    atomic_write(stem.with_suffix(".csv"), buffer.getvalue())
    return stem.with_suffix(".md")


def lr_find(record: dict[str, Any], path: Path) -> Path:
    """A learning-rate range test (train/lrfind.py): the training loss, raw and smoothed,
    against the rate on a log axis; the suggested rate marked, and a tenth of the minimum's."""
    rows = [r for r in record["rows"] if r["loss"] is not None]
    fig, ax = subplots(figsize=(6.4, 4.0))
    rates = [r["learning_rate"] for r in rows]
    ax.plot(rates, [r["loss"] for r in rows], color="tab:blue", alpha=0.3, lw=1, label="loss")
    ax.plot(rates, [r["smoothed"] for r in rows], color="tab:blue", lw=2, label="smoothed")
    if record.get("suggested"):
        at = record["suggested"]
        ax.axvline(at, color="tab:red", lw=1.5, label=f"suggested {at:.2g} (steepest descent)")
    if record.get("minimum_over_10"):
        at = record["minimum_over_10"]
        ax.axvline(at, color="tab:gray", ls=":", lw=1.5, label=f"minimum / 10: {at:.2g}")
    if rows:  # the blow-up would flatten the rest: show up to 1.5x the first smoothed loss
        smoothed = [r["smoothed"] for r in rows]
        ax.set_ylim(min(smoothed) * 0.9, max(smoothed[0] * 1.5, min(smoothed) * 1.1))
    ax.set_xscale("log")
    ax.set_xlabel("learning rate")
    ax.set_ylabel("training loss")
    ax.set_title(f"lr-find: {record['experiment']} ({record['keys'].get('optimizer', '')})")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8)
    return save_figure(fig, path)
