"""The report's look at where a sweep's chosen model errs: the confusion matrix and the
highest-loss test images that `classicnets analyze` wrote into that trial's figures/
(experiments/confusion.py). Shown only where they were drawn; never drawn here."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from classicnets.experiments.confusion import FILES
from classicnets.records import choosing_split, chosen_accuracy

SCORED = ("completed", "early_stopped")  # statuses whose chosen evaluation counts
CAPTIONS = {
    "confusion.png": "Confusion matrix on the whole test split (counts; shade: share of the "
    "true class; each row's accuracy beside its name).",
    "worst.png": "The test images with the highest loss, true and predicted class.",
}


def chosen_trial(trials: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The finished trial with the highest validation accuracy (ties: the first in the
    sweep's order); None when no trial has one (the test split never chooses)."""
    best = None
    for t in trials:
        validated = choosing_split(t.get("best") or {}) == "val"  # the test split never chooses
        score = chosen_accuracy(t) if t.get("status") in SCORED and validated else None
        if score is not None and (best is None or score > best[0]):
            best = (score, t)
    return best[1] if best else None


def error_figures(
    out: Path, trials: list[dict[str, Any]], analysed: str | None = None
) -> list[tuple[Path, str]]:
    """(figure, caption) for the chosen trial's error figures where it has them, else for
    the trial the sweep itself analyses (`analysed`); [] where neither has them."""
    chosen = chosen_trial(trials)
    candidates = [t for t in trials if t is chosen] + [
        t for t in trials if t.get("dir") == analysed and t is not chosen
    ]
    for t in candidates:
        folder = out / str(t["dir"]) / "figures"
        if not os.path.lexists(folder / FILES[0]):
            continue
        who = (
            f"trial {t['dir']}, the chosen model (highest validation accuracy)"
            if t is chosen
            else f"trial {t['dir']}"
        )
        return [
            (folder / name, f"Where the errors are, {who}: {CAPTIONS[name]}")
            for name in FILES
            if os.path.lexists(folder / name)
        ]
    return []
