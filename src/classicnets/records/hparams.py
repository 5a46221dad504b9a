"""A run's hyperparameters and final metrics for TensorBoard's HParams tab.

The loop writes them into the run's own tb/ when it ends (completed, diverged or early
stopped), so `tensorboard --logdir SWEEP_DIR` shows one session per trial, its keys beside
its results, and the tab compares a sweep's trials. Nothing here imports torch: the writer
(rundir.py) turns these dicts into the plugin's summaries.
"""

from __future__ import annotations

from typing import Any

from classicnets.records.results import Result, choosing_split, chosen_accuracy, test_at_chosen


def hyperparameters(keys: dict[str, Any]) -> dict[str, bool | int | float | str]:
    """An experiment's keys (as config.json holds them) as TensorBoard takes them: a number,
    a bool or text (a tuple key such as dnn_hidden_units becomes "1024,512", as the flag
    spells it). A key with no value (None) is left out: the plugin has no type for it."""
    taken: dict[str, bool | int | float | str] = {}
    for key, value in keys.items():
        if value is None:
            continue
        if isinstance(value, (list, tuple)):
            value = ",".join(str(v) for v in value)
        if isinstance(value, (bool, int, float, str)):
            taken[key] = value
    return taken


def final_metrics(result: Result) -> dict[str, float]:
    """The run's results as scalars under hparams/: the test accuracy at the end and, at the
    evaluation the choosing split chose, its accuracy and the test accuracy there. A metric
    the run has not got (diverged before any finite evaluation) is left out, not made up."""
    best = result.get("best") or {}
    metrics = {
        "hparams/final_test_accuracy": (result.get("final") or {}).get("test", {}).get("accuracy"),
        f"hparams/best_{choosing_split(best) or 'val'}_accuracy": chosen_accuracy(result),
        "hparams/test_accuracy_at_best": test_at_chosen(result),
        "hparams/final_test_loss": (result.get("final") or {}).get("test", {}).get("loss"),
    }
    return {k: float(v) for k, v in metrics.items() if v is not None}
