"""Running a sweep: check every trial's keys, set up the Optuna study, start the workers
(experiments/optuna_sweep.py), then write sweep.json and the sweep's figures from every
trial the study holds.

Everything that can be wrong with the input is found before any trial starts: keys, data,
devices, the storage, and a study or trial directory run with other keys.
"""

from __future__ import annotations

import json
import time
from dataclasses import fields
from pathlib import Path
from typing import Any

from classicnets import config
from classicnets.errors import UsageError, summary
from classicnets.experiments.base import (
    FINISHED,
    Experiment,
    Sweep,
    _check_same_keys,
    cpu_cores,
    resolve_device,
)
from classicnets.experiments.optuna_sweep import (
    Plan,
    open_storage,
    requeue,
    run_workers,
    shown_url,
    storage_url,
)
from classicnets.train.runs import CHECKPOINT, RunDir, read_json, write_json


def _check_keys(
    sweep: Sweep, own_keys: dict[str, set[str]], overrides: dict[str, str], search: int
) -> None:
    if search:
        drawn = {r.key for r in sweep.space}
        fixed = sorted(drawn & set(overrides))
        if fixed:
            raise UsageError(f"--{fixed[0]} is drawn by --search in {sweep.name}; leave it out")
    else:
        fixed = sorted({k for _, _, keys in sweep.trials for k in keys} & set(overrides))
        if fixed:
            raise UsageError(f"--{fixed[0]} is set by each trial of {sweep.name}; leave it out")
    unknown = sorted(set(overrides) - set().union(*own_keys.values()))
    if unknown:
        raise UsageError(f"unknown key --{unknown[0]} for sweep {sweep.name}; see its --help")


def _grid_trials(
    sweep: Sweep,
    experiments: dict[str, Experiment],
    own_keys: dict[str, set[str]],
    overrides: dict[str, str],
    out: Path,
) -> tuple[tuple[str, str, dict[str, Any]], ...]:
    """Every trial's resolved keys, validated, and checked against an earlier run in out."""
    trials = []
    for name, experiment_name, keys in sweep.trials:
        experiment = experiments[experiment_name]
        # A key reaches the trials whose experiment has it (mlp-vs-cnn: --width the cnn only).
        own = {k: v for k, v in overrides.items() if k in own_keys[experiment_name]}
        cfg = config.build(experiment.config, {**keys, **own})
        experiment.validate(cfg)
        run = RunDir(out / name)
        if run.file(CHECKPOINT).is_file():
            _check_same_keys(run, config.to_dict(cfg), f"trial {name} in")
        trials.append((name, experiment_name, {**keys, **own}))
    return tuple(trials)


def _search_base(sweep: Sweep, experiments: dict[str, Experiment], overrides: dict[str, str]):
    """The keys every drawn trial shares, checked with the ranges' middle values."""
    if not sweep.space:
        able = "cnn-optimizers, rnn-images-grid"
        raise UsageError(f"sweep {sweep.name} declares no ranges for --search; use one of {able}")
    (name,) = sweep.experiments
    experiment = experiments[name]
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


def study_name(sweep: Sweep, overrides: dict[str, str], search: int) -> str:
    """The study's name in the storage: the sweep and the keys given, so the same command on
    another machine joins it, and other keys make another study (rnn-lengths:train_steps=300)."""
    name = sweep.name + ("-search" if search else "")
    keys = ",".join(f"{k}={v}" for k, v in sorted(overrides.items()))
    return f"{name}:{keys}" if keys else name


def _open_study(plan: Plan, sweep: Sweep, overrides: dict[str, str]):
    """The study in the storage, made or continued: one made with other keys is refused."""
    import optuna

    storage = open_storage(plan.storage)
    identity = {
        "sweep": sweep.name,
        "overrides": overrides,
        "search_space": [r.key for r in plan.space] if plan.search else None,
    }
    try:
        study = optuna.create_study(
            study_name=plan.study, storage=storage, direction="maximize", load_if_exists=True
        )
    except Exception as error:
        raise UsageError(
            f"--storage {shown_url(plan.storage)}: cannot make study {plan.study} "
            f"({type(error).__name__}); check that the database accepts writes"
        ) from None
    saved = study.user_attrs.get("identity")
    if saved is None:
        study.set_user_attr("identity", identity)
    elif saved != identity:
        differing = next(k for k in identity if saved.get(k) != identity[k])
        raise UsageError(
            f"study {plan.study} in {shown_url(plan.storage)} was run with {differing} "
            f"{saved.get(differing)!r}, not {identity[differing]!r}; use the same keys to "
            "continue it, or another --out (or --storage)"
        )
    return study


def run_sweep(
    sweep: Sweep,
    experiments: dict[str, Experiment],
    overrides: dict[str, str],
    out: Path,
    device: str = "auto",
    progress: bool = True,
    workers: int = 1,
    storage: str | None = None,
    search: int = 0,
) -> dict[str, Any]:
    """Run every trial of `sweep` (or `search` drawn ones) as a normal run in out/TRIAL, on
    `workers` processes sharing the study in `storage`; then sweep.json and the figures.

    Running it again continues: finished trials are kept, unfinished ones resumed.
    """
    started = time.perf_counter()
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out '{out}' is a file; pass a directory path (it is created)")
    if workers < 1:
        raise UsageError(f"--workers {workers}: expected 1 or more worker processes")
    if search < 0:
        raise UsageError(f"--search {search}: expected a number of trials, 1 or more")
    own_keys = {e: {f.name for f in fields(experiments[e].config)} for e in sweep.experiments}
    _check_keys(sweep, own_keys, overrides, search)
    resolve_device(device)
    url = storage_url(storage, out)
    plan = Plan(
        sweep=sweep.name,
        study=study_name(sweep, overrides, search),
        storage=url,
        out=str(out.resolve()),
        trials=() if search else _grid_trials(sweep, experiments, own_keys, overrides, out),
        experiment=_search_base(sweep, experiments, overrides).name if search else "",
        base=tuple(overrides.items()),
        space=sweep.space if search else (),
        search=search,
        device=device,
        threads=max(1, cpu_cores() // workers),
        progress=progress and workers == 1,
        seed=int(overrides.get("seed", 0) or 0),
    )
    if storage is not None:
        open_storage(url)  # refused before anything is written
    out.mkdir(parents=True, exist_ok=True)
    study = _open_study(plan, sweep, overrides)
    retried = requeue(study, out)
    if retried:
        print(f"  {retried} unfinished trial(s) asked for again", flush=True)
    run_workers(plan, workers)
    rows = trial_rows(plan, study.get_trials(deepcopy=False), experiments)
    record = {
        "sweep": sweep.name,
        "experiments": list(sweep.experiments),
        "overrides": overrides,
        "search": search,
        "storage": shown_url(url),
        "study": plan.study,
        "workers": workers,
        "threads_per_worker": plan.threads,
        "wall_time_s": round(time.perf_counter() - started, 3),
        "trials": rows,
    }
    previous = _previous_rows(out)
    write_json(out / "sweep.json", record)
    # Figures again only when a trial changed (they take seconds to draw).
    if json.loads(json.dumps(rows)) != previous or not (out / "figures").is_dir():
        _figures(sweep, plan, out, rows)
    return record


def _previous_rows(out: Path) -> list[dict[str, Any]] | None:
    try:
        return read_json(out / "sweep.json")["trials"]
    except (OSError, ValueError, KeyError, TypeError):
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
    if len(here) == wanted:
        sweep_figures(sweep, plan)(out, here)
        return
    try:
        sweep_figures(sweep, plan)(out, here)
    except Exception as error:  # a figure that needs a missing trial (mlp-vs-cnn's cnn)
        print(
            f"  figures: {len(here)} of {wanted} trials finished here, not enough to draw them "
            f"({summary(error)}); run the sweep again to finish it",
            flush=True,
        )


def sweep_figures(sweep: Sweep, plan: Plan):
    if not plan.search:
        return sweep.figures
    from classicnets.experiments.studies import search_figures

    return search_figures(tuple(r.key for r in plan.space))


def trial_rows(plan: Plan, trials: list[Any], experiments: dict[str, Experiment]) -> list[dict]:
    """A row per run directory of the study (grid: in the sweep's order; search: by trial
    number), from its summary.json here, else what its worker stored in the study."""
    latest: dict[str, Any] = {}
    for t in sorted(trials, key=lambda t: t.number):
        name = t.user_attrs.get("dir")
        if name and t.user_attrs.get("status") not in (None, "duplicate"):
            latest[name] = t
    names = [n for n, _, _ in plan.trials] if not plan.search else list(latest)
    by_name = {
        n: (e, config.to_dict(config.build(experiments[e].config, texts)))
        for n, e, texts in plan.trials
    }
    rows = []
    for name in names:
        if name not in latest:
            continue
        t = latest[name]
        run = RunDir(Path(plan.out) / name)
        result = run.summary() or t.user_attrs.get("summary") or {}
        if plan.search:
            experiment = plan.experiment
            keys = run.config() if run.file("config.json").is_file() else {}
            keys = {k: v for k, v in keys.items() if k in _field_names(experiments[experiment])}
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
                "status": result.get("status") or t.user_attrs["status"],
                **({"error": t.user_attrs["error"]} if "error" in t.user_attrs else {}),
            }
        )
    return rows


def _field_names(experiment: Experiment) -> set[str]:
    return {f.name for f in fields(experiment.config)}
