"""Reading a run's result (its summary.json): which split chose, what it chose, in one line.

"Best" is the evaluation the choosing split liked most: the validation split when the run
has one. The test result recorded beside it is the test accuracy at that same step, never a
choice of its own. These helpers are the one place that rule is written.
"""

from __future__ import annotations

from typing import Any

Result = dict[str, Any]  # a summary.json: status, final, best, steps, epochs, times


def choosing_split(splits: tuple[str, ...] | dict[str, Any]) -> str:
    """The split that chooses "best" and early stopping: validation where there is one."""
    return "val" if "val" in splits else "test"


def chosen(result: Result) -> dict[str, Any]:
    """The chosen evaluation ({loss, accuracy, step, epoch}) of a result; {} if none."""
    best = result.get("best") or {}
    return best.get(choosing_split(best)) or {}


def chosen_accuracy(result: Result) -> float | None:
    """The choosing split's accuracy at the chosen evaluation (a sweep's objective)."""
    return chosen(result).get("accuracy")


def test_at_chosen(result: Result) -> float | None:
    """The test accuracy at the chosen evaluation."""
    return ((result.get("best") or {}).get("test") or {}).get("accuracy")


def describe(result: Result) -> str:
    """A run's result in one line: status, length, time, test accuracy (and at best val)."""
    final = result.get("final", {}).get("test", {})
    best = result.get("best", {})
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
    elif best.get("test", {}).get("accuracy") is not None:
        text += f" (best {best['test']['accuracy']:.4f} at {unit} {best['test']['epoch']})"
    return text
