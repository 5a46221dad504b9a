"""`classicnets report`: one self-contained HTML file from run and sweep directories.

A section per study in the course's order. Each shows the figures the study already drew
(embedded as data: URIs, so the file needs no network and no other file), its table, the
exact configuration and the command that reproduces it, and what the numbers show
(findings.py). A study with no runs says which command makes them.
"""

from __future__ import annotations

import base64
import csv
import html
import io
import shlex
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from classicnets import __version__
from classicnets.report import findings
from classicnets.report.collect import Found, collect
from classicnets.report.template import render
from classicnets.train.runs import atomic_write


@dataclass(frozen=True)
class Study:
    """A report section made from one sweep's directory."""

    sweep: str
    title: str
    intro: str
    figures: tuple[tuple[str, str], ...]  # (file under figures/ or TRIAL/figures/, caption)
    findings: Callable[[Path, list[dict[str, Any]]], list[str]]
    analysis_trial: str | None = None  # a trial whose `analyze` figures belong here


STUDIES = (
    Study(
        "mlp-toy-compare",
        "MLP from scratch: NumPy beside PyTorch",
        "The same MLP (2 → 20 → 2, ReLU, cross-entropy, SGD) written by hand in NumPy and in "
        "PyTorch, started from the same weights and fed the same batches.",
        (
            ("data.png", "The three toy sets, train and test splits."),
            ("curves.png", "Accuracy and loss of both implementations, one row per data set."),
            ("boundaries.png", "Decision boundaries after training, with the test points."),
        ),
        findings.mlp_toy,
    ),
    Study(
        "mlp-vs-cnn",
        "Images: the MLP and the VGG-style CNN",
        "mlp-images (flattened pixels, dropout, batch norm, AdamW, early stopping on the "
        "validation split) and the VGG-style CNN trained on the same split of the same data.",
        (
            ("curves.png", "Accuracy and loss of both, train, validation and test."),
            ("cnn/figures/filters.png", "The CNN's first-layer filters."),
            ("cnn/figures/activation_stats.png", "Activations after each ReLU on a test batch."),
            ("cnn/figures/deconvnet.png", "Deconvnet: top activations projected to pixels."),
            ("cnn/figures/occlusion.png", "Occlusion: drop in the true class's probability."),
        ),
        findings.side_by_side,
        analysis_trial="cnn",
    ),
    Study(
        "cnn-optimizers",
        "CNN: optimizer and learning rate",
        "The VGG-style CNN under Adam, SGD and Adagrad at learning rates 1e-2 to 1e-6.",
        (("curves.png", "Curves per optimizer, a line per learning rate."),),
        findings.optimizers,
    ),
    Study(
        "rnn-lengths",
        "Sequences: memory against length",
        "Palindromes of T + 1 digits: read the first T, predict the last (= the first). The "
        "vanilla RNN, LSTM and GRU at T = 5 … 30.",
        (
            ("accuracy_vs_length.png", "Test accuracy against T, a line per cell."),
            ("gradient_flow.png", "Norm of ∂L/∂h_t against t, before and after training."),
            ("curves.png", "Validation accuracy over training, per length."),
        ),
        findings.lengths,
    ),
    Study(
        "rnn-images-grid",
        "Sequences: images read row by row",
        "Fashion-MNIST as 28 steps of 28 pixels: cell × learning rate × hidden size × optimizer.",
        (("curves.png", "Curves per cell, a line per configuration."),),
        findings.rnn_grid,
    ),
)


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


def section(study: Study, found: Found) -> Section:
    if study.sweep not in found.sweeps:
        return Section(
            study.title, study.intro, f"classicnets sweep {study.sweep}", study.sweep, False
        )
    out, record = found.sweeps[study.sweep]
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
        anchor=study.sweep,
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
    sections = [section(study, found) for study in STUDIES]
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
