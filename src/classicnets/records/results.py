"""Reading a run's result (its summary.json): which split chose, what it chose, in one line.

"Best" is the evaluation the choosing split liked most: the validation split, and only it.
The test result recorded beside it is the test accuracy at that same step, never a choice of
its own. A run without a validation split (val_size 0) chooses nothing: its summary has no
"best" (records written before this rule, whose "best" held only a best test evaluation,
read as choosing nothing too). These helpers are the one place that rule is written.
"""

from __future__ import annotations

from typing import Any

Result = dict[str, Any]  # a summary.json: status, final, best, steps, epochs, times


CHOOSER = "val"  # the one split that may choose


def choosing_split(splits: tuple[str, ...] | dict[str, Any]) -> str | None:
    """The split that chooses "best" and early stopping: validation where there is one;
    None without one (nothing is chosen: the test split never chooses)."""
    return CHOOSER if CHOOSER in splits else None


def chosen(result: Result) -> dict[str, Any]:
    """The chosen evaluation ({loss, accuracy, step, epoch}) of a result; {} if none."""
    return (result.get("best") or {}).get(CHOOSER) or {}


def chosen_accuracy(result: Result) -> float | None:
    """The choosing split's accuracy at the chosen evaluation (a sweep's objective)."""
    return chosen(result).get("accuracy")


def test_at_chosen(result: Result) -> float | None:
    """The test accuracy at the chosen evaluation; None where nothing was chosen."""
    best = result.get("best") or {}
    return (best.get("test") or {}).get("accuracy") if CHOOSER in best else None


def final_test_accuracy(result: Result) -> float | None:
    """The test accuracy at the run's last evaluation (what a run that chose nothing has)."""
    return ((result.get("final") or {}).get("test") or {}).get("accuracy")


def describe(result: Result) -> str:
    """A run's result in one line: status, length, time, test accuracy (and at best val)."""
    final = result.get("final", {}).get("test", {})
    best = result.get("best") or {}
    # palindromes (and full-batch runs) take one step an epoch: say steps, as their keys do
    unit = "step" if result.get("steps") == result["epochs"] else "epoch"
    text = f"{result['status']}, {result['epochs']} {unit}s, {result['wall_time_s']:.1f} s"
    if final.get("accuracy") is not None:
        text += f"; test accuracy {final['accuracy']:.4f}"
    if "val" in best:  # best by validation; the test result at that epoch
        val, test = best["val"], best["test"]
        text += (
            f" (best val {val['accuracy']:.4f} at {unit} {val['epoch']}: "
            f"test {test['accuracy']:.4f})"
        )
    elif CHOOSER not in (result.get("final") or {}):
        text += " (no validation split: nothing chosen)"
    return text
