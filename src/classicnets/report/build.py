"""`classicnets report`: one self-contained HTML file from run and sweep directories (or,
with --format markdown, the same sections as text: markdown.py; both from gather()).

A section per reported sweep, in the registry's order (experiments/__init__.py); each sweep
declares its own section (experiments/spec.py, ReportSection). Each shows the figures the
study already drew (embedded as data: URIs, so the file needs no network and no other file),
its table, the exact configuration and the command that reproduces it, and what the numbers
show (the section's findings). A study with no runs says which command makes them.

A figure or table is read only where it is a regular file inside its sweep directory,
reached through no link: any other is left out, its caption saying why. The records
themselves are read through their schemas (collect.py): a damaged one refuses the report.
"""

from __future__ import annotations

import base64
import csv
import io
import os
import shlex
import stat
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from classicnets.data.registry import title
from classicnets.experiments import claims, reported
from classicnets.experiments.spec import ReportSection, Sweep
from classicnets.experiments.tables import config_name
from classicnets.records import atomic_write, choosing_split, chosen_accuracy, test_at_chosen
from classicnets.report.collect import Found, collect
from classicnets.report.errors import error_figures
from classicnets.report.markdown import markdown
from classicnets.report.summary import summary_line
from classicnets.report.template import render
from classicnets.version import __version__

PNG = b"\x89PNG\r\n\x1a\n"  # the first bytes of every PNG file


def _inside(path: Path, sweep: Path) -> bytes | str:
    """The bytes of a file the sweep drew, or why they are not read: a figure is embedded
    only if it is a regular file inside the sweep directory, reached through no link (a
    link, or a folder that leads out, could make the page carry any file of the machine)."""
    if path.is_symlink():
        return "it is a link"
    real, top = os.path.realpath(path), os.path.realpath(sweep)
    if os.path.commonpath([real, top]) != top:
        return "it lies outside the sweep directory"
    try:  # no link followed, no FIFO waited on, even if the file changed since the check
        fd = os.open(real, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as error:
        return f"it cannot be read ({error.strerror})"
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        return "it is not a regular file"
    with os.fdopen(fd, "rb") as f:
        return f.read()


def _figure(path: Path, sweep: Path, caption: str) -> tuple[str, str]:
    """(data URI, caption) for the page; ("", caption saying why) for a figure not shown."""
    data = _inside(path, sweep)
    if isinstance(data, bytes) and not data.startswith(PNG):
        data = "it is not a PNG image"
    if isinstance(data, str):
        return "", f"{caption} (figure not shown: {data})"
    return "data:image/png;base64," + base64.b64encode(data).decode(), caption


def _cell(text: str, column: str = "") -> str:
    """A table.csv cell as the report shows it: numbers rounded as in table.md (seconds to a
    tenth), "—" for none."""
    try:
        value = float(text)
    except ValueError:
        return text or "—"
    if "time" in column and "(s)" in column:  # a wall time: 0.4, not 0.4000
        return f"{value:,.1f}"
    if 0 < abs(value) < 1e-3:  # learning rates such as 1e-6: never round them to 0
        return f"{value:g}"
    if value.is_integer() and abs(value) >= 1:
        return f"{int(value):,}"
    return f"{value:.4f}" if abs(value) <= 1 else f"{value:,.1f}"


def _table(path: Path, sweep: Path) -> tuple[list[list[str]], str]:
    """A table.csv's rows (the header first), each cell as shown; read as a figure is.
    ([], why) where it is not shown; ([], "") where it is empty."""
    data = _inside(path, sweep)
    if isinstance(data, bytes):
        try:
            rows = list(csv.reader(io.StringIO(data.decode())))
        except (UnicodeDecodeError, csv.Error):
            data = "it is not CSV text"
    if isinstance(data, str):
        return [], f"{path.name} not shown: {data}"
    return [
        rows[0],
        *([_cell(c, h) for c, h in zip(row, rows[0] + [""] * len(row))] for row in rows[1:]),
    ] if rows else [], ""


def _command(record: dict[str, Any]) -> str:
    words = ["classicnets", "sweep", record["sweep"]]
    for key, value in record.get("overrides", {}).items():
        words += [f"--{key}", str(value)]
    if record.get("seeds", 1) > 1:
        words += ["--seeds", str(record["seeds"])]
    return shlex.join(words)


def _analysed(trials: list[dict[str, Any]], name: str | None) -> str | None:
    """The run directory of the trial a section analyses: with several seeds, its first."""
    return next((str(t["dir"]) for t in trials if config_name(t) == name), name)


@dataclass
class Section:
    title: str
    intro: str
    command: str
    anchor: str
    present: bool
    figures: list[tuple[str, str]] = field(default_factory=list)  # (data URI or "", caption)
    table: list[list[str]] = field(default_factory=list)  # table.csv: the header, then rows
    table_note: str = ""  # why table.csv is not shown, where it is not
    findings: list[str] = field(default_factory=list)
    config: str = ""
    data: str = ""  # the data set(s) its trials read, as their configs name them


def data_used(trials: list[dict[str, Any]]) -> str:
    """The data sets the trials read (their resolved keys), named for a reader; "" where the
    experiment has no dataset key (the palindromes, which the intro names)."""
    names = dict.fromkeys(str(t["keys"]["dataset"]) for t in trials if "dataset" in t["keys"])
    return ", ".join(title(n) for n in names)


def varies_rate(sweep: Sweep) -> str | None:
    """The experiment of a sweep of one experiment that varies the learning rate (grid or
    --search): where a range test of that experiment belongs. None for any other sweep."""
    rates = any("learning_rate" in keys for _, _, keys in sweep.trials) or any(
        r.key == "learning_rate" for r in sweep.space
    )
    return sweep.experiments[0] if rates and len(sweep.experiments) == 1 else None


def lr_find_figures(sweep: Sweep, found: Found) -> list[tuple[str, str]]:
    """The range tests (`classicnets lr-find`) of the sweep's experiment, found under the
    report's directories (the sweep's own included), beside the sweep's learning rates."""
    figures = []
    for folder, record in found.lr_finds:
        if record["experiment"] != varies_rate(sweep):
            continue
        keys = record["keys"]
        what = f"{record['experiment']} with {keys.get('optimizer', '?')}"
        what += f" on {title(str(keys['dataset']))}" if "dataset" in keys else ""
        if record["suggested"] is None:
            said = "the loss did not fall: no rate suggested"
        else:
            said = (
                f"suggested rate {record['suggested']:.2g}, the steepest descent of the "
                f"smoothed loss (minimum / 10: {record['minimum_over_10']:.2g})"
            )
        caption = (
            f"Learning-rate range test ({shlex.quote(str(folder))}), {what}: training loss "
            f"as the rate grows step by step; {said}. Training split only."
        )
        figures.append(_figure(folder / "lr_find.png", folder, caption))
    return figures


def section(sweep: Sweep, study: ReportSection, found: Found) -> Section:
    if sweep.name not in found.sweeps:
        return Section(
            study.title, study.intro, f"classicnets sweep {sweep.name}", sweep.name, False
        )
    out, record = found.sweeps[sweep.name]
    trials = record["trials"]
    figures = []
    analysed = _analysed(trials, study.analysis_trial)
    for name, caption in study.figures:
        if analysed and name.startswith(f"{study.analysis_trial}/"):  # the trial's own figures
            name = analysed + name[len(study.analysis_trial) :]
        path = out / "figures" / name if "/" not in name else out / name
        if os.path.lexists(path):  # absent: not drawn (a trial unfinished): nothing to say
            figures.append(_figure(path, out, caption))
    for path, caption in error_figures(out, trials, analysed):
        figures.append(_figure(path, out, caption))
    figures += lr_find_figures(sweep, found)
    table = out / "figures" / "table.csv"
    rows, note = _table(table, out) if os.path.lexists(table) else ([], "")
    keys = {k: v for k, v in trials[0]["keys"].items()} if trials else {}
    varying = {k for t in trials for k, v in t["keys"].items() if v != keys.get(k)}
    config = ", ".join(f"{k} {v}" for k, v in keys.items() if k not in varying)
    command = _command(record)
    if analysed:
        command += f"\nclassicnets analyze {shlex.quote(str(out / analysed))}"
    return Section(
        title=study.title,
        intro=study.intro,
        command=command,
        anchor=sweep.name,
        present=True,
        figures=figures,
        table=rows,
        table_note=note,
        findings=sweep.findings(out, trials),  # the study's, then against its reference
        data=data_used(trials),
        config=f"Fixed in every trial: {config}."
        + (f" Varied: {', '.join(sorted(varying))}." if varying else ""),
    )


def gather(roots: list[Path]) -> dict[str, Any]:
    """Everything the report shows for the runs under `roots`, by the names the renderers
    take (template.py for the page, markdown.py for the text): read once, for either."""
    found = collect(roots)
    studies = reported()
    sections = [section(sweep, study, found) for sweep, study in studies]
    summary = [  # from the sections' own trials and findings (report/summary.py)
        summary_line(
            s.title,
            s.anchor,
            found.sweeps[sweep.name][1]["trials"] if s.present else None,
            s.findings,
        )
        for (sweep, _), s in zip(studies, sections)
    ]
    single = [  # every run, with or without a validation split: the split that chose says
        (
            experiment,
            str(run),
            title(str(cfg["dataset"])) if "dataset" in cfg else "—",  # palindromes: none
            summary["status"],
            choosing_split(summary.get("best") or {}),
            chosen_accuracy(summary),
            test_at_chosen(summary),
        )
        for experiment, runs in sorted(found.runs.items())
        for run, cfg, summary in runs
    ]
    checked = claims.rows({name: record["trials"] for name, (_, record) in found.sweeps.items()})
    return {
        "sections": sections,
        "summary": summary,
        "single_runs": single,
        "unfinished": [str(p) for p in found.unfinished],
        "claims": checked,
        "claims_rule": claims.RULES,
        "roots": [str(r) for r in roots],
        "version": __version__,
    }


def report_text(roots: list[Path], form: str = "html") -> str:
    """The report for the runs under `roots`: the HTML page, or ("markdown") the sections,
    their tables and findings and the claims as markdown. A damaged record raises first."""
    report = gather(roots)
    if form == "markdown":
        return markdown(**report)
    return render(**report, created=time.strftime("%Y-%m-%d %H:%M"))


def build_report(roots: list[Path], out: Path) -> Path:
    """Write the HTML report for the runs under `roots` to `out`; returns `out`."""
    atomic_write(out, report_text(roots))
    return out
