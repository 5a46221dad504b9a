"""The registry of experiments (one run each) and sweeps (many runs and a comparison).

Each experiment is one commented config dataclass plus how to build its learner and draw its
figures; each sweep names an experiment and its trials. Adding a study means adding a module
here and a line to EXPERIMENTS or SWEEPS.
"""

from __future__ import annotations

from classicnets.errors import UsageError
from classicnets.experiments import mlp_toy
from classicnets.experiments.base import Experiment, Sweep

EXPERIMENTS: dict[str, Experiment] = {e.name: e for e in [mlp_toy.EXPERIMENT]}
SWEEPS: dict[str, Sweep] = {s.name: s for s in [mlp_toy.COMPARE]}
# `classicnets run --suite NAME`: the sweeps it runs, in order. Later studies add themselves.
SUITES: dict[str, tuple[str, ...]] = {
    "quick": ("mlp-toy-compare",),
    "full": ("mlp-toy-compare",),
}


def experiment(name: str) -> Experiment:
    if name not in EXPERIMENTS:
        raise UsageError(f"unknown experiment {name!r}; 'classicnets list' names them")
    return EXPERIMENTS[name]


__all__ = ["EXPERIMENTS", "SUITES", "SWEEPS", "Experiment", "Sweep", "experiment"]
