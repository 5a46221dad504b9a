"""The registry is the one list: every sweep is reported, every trial's experiment exists,
every --search space names keys of its experiment, and the suites name real sweeps."""

from __future__ import annotations

from dataclasses import fields

from classicnets.experiments import EXPERIMENTS, STUDIES, SUITES, SWEEPS


def test_every_sweep_has_a_report_section_and_known_experiments():
    for sweep in SWEEPS.values():
        assert sweep.report is not None, f"{sweep.name} would never appear in the report"
        assert set(sweep.experiments) <= set(EXPERIMENTS), sweep.name


def test_search_spaces_name_keys_of_their_experiment():
    for sweep in SWEEPS.values():
        if not sweep.space:
            continue
        (experiment,) = sweep.experiments
        names = {f.name for f in fields(EXPERIMENTS[experiment].config)}
        assert {r.key for r in sweep.space} <= names, sweep.name


def test_suites_name_registered_sweeps_and_studies_register_once():
    for suite in SUITES.values():
        assert all(name in SWEEPS for name, _, _, _ in suite)
        assert all(seeds >= 3 for _, _, seeds, _ in suite)  # every study compares
    names = [e.name for e, _ in STUDIES]
    assert len(names) == len(set(names)) == len(EXPERIMENTS)
    assert "resnet" in EXPERIMENTS and "resnet-optimizers" in SWEEPS
