"""The package's layers: the import-linter contract holds, the record readers stay free of
torch, and the report's sections come from the registry, every reported sweep in its order."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from classicnets.experiments import SWEEPS

ROOT = Path(__file__).resolve().parents[1]


def _lint_imports() -> str | None:
    """The lint-imports beside this interpreter (a pyenv shim elsewhere may be another's)."""
    beside = Path(sys.executable).parent / "lint-imports"
    return str(beside) if beside.is_file() else shutil.which("lint-imports")


def test_the_import_layers_contract_is_kept():
    executable = _lint_imports()
    if executable is None:
        pytest.skip("lint-imports is not installed (pip install import-linter)")
    done = subprocess.run(
        [executable], cwd=ROOT, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "1 kept, 0 broken" in done.stdout


def test_reading_records_imports_no_torch():
    """records/ reads without torch (plots and scripts read JSON). The report's collector
    checks each trial's keys against the registry's experiments, which import torch: that
    is the report layer's choice, above experiments, and not asserted here."""
    code = (
        "import sys; import classicnets.records, classicnets.records.schema; "
        "print(sorted(m for m in sys.modules if m == 'torch' or m.startswith('torch.')))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_the_report_has_a_section_for_every_reported_sweep_in_registry_order(cli):
    (cli.cwd / "empty").mkdir()
    code, out, err = cli("report", "empty", "--out", "r.html")
    assert code == 0, err
    assert out == "report: r.html\n"
    page = (cli.cwd / "r.html").read_text()
    sections = re.findall(r'<section id="([^"]+)" class="study">', page)
    expected = [name for name, sweep in SWEEPS.items() if sweep.report is not None]
    assert "resnet-optimizers" in expected  # the newest study reports too
    assert sections == expected
    for name in expected:  # each empty section says which command makes it
        assert f"classicnets sweep {name}" in page
