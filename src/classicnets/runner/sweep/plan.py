"""A sweep's plan: every trial's keys, checked before any trial starts, as plain data that
crosses to a worker process.

Everything that can be wrong with the input is found here: keys, split sizes, devices, and
a trial directory run with other keys. The data sets themselves are not read.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from classicnets import config
from classicnets.errors import UsageError
from classicnets.experiments import EXPERIMENTS, SWEEPS, Experiment, Sweep
from classicnets.experiments.keys import SEED_MAX
from classicnets.experiments.spec import Range
from classicnets.records import CHECKPOINT, RunDir
from classicnets.runner.run import check_same_keys

SEARCH_DIR = re.compile(r"search-\d{4,}")  # the run directories --search names
MAX_SEEDS = 1000  # seeds per configuration: more is a typo, not a study
SEED_SUFFIX = "-seed{seed}"  # --seeds N > 1: a configuration's run for one seed (findings.py)


def search_dir(number: int) -> str:
    """The run directory of search trial `number` (SEARCH_DIR matches every one)."""
    return f"search-{number:04d}"


def seed_dir(name: str, seed: int) -> str:
    """The run directory of grid point `name` trained with `seed` (--seeds N > 1)."""
    return name + SEED_SUFFIX.format(seed=seed)


@dataclass(frozen=True)
class Plan:
    """What a worker needs to take trials: plain data, so it crosses to a spawned process."""

    sweep: str  # the sweep's name
    study: str  # the Optuna study's name in the storage
    storage: str  # the storage URL, as SQLAlchemy reads it
    out: str  # the sweep directory: one run directory per trial in it
    trials: tuple[tuple[str, str, dict[str, str]], ...]  # grid: (name, experiment, its keys)
    experiment: str = ""  # search: the experiment every trial runs
    base: tuple[tuple[str, str], ...] = ()  # search: the keys given on the command line
    space: tuple[Range, ...] = ()  # search: the ranges TPE draws from
    search: int = 0  # search: trials wanted in all; 0 = a grid sweep
    prune: bool = False  # search: stop a trial whose validation accuracy trails the median
    device: str = "auto"
    threads: int = 1  # CPU threads for each trial: the cores / the workers
    progress: bool = True  # progress bars (one worker only)
    seed: int = 0  # the sampler's seed (TPE: + the worker's number)
    seeds: int = 1  # each configuration trained with seeds seed .. seed + seeds - 1


def key_names(experiment: Experiment) -> set[str]:
    return {f.name for f in fields(experiment.config)}


def check_keys(sweep: Sweep, overrides: dict[str, str], search: int) -> None:
    """Keys given to a sweep: known to one of its experiments, and not set by its trials."""
    if search:
        drawn = {r.key for r in sweep.space}
        fixed = sorted(drawn & set(overrides))
        if fixed:
            raise UsageError(f"--{fixed[0]} is drawn by --search in {sweep.name}; leave it out")
    else:
        fixed = sorted({k for _, _, keys in sweep.trials for k in keys} & set(overrides))
        if fixed:
            raise UsageError(f"--{fixed[0]} is set by each trial of {sweep.name}; leave it out")
    known = set().union(*(key_names(EXPERIMENTS[e]) for e in sweep.experiments))
    unknown = sorted(set(overrides) - known)
    if unknown:
        raise UsageError(f"unknown key --{unknown[0]} for sweep {sweep.name}; see its --help")


def check_seed_count(seeds: int) -> None:
    """--seeds N: a number from 1 to MAX_SEEDS."""
    if not 1 <= seeds <= MAX_SEEDS:
        raise UsageError(
            f"--seeds {seeds}: expected a number of seeds, 1 or more (at most {MAX_SEEDS})"
        )


def check_seeds(sweep: Sweep, seeds: int, search: int) -> None:
    """--seeds N: a number from 1, for a grid whose trials leave the seed to it."""
    check_seed_count(seeds)
    if seeds > 1 and search:
        raise UsageError(
            f"--seeds {seeds} with --search: TPE scores each drawn configuration by one run; "
            "leave out --seeds, or train the configuration it finds with --seeds"
        )
    if seeds > 1 and any("seed" in keys for _, _, keys in sweep.trials):
        raise UsageError(f"--seeds {seeds}: the trials of {sweep.name} set their own seeds")


def seeded(
    trials: tuple[tuple[str, str, dict[str, str]], ...], overrides: dict[str, str], seeds: int
) -> tuple[tuple[str, str, dict[str, str]], ...]:
    """Each grid point as `seeds` trials, seeds seed .. seed + seeds - 1 (seed: --seed, else
    the experiment's default), named NAME-seedS; with one seed, the grid point unchanged."""
    if seeds == 1:
        return trials
    expanded = []
    for name, experiment_name, keys in trials:
        cls = EXPERIMENTS[experiment_name].config
        default = next((f.default for f in fields(cls) if f.name == "seed"), None)
        if default is None:
            raise UsageError(f"--seeds {seeds}: {experiment_name} has no --seed to vary")
        given = overrides.get("seed")
        first = default if given is None else config.parse_value(cls, "seed", given)
        if first + seeds - 1 > SEED_MAX:
            raise UsageError(
                f"--seeds {seeds} from seed {first}: the last, {first + seeds - 1}, is above "
                f"{SEED_MAX}; give a lower --seed"
            )
        for seed in range(first, first + seeds):
            expanded.append((seed_dir(name, seed), experiment_name, {**keys, "seed": str(seed)}))
    return tuple(expanded)


def grid_trials(
    sweep: Sweep, overrides: dict[str, str], out: Path, seeds: int = 1
) -> tuple[tuple[str, str, dict[str, str]], ...]:
    """Every trial's keys, validated, and checked against an earlier run in out."""
    trials = []
    for name, experiment_name, keys in seeded(sweep.trials, overrides, seeds):
        experiment = EXPERIMENTS[experiment_name]
        # A key reaches the trials whose experiment has it (mlp-vs-cnn: --width the cnn only);
        # the trial's own keys (its seed among them, with --seeds) win.
        own = {k: v for k, v in overrides.items() if k in key_names(experiment) and k not in keys}
        cfg = config.build(experiment.config, {**keys, **own})
        experiment.validate(cfg)
        run = RunDir(out / name)
        if run.file(CHECKPOINT).is_file():
            check_same_keys(run, experiment.name, config.to_dict(cfg), f"trial {name} in")
        trials.append((name, experiment_name, {**keys, **own}))
    return tuple(trials)


def search_experiment(sweep: Sweep, overrides: dict[str, str]) -> Experiment:
    """The experiment a --search draws trials of, its keys checked with the ranges' lowest
    values (what every drawn trial shares)."""
    if not sweep.space:
        able = ", ".join(s.name for s in SWEEPS.values() if s.space)
        raise UsageError(f"sweep {sweep.name} declares no ranges for --search; use one of {able}")
    (name,) = sweep.experiments
    experiment = EXPERIMENTS[name]
    probe = {
        r.key: r.choices[0]
        if r.choices
        else config.format_value(int(r.low) if r.integer else r.low)
        for r in sweep.space
    }
    cfg = config.build(experiment.config, {**overrides, **probe})
    experiment.validate(cfg)
    if getattr(cfg, "val_size", 1) <= 0:
        raise UsageError(
            "--val_size 0: --search scores trials on the validation split; give it a fraction, "
            "e.g. --val_size 0.1"
        )
    return experiment


def study_name(sweep: Sweep, overrides: dict[str, str], search: int, seeds: int = 1) -> str:
    """The study's name in the storage: the sweep and the keys given, so the same command on
    another machine joins it, and other keys make another study (rnn-lengths:train_steps=300);
    --seeds N > 1 is one of them (rnn-lengths:seeds=3,train_steps=300)."""
    name = sweep.name + ("-search" if search else "")
    given = {**overrides, **({"seeds": str(seeds)} if seeds > 1 else {})}
    keys = ",".join(f"{k}={v}" for k, v in sorted(given.items()))
    return f"{name}:{keys}" if keys else name


def identity(plan: Plan, overrides: dict[str, str]) -> dict[str, Any]:
    """What makes a study this sweep's: a study of the same name with another identity is
    refused rather than continued."""
    return {
        "sweep": plan.sweep,
        "overrides": overrides,
        "search_space": [r.key for r in plan.space] if plan.search else None,
        "seeds": plan.seeds,
    }
