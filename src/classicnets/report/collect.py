"""Finding what a report is made of: sweep directories (sweep.json) and single runs
(config.json and summary.json outside any sweep), under the directories given."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from classicnets.records import CONFIG, SUMMARY


@dataclass
class Found:
    sweeps: dict[str, tuple[Path, dict[str, Any]]] = field(default_factory=dict)  # by name
    runs: dict[str, list[tuple[Path, dict[str, Any], dict[str, Any]]]] = field(
        default_factory=dict
    )  # experiment -> [(dir, config, summary)]


def _read(path: Path) -> Any | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None  # unreadable or half-written: not part of the report


def collect(roots: list[Path]) -> Found:
    """Every finished sweep (the newest of each name) and every single run under `roots`."""
    found = Found()
    for root in roots:
        sweep_files = sorted(root.rglob("sweep.json"), key=lambda p: p.stat().st_mtime)
        sweep_dirs = set()
        for path in sweep_files:
            record = _read(path)
            if isinstance(record, dict) and "sweep" in record and "trials" in record:
                found.sweeps[record["sweep"]] = (path.parent, record)
                sweep_dirs.add(path.parent)
        for path in sorted(root.rglob(SUMMARY)):
            run = path.parent
            if run.parent in sweep_dirs or not (run / CONFIG).is_file():
                continue
            cfg, summary = _read(run / CONFIG), _read(path)
            if isinstance(cfg, dict) and isinstance(summary, dict) and "experiment" in cfg:
                found.runs.setdefault(cfg["experiment"], []).append((run, cfg, summary))
    return found
