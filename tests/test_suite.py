"""The main job end to end: `classicnets run` (the quick suite) makes every study and the
report. About 10 minutes on 2 cores, so marked slow: `python3 -m pytest -m slow`."""

from __future__ import annotations

import pytest

from classicnets.experiments import SUITES, SWEEPS
from tests.conftest import read_json


@pytest.mark.slow
def test_quick_suite_runs_every_study_and_writes_the_report(cli):
    code, out, err = cli("run", "--quiet")
    assert code == 0, err
    suite = cli.cwd / "runs" / "suite-quick"
    for sweep, _, seeds, _ in SUITES["quick"]:
        trials = read_json(suite / sweep / "sweep.json")["trials"]
        assert len(trials) == len(SWEEPS[sweep].trials) * seeds  # every seed of each
        assert trials and all(t["status"] in ("completed", "early_stopped") for t in trials)
    assert out.splitlines()[-1] == "report: runs/suite-quick/report.html"
    assert (suite / "report.html").stat().st_size > 500_000  # every figure embedded
    # a second run finds everything finished and only rebuilds the report
    code, out, _ = cli("run", "--quiet")
    assert code == 0 and out.splitlines()[-1].startswith("report: ")
