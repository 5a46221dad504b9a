"""Where a classifier's errors are, on a whole split: the confusion matrix, the accuracy of
each class, the pairs most often confused and the samples with the highest loss.

Computation only (no drawing: plots.py draws from what this returns). The model sees the
split as the source hands it over (normalised, in its layout), in evaluation mode; the
counts come from sklearn.metrics.confusion_matrix over every sample of the split.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.metrics import confusion_matrix
from torch import nn

from classicnets.records import atomic_write

WORST = 16  # samples with the highest loss kept for the grid: a 4 x 4 grid
PAIRS = 5  # most-confused (true, predicted) pairs listed


@dataclass(frozen=True)
class Confusion:
    names: tuple[str, ...]  # class names, index = label
    matrix: np.ndarray  # (K, K) int: row = true class, column = predicted class
    loss: np.ndarray  # (N,) cross-entropy of each sample
    y: np.ndarray  # (N,) true labels
    y_hat: np.ndarray  # (N,) predicted labels (argmax of the logits)
    p_hat: np.ndarray  # (N,) softmax probability of the predicted class

    @property
    def per_class(self) -> list[float | None]:
        """Accuracy of each true class; None for a class with no sample in the split."""
        counts = self.matrix.sum(axis=1)
        return [None if n == 0 else float(self.matrix[k, k] / n) for k, n in enumerate(counts)]

    def pairs(self, n: int = PAIRS) -> list[tuple[int, int, int]]:
        """Up to n (true, predicted, count) off the diagonal with a count above 0, most
        frequent first; ties in label order (true, then predicted), so the list is the same
        for the same matrix."""
        cells = [
            (int(self.matrix[t, p]), t, p)
            for t in range(len(self.names))
            for p in range(len(self.names))
            if t != p and self.matrix[t, p] > 0
        ]
        cells.sort(key=lambda c: (-c[0], c[1], c[2]))
        return [(t, p, count) for count, t, p in cells[:n]]

    def worst(self, n: int = WORST) -> np.ndarray:
        """Indices of the n samples with the highest loss, highest first (ties: lower index
        first)."""
        order = np.lexsort((np.arange(len(self.loss)), -self.loss))
        return order[:n]


@torch.no_grad()
def confusion(
    model: nn.Module,
    batches,
    num_classes: int,
    names: tuple[str, ...] | list[str],
    logits_of: Callable[[torch.Tensor], torch.Tensor] | None = None,
) -> Confusion:
    """Run `model` (eval mode, restored afterwards) over `batches` of (X, y): the split's
    confusion, every sample's loss and prediction. `logits_of` (inputs (B, ...) -> logits
    (B, K)) replaces `model(X)` where the run's evaluations were made otherwise: with
    test-time augmentation, its counts then add up to the accuracy the run recorded."""
    was_training = model.training
    model.eval()
    losses, ys, preds, probs = [], [], [], []
    try:
        for X, y in batches:
            logits = (model(X) if logits_of is None else logits_of(X)).float()  # (B, K)
            losses.append(F.cross_entropy(logits, y, reduction="none").cpu())
            p, k = logits.softmax(dim=1).max(dim=1)
            ys.append(y.cpu())
            preds.append(k.cpu())
            probs.append(p.cpu())
    finally:
        model.train(was_training)
    if not ys:  # an empty split: nothing to count
        ys = preds = [torch.zeros(0, dtype=torch.int64)]
        losses = probs = [torch.zeros(0)]
    y = torch.cat(ys).numpy()
    y_hat = torch.cat(preds).numpy()
    matrix = confusion_matrix(y, y_hat, labels=list(range(num_classes)))
    names = tuple(names) if len(names) == num_classes else tuple(map(str, range(num_classes)))
    return Confusion(names, matrix, torch.cat(losses).numpy(), y, y_hat, torch.cat(probs).numpy())


def summary(c: Confusion) -> dict:
    """Everything the figures show, as data: the matrix, per-class accuracy, the pairs and
    the worst samples (index in the split, true and predicted class, loss)."""
    return {
        "classes": list(c.names),
        "samples": int(len(c.y)),
        "accuracy": float(np.mean(c.y == c.y_hat)) if len(c.y) else None,
        "matrix": c.matrix.tolist(),  # rows: true class, columns: predicted class
        "per_class_accuracy": dict(zip(c.names, c.per_class)),
        "most_confused": [
            {"true": c.names[t], "predicted": c.names[p], "count": n} for t, p, n in c.pairs()
        ],
        "worst": [
            {
                "index": int(i),
                "true": c.names[c.y[i]],
                "predicted": c.names[c.y_hat[i]],
                "probability": float(c.p_hat[i]),
                "loss": float(c.loss[i]),
            }
            for i in c.worst()
        ],
    }


def write_data(c: Confusion, out: Path) -> list[Path]:
    """confusion.json (summary above) and confusion.csv (the matrix, a header row of
    predicted classes, a first column of true classes) into `out`."""
    table = io.StringIO()
    writer = csv.writer(table, lineterminator="\n")  # quotes names with commas or quotes
    writer.writerow(["true \\ predicted", *c.names])
    for name, row in zip(c.names, c.matrix):
        writer.writerow([name, *map(int, row)])
    json_path, csv_path = out / "confusion.json", out / "confusion.csv"
    atomic_write(json_path, json.dumps(summary(c), indent=1) + "\n")
    atomic_write(csv_path, table.getvalue())
    return [json_path, csv_path]


def sentences(c: Confusion) -> list[str]:
    """What the data says, true for any split: ties, empty classes, no errors at all."""
    lines = []
    if len(c.y) == 0:
        return ["the split has no samples"]
    correct = int(np.sum(c.y == c.y_hat))
    lines.append(f"{correct} of {len(c.y)} test samples classified correctly")
    scored = [(a, n) for n, a in zip(c.names, c.per_class) if a is not None]
    if scored:
        low = min(a for a, _ in scored)
        lowest = [n for a, n in scored if a == low]
        lines.append(f"lowest class accuracy {100 * low:.1f}%: {', '.join(lowest)}")
    pairs = c.pairs(len(c.names) ** 2)
    if pairs:
        top = [(t, p) for t, p, n in pairs if n == pairs[0][2]]
        said = "; ".join(f"{c.names[t]} taken for {c.names[p]}" for t, p in top)
        times = "time" if pairs[0][2] == 1 else "times"
        each = " each" if len(top) > 1 else ""
        lines.append(f"most confused ({pairs[0][2]} {times}{each}): {said}")
    else:
        lines.append("no sample was misclassified")
    return lines
