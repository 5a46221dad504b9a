"""Does the suite that ran come to its study's reference conclusion (reference.py)? The
sentences the report adds after each section's findings (spec.Sweep.findings).

The conclusion is read from this suite's trials as the reference's was read from its own,
through the findings' ranking, length summaries and toy pairs (findings.py), and set
against it. The sentences are true for any records:

* it agrees: "At these settings the conclusion matches the reference run (...): ...";
* it does not, or cannot (the top two configurations cannot be told apart here, another
  one wins here, a cell falls below 90% at another T, a result needed is missing): "This
  suite cannot tell ...", what the reference run found, and which suite can: the full suite
  where the reference ran at the course's settings, its own command where those do not fit
  a CPU;
* the reference itself names no winner: no suite here can tell, and the sentence says so;
* no reference measured: one sentence says so.

Runs without a result (failed, diverged, unfinished) are named and left out: a missing
result is never a loss. Winners are chosen by validation accuracy; lengths read the test
accuracy at the step validation chose; the toy parity compares final test accuracy.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

from classicnets.experiments import findings
from classicnets.experiments.reference import (
    Conclusion,
    Falls,
    Parity,
    Ranking,
    Reference,
    reference,
)
from classicnets.records import chosen_accuracy, test_at_chosen
from classicnets.stats import compare

Trial = dict[str, Any]
Label = Callable[[Trial], str]
FALLS_ON = "mean test accuracy at the step validation chose"
PARITY_ON = "final test accuracy: both MLPs run every epoch, no split chooses"


class Measured(NamedTuple):
    """What a suite's trials conclude, and the runs left out of it."""

    conclusion: Conclusion | None  # None: no finished result to conclude from
    left_out: tuple[str, ...]  # the runs without a result: "sgd at lr 0.01 (seed 2): diverged"


Conclude = Callable[[list[Trial]], Measured]  # a ReportSection's `conclude`


def _left_out(trials: list[Trial], label: Label, value: Callable[[Trial], Any]) -> list[str]:
    """The runs without a result, and why (findings.scores: the one rule of what counts)."""
    return [
        f"{findings.who(t, label)}: "
        + (str(t.get("status")) if t.get("status") not in findings.SCORED else "no result")
        for t in trials
        if not findings.scores([t], value)
    ]


def ranked(label: Label) -> Conclude:
    """The conclusion of a comparison study whose configurations `label` names, as its
    findings rank them (findings.standings) and test the top two (stats.compare)."""

    def conclude(trials: list[Trial]) -> Measured:
        _, scored, order = findings.standings(trials, label)
        left = tuple(_left_out(trials, label, chosen_accuracy))
        if not order:
            return Measured(None, left)
        if len(order) == 1:
            return Measured(Ranking(order[0], "", None, False), left)
        result = compare(scored[order[0]], scored[order[1]])
        return Measured(Ranking(order[0], order[1], result.p, result.holds), left)

    return conclude


def falls(trials: list[Trial]) -> Measured:
    """rnn-lengths: each cell's first T below 90% (findings.length_summaries). A T without a
    result before the first fall, or anywhere where none falls, leaves it unknown."""
    first_below: dict[str, int | None] = {}
    no_result: dict[str, tuple[int, ...]] = {}
    for cell, points in findings.length_summaries(trials).items():
        below = [T for T, s in points.items() if s is not None and s.mean < findings.THRESHOLD]
        first = min(below, default=None)
        missing = [length for length, s in points.items() if s is None]
        unknown = tuple(length for length in missing if first is None or length < first)
        if unknown:
            no_result[cell] = unknown
        else:
            first_below[cell] = first
    left = tuple(_left_out(trials, findings.length_label, test_at_chosen))
    return Measured(Falls(first_below, no_result) if trials else None, left)


def parity(trials: list[Trial]) -> Measured:
    """mlp-toy-compare: per data set, do both MLPs reach the same final test accuracy in
    every seed both completed (findings.toy_pairs)?"""
    same: dict[str, bool] = {}
    left: list[str] = []
    for dataset, (pairs, missing) in findings.toy_pairs(trials).items():
        both = [(a, b) for a, b in findings.toy_accuracies(pairs) if None not in (a, b)]
        if both:
            same[dataset] = all(a == b for a, b in both)
        left += [f"{dataset}{f' seed {seed}' if seed else ''}: {why}" for seed, why in missing]
    return Measured(Parity(same) if same else None, tuple(left))


def measured(sweep_dir: Path | str) -> Conclusion | None:
    """The conclusion a sweep directory's trials come to: what a reference entry records."""
    from classicnets.experiments import SWEEPS  # the registry imports the modules that use this
    from classicnets.records.schema import read_sweep

    record = read_sweep(Path(sweep_dir) / "sweep.json")
    section = SWEEPS[record["sweep"]].report
    if section is None or section.conclude is None:
        raise ValueError(f"{record['sweep']}: its report section concludes nothing to compare")
    return section.conclude(record["trials"]).conclusion


def sentences(
    sweep: str,
    conclude: Conclude | None,
    trials: list[Trial],
    references: tuple[Reference, ...] | None = None,
) -> list[str]:
    """How this suite's conclusion stands against the sweep's reference run (in
    reference.REFERENCES unless others are given)."""
    if conclude is None:  # the study concludes nothing a reference could settle
        return []
    ref = reference(sweep, references)
    if ref is None:
        return [
            f"No reference run is recorded for {sweep}: whether a larger run comes to the "
            "same conclusion as these settings is not known."
        ]
    here = conclude(trials)
    if here.conclusion is not None and type(here.conclusion) is not type(ref.conclusion):
        raise ValueError(
            f"reference {sweep}: records a {type(ref.conclusion).__name__}, but the sweep "
            f"concludes a {type(here.conclusion).__name__}"
        )
    if isinstance(ref.conclusion, Ranking):
        lines = _ranking(ref, ref.conclusion, here.conclusion)
    elif isinstance(ref.conclusion, Falls):
        got = here.conclusion or Falls({})
        lines = _items(
            ref,
            ref.conclusion.first_below,
            got.first_below,
            _fall,
            lambda cell: (
                f"{cell} has no result at T = {', '.join(map(str, got.no_result[cell]))}"
                if cell in got.no_result
                else f"{cell} was not run"
            ),
            f"where each cell falls below 90% ({FALLS_ON})",
            FALLS_ON,
        )
    else:
        lines = _items(
            ref,
            ref.conclusion.same,
            (here.conclusion or Parity({})).same,
            _same,
            lambda dataset: f"on {dataset} no seed has both MLPs' results",
            f"whether NumPy and PyTorch agree ({PARITY_ON})",
            PARITY_ON,
        )
    if here.left_out:
        lines.append(f"Left out of this check, not counted as losses: {'; '.join(here.left_out)}.")
    return lines


def _seeds(ref: Reference) -> str:
    return f"{ref.seeds} seed{'s' if ref.seeds != 1 else ''}"


def _agree(ref: Reference, what: str) -> str:
    return (
        f"At these settings the conclusion matches the reference run ({ref.settings}, "
        f"{_seeds(ref)}, {ref.date}): {what}."
    )


def _run(ref: Reference) -> str:
    """ "the reference run at SETTINGS (command: CMD; 3 seeds, DATE)"."""
    return (
        f"the reference run at {ref.settings} (command: {ref.command}; {_seeds(ref)}, {ref.date})"
    )


def _cannot(ref: Reference, question: str, here: str, there: str) -> list[str]:
    """This suite cannot tell; the reference can; and which suite can."""
    which = (
        "Of the suites, `classicnets run --suite full` can tell: it runs these settings."
        if ref.full
        else "The course's full settings do not fit a CPU: the reference command can tell."
    )
    return [f"This suite cannot tell {question}: {here}; {_run(ref)} can: {there}.", which]


def _said(r: Ranking, where: str) -> str:
    """What a ranking says, "here" or "there"."""
    if not r.second:
        return f"only {r.first} finished {where}"
    evidence = findings.evidence(r.p)
    if r.holds:
        return f"{r.first} is ahead of {r.second} by validation accuracy {where} ({evidence})"
    return (
        f"{r.first} and {r.second} cannot be told apart by validation accuracy {where} ({evidence})"
    )


def _ranking(ref: Reference, there: Ranking, here: Ranking | None) -> list[str]:
    said_here = _said(here, "here") if here else "no configuration finished here"
    if not there.holds:  # the reference itself names no winner
        if here is not None and here.holds:
            return [
                f"At these settings {said_here}, but {_run(ref)} cannot confirm it: "
                f"{_said(there, 'there')}; no suite here can tell which wins."
            ]
        return [
            f"No suite here can tell which configuration wins: {said_here}, and in "
            f"{_run(ref)} {_said(there, 'there')}."
        ]
    if here is not None and here.holds and here.first == there.first:
        ev_here, ev_there = findings.evidence(here.p), findings.evidence(there.p)
        what = f"{there.first} ahead by validation accuracy ({ev_here} here; {ev_there} there)"
        return [_agree(ref, what)]
    return _cannot(ref, "which configuration wins", said_here, _said(there, "there"))


def _fall(cell: str, T: int | None) -> str:
    if T is None:
        return f"{cell} stays at 90% or above to the longest T"
    return f"{cell} falls below 90% at T = {T}"


def _same(dataset: str, same: bool) -> str:
    said = "reach the same final test accuracy in every seed" if same else "differ in a seed"
    return f"on {dataset} NumPy and PyTorch {said}"


def _items(
    ref: Reference,
    want: dict[str, Any],
    got: dict[str, Any],
    say: Callable[[str, Any], str],
    unknown: Callable[[str], str],
    question: str,
    basis: str,
) -> list[str]:
    """A conclusion item by item (a cell's fall, a data set's parity): agrees where every
    item the reference measured comes out the same here."""
    agree = [k for k in want if k in got and got[k] == want[k]]
    differ = [k for k in want if k not in agree]
    if not differ:
        return [_agree(ref, f"{'; '.join(say(k, want[k]) for k in want)} ({basis})")]
    here = "; ".join(say(k, got[k]) if k in got else unknown(k) for k in differ)
    lines = _cannot(ref, question, f"here {here}", "; ".join(say(k, want[k]) for k in differ))
    if agree:
        lines.append(f"For {', '.join(agree)} this suite agrees with the reference run.")
    return lines
