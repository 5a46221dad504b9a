"""The report as markdown (`classicnets report --format markdown`): what the HTML page says
in words and tables, without its figures, for a README or an issue.

Made from the same sections as the page (build.gather): a section per study that has runs,
in the page's order, each with its data, the command and settings that made it, the sweep's
table and its findings; then the single runs and the course's claims with their verdicts.
Studies without runs are named in one line with the command that makes them. Sections use
### headings, so the text sits under a README's "## Results". Nothing in it depends on the
time it was made: the same records give the same text.

Cells and sentences come from the records (checked by collect.py) and the registry; each is
still written as one line with no HTML in it and no `|` that could end a cell early.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from classicnets.experiments.claims import Row
    from classicnets.report.build import Section


def _text(text: Any) -> str:
    """Prose from a record as one markdown line: line breaks closed up, no HTML tag."""
    return " ".join(str(text).split()).replace("<", "&lt;")


def _row(cells: list[Any]) -> str:
    return "| " + " | ".join(_text(c).replace("|", "\\|") or "—" for c in cells) + " |"


def _table(rows: list[list[Any]]) -> list[str]:
    """Rows, the header first, as a markdown table (and a blank line after it)."""
    head, *body = rows
    return [_row(head), "|" + "---|" * len(head), *(_row(r) for r in body), ""]


SINGLE_RUNS = ["experiment", "run", "data", "status", "chosen by", "its accuracy there",
               "test accuracy there"]  # fmt: skip
NOTHING = "nothing (no validation split)"  # chosen by: no split chose
CLAIMS = ["id", "claim", "the course reported", "checked as",
          "this run measured (test accuracy, mean ± sd, n)", "verdict"]  # fmt: skip


def _accuracy(value: float | None) -> str:
    return "—" if value is None else f"{value:.4f}"


def _claim(row: Row) -> list[str]:
    c = row.claim
    return [c.id, c.text, c.reported, c.checked_as(), row.measured, row.verdict]


def _section(s: Section) -> list[str]:
    lines = [f"### {_text(s.title)}", "", _text(s.intro), ""]
    if s.data:
        lines += [f"Data: {_text(s.data)}.", ""]
    lines += ["```", *s.command.splitlines(), "```", "", _text(s.config), ""]
    if s.table:
        lines += _table(s.table)
    elif s.table_note:
        lines += [f"_{_text(s.table_note)}_", ""]
    lines += ["What the numbers show:", ""]
    lines += [f"- {_text(f)}" for f in s.findings] + [""]
    return lines


def markdown(
    sections: list[Section],
    single_runs: list[tuple[Any, ...]],
    unfinished: list[str],
    claims: list[Row],
    claims_rule: str,
    roots: list[str],
    version: str,
    summary: Any = None,  # each line repeats its section's first finding: left out here
) -> str:
    where = ", ".join(_text(r) for r in roots)
    lines = [
        f'From the run records under {where} (classicnets {version}). "Best" is chosen on '
        "the validation split and the test accuracy is reported at that point; the figures "
        f"are in the HTML report (classicnets report {where}).",
        "",
    ]
    if unfinished:
        left = _text(", ".join(unfinished))
        lines += [f"Left out, unfinished (no summary.json yet): {left}.", ""]
    for s in sections:
        lines += _section(s) if s.present else []
    absent = [f"{_text(s.title)} (`{_text(s.command)}`)" for s in sections if not s.present]
    if absent:
        lines += [f"No runs of these studies here: {'; '.join(absent)}.", ""]
    if single_runs:
        rows = [
            [e, run, data, status, chooser or NOTHING, _accuracy(a), _accuracy(t)]
            for e, run, data, status, chooser, a, t in single_runs
        ]
        lines += ["### Single runs", "", *_table([SINGLE_RUNS, *rows])]
    if claims:
        rows = [_claim(r) for r in claims]
        lines += ["### The course's claims, checked", "", *_table([CLAIMS, *rows])]
        lines += [_text(claims_rule), ""]
    return "\n".join(lines).rstrip("\n") + "\n"
