"""Running an experiment into a run directory, restoring a finished one, and looking inside.

Everything that can be wrong with the input is checked before the directory is made.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import torch

from classicnets import config
from classicnets.errors import UsageError, shown
from classicnets.experiments import EXPERIMENTS, Experiment
from classicnets.experiments.spec import Built
from classicnets.records import CHECKPOINT, CONFIG, FINISHED, RunDir
from classicnets.records.lock import LOCK, Held, hold
from classicnets.runner.devices import cpu_cores, cpu_threads, resolve_device, versions
from classicnets.runner.outdir import check_out_contents, check_out_path
from classicnets.train import distributed
from classicnets.train.distributed import Ranks
from classicnets.train.loop import OnEvaluation, go_on, train


def check_same_keys(run: RunDir, experiment: str, keys: dict[str, Any], what: str) -> None:
    """Refuse to continue `run` as another experiment, or with keys other than those it was
    started with. Its config.json is checked as flags are first: a tampered value is one
    line naming the file and the key, not a difference to explain."""
    saved = run.config()
    was = saved.get("experiment", experiment) if isinstance(saved, dict) else None
    if was != experiment:
        name = shown(str(was))
        raise UsageError(
            f"{what} '{run.path}' is a {name} run, not {experiment}; continue it with "
            f"classicnets train {name} --resume, or choose another --out"
        )
    if experiment in EXPERIMENTS:
        config.from_dict(EXPERIMENTS[experiment].config, saved, str(run.file(CONFIG)))
    differing = [k for k, v in keys.items() if saved.get(k) != v]
    if differing:
        k = differing[0]
        raise UsageError(
            f"{what} '{run.path}' was run with --{k} {saved.get(k)!r}, not {keys[k]!r}; "
            "use the same keys to resume it, or choose another --out"
        )


@contextmanager
def writing(out: Path, lead: bool = True) -> Iterator[None]:
    """Within: this process is the one writer of run directory `out` (RUN_DIR/.lock), from
    before anything is read until the last figure; another refused in one line. Under
    torchrun rank 0 (lead) holds it for every rank. A directory made for the lock is removed
    again when the run is refused before it wrote anything (nothing half-written)."""
    if not lead:
        yield
        return
    made = [p for p in (out, *out.parents) if not os.path.lexists(p)]
    out.mkdir(parents=True, exist_ok=True)
    try:
        with ExitStack() as held:
            try:
                held.enter_context(hold(out / LOCK))
            except Held as other:
                raise UsageError(
                    f"--out '{out}' is being written by another classicnets process "
                    f"({other.holder}); wait for it to finish, or choose another --out"
                ) from None
            yield
    finally:
        for folder in made:  # innermost first; one that holds anything stays
            try:
                folder.rmdir()
            except OSError:
                break


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
    on_evaluation: OnEvaluation = go_on,
) -> dict[str, Any]:
    """Train one run into `out` (or continue it with resume) and draw its figures (not for
    a sweep's trials: the sweep draws theirs together, and a run's take seconds).
    max_threads caps its CPU threads (a sweep's workers share the cores). ranks: this
    process's place among torchrun's, training the run data-parallel (rank 0 writes it).
    on_evaluation: the loop's hook (a sweep's pruner), train/loop.py.
    """
    out = Path(out)
    check_out_path(out)
    lead = ranks is None or ranks.lead  # the one process that writes the run record
    with writing(out, lead):  # what it holds is read holding the lock: it cannot change
        check_out_contents(out, resume)
        return _run(
            experiment, cfg, out, device, resume, progress, max_threads, ranks, figures,
            on_evaluation,
        )  # fmt: skip


def _run(
    experiment: Experiment,
    cfg: Any,
    out: Path,
    device: str,
    resume: bool,
    progress: bool,
    max_threads: int | None,
    ranks: Ranks | None,
    figures: bool,
    on_evaluation: OnEvaluation = go_on,
) -> dict[str, Any]:
    torch_device = resolve_device(device)
    if ranks is not None:
        torch_device = distributed.rank_device(ranks, torch_device)
    keys = config.to_dict(cfg)
    run = RunDir(out)
    lead = ranks is None or ranks.lead
    if resume:
        check_same_keys(run, experiment.name, keys, "--resume:")
        done = run.summary()
        if done and done["status"] in FINISHED:
            if figures and lead:  # again: a kill may have cut them
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
            built.learner,
            built.settings,
            run,
            resume=resume,
            progress=progress,
            ranks=ranks,
            hparams={"experiment": experiment.name, **keys},
            on_evaluation=on_evaluation,
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


def restore(run_dir: Path, weights: str = "best") -> tuple[Experiment, Any, Built]:
    """A finished run's experiment, config and learner, on the CPU: with the chosen weights
    (best.pt), or the last checkpointed ones (weights="last", or where none were chosen);
    Built.weights says which."""
    run = _checkpointed(run_dir)
    experiment = _experiment_of(run)
    cfg, built = experiment.restore(run, weights=weights)
    return experiment, cfg, built


def analyze(
    run_dir: Path, layer: int | None, say: Callable[[str], None], weights: str = "best"
) -> list[Path]:
    """`classicnets analyze`: the experiment's look inside a restored run, into figures/,
    with the chosen weights (or the last: `weights`); says which in one line first."""
    run = _checkpointed(run_dir)
    name = run.config().get("experiment")
    experiment = EXPERIMENTS.get(name)
    if experiment is None or experiment.analyze is None:
        able = ", ".join(e.name for e in EXPERIMENTS.values() if e.analyze)
        raise UsageError(f"'{run_dir}' is a {name} run; analyze looks inside {able} runs")
    if layer is not None and layer < 1:
        raise UsageError(f"--layer {layer}: expected a conv layer number from 1")
    cfg, built = experiment.restore(run, weights=weights)
    say(built.weights.sentence(run.path))
    return experiment.analyze(cfg, built, run.figures, layer, say)
