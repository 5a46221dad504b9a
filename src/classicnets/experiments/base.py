"""Running an experiment into a run directory, and a sweep into a directory of runs."""

from __future__ import annotations

import os
import platform
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import torch

from classicnets import __version__, config
from classicnets.errors import UsageError
from classicnets.train import distributed
from classicnets.train.distributed import Ranks
from classicnets.train.loop import Learner, LoopSettings, train
from classicnets.train.runs import RunDir, check_out_dir

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
class Range:
    """One key that `sweep --search N` draws for each trial (Optuna's TPE chooses where)."""

    key: str  # the experiment's key
    low: float = 0.0  # numbers: the smallest value drawn
    high: float = 0.0  # numbers: the largest value drawn
    log: bool = False  # numbers: draw uniformly in log space (learning rates, sizes)
    integer: bool = False  # numbers: whole numbers only
    choices: tuple[str, ...] = ()  # a categorical key: its values as the command line spells them


@dataclass(frozen=True)
class Sweep:
    name: str
    summary: str
    trials: tuple[tuple[str, str, dict[str, str]], ...]  # (trial name, experiment, keys it sets)
    figures: Callable[[Path, list[dict[str, Any]]], list[Path]]  # sweep dir, trial rows
    # What `--search N` draws from, for a sweep of one experiment; () = grid only.
    space: tuple[Range, ...] = ()

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


def cpu_cores() -> int:
    """The cores this process may use (taskset, cgroups), where the system says."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def cpu_threads(experiment: Experiment, share: int = 1) -> int:
    """The intra-op threads a run of `experiment` uses on a CPU, when `share` processes (the
    ranks torchrun starts on this machine) divide the cores between them."""
    cores = cpu_cores()
    return min(experiment.threads or cores, max(1, cores // share))


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
    max_threads: int | None = None,
    ranks: Ranks | None = None,
    figures: bool = True,
) -> dict[str, Any]:
    """Train one run into `out` (or continue it with resume) and draw its figures (not for
    a sweep's trials: the sweep draws theirs together, and a run's take seconds).
    max_threads caps its CPU threads (a sweep's workers share the cores). ranks: this
    process's place among torchrun's, training the run data-parallel (rank 0 writes it).

    Everything that can be wrong with the input is checked before the directory is made.
    """
    out = Path(out)
    check_out_dir(out, resume)
    torch_device = resolve_device(device)
    if ranks is not None:
        torch_device = distributed.rank_device(ranks, torch_device)
    keys = config.to_dict(cfg)
    run = RunDir(out)
    if resume:
        _check_same_keys(run, keys, "--resume:")
        done = run.summary()
        if done and done["status"] in FINISHED:
            if figures and (ranks is None or ranks.lead):  # again: a kill may have cut them
                run.remove_temporaries()  # a figure's, if the kill came mid-write
                experiment.figures(run)
            return done
    if torch_device.type == "cpu":  # set per run: a sweep runs different experiments
        share = ranks.local_world_size if ranks else 1
        torch.set_num_threads(
            min(cpu_threads(experiment, share), max_threads or cpu_cores())
        )
    built = experiment.build(cfg, torch_device)  # checks the data: still nothing written
    if ranks is not None and not hasattr(built.learner, "distribute"):
        distributed.refuse(ranks, experiment.name, "train it as one process, without torchrun")
    with distributed.process_group(ranks, torch_device):  # waits for every rank's checks
        if ranks is not None:
            built.learner.distribute(ranks)
        lead = ranks is None or ranks.lead  # the one process that writes the run record
        if lead and not resume:
            out.mkdir(parents=True, exist_ok=True)
            run.write_config(
                {
                    "experiment": experiment.name,
                    **keys,
                    "device": str(torch_device),
                    "threads": torch.get_num_threads(),  # per rank
                    "world_size": ranks.world_size if ranks else 1,  # processes training it
                    "versions": versions(),
                }
            )
        summary = train(
            built.learner, built.settings, run, resume=resume, progress=progress, ranks=ranks
        )
        if lead and figures:
            experiment.figures(run)
    return summary
