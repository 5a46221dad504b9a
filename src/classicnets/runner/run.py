"""Running an experiment into a run directory, restoring a finished one, and looking inside.

Everything that can be wrong with the input is checked before the directory is made.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from classicnets import config
from classicnets.errors import UsageError
from classicnets.experiments import EXPERIMENTS, Experiment
from classicnets.experiments.spec import Built
from classicnets.records import CHECKPOINT, CONFIG, RunDir
from classicnets.runner.devices import cpu_cores, cpu_threads, resolve_device, versions
from classicnets.runner.outdir import check_out_dir
from classicnets.train import distributed
from classicnets.train.distributed import Ranks
from classicnets.train.loop import train

FINISHED = ("completed", "diverged", "early_stopped")  # statuses a resume leaves alone


def check_same_keys(run: RunDir, keys: dict[str, Any], what: str) -> None:
    """Refuse to continue `run` with keys other than those it was started with."""
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
    """
    out = Path(out)
    check_out_dir(out, resume)
    torch_device = resolve_device(device)
    if ranks is not None:
        torch_device = distributed.rank_device(ranks, torch_device)
    keys = config.to_dict(cfg)
    run = RunDir(out)
    if resume:
        check_same_keys(run, keys, "--resume:")
        done = run.summary()
        if done and done["status"] in FINISHED:
            if figures and (ranks is None or ranks.lead):  # again: a kill may have cut them
                run.remove_temporaries()  # a figure's, if the kill came mid-write
                experiment.figures(run)
            return done
    if torch_device.type == "cpu":  # set per run: a sweep runs different experiments
        share = ranks.local_world_size if ranks else 1
        torch.set_num_threads(min(cpu_threads(experiment, share), max_threads or cpu_cores()))
    if ranks is not None and not experiment.data_parallel:
        distributed.refuse(ranks, experiment.name, "train it as one process, without torchrun")
    built = experiment.build(cfg, torch_device)  # checks the data: still nothing written
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


def _checkpointed(run_dir: Path) -> RunDir:
    run = RunDir(run_dir)
    if not run.file(CONFIG).is_file() or not run.file(CHECKPOINT).is_file():
        raise UsageError(
            f"'{run_dir}' holds no config.json and checkpoint.pt; pass the --out of a finished run"
        )
    return run


def _experiment_of(run: RunDir) -> Experiment:
    name = run.config().get("experiment")
    if name not in EXPERIMENTS:
        raise UsageError(f"'{run.path}': config.json names no experiment of classicnets ({name!r})")
    return EXPERIMENTS[name]


def restore(run_dir: Path) -> tuple[Experiment, Any, Built]:
    """A finished run's experiment, config and learner (last checkpointed weights, CPU)."""
    run = _checkpointed(run_dir)
    experiment = _experiment_of(run)
    cfg, built = experiment.restore(run)
    return experiment, cfg, built


def analyze(run_dir: Path, layer: int | None, say: Callable[[str], None]) -> list[Path]:
    """`classicnets analyze`: the experiment's look inside a restored run, into figures/."""
    run = _checkpointed(run_dir)
    name = run.config().get("experiment")
    experiment = EXPERIMENTS.get(name)
    if experiment is None or experiment.analyze is None:
        able = ", ".join(e.name for e in EXPERIMENTS.values() if e.analyze)
        raise UsageError(f"'{run_dir}' is a {name} run; analyze looks inside {able} runs")
    if layer is not None and layer < 1:
        raise UsageError(f"--layer {layer}: expected a conv layer number from 1")
    cfg, built = experiment.restore(run)
    return experiment.analyze(cfg, built, run.figures, layer, say)
