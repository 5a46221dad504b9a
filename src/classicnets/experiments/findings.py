"""What the numbers show, in a sentence or two per study, computed from the trials' records:
the sentence makers each study's ReportSection names.

True by construction, for any records: a winner is named only when the difference holds at
95% (stats.compare: Welch's t-test over seeds); otherwise the sentence says the top
configurations cannot be told apart and how far apart they are. Every sentence names the
split that chose. Ties, failed, diverged and unfinished trials, and curves that go up and
down are said as what they are. tests/test_findings.py builds records for each case.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from classicnets.data import palindrome
from classicnets.experiments.tables import config_name
from classicnets.records import RunDir, chosen, test_at_chosen
from classicnets.stats import Summary, compare, summarize

Trial = dict[str, Any]
SCORED = ("completed", "early_stopped")  # statuses whose chosen evaluation counts
THRESHOLD = 0.9  # the lengths study's "remembers": test accuracy of at least 90%
SPLIT_WORD = {"val": "validation", "test": "test"}


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{100 * value:.1f}%"


def _chooser(trials: list[Trial]) -> str:
    """The split that chose: always validation (the test split never chooses; a run without
    a validation split chooses nothing and has no score here)."""
    return "validation"


def _no_validation(trial: Trial) -> bool:
    """Did the trial evaluate without a validation split (val_size 0: nothing chosen)?"""
    final = trial.get("final") or {}
    return bool(final) and "val" not in final and "val" not in (trial.get("best") or {})


def _unvalidated(trials: list[Trial], label: Callable[[Trial], str]) -> list[str]:
    """A sentence for finished trials that chose nothing because they had no validation
    split (val_size 0)."""
    names = [who(t, label) for t in trials if t.get("status") in SCORED and _no_validation(t)]
    if not names:
        return []
    return [
        f"Without a validation split nothing was chosen, so these are not ranked: "
        f"{', '.join(names)}."
    ]


def _group(trials: list[Trial], label: Callable[[Trial], str]) -> dict[str, list[Trial]]:
    groups: dict[str, list[Trial]] = {}
    for t in trials:
        groups.setdefault(label(t), []).append(t)
    return groups


def scores(trials: list[Trial], value: Callable[[Trial], float | None]) -> list[float]:
    """The values of the finished trials that have one: a run without is no score, never a
    loss."""
    return [v for t in trials if t.get("status") in SCORED and (v := value(t)) is not None]


def _chosen_accuracy(trial: Trial) -> float | None:
    return chosen(trial).get("accuracy")


def _unfinished(trials: list[Trial], label: Callable[[Trial], str]) -> list[str]:
    """Sentences for the trials that give no result: diverged, failed, anything else."""

    def names(status: str) -> list[str]:
        return [who(t, label) for t in trials if t.get("status") == status]

    lines = []
    if names("diverged"):
        lines.append(f"Diverged (loss became NaN or infinite): {', '.join(names('diverged'))}.")
    if names("failed"):
        lines.append(f"Failed (sweep.json holds the error): {', '.join(names('failed'))}.")
    if names("pruned"):  # never ranked: a pruned trial's best is of a run cut short
        lines.append(
            "Pruned (validation accuracy below the finished trials' median at the same epoch): "
            f"{', '.join(names('pruned'))}."
        )
    other = [t for t in trials if t.get("status") not in (*SCORED, "diverged", "failed", "pruned")]
    for status in dict.fromkeys(str(t.get("status")) for t in other):
        runs = [who(t, label) for t in other if str(t.get("status")) == status]
        lines.append(f"Not finished ({status}): {', '.join(runs)}.")
    no_result = [
        who(t, label)
        for t in trials
        if t.get("status") in SCORED and _chosen_accuracy(t) is None and not _no_validation(t)
    ]
    if no_result:
        lines.append(f"Finished without an evaluation to choose from: {', '.join(no_result)}.")
    return lines


def who(trial: Trial, label: Callable[[Trial], str]) -> str:
    """A run by its configuration and seed: "adam at lr 0.001 (seed 2)"."""
    seed = (trial.get("keys") or {}).get("seed")
    return f"{label(trial)} (seed {seed})" if seed is not None else label(trial)


def standings(
    trials: list[Trial], label: Callable[[Trial], str]
) -> tuple[dict[str, list[Trial]], dict[str, list[float]], list[str]]:
    """The trials by configuration, each finished configuration's accuracies at the
    evaluations validation chose (one a seed), and those configurations best first by mean
    (ties keep the trials' order). The one ranking: `ranking` and the reference check
    (reproduce.py) both read it."""
    groups = _group(trials, label)
    scored = {name: s for name, ts in groups.items() if (s := scores(ts, _chosen_accuracy))}
    order = sorted(scored, key=lambda name: summarize(scored[name]).mean, reverse=True)
    return groups, scored, order


def evidence(p: float | None) -> str:
    """Why a comparison of seeds says what it says: its test, or why there is none."""
    if p is None:
        return "one seed on a side: no test"
    if p == 0.0:
        return "identical in every seed on each side"
    if p == 1.0:
        return "equal means"
    return f"Welch's t-test, p = {p:.2g}"


def ranking(trials: list[Trial], label: Callable[[Trial], str]) -> list[str]:
    """Which configuration is best by the choosing split, and whether that holds."""
    split = _chooser(trials)
    groups, scored, order = standings(trials, label)
    lines: list[str] = []
    if not scored:
        lines.append(f"No configuration finished with a {split} result to compare.")
        return lines + _unfinished(trials, label) + _unvalidated(trials, label)
    top = order[0]
    s_top = summarize(scored[top])
    if len(order) == 1:
        lines.append(f"Only {top} finished: {s_top.text()} {split} accuracy.")
    else:
        lines.append(_verdict(top, scored[top], order[1], scored[order[1]], split))
    tests = summarize(scores(groups[top], test_at_chosen))
    if tests is not None:
        lines.append(
            f"Test accuracy of {top} at its chosen {_epoch_word(groups[top])}: {tests.text()}."
        )
    if len(order) > 2:
        low = order[-1]
        lines.append(f"Lowest {split} accuracy: {low}, {summarize(scored[low]).text()}.")
    return lines + _unfinished(trials, label) + _unvalidated(trials, label)


def _epoch_word(trials: list[Trial]) -> str:
    return "step" if any(t.get("steps") == t.get("epochs") for t in trials) else "epoch"


def _verdict(a: str, va: list[float], b: str, vb: list[float], split: str) -> str:
    """The sentence comparing the top two configurations by `split` accuracy."""
    sa, sb = summarize(va), summarize(vb)
    result = compare(va, vb)
    if result.difference == 0:
        return f"{a} and {b} tie at {sa.text()} and {sb.text()} {split} accuracy."
    points = 100 * result.difference
    if result.holds:
        return (
            f"Best by {split} accuracy: {a}, {sa.text()}, ahead of {b}, {sb.text()}, by "
            f"{points:.1f} points, a difference that holds at 95% ({evidence(result.p)})."
        )
    if not result.testable:
        few = min(sa.n, sb.n)
        return (
            f"Highest {split} accuracy: {a}, {sa.text()}, then {b}, {sb.text()} "
            f"({points:.1f} points apart); with {few} seed{'s' if few != 1 else ''} on one "
            "side, which is better cannot be told: run more seeds."
        )
    return (
        f"{a}, {sa.text()}, and {b}, {sb.text()}, cannot be told apart with this many seeds "
        f"(Welch's t-test, p = {result.p:.2g}); their means are {points:.1f} points apart, "
        f"their spreads {100 * sa.sd:.1f} and {100 * sb.sd:.1f} points."
    )


def optimizer_label(t: Trial) -> str:
    """ "adam at lr 0.001": a configuration of the optimizer sweeps (reference.py names
    winners so)."""
    return f"{t['keys']['optimizer']} at lr {float(t['keys']['learning_rate']):g}"


def grid_label(t: Trial) -> str:
    """ "lstm with adam, lr 0.001, 128 hidden": a configuration of rnn-images-grid."""
    return (
        f"{t['keys']['cell']} with {t['keys']['optimizer']}, lr "
        f"{float(t['keys']['learning_rate']):g}, {t['keys']['num_hidden']} hidden"
    )


def optimizers(out: Path, trials: list[Trial]) -> list[str]:
    return ranking(trials, optimizer_label)


def rnn_grid(out: Path, trials: list[Trial]) -> list[str]:
    return ranking(trials, grid_label)


def side_by_side(out: Path, trials: list[Trial]) -> list[str]:
    """Two models on the same data (mlp-vs-cnn): compared by the choosing split, with each
    one's test accuracy at its chosen epoch and its time."""
    lines = []
    for name, group in _group(trials, config_name).items():
        tests = summarize(scores(group, test_at_chosen))
        seconds = summarize([t.get("wall_time_s") for t in group if t.get("status") in SCORED])
        if tests is not None and seconds is not None:
            lines.append(
                f"{name}: test accuracy {tests.text()} at its chosen epoch (chosen by "
                f"{_chooser(group)} accuracy), {seconds.mean:.0f} s a run."
            )
    return lines + ranking(trials, config_name)


def length_summaries(trials: list[Trial]) -> dict[str, dict[int, Summary | None]]:
    """cell -> T -> the test accuracy at the step validation chose, over the finished seeds
    (None: no finished result at that T), T ascending."""
    by: dict[str, dict[int, list[float]]] = {}
    for t in trials:
        T = int(t["keys"]["input_length"])
        values = by.setdefault(t["keys"]["cell"], {}).setdefault(T, [])
        values += scores([t], test_at_chosen)
    return {cell: {T: summarize(v) for T, v in sorted(p.items())} for cell, p in by.items()}


def _lengths_text(Ts: list[int]) -> str:
    return ", ".join(str(T) for T in Ts)


def lengths(out: Path, trials: list[Trial]) -> list[str]:
    """For each cell, where its test accuracy (at the step validation chose) is at least
    90%, described as the curve is: all above, all below, one crossing, or up and down."""
    lines = []
    for cell, points in length_summaries(trials).items():
        measured = {T: s for T, s in points.items() if s is not None}
        missing = [T for T, s in points.items() if s is None]
        above = [T for T, s in measured.items() if s.mean >= THRESHOLD]
        below = [T for T, s in measured.items() if s.mean < THRESHOLD]
        seeds = max((s.n for s in measured.values()), default=0)
        mean = " (means of the seeds)" if seeds > 1 else ""
        if not measured:
            line = f"{cell}: no finished run at any length."
        elif not below:
            every = _lengths_text(above)
            line = f"{cell}: at least 90% test accuracy{mean} at every T measured ({every})."
        elif not above:
            best_T = max(measured, key=lambda T: measured[T].mean)
            line = (
                f"{cell}: below 90% test accuracy{mean} at every T measured; its best is "
                f"{measured[best_T].text()} at T = {best_T}."
            )
        elif max(above) < min(below):
            last = max(measured)
            line = (
                f"{cell}: at least 90% test accuracy{mean} up to T = {max(above)}, below from "
                f"T = {min(below)} ({measured[min(below)].text()}); at T = {last}: "
                f"{measured[last].text()}."
            )
        else:
            line = (
                f"{cell}: not monotone in T: at least 90% test accuracy{mean} at T = "
                f"{_lengths_text(above)}, below at T = {_lengths_text(below)}."
            )
        if missing:
            line += f" No result at T = {_lengths_text(missing)}."
        lines.append(line)
    shared = sorted(
        {
            int(t["keys"]["input_length"])
            for t in trials
            if not int(t["keys"].get("data_size", 0) or 0)
            and not palindrome.can_hold_out(int(t["keys"]["input_length"]))
        }
    )
    if shared:
        lines.append(
            f"At T = {_lengths_text(shared)} the palindromes are too few to hold sets out: "
            "validation and test share palindromes with training there."
        )
    lines.append("Test accuracy at the step the validation split chose, for each run.")
    return lines + _unfinished(trials, length_label)


def length_label(t: Trial) -> str:
    """ "lstm at T = 10": a run of rnn-lengths."""
    return f"{t['keys']['cell']} at T = {t['keys']['input_length']}"


ToyPairs = tuple[list[tuple[Trial, Trial]], list[tuple[str, str]]]


def toy_pairs(trials: list[Trial]) -> dict[str, ToyPairs]:
    """dataset -> the seeds where both MLPs completed, as (numpy, torch) trials, and the
    seeds left out, with each side's status ("numpy completed, torch failed")."""
    by: dict[str, dict[str, dict[str, Trial]]] = {}  # dataset -> seed -> impl -> trial
    for t in trials:
        seed = str(t["keys"].get("seed", ""))
        by.setdefault(t["keys"]["dataset"], {}).setdefault(seed, {})[t["keys"]["impl"]] = t
    out: dict[str, ToyPairs] = {}
    for dataset, seeds in by.items():
        pairs, missing = out.setdefault(dataset, ([], []))
        for seed, impls in seeds.items():
            a, b = impls.get("numpy"), impls.get("torch")
            if a and b and a.get("status") == b.get("status") == "completed":
                pairs.append((a, b))
            else:
                states = ", ".join(
                    f"{impl} {t.get('status') if t else 'missing'}"
                    for impl, t in (("numpy", a), ("torch", b))
                )
                missing.append((seed, states))
    return out


def toy_accuracies(pairs: list[tuple[Trial, Trial]]) -> list[list[float | None]]:
    """The final test accuracy of each side of each pair (parity needs no choice: both run
    every epoch)."""
    return [[(t.get("final") or {}).get("test", {}).get("accuracy") for t in p] for p in pairs]


def mlp_toy(out: Path, trials: list[Trial]) -> list[str]:
    """Parity and speed of the NumPy and PyTorch MLPs, data set by data set, seed by seed
    (final test accuracy: parity needs no choice, both run every epoch)."""
    return [
        line
        for dataset, (pairs, missing) in toy_pairs(trials).items()
        for line in _parity(out, dataset, pairs, missing)
    ]


def _parity(
    out: Path, dataset: str, pairs: list[tuple[Trial, Trial]], missing: list[tuple[str, str]]
) -> list[str]:
    if not pairs:
        return [f"On {dataset}, no comparison: {states}." for _, states in missing]
    lines = [f"On {dataset}, seed {seed} is left out: {states}." for seed, states in missing]
    gaps = [
        abs(x["loss"] - y["loss"])
        for a, b in pairs
        for x, y in zip(RunDir(out / a["dir"]).metrics(), RunDir(out / b["dir"]).metrics())
        if x["loss"] is not None and y["loss"] is not None
    ]
    acc = toy_accuracies(pairs)
    same = sum(x == y for x, y in acc)
    if len(pairs) == 1:
        verdict = "the same" if same else "different"
        line = (
            f"On {dataset}, NumPy and PyTorch reach {verdict} final test accuracy "
            f"({_pct(acc[0][0])} and {_pct(acc[0][1])})"
        )
    else:
        sa = summarize([x for x, _ in acc])
        sb = summarize([y for _, y in acc])
        both = f"{sa.text() if sa else '—'} and {sb.text() if sb else '—'}"
        line = (
            f"On {dataset}, NumPy and PyTorch reach the same final test accuracy in {same} of "
            f"{len(pairs)} seeds ({both})"
        )
    line += (
        f"; their logged losses differ by at most {max(gaps):.1e}"
        if gaps
        else "; no logged losses to compare"
    )
    speeds = [(a.get("train_samples_per_s"), b.get("train_samples_per_s")) for a, b in pairs]
    ratios = [x / y for x, y in speeds if x and y]
    if ratios:
        mean = sum(ratios) / len(ratios)
        line += f", and the NumPy MLP trains {mean:.1f}x as many samples per second"
        line += "" if len(ratios) == 1 else f" (mean of {len(ratios)} seeds)"
    return [line + "."] + lines
