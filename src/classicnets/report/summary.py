"""The report's summary table: one line per study, made from the section it heads.

Each line says what ran (trials by status), the headline number and the verdict. The
headline is the trial the validation split liked most (the sweep's objective) and the test
accuracy there; the test split never picks it: without a validation split nothing is
picked, and the headline gives the range of the final test accuracies. The verdict is
the section's first finding: the same sentence the section prints, not a second
reading of the records.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

from classicnets.experiments.tables import configurations, seeded
from classicnets.records import chosen_accuracy, test_at_chosen


@dataclass(frozen=True)
class SummaryLine:
    title: str
    anchor: str  # the section's id, for the link
    ran: str  # "6 trials: 5 completed, 1 diverged", or how to make them
    headline: str  # "val 0.9500 → test 0.9400 (adam)", or "—" where no trial has a result
    verdict: str  # the section's first finding, or "—"


def ran(trials: list[dict[str, Any]]) -> str:
    """How many trials, by status, most common first (ties in the order trials ran)."""
    counts = Counter(t["status"] for t in trials)
    noun = "trial" if len(trials) == 1 else "trials"
    return f"{len(trials)} {noun}: " + ", ".join(f"{n} {s}" for s, n in counts.most_common())


def headline(trials: list[dict[str, Any]]) -> str:
    """The best trial by validation accuracy, and the test accuracy at its chosen step; every
    trial that ties for best is named, and their test accuracies given as a range. Without
    a validation split nothing is chosen: the range of the trials' final test accuracies."""
    scored = [  # chosen by val alone; a pruned trial was cut short on purpose: never the headline
        t for t in trials if chosen_accuracy(t) is not None and t["status"] != "pruned"
    ]
    if not scored:
        finals = sorted(
            x
            for t in trials
            if (x := ((t.get("final") or {}).get("test") or {}).get("accuracy")) is not None
        )
        if not finals:
            return "—"
        spread = f"{finals[0]:.4f}" + (f"–{finals[-1]:.4f}" if finals[-1] != finals[0] else "")
        return f"no validation split, nothing chosen: final test {spread}"
    if seeded(trials):
        return _seeded_headline(trials)
    top = max(chosen_accuracy(t) for t in scored)
    best = [t for t in scored if chosen_accuracy(t) == top]
    tests = sorted(x for t in best if (x := test_at_chosen(t)) is not None)
    names = ", ".join(t["trial"] for t in best)
    there = "—" if not tests else f"{tests[0]:.4f}"
    if len(tests) > 1 and tests[-1] != tests[0]:
        there += f"–{tests[-1]:.4f}"
    return f"val {top:.4f} → test {there} ({names})"


CHOSEN, THERE = "val accuracy (chosen by val)", "test accuracy at val's choice"


def _seeded_headline(trials: list[dict[str, Any]]) -> str:
    """With several seeds a configuration: the one with the highest mean validation
    accuracy (every one tying for it named), its mean ± sd and the test accuracy there."""
    scored = [c for c in configurations(trials) if c["results"][CHOSEN]]
    top = max(c["results"][CHOSEN]["mean"] for c in scored)
    best = [c for c in scored if c["results"][CHOSEN]["mean"] == top]

    def text(result: dict[str, Any] | None) -> str:
        return "—" if result is None else f"{result['mean']:.4f} ± {result['sd']:.4f}"

    names = ", ".join(f"{c['configuration']}, n = {c['results'][CHOSEN]['n']}" for c in best)
    tests = " / ".join(text(c["results"][THERE]) for c in best)
    return f"val {text(best[0]['results'][CHOSEN])} → test {tests} ({names}; mean ± sd)"


def summary_line(
    title: str, anchor: str, trials: list[dict[str, Any]] | None, findings: list[str]
) -> SummaryLine:
    """The line for one section; `trials` None: the study has no sweep among the records."""
    if trials is None:
        return SummaryLine(title, anchor, "not run yet", "—", "—")
    return SummaryLine(title, anchor, ran(trials), headline(trials), (findings or ["—"])[0])
