"""`classicnets analyze` for every image run: where its errors are, on the whole test split.

    confusion.png   the confusion matrix (counts; shade: share of the true class)
    confusion.csv   the matrix as data: rows true class, columns predicted class
    confusion.json  matrix, per-class accuracy, most-confused pairs, worst samples
    worst.png       the highest-loss test images with true and predicted class

The model is the restored one (runner.restore), the images those it was tested on, seen as
the run's evaluations saw them (with --tta, each averaged with its mirror). The
computation is analysis/confusion.py, the drawing plots.py.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from classicnets import plots
from classicnets.analysis import confusion as errors
from classicnets.analysis.display import minmax, to_picture
from classicnets.data import registry
from classicnets.experiments.spec import Built

FILES = ("confusion.png", "worst.png")  # the figures, for the report


def _pictures(X: np.ndarray) -> list[np.ndarray]:
    """Stored test images (n, C, H, W) as [0, 1] pictures: uint8 over 255, anything else
    scaled jointly (one scale for the whole grid, so shades compare)."""
    import torch

    X = X / 255.0 if X.dtype == np.uint8 else (minmax(X.astype(np.float64)) if X.size else X)
    return [np.clip(to_picture(torch.from_numpy(np.asarray(x))), 0, 1) for x in X]


def analyze_errors(
    cfg: Any, built: Built, out: Path, say: Callable[[str], None] = print
) -> list[Path]:
    """The confusion matrix, its data and the worst-classified test images, into `out`;
    the files written (data first). Says what the numbers show, one line each."""
    source = built.data
    K = source.num_classes
    names = registry.class_names(cfg.dataset) or tuple(str(k) for k in range(K))
    learner = built.learner  # its logits: the evaluations' own (TTA's mirror, autocast)
    c = errors.confusion(learner.model, source.eval_batches("test"), K, names, learner.logits)
    written = errors.write_data(c, out)
    said = f"; {built.weights.label}" if built.weights else ""  # which weights it shows
    title = f"confusion matrix: {cfg.dataset}, test split{said}"
    written.append(plots.confusion_figure(c.matrix, c.names, c.per_class, out / FILES[0], title))
    worst = c.worst()
    X_test = source.data["test"][0][worst].cpu().numpy() if len(worst) else np.zeros((0,))
    captions = [
        f"true {c.names[c.y[i]]}\npredicted {c.names[c.y_hat[i]]} ({100 * c.p_hat[i]:.0f}%)"
        for i in worst
    ]
    written.append(
        plots.worst_grid(
            _pictures(X_test), captions, out / FILES[1], f"highest-loss test images{said}"
        )
    )
    for line in errors.sentences(c):
        say(line)
    return written


def analyze(
    cfg: Any, built: Built, out: Path, layer: int | None, say: Callable[[str], None] = print
) -> list[Path]:
    """An Experiment's `analyze` for a model with nothing else to look inside (mlp-images)."""
    return analyze_errors(cfg, built, out, say)
