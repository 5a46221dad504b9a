"""Smith's learning-rate range test (Smith 2017, "Cyclical Learning Rates", section 3.3):
train from fresh weights while the rate grows exponentially from a low bound to a high one,
one step at a time, and record the training loss against the rate. The loss falls where the
rate starts to teach and blows up where it is too large; a good rate lies on the steepest
part of the fall.

It runs on the training split only (the learner's training batches), never a held-out
split: nothing is chosen by validation or test data. The learner is the experiment's own,
with its optimizer; its weights are thrown away afterwards (nothing is checkpointed).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any, Protocol

import numpy as np
import torch

from classicnets import config
from classicnets.config import Key

STEEPEST = "steepest descent of the smoothed loss against log10(rate), before its minimum"


class RangeLearner(Protocol):
    """What the test needs of a learner (train/classifier.py's ClassifierLearner)."""

    def epoch_batches(self, seed: int, epoch: int, batch_size: int) -> Any: ...

    def step(self, X: Any, y: Any) -> torch.Tensor: ...

    def set_learning_rate(self, value: float) -> None: ...


def _steps(value: int) -> str | None:
    return None if value >= 3 else "must be 3 or more, e.g. 200"


def _above_one(value: float) -> str | None:
    return None if value > 1 else "must be above 1, e.g. 4"


def _smoothing(value: float) -> str | None:
    return None if 0 <= value < 1 else "must be in [0, 1), e.g. 0.98"


# The range test's keys (`classicnets lr-find EXPERIMENT --KEY VALUE`), beside the
# experiment's own; the defaults are Smith's and fastai's.
RANGE_KEYS = {
    "start_lr": Key(float, 1e-7, "the range test's first rate: too small to move the weights",
                    config.positive),
    "end_lr": Key(float, 10.0, "its last rate, if the loss has not blown up before",
                  config.positive),
    "num_steps": Key(int, 200, "updates (batches of the training split); the rate grows by "
                     "(end_lr/start_lr)^(1/(num_steps-1)) at each", _steps),
    "smoothing": Key(float, 0.98, "the loss's exponential moving average (0.98: about the "
                     "last 50 steps; 0 = none)", _smoothing),
    "diverge": Key(float, 4.0, "stop once the smoothed loss exceeds this many times its "
                   "minimum", _above_one),
}  # fmt: skip
RangeTest = config.define("RangeTest", RANGE_KEYS)
SKIP_START = 10  # steps the suggestion ignores: the moving average is still warming up


def rates(test: Any) -> np.ndarray:
    """(num_steps,) rates, geometric from start_lr to end_lr."""
    return np.geomspace(test.start_lr, test.end_lr, test.num_steps)


def _training_batches(learner: RangeLearner, seed: int, batch_size: int) -> Iterator:
    """The training split's batches, epoch after epoch, as the run would see them."""
    epoch = 0
    while True:
        empty = True
        for batch in learner.epoch_batches(seed, epoch, batch_size):
            empty = False
            yield batch
        if empty:  # no batch at all: the test ends rather than waiting forever
            return
        epoch += 1


def range_test(learner: RangeLearner, test: Any, seed: int, batch_size: int) -> dict[str, Any]:
    """Run the test (a RangeTest): the rows (step, rate, loss, smoothed loss), why it
    stopped ("end_lr" or "diverged"), and the suggested rate (see `suggest`)."""
    rows: list[dict[str, float | int | None]] = []
    average, lowest, stopped = 0.0, math.inf, "end_lr"
    batches = _training_batches(learner, seed, batch_size)
    for step, (rate, (X, y)) in enumerate(zip(rates(test), batches)):
        learner.set_learning_rate(float(rate))
        loss = float(learner.step(X, y))
        if not math.isfinite(loss):
            rows.append({"step": step, "learning_rate": float(rate), "loss": None,
                         "smoothed": None})  # fmt: skip
            stopped = "diverged"
            break
        average = test.smoothing * average + (1 - test.smoothing) * loss
        smoothed = average / (1 - test.smoothing ** (step + 1))  # bias-corrected
        lowest = min(lowest, smoothed)
        rows.append({"step": step, "learning_rate": float(rate), "loss": loss,
                     "smoothed": smoothed})  # fmt: skip
        if smoothed > test.diverge * lowest:
            stopped = "diverged"
            break
    return {"rows": rows, "stopped": stopped, **suggest(rows, SKIP_START)}


def suggest(rows: list[dict[str, Any]], skip_start: int) -> dict[str, Any]:
    """The suggested rate: where the smoothed loss falls fastest against log10(rate), on the
    way down to its minimum (past the first `skip_start` steps). Also the rate of the
    minimum itself and a tenth of it (the other common rule), for comparison."""
    finite = [r for r in rows if r["smoothed"] is not None]
    if len(finite) < 3:
        return {"suggested": None, "minimum": None, "minimum_over_10": None, "rule": STEEPEST}
    smoothed = np.array([r["smoothed"] for r in finite])
    log_rates = np.log10([r["learning_rate"] for r in finite])
    low = int(np.argmin(smoothed))
    start = min(skip_start, max(0, low - 2))  # a short test keeps at least 3 points
    falling = slice(start, low + 1)
    if low + 1 - start < 3:  # no descent to measure: the loss rose from the start
        suggested = None
    else:
        slopes = np.gradient(smoothed[falling], log_rates[falling])
        suggested = float(finite[start + int(np.argmin(slopes))]["learning_rate"])
    minimum = float(finite[low]["learning_rate"])
    return {
        "suggested": suggested,
        "minimum": minimum,
        "minimum_over_10": minimum / 10,
        "rule": STEEPEST,
    }
