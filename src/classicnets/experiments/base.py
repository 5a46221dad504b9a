"""Running an experiment into a run directory, and a sweep into a directory of runs."""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import torch

from classicnets import __version__, config
from classicnets.errors import UsageError
from classicnets.train.loop import Learner, LoopSettings, train
from classicnets.train.runs import CHECKPOINT, RunDir, check_out_dir, write_json

FINISHED = ("completed", "diverged", "early_stopped")  # statuses a resume leaves alone


class Built(NamedTuple):
    learner: Learner
    settings: LoopSettings
    data: Any  # what the learner was built on (plots of a restored run need it)


@dataclass(frozen=True)
class Experiment:
    name: str
    summary: str  # one line, for `classicnets list`
    config: type  # frozen dataclass of the experiment's keys
    # Checks what needs the data (e.g. batch_size against the split): raises UsageError.
    # build makes the same checks; validate is for checking many configs before any runs.
    validate: Callable[[Any], None]
    build: Callable[[Any, torch.device], Built]  # config, device -> learner, settings, data
    figures: Callable[[RunDir], list[Path]]  # draws a finished run's figures/ from its record
    # `classicnets analyze`: looks inside a trained model (run, layer) -> figures written
    analyze: Callable[[RunDir, int | None], list[Path]] | None = None
    # CPU threads for its ops (None: every core the process may use). Tiny sequential ops
    # (the toy MLP, the recurrent cells' steps) run faster on one thread: more only add
    # synchronisation, and on a busy machine OpenMP's waiting threads stall them badly
    # (measured: a T=30, 16-unit RNN took 7.1 s on 2 threads beside another job, 0.1 s on 1).
    threads: int | None = None


@dataclass(frozen=True)
class Sweep:
    name: str
    summary: str
    trials: tuple[tuple[str, str, dict[str, str]], ...]  # (trial name, experiment, keys it sets)
    figures: Callable[[Path, list[dict[str, Any]]], list[Path]]  # sweep dir, trial rows

    @property
    def experiments(self) -> tuple[str, ...]:
        """The experiments its trials run, in order of first appearance."""
        return tuple(dict.fromkeys(experiment for _, experiment, _ in self.trials))


def grid(experiment: str, name: str, **axes: tuple[Any, ...]) -> tuple:
    """Trials for every combination of the axes' values, named from the values in order:
    grid("cnn", "{optimizer}-lr{learning_rate}", optimizer=(...), learning_rate=(...))."""
    from itertools import product

    from classicnets.config import format_value

    trials = []
    for values in product(*axes.values()):
        keys = dict(zip(axes, values))
        trials.append(
            (name.format(**keys), experiment, {k: format_value(v) for k, v in keys.items()})
        )
    return tuple(trials)


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise UsageError("--device cuda: this machine has no usable CUDA GPU; use --device cpu")
    if name not in ("cpu", "cuda"):
        raise UsageError(f"--device {name!r}: expected auto, cpu or cuda")
    return torch.device(name)


def cpu_threads(experiment: Experiment) -> int:
    """The intra-op threads a run of `experiment` uses on a CPU."""
    if hasattr(os, "sched_getaffinity"):  # the cores this process may use (taskset, cgroups)
        cores = len(os.sched_getaffinity(0))
    else:
        cores = os.cpu_count() or 1
    return min(experiment.threads or cores, cores)


def git_commit() -> str | None:
    """The commit of the source this package runs from, "+dirty" with uncommitted changes;
    None outside a git checkout (an installed wheel) or without git."""
    here = Path(__file__).resolve().parent
    try:
        head = subprocess.run(
            ["git", "-C", str(here), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5
        )
        if head.returncode != 0:
            return None
        dirty = subprocess.run(
            ["git", "-C", str(here), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            timeout=5,
        ).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        return None
    return head.stdout.strip() + ("+dirty" if dirty else "")


def versions() -> dict[str, str | None]:
    import sklearn

    return {
        "classicnets": __version__,
        "git_commit": git_commit(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "torch": torch.__version__,
        "scikit-learn": sklearn.__version__,
    }


def _check_same_keys(run: RunDir, keys: dict[str, Any], what: str) -> None:
    saved = run.config()
    differing = [k for k, v in keys.items() if saved.get(k) != v]
    if differing:
        k = differing[0]
        raise UsageError(
            f"{what} '{run.path}' was run with --{k} {saved.get(k)!r}, not {keys[k]!r}; "
            "use the same keys to resume it, or choose another --out"
        )


def run_experiment(
    experiment: Experiment,
    cfg: Any,
    out: Path,
    device: str = "auto",
    resume: bool = False,
    progress: bool = True,
) -> dict[str, Any]:
    """Train one run into `out` (or continue it with resume) and draw its figures.

    Everything that can be wrong with the input is checked before the directory is made.
    """
    out = Path(out)
    check_out_dir(out, resume)
    torch_device = resolve_device(device)
    keys = config.to_dict(cfg)
    run = RunDir(out)
    if resume:
        _check_same_keys(run, keys, "--resume:")
        done = run.summary()
        if done and done["status"] in FINISHED:
            return done
    if torch_device.type == "cpu":  # set per run: a sweep runs different experiments
        torch.set_num_threads(cpu_threads(experiment))
    built = experiment.build(cfg, torch_device)  # checks the data: still nothing written
    if not resume:
        out.mkdir(parents=True, exist_ok=True)
        run.write_config(
            {
                "experiment": experiment.name,
                **keys,
                "device": str(torch_device),
                "threads": torch.get_num_threads(),
                "versions": versions(),
            }
        )
    summary = train(built.learner, built.settings, run, resume=resume, progress=progress)
    experiment.figures(run)
    return summary


def run_sweep(
    sweep: Sweep,
    experiments: dict[str, Experiment],
    overrides: dict[str, str],
    out: Path,
    device: str = "auto",
    progress: bool = True,
    on_trial: Callable[[str, dict[str, Any]], None] | None = None,
) -> dict[str, Any]:
    """Run every trial of `sweep` as a normal run in out/TRIAL, then sweep.json and figures.

    Running it again continues: finished trials are kept, unfinished ones resumed. Every
    trial's keys (and any earlier trial directory) are checked before anything runs.
    """
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out '{out}' is a file; pass a directory path (it is created)")
    set_by_trials = sorted({k for _, _, keys in sweep.trials for k in keys} & set(overrides))
    if set_by_trials:
        raise UsageError(f"--{set_by_trials[0]} is set by each trial of {sweep.name}; leave it out")
    resolve_device(device)
    own_keys = {e: {f.name for f in fields(experiments[e].config)} for e in sweep.experiments}
    unknown = sorted(set(overrides) - set().union(*own_keys.values()))
    if unknown:
        raise UsageError(f"unknown key --{unknown[0]} for sweep {sweep.name}; see its --help")
    plan = []
    for name, experiment_name, keys in sweep.trials:
        experiment = experiments[experiment_name]
        # A key reaches the trials whose experiment has it (mlp-vs-cnn: --width the cnn only).
        own = {k: v for k, v in overrides.items() if k in own_keys[experiment_name]}
        cfg = config.build(experiment.config, {**keys, **own})
        experiment.validate(cfg)
        run = RunDir(out / name)
        if run.file(CHECKPOINT).is_file():
            _check_same_keys(run, config.to_dict(cfg), f"trial {name} in")
        plan.append((name, experiment, cfg, run))
    rows = []
    for name, experiment, cfg, run in plan:
        resume = run.file(CHECKPOINT).is_file()
        if not resume and run.path.exists():  # stopped before its first checkpoint: start again
            shutil.rmtree(run.path)
        summary = run_experiment(experiment, cfg, run.path, device, resume, progress)
        row = {
            "trial": name,
            "dir": name,
            "experiment": experiment.name,
            "keys": config.to_dict(cfg),
            **summary,
        }
        rows.append(row)
        if on_trial:
            on_trial(name, row)
    record = {
        "sweep": sweep.name,
        "experiments": list(sweep.experiments),
        "overrides": overrides,
        "trials": rows,
    }
    write_json(out / "sweep.json", record)
    sweep.figures(out, rows)
    return record
