"""The course reports' claims (/work/shared/claims.md) that our studies can check, as data,
and their verdicts computed from the trials' numbers.

A claim names a sweep, the configuration(s) it is about (keys a trial must have, or its
configuration name for side-by-side sweeps) and a test:

* "level": the course reported a value. Supported when the 95% t-interval of our mean over
  seeds lies within `tolerance` of it, contradicted when the interval lies wholly outside
  that band, otherwise it cannot be told at this budget.
* "at_least" / "at_most": the course said a value is above / below a threshold. Supported when
  the whole 95% interval is on the claimed side, contradicted when it is wholly on the other.
* "greater": one configuration beats another. Supported when Welch's t-test (stats.compare)
  holds at 95% in the claimed direction, contradicted when it holds the other way.

One seed gives no interval: such a claim cannot be told. The metric is always the test
accuracy at the evaluation the validation split chose (records.test_at_chosen), or the final
one where a run has no validation split (the test split never chooses); only finished
(completed or early-stopped) trials count. A sweep with no trials gives no row; a sweep
whose configuration has no finished trial gives a "no runs" row.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from classicnets.data.registry import title
from classicnets.records import test_at_chosen
from classicnets.stats import compare, interval, summarize

Trial = dict[str, Any]
SCORED = ("completed", "early_stopped")  # statuses whose chosen evaluation counts
SUPPORTED, CONTRADICTED, CANNOT_TELL, NO_RUNS = (
    "supported",
    "contradicted",
    "cannot tell at this budget",
    "no runs",
)


@dataclass(frozen=True)
class Claim:
    id: str  # the claim's id in claims.md (C02, ...)
    text: str  # the claim, as the course made it
    reported: str  # what the course reported, in words
    sweep: str  # the sweep that checks it
    select: dict[str, Any]  # keys a trial must have ("trial": its configuration name)
    test: str  # "level", "at_least", "at_most" or "greater"
    value: float = 0.0  # level: the reported value; at_least/at_most: the threshold
    tolerance: float = 0.0  # level: how far from the value still agrees (accuracy units)
    other: dict[str, Any] = field(default_factory=dict)  # greater: the configuration beaten

    def checked_as(self) -> str:
        """The test in words: "within 1.0 points of 100.0%", "at most 25.0%", ..."""
        if self.test == "level":
            return f"within {100 * self.tolerance:.1f} points of {100 * self.value:.1f}%"
        if self.test in ("at_least", "at_most"):
            return f"{self.test.replace('_', ' ')} {100 * self.value:.1f}%"
        return "higher than " + ", ".join(
            str(v) if k == "trial" else f"{k} {v}" for k, v in self.other.items()
        )


CLAIMS = (
    Claim("C02", "The PyTorch MLP classifies make_moons perfectly", "100% test",
          "mlp-toy-compare", {"dataset": "moons", "impl": "torch"}, "level", 1.0, 0.01),
    Claim("C03", "The NumPy MLP classifies make_moons perfectly", "100% test",
          "mlp-toy-compare", {"dataset": "moons", "impl": "numpy"}, "level", 1.0, 0.01),
    Claim("C31", "Adam at lr 1e-2 fails to train the CNN: accuracy stays near chance",
          "18–22% test (000), 17.96% (002)", "cnn-optimizers",
          {"optimizer": "adam", "learning_rate": 1e-2}, "at_most", 0.25),
    Claim("C38", "At lr 1e-2 Adagrad beats Adam on the CNN",
          "68.5% vs 18.0% test (002)", "cnn-optimizers",
          {"optimizer": "adagrad", "learning_rate": 1e-2}, "greater",
          other={"optimizer": "adam", "learning_rate": 1e-2}),
    Claim("C40", "The CNN clearly beats the MLP on images", "≈ 75–80% vs ≈ 50–57% test",
          "mlp-vs-cnn", {"trial": "cnn"}, "greater", other={"trial": "mlp"}),
    Claim("C42", "A vanilla RNN solves palindromes of length 5", "100%", "rnn-lengths",
          {"cell": "rnn", "input_length": 5}, "at_least", 0.99),
    Claim("C43", "A vanilla RNN still solves palindromes of length 10", "100%", "rnn-lengths",
          {"cell": "rnn", "input_length": 10}, "at_least", 0.99),
    Claim("C44", "A vanilla RNN still solves palindromes of length 15", "100%", "rnn-lengths",
          {"cell": "rnn", "input_length": 15}, "at_least", 0.99),
    Claim("C45", "At length 20 the vanilla RNN effectively fails", "≈ 35% at the end (000)",
          "rnn-lengths", {"cell": "rnn", "input_length": 20}, "at_most", 0.5),
)  # fmt: skip

RULES = (
    "Verdicts use the test accuracy at the evaluation the validation split chose (the final "
    "one where a run has no validation split), over the finished seeds of each "
    "configuration. A reported value is supported when the 95% t-interval of our mean lies "
    "within the stated tolerance of it, contradicted when the interval lies wholly outside "
    "that band; a threshold claim is supported when the whole interval is on its side and "
    'contradicted when it is wholly on the other; "A beats B" is decided by Welch\'s t-test '
    "at 95%. Anything else, and any configuration with a single seed, cannot be told at "
    "this budget."
)


@dataclass(frozen=True)
class Row:
    claim: Claim
    measured: str  # our numbers: "85.3% ± 0.4 (n = 3)", or why there are none
    verdict: str  # SUPPORTED, CONTRADICTED, CANNOT_TELL or NO_RUNS


def _config(trial: Trial) -> str:
    import re

    return re.sub(r"-seed\d+$", "", str(trial.get("trial", "")))


def _same(have: Any, want: Any) -> bool:
    try:
        return float(have) == float(want)
    except (TypeError, ValueError):
        return str(have) == str(want)


def _matches(trial: Trial, select: dict[str, Any]) -> bool:
    keys = trial.get("keys") or {}
    for k, want in select.items():
        have = _config(trial) if k == "trial" else keys.get(k)
        if have is None or not _same(have, want):
            return False
    return True


def _test_accuracy(trial: Trial) -> float | None:
    """The test accuracy at the validation-chosen evaluation; without a validation split
    (nothing chosen) the final one: the best test evaluation would be chosen by the test."""
    if "val" in (trial.get("best") or {}):
        return test_at_chosen(trial)
    return ((trial.get("final") or {}).get("test") or {}).get("accuracy")


def _values(trials: list[Trial], select: dict[str, Any]) -> tuple[list[float], int]:
    """The finished trials' test accuracies at the chosen evaluation, and how many matching
    trials did not finish with one (failed, diverged, unfinished)."""
    chosen = [t for t in trials if _matches(t, select)]
    scored = [t for t in chosen if t.get("status") in SCORED]
    values = [v for t in scored if (v := _test_accuracy(t)) is not None]
    return values, len(chosen) - len(values)


def _measured(values: list[float], missing: int) -> str:
    s = summarize(values)
    text = s.text() if s else "no finished runs"
    return text + (f"; {missing} without a result" if missing else "")


def _interval_verdict(values: list[float], lo: float, hi: float) -> str:
    """Supported when the 95% interval lies inside [lo, hi], contradicted when wholly
    outside it."""
    ci = interval(values)
    if ci is None:
        return CANNOT_TELL
    if lo <= ci[0] and ci[1] <= hi:
        return SUPPORTED
    if ci[1] < lo or ci[0] > hi:
        return CONTRADICTED
    return CANNOT_TELL


def _data(trials: list[Trial], select: dict[str, Any]) -> str:
    """ " on DATA": the data set the matching trials read (a claim made on Fashion-MNIST or
    CIFAR-10 is checked on whatever ran: the row says which); "" where none is named."""
    names = dict.fromkeys(
        str(keys["dataset"])
        for t in trials
        if _matches(t, select) and "dataset" in (keys := t.get("keys") or {})
    )
    return f" on {', '.join(title(n) for n in names)}" if names else ""


def verdict(claim: Claim, trials: list[Trial]) -> Row:
    row = _verdict(claim, trials)
    data = _data(trials, claim.select)
    return Row(row.claim, row.measured + data, row.verdict)


def _verdict(claim: Claim, trials: list[Trial]) -> Row:
    values, missing = _values(trials, claim.select)
    measured = _measured(values, missing)
    if claim.test == "greater":
        others, other_missing = _values(trials, claim.other)
        measured = f"{measured} vs {_measured(others, other_missing)}"
        if not values or not others:
            return Row(claim, measured, NO_RUNS)
        result = compare(values, others)
        if not result.holds:
            return Row(claim, measured, CANNOT_TELL)
        return Row(claim, measured, SUPPORTED if result.difference > 0 else CONTRADICTED)
    if not values:
        return Row(claim, measured, NO_RUNS)
    if claim.test == "level":
        band = (claim.value - claim.tolerance, claim.value + claim.tolerance)
    elif claim.test == "at_least":
        band = (claim.value, float("inf"))
    elif claim.test == "at_most":
        band = (float("-inf"), claim.value)
    else:
        raise ValueError(f"claim {claim.id}: unknown test {claim.test!r}")
    return Row(claim, measured, _interval_verdict(values, *band))


def rows(sweeps: dict[str, list[Trial]], claims: tuple[Claim, ...] = CLAIMS) -> list[Row]:
    """A row per claim whose sweep has trials, in the claims' order."""
    return [verdict(c, sweeps[c.sweep]) for c in claims if sweeps.get(c.sweep)]
