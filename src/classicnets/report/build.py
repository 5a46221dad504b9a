"""`classicnets report`: one self-contained HTML file from run and sweep directories.

A section per reported sweep, in the registry's order (experiments/__init__.py); each sweep
declares its own section (experiments/spec.py, ReportSection). Each shows the figures the
study already drew (embedded as data: URIs, so the file needs no network and no other file),
its table, the exact configuration and the command that reproduces it, and what the numbers
show (the section's findings). A study with no runs says which command makes them.
"""

from __future__ import annotations

import base64
import csv
import html
import io
import shlex
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from classicnets import __version__
from classicnets.experiments import reported
from classicnets.experiments.spec import ReportSection, Sweep
from classicnets.records import atomic_write
from classicnets.report.collect import Found, collect
from classicnets.report.template import render


def _image(path: Path) -> str:
    return "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode()


def _table(path: Path) -> str:
    """A table.csv as an HTML table (numbers rounded as in table.md)."""
    rows = list(csv.reader(io.StringIO(path.read_text())))
    if not rows:
        return ""

    def cell(text: str) -> str:
        try:
            value = float(text)
        except ValueError:
            return html.escape(text or "—")
        if 0 < abs(value) < 1e-3:  # learning rates such as 1e-6: never round them to 0
            return f"{value:g}"
        if value.is_integer() and abs(value) >= 1:
            return f"{int(value):,}"
        return f"{value:.4f}" if abs(value) <= 1 else f"{value:,.1f}"

    head = "".join(f"<th>{html.escape(c)}</th>" for c in rows[0])
    body = "".join(
        "<tr>" + "".join(f"<td>{cell(c)}</td>" for c in row) + "</tr>" for row in rows[1:]
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _command(record: dict[str, Any]) -> str:
    words = ["classicnets", "sweep", record["sweep"]]
    for key, value in record.get("overrides", {}).items():
        words += [f"--{key}", str(value)]
    return shlex.join(words)


@dataclass
class Section:
    title: str
    intro: str
    command: str
    anchor: str
    present: bool
    figures: list[tuple[str, str]] = field(default_factory=list)  # (data URI, caption)
    table: str = ""
    findings: list[str] = field(default_factory=list)
    config: str = ""


def section(sweep: Sweep, study: ReportSection, found: Found) -> Section:
    if sweep.name not in found.sweeps:
        return Section(
            study.title, study.intro, f"classicnets sweep {sweep.name}", sweep.name, False
        )
    out, record = found.sweeps[sweep.name]
    trials = record["trials"]
    figures = []
    for name, caption in study.figures:
        path = out / "figures" / name if "/" not in name else out / name
        if path.is_file():
            figures.append((_image(path), caption))
    table = out / "figures" / "table.csv"
    keys = {k: v for k, v in trials[0]["keys"].items()} if trials else {}
    varying = {k for t in trials for k, v in t["keys"].items() if v != keys.get(k)}
    config = ", ".join(f"{k} {v}" for k, v in keys.items() if k not in varying)
    command = _command(record)
    if study.analysis_trial:
        command += f"\nclassicnets analyze {shlex.quote(str(out / study.analysis_trial))}"
    return Section(
        title=study.title,
        intro=study.intro,
        command=command,
        anchor=sweep.name,
        present=True,
        figures=figures,
        table=_table(table) if table.is_file() else "",
        findings=study.findings(out, trials),
        config=f"Fixed in every trial: {config}."
        + (f" Varied: {', '.join(sorted(varying))}." if varying else ""),
    )


def build_report(roots: list[Path], out: Path) -> Path:
    """Write the report for the runs under `roots` to `out`; returns `out`."""
    found = collect(roots)
    sections = [section(sweep, study, found) for sweep, study in reported()]
    single = [
        (experiment, str(run), summary.get("status"), summary.get("best", {}))
        for experiment, runs in sorted(found.runs.items())
        for run, _, summary in runs
    ]
    page = render(
        sections=sections,
        single_runs=single,
        roots=[str(r) for r in roots],
        created=time.strftime("%Y-%m-%d %H:%M"),
        version=__version__,
    )
    atomic_write(out, page)
    return out
