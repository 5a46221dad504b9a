"""Running a sweep: check every trial's keys (plan.py), set up the Optuna study (study.py),
start the workers (workers.py), then write sweep.json and the sweep's figures from every
trial the study holds.

Running it again continues: finished trials are kept, unfinished ones resumed.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from classicnets import config
from classicnets.errors import UsageError, one_line
from classicnets.experiments import EXPERIMENTS, Sweep
from classicnets.experiments.tables import configurations, search_figures
from classicnets.records import RunDir, check_summary, read_sweep, write_json
from classicnets.runner.devices import cpu_cores, resolve_device
from classicnets.runner.outdir import check_name, check_no_dangling_link
from classicnets.runner.run import FINISHED
from classicnets.runner.sweep import plan as planning
from classicnets.runner.sweep.plan import Plan
from classicnets.runner.sweep.study import (
    open_storage,
    open_study,
    requeue,
    running_elsewhere,
    shown_url,
    status,
    storage_url,
    trial_dir,
    trials_left,
)
from classicnets.runner.sweep.workers import run_workers


def make_plan(
    sweep: Sweep,
    overrides: dict[str, str],
    out: Path,
    device: str,
    progress: bool,
    workers: int,
    storage: str | None,
    search: int,
    prune: bool = False,
    seeds: int = 1,
) -> Plan:
    """The sweep's plan, every input checked: nothing is written before it exists."""
    check_name(out)
    check_no_dangling_link(out)
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out '{out}' is a file; pass a directory path (it is created)")
    if workers < 1:
        raise UsageError(f"--workers {workers}: expected 1 or more worker processes")
    if search < 0:
        raise UsageError(f"--search {search}: expected a number of trials, 1 or more")
    if prune and not search:
        raise UsageError(
            "--prune stops the trials of a --search that trail the others; add --search N "
            "(a grid runs every trial to the end)"
        )
    planning.check_keys(sweep, overrides, search)
    planning.check_seeds(sweep, seeds, search)
    resolve_device(device)
    return Plan(
        sweep=sweep.name,
        study=planning.study_name(sweep, overrides, search, seeds),
        storage=storage_url(storage, out),
        out=str(out.resolve()),
        trials=() if search else planning.grid_trials(sweep, overrides, out, seeds),
        experiment=planning.search_experiment(sweep, overrides).name if search else "",
        base=tuple(overrides.items()),
        space=sweep.space if search else (),
        search=search,
        prune=prune,
        device=device,
        threads=max(1, cpu_cores() // workers),
        progress=progress and workers == 1,
        seed=int(overrides.get("seed", 0) or 0),
        seeds=seeds,
    )


def worker_count(requested: int, left: int) -> tuple[int, str | None]:
    """The workers to start: --workers, but no more than the trials left to run and the
    cores (more would only wait, or share a core); and the line that says so when lowered."""
    cores = cpu_cores()
    used = max(1, min(requested, left, cores))
    if not left or used == requested:
        return used, None
    trials, cpus = f"{left} trial{'s' * (left != 1)} left", f"{cores} core{'s' * (cores != 1)}"
    return used, f"--workers {requested}: {trials} and {cpus}: using {used}"


def run_sweep(
    sweep: Sweep,
    overrides: dict[str, str],
    out: Path,
    device: str = "auto",
    progress: bool = True,
    workers: int = 1,
    storage: str | None = None,
    search: int = 0,
    started: Callable[[int], None] | None = None,
    prune: bool = False,
    seeds: int = 1,
) -> dict[str, Any]:
    """Run every trial of `sweep` (or `search` drawn ones) as a normal run in out/TRIAL, on
    up to `workers` processes sharing the study in `storage`; then sweep.json and the
    figures. started(workers) is called once every input is checked, before any trial runs.
    prune (with search): Optuna's MedianPruner stops trials that trail (study.py, pruner).

    sweep.json's "complete" says whether every planned trial finished: not when some failed,
    or still run in another process (then the sweep says so: it is not done early).
    """
    t0 = time.perf_counter()
    out = Path(out)
    plan = make_plan(
        sweep, overrides, out, device, progress, workers, storage, search, prune, seeds
    )
    if storage is not None:
        open_storage(plan.storage)  # refused before anything is written
    out.mkdir(parents=True, exist_ok=True)
    study = open_study(plan, planning.identity(plan, overrides))
    retried = requeue(plan, study)
    used, lowered = worker_count(workers, trials_left(plan, study))
    if started is not None:
        started(used)
    if lowered:
        print(f"  {lowered}", flush=True)
    plan = replace(plan, threads=max(1, cpu_cores() // used), progress=progress and used == 1)
    if retried:
        print(f"  {retried} unfinished trial(s) asked for again", flush=True)
    run_workers(plan, used)
    elsewhere = running_elsewhere(plan, study)
    if elsewhere:
        n = len(elsewhere)
        print(
            f"  {n} trial{'s' if n != 1 else ''} still running in another process; run the "
            "command again when they finish",
            flush=True,
        )
    rows = trial_rows(plan, study.get_trials(deepcopy=False))
    planned = plan.search or len(plan.trials)
    record = {
        "sweep": sweep.name,
        "experiments": list(sweep.experiments),
        "overrides": overrides,
        "search": search,
        "prune": prune,
        "seeds": plan.seeds,
        "storage": shown_url(plan.storage),
        "study": plan.study,
        "workers": used,
        "threads_per_worker": plan.threads,
        "wall_time_s": round(time.perf_counter() - t0, 3),
        "planned": planned,  # trials the sweep makes
        "complete": sum(r["status"] in FINISHED for r in rows) >= planned,
        "trials": rows,
        # per configuration (its seeds together): mean, sd and n of each result (stats.py)
        "configurations": configurations(rows),
    }
    previous = _previous_rows(out)
    write_json(out / "sweep.json", record)
    # Figures again only when a trial changed (they take seconds to draw).
    if json.loads(json.dumps(rows)) != previous or not (out / "figures").is_dir():
        _figures(sweep, plan, out, rows)
    return record


def _previous_rows(out: Path) -> list[dict[str, Any]] | None:
    try:
        return read_sweep(out / "sweep.json")["trials"]
    except (OSError, ValueError, KeyError, TypeError, UsageError):
        return None


def _figures(sweep: Sweep, plan: Plan, out: Path, rows: list[dict[str, Any]]) -> None:
    """The sweep's figures from the finished trials whose run directories are here. With
    some missing (failed, or run on another machine without a shared --out), what cannot be
    drawn is said in a line, not raised: sweep.json already holds every trial."""
    here = [r for r in rows if r["status"] in FINISHED and RunDir(out / r["dir"]).summary()]
    elsewhere = sum(r["status"] in FINISHED for r in rows) - len(here)
    if elsewhere:
        print(
            f"  {elsewhere} finished trial(s) ran on other machines: their rows are in "
            "sweep.json; draw the figures where every trial directory is (a shared --out)",
            flush=True,
        )
    wanted = plan.search or len(plan.trials)
    if not here:
        return
    draw = search_figures(tuple(r.key for r in plan.space)) if plan.search else sweep.figures
    if len(here) == wanted:
        draw(out, here)
        return
    try:
        draw(out, here)
    except Exception as error:  # a figure that needs a missing trial (mlp-vs-cnn's cnn)
        print(
            f"  figures: {len(here)} of {wanted} trials finished here, not enough to draw them "
            f"({one_line(error)}); run the sweep again to finish it",
            flush=True,
        )


def trial_rows(plan: Plan, trials: list[Any]) -> list[dict[str, Any]]:
    """A row per run directory of the study (grid: in the sweep's order; search: by trial
    number), from its summary.json here, else what its worker stored in the study."""
    latest: dict[str, Any] = {}
    for t in sorted(trials, key=lambda t: t.number):
        name = trial_dir(plan, t)
        if name and status(t) not in (None, "duplicate"):
            latest[name] = t
    names = [n for n, _, _ in plan.trials] if not plan.search else list(latest)
    by_name = {
        n: (e, config.to_dict(config.build(EXPERIMENTS[e].config, texts)))
        for n, e, texts in plan.trials
    }
    rows = []
    for name in names:
        if name not in latest:
            continue
        t = latest[name]
        run = RunDir(Path(plan.out) / name)
        where = f"study {plan.study} in {shown_url(plan.storage)}, trial {t.number}"
        stored = t.user_attrs.get("summary")  # written by a worker elsewhere: checked too
        result = run.summary() or (check_summary(stored, where) if stored else {})
        if plan.search:
            experiment = plan.experiment
            keys = run.config() if run.file("config.json").is_file() else _drawn(plan, t, where)
            own = planning.key_names(EXPERIMENTS[experiment])
            keys = {k: v for k, v in keys.items() if k in own}
        else:
            experiment, keys = by_name[name]
        rows.append(
            {
                "trial": name,
                "dir": name,
                "experiment": experiment,
                "keys": keys,
                "epochs": 0,
                "wall_time_s": 0.0,
                **result,
                "status": result.get("status") or status(t),
                **({"error": t.user_attrs["error"]} if "error" in t.user_attrs else {}),
            }
        )
    return rows


def _drawn(plan: Plan, trial: Any, where: str) -> dict[str, Any]:
    """A search trial's keys when its run directory is on another machine: the plan's own
    keys with the values the study says were drawn, checked as flags are."""
    drawn = {r.key: trial.params[r.key] for r in plan.space if r.key in trial.params}
    try:
        texts = {k: config.format_value(v) for k, v in drawn.items()}
        return config.to_dict(
            config.build(EXPERIMENTS[plan.experiment].config, {**dict(plan.base), **texts})
        )
    except (UsageError, TypeError, ValueError) as error:
        raise UsageError(
            f"{where}: drawn keys {one_line(error)}; the study was changed by something "
            "else: use another --storage (or --out)"
        ) from None
