"""Pictures of classifiers: toy data and decision boundaries, confusion matrices and the
worst-classified images."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from classicnets.data import ArrayData
from classicnets.plots.base import (
    Figure,
    save_figure,
    subplots,
)


def data_scatter(datasets: dict[str, ArrayData], path: Path) -> Path:
    """A row per data set: its training, validation (where it has one) and test splits, in
    the data's coordinates."""
    columns = max(len(data.splits) for data in datasets.values())
    fig, axes = subplots(
        len(datasets), columns, figsize=(4 * columns, 3.6 * len(datasets)), squeeze=False
    )
    for (name, data), row in zip(datasets.items(), axes):
        for ax in row[len(data.splits) :]:
            ax.set_visible(False)
        for ax, split in zip(row, data.splits):
            X = data.raw(getattr(data, f"X_{split}"))
            y = getattr(data, f"y_{split}")
            ax.scatter(X[:, 0], X[:, 1], c=y, cmap="coolwarm", s=8, edgecolors="none")
            ax.set_title(f"{name}: {split} ({len(y)} samples)")
            ax.set_aspect("equal", adjustable="datalim")
    fig.tight_layout()
    return save_figure(fig, path)


def boundaries(
    panels: Sequence[tuple[str, ArrayData, Callable[[np.ndarray], np.ndarray]]],
    path: Path,
    columns: int = 1,
    resolution: int = 200,
) -> Path:
    """Decision regions of trained models over a grid, with the test points on top.

    panels: (title, data, predict_proba on standardised inputs (N, 2) -> (N, K)).
    """
    rows = -(-len(panels) // columns)
    fig, axes = subplots(rows, columns, figsize=(4.4 * columns, 4 * rows), squeeze=False)
    for ax in axes.flat[len(panels) :]:
        ax.set_visible(False)
    for ax, (title, data, predict_proba) in zip(axes.flat, panels):
        X_all = data.raw(np.concatenate([data.X_train, data.X_test]))
        lo, hi = X_all.min(axis=0), X_all.max(axis=0)
        pad = 0.1 * (hi - lo)
        g0, g1 = np.meshgrid(
            np.linspace(lo[0] - pad[0], hi[0] + pad[0], resolution),
            np.linspace(lo[1] - pad[1], hi[1] + pad[1], resolution),
        )
        grid = np.column_stack([g0.ravel(), g1.ravel()])  # (R*R, 2) raw coordinates
        P = predict_proba(data.scale(grid))
        ax.contourf(
            g0,
            g1,
            P.argmax(axis=1).reshape(g0.shape),
            alpha=0.3,
            cmap="coolwarm",
            levels=np.arange(P.shape[1] + 1) - 0.5,
        )
        if P.shape[1] == 2:  # the p = 0.5 line
            ax.contour(g0, g1, P[:, 1].reshape(g0.shape), levels=[0.5], colors="k", linewidths=0.8)
        X_test = data.raw(data.X_test)
        ax.scatter(
            X_test[:, 0],
            X_test[:, 1],
            c=data.y_test,
            cmap="coolwarm",
            s=10,
            edgecolors="k",
            linewidths=0.3,
        )
        ax.set_title(title, fontsize=10)
    fig.tight_layout()
    return save_figure(fig, path)


def confusion_figure(
    matrix: np.ndarray, names: Sequence[str], per_class: Sequence[float | None], path: Path,
    title: str = "",
) -> Path:  # fmt: skip
    """The confusion matrix, rows normalised per true class (shade) with the counts written
    in; per-class accuracy beside each row's name. Matplotlib's object API: no pyplot state."""
    K = len(names)
    side = max(4.0, 0.5 * K + 2.5)
    fig = Figure(figsize=(side + 1.5, side))
    ax = fig.add_subplot()
    totals = matrix.sum(axis=1, keepdims=True)
    shares = np.divide(matrix, totals, out=np.zeros(matrix.shape), where=totals > 0)
    image = ax.imshow(shares, cmap="Blues", vmin=0, vmax=1)
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04, label="share of the true class")
    for t in range(K):
        for p in range(K):
            color = "white" if shares[t, p] > 0.5 else "black"
            ax.text(p, t, str(matrix[t, p]), ha="center", va="center", fontsize=7, color=color)
    rows = [f"{n} ({'—' if a is None else f'{100 * a:.0f}%'})" for n, a in zip(names, per_class)]
    ax.set_xticks(range(K), list(names), rotation=45, ha="right", fontsize=8)
    ax.set_yticks(range(K), rows, fontsize=8)
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class (its accuracy)")
    ax.set_title(title or "confusion matrix")
    return save_figure(fig, path)


def worst_grid(
    pictures: Sequence[np.ndarray], captions: Sequence[str], path: Path, title: str = ""
) -> Path:
    """Pictures ((H, W) grey or (H, W, 3) RGB in [0, 1]) in a grid, a caption under each
    (true and predicted class). Matplotlib's object API: no pyplot state."""
    n = max(1, len(pictures))
    cols = min(4, n)
    rows = -(-n // cols)
    fig = Figure(figsize=(2.2 * cols, 2.5 * rows + 0.4))
    axes = fig.subplots(rows, cols, squeeze=False).ravel()
    for ax in axes:
        ax.axis("off")
    for ax, picture, caption in zip(axes, pictures, captions):
        ax.imshow(picture, cmap="gray" if picture.ndim == 2 else None, vmin=0, vmax=1)
        ax.set_title(caption, fontsize=7)
    if not pictures:
        axes[0].text(0.5, 0.5, "no samples", ha="center", va="center")
    fig.suptitle(title or "highest-loss test samples")
    return save_figure(fig, path)
