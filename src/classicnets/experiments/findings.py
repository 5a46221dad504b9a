"""What the numbers show, in a sentence or two per study, computed from the trials' records:
the sentence makers each study's ReportSection names.

Every sentence is built from measured values (no canned verdicts): which optimizer won and
by how much, where the vanilla RNN falls below 90%, how far apart the two MLPs are.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from classicnets.records import RunDir, chosen, test_at_chosen

Trial = dict[str, Any]


_best, _test_at_best = chosen, test_at_chosen  # the chosen evaluation; test accuracy there


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{100 * value:.1f}%"


def mlp_toy(out: Path, trials: list[Trial]) -> list[str]:
    """Parity and speed of the NumPy and PyTorch MLPs."""
    by = {(t["keys"]["dataset"], t["keys"]["impl"]): t for t in trials}
    lines = []
    for dataset in dict.fromkeys(d for d, _ in by):
        a, b = by.get((dataset, "numpy")), by.get((dataset, "torch"))
        if not a or not b:
            continue
        rows_a = RunDir(out / a["dir"]).metrics()
        rows_b = RunDir(out / b["dir"]).metrics()
        gaps = [
            abs(x["loss"] - y["loss"])
            for x, y in zip(rows_a, rows_b)
            if x["loss"] is not None and y["loss"] is not None
        ]
        acc_a = a["final"].get("test", {}).get("accuracy")
        acc_b = b["final"].get("test", {}).get("accuracy")
        speed = (a.get("train_samples_per_s") or 0) / (b.get("train_samples_per_s") or 1)
        same = "the same" if acc_a == acc_b else "different"
        lines.append(
            f"On {dataset}, NumPy and PyTorch reach {same} test accuracy "
            f"({_pct(acc_a)} and {_pct(acc_b)}); their logged losses differ by at most "
            f"{max(gaps) if gaps else float('nan'):.1e}, and the NumPy MLP trains "
            f"{speed:.1f}x as many samples per second."
        )
    return lines


def ranking(trials: list[Trial], label) -> list[str]:
    """Which configuration won (by validation), by how much, and which diverged."""
    ranked = sorted(
        (t for t in trials if t["status"] != "diverged" and _best(t).get("accuracy") is not None),
        key=lambda t: _best(t)["accuracy"],
        reverse=True,
    )
    lines = []
    if ranked:
        top = ranked[0]
        line = (
            f"Best: {label(top)}, {_pct(_best(top)['accuracy'])} validation accuracy at epoch "
            f"{_best(top).get('epoch')} (test {_pct(_test_at_best(top))} there)"
        )
        if len(ranked) > 1:
            gap = _best(top)["accuracy"] - _best(ranked[1])["accuracy"]
            line += f", {100 * gap:.1f} points ahead of {label(ranked[1])}"
        lines.append(line + ".")
        worst = ranked[-1]
        if len(ranked) > 2:
            lines.append(f"Worst that trained: {label(worst)}, {_pct(_best(worst)['accuracy'])}.")
    diverged = [label(t) for t in trials if t["status"] == "diverged"]
    if diverged:
        lines.append(f"Diverged (loss became NaN or infinite): {', '.join(diverged)}.")
    return lines


def optimizers(out: Path, trials: list[Trial]) -> list[str]:
    return ranking(
        trials, lambda t: f"{t['keys']['optimizer']} at lr {t['keys']['learning_rate']:g}"
    )


def side_by_side(out: Path, trials: list[Trial]) -> list[str]:
    lines = []
    for t in trials:
        lines.append(
            f"{t['trial']}: {_pct(_test_at_best(t))} test accuracy at its best validation "
            f"epoch ({_best(t).get('epoch')}), {t.get('wall_time_s', 0):.0f} s in all."
        )
    if len(trials) == 2:
        a, b = trials
        if _test_at_best(a) is not None and _test_at_best(b) is not None:
            gap = 100 * (_test_at_best(b) - _test_at_best(a))
            lines.append(f"{b['trial']} minus {a['trial']}: {gap:+.1f} points of test accuracy.")
    return lines


def lengths(out: Path, trials: list[Trial]) -> list[str]:
    """Where each cell falls below 90% test accuracy as the palindromes grow."""
    by_cell: dict[str, dict[int, float | None]] = {}
    for t in trials:
        by_cell.setdefault(t["keys"]["cell"], {})[t["keys"]["input_length"]] = _test_at_best(t)
    lines = []
    for cell, points in by_cell.items():
        below = [T for T in sorted(points) if (points[T] or 0) < 0.9]
        longest_ok = [T for T in sorted(points) if (points[T] or 0) >= 0.9]
        if not below:
            lines.append(
                f"{cell}: at least 90% test accuracy at every length up to T = {max(points)}."
            )
        else:
            held = f"holds 90% up to T = {max(longest_ok)}, " if longest_ok else ""
            lines.append(
                f"{cell}: {held}falls below 90% at T = {below[0]} "
                f"({_pct(points[below[0]])}); at T = {max(points)}: {_pct(points[max(points)])}."
            )
    return lines


def rnn_grid(out: Path, trials: list[Trial]) -> list[str]:
    return ranking(
        trials,
        lambda t: (
            f"{t['keys']['cell']} with {t['keys']['optimizer']}, lr "
            f"{t['keys']['learning_rate']:g}, {t['keys']['num_hidden']} hidden"
        ),
    )
