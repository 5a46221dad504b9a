"""Sweeps on Optuna: a study in a storage, worker processes that take trials from it, and
every trial a normal run directory.

    classicnets sweep NAME [--workers N] [--storage URL] [--search N] [--out DIR]

A grid sweep's trials are the points of Optuna's GridSampler (one categorical axis, the trial
names, so a grid may mix experiments: mlp-vs-cnn). `--search N` asks Optuna's TPE for N trials
over the ranges the sweep declares, each scored by its best validation accuracy. The study
lives in `--storage`: SQLite in the sweep directory by default, or a PostgreSQL database that
workers on any number of machines share. A worker runs one trial at a time with
cores / workers CPU threads, so N workers do not oversubscribe the machine.

Running the command again continues: trials whose run finished (completed, diverged, early
stopped) are kept; a trial that failed, was interrupted, or whose worker died is asked for
again with the same keys and resumes from its checkpoint in the same run directory. A worker
holds a lock on the run directory it trains into, so two workers never train into one.
Worker deaths on other machines are found by Optuna's heartbeat (RDBStorage's
heartbeat_interval/grace_period); on this machine, by the lock being free.
"""

from __future__ import annotations

import fcntl
import multiprocessing
import os
import signal
import socket
import time
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from classicnets import config
from classicnets.errors import UsageError, shown, summary
from classicnets.experiments.base import FINISHED, Range, run_experiment
from classicnets.train.runs import CHECKPOINT, RunDir

HEARTBEAT_S = 30  # a running trial's worker writes a heartbeat this often ...
GRACE_S = 120  # ... and one silent for this long is taken for dead (its trial: failed)
LOCKS = ".locks"  # SWEEP_DIR/.locks/TRIAL.lock: held by the worker training TRIAL


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
    device: str = "auto"
    threads: int = 1  # CPU threads for each trial: the cores / the workers
    progress: bool = True  # progress bars (one worker only)
    seed: int = 0  # the sampler's seed (TPE: + the worker's number)


def storage_url(url: str | None, out: Path) -> str:
    """The storage URL: SQLite in the sweep directory unless given. postgresql:// means
    psycopg 3, the driver classicnets installs (SQLAlchemy would assume psycopg2)."""
    if url is None:
        return f"sqlite:///{out.resolve() / 'sweep.db'}"
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def shown_url(url: str) -> str:
    """The URL with its password masked, as messages and sweep.json show it."""
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return shown(url)


def open_storage(url: str):
    import warnings

    import optuna

    optuna.logging.set_verbosity(optuna.logging.ERROR)
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
    # SQLite serialises writers: wait for a busy database instead of failing at once.
    engine = {"connect_args": {"timeout": 60}} if url.startswith("sqlite") else {}
    try:
        return optuna.storages.RDBStorage(
            url, engine_kwargs=engine, heartbeat_interval=HEARTBEAT_S, grace_period=GRACE_S
        )
    except Exception as error:
        raise UsageError(
            f"--storage {shown_url(url)}: cannot open it ({summary(error)}); pass "
            "sqlite:///FILE or postgresql://USER:PASSWORD@HOST/DATABASE of a running server"
        ) from None


def sampler(plan: Plan, worker: int):
    import optuna

    if plan.search:
        # constant_liar: running trials count as bad guesses, so parallel workers spread out
        return optuna.samplers.TPESampler(seed=plan.seed + worker, constant_liar=True)
    return optuna.samplers.GridSampler({"trial": [name for name, _, _ in plan.trials]})


# --- reading the study ---
def _status(trial: Any) -> str | None:
    return trial.user_attrs.get("status")


def _name(trial: Any) -> str | None:
    """The run directory a trial trains into (None: a trial that never got that far)."""
    return trial.user_attrs.get("dir") or trial.params.get("trial")


def finished_dirs(study: Any) -> set[str]:
    return {_name(t) for t in study.get_trials(deepcopy=False) if _status(t) in FINISHED}


@contextmanager
def trial_lock(out: Path, name: str):
    """Hold SWEEP_DIR/.locks/NAME.lock while training NAME; yields False if another worker
    holds it. The kernel lets go when the process dies, however it dies."""
    (out / LOCKS).mkdir(parents=True, exist_ok=True)
    fd = os.open(out / LOCKS / f"{name}.lock", os.O_RDWR | os.O_CREAT, 0o666)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        yield True
    finally:
        os.close(fd)  # closing releases the lock


def _locked(out: Path, name: str) -> bool:
    with trial_lock(out, name) as mine:
        return not mine


def requeue(study: Any, out: Path) -> int:
    """Before workers start: fail the RUNNING trials of dead workers on this machine (their
    lock is free), then ask again for every trial that has not finished and is not running.
    Returns the number asked for again."""
    import optuna
    from optuna.trial import TrialState

    host = socket.gethostname()
    trials = study.get_trials(deepcopy=False)
    for t in trials:
        mine = t.state == TrialState.RUNNING and t.user_attrs.get("host") == host
        if mine and (_name(t) is None or not _locked(out, _name(t))):
            study.tell(t.number, state=TrialState.FAIL)
    optuna.storages.fail_stale_trials(study)  # other machines' dead workers: by heartbeat
    trials = study.get_trials(deepcopy=False)
    done = {_name(t) for t in trials if _status(t) in FINISHED}
    busy = {_name(t) for t in trials if t.state in (TrialState.RUNNING, TrialState.WAITING)}
    again = {}
    for t in trials:
        name = _name(t)
        if t.state == TrialState.FAIL and name and name not in done | busy:
            again[name] = t  # the latest try of each
    for name, t in again.items():
        study.enqueue_trial(t.params, user_attrs={"dir": name})
    return len(again)


def _wanted(plan: Plan, study: Any) -> bool:
    """Is there a trial left for a worker to start?"""
    from optuna.trial import TrialState

    trials = study.get_trials(deepcopy=False)
    if any(t.state == TrialState.WAITING for t in trials):
        return True
    if plan.search:
        counted = [t for t in trials if t.state == TrialState.RUNNING or _status(t) in FINISHED]
        return len(counted) < plan.search
    started = {_name(t) for t in trials}
    return any(name not in started for name, _, _ in plan.trials)


# --- a worker ---
def _suggest(trial: Any, r: Range) -> Any:
    if r.choices:
        return trial.suggest_categorical(r.key, list(r.choices))
    if r.integer:
        return trial.suggest_int(r.key, int(r.low), int(r.high), log=r.log)
    return trial.suggest_float(r.key, r.low, r.high, log=r.log)


def _trial_keys(plan: Plan, trial: Any) -> tuple[str, str, dict[str, str]]:
    """(run directory name, experiment, the keys it sets) of the trial Optuna handed out."""
    if not plan.search:
        name = trial.suggest_categorical("trial", [n for n, _, _ in plan.trials])
        _, experiment, keys = next(t for t in plan.trials if t[0] == name)
        return name, experiment, keys
    drawn = {r.key: config.format_value(_suggest(trial, r)) for r in plan.space}
    name = trial.user_attrs.get("dir") or f"search-{trial.number:04d}"
    return name, plan.experiment, {**dict(plan.base), **drawn}


def objective(plan: Plan, trial: Any) -> float:
    """Run (or resume) the trial's run directory; the value is its best validation accuracy."""
    import shutil

    import optuna

    from classicnets.experiments import EXPERIMENTS

    out = Path(plan.out)
    name, experiment_name, keys = _trial_keys(plan, trial)
    trial.set_user_attr("dir", name)
    trial.set_user_attr("host", socket.gethostname())
    experiment = EXPERIMENTS[experiment_name]
    with trial_lock(out, name) as mine:
        if not mine or name in finished_dirs(trial.study):  # a race lost: someone has it
            trial.set_user_attr("status", "duplicate")
            raise optuna.TrialPruned()
        run = RunDir(out / name)
        resume = run.file(CHECKPOINT).is_file()
        if not resume and run.path.exists():  # stopped before its first checkpoint: again
            shutil.rmtree(run.path)
        try:
            cfg = config.build(experiment.config, keys)
            result = run_experiment(
                experiment,
                cfg,
                run.path,
                plan.device,
                resume,
                plan.progress,
                plan.threads,
                figures=False,
            )
        except Exception as error:  # recorded in the study and in the run; the sweep goes on
            trial.set_user_attr("status", "failed")
            trial.set_user_attr("error", summary(error))
            print(f"  {name:<24} failed: {summary(error)}", flush=True)
            raise
        except KeyboardInterrupt:
            trial.set_user_attr("status", "interrupted")
            raise
    trial.set_user_attr("status", result["status"])
    trial.set_user_attr("summary", result)
    print(f"  {name:<24} {describe(result)}", flush=True)
    value = selection_accuracy(result)
    if value is None:  # diverged before its first evaluation: nothing to score
        raise optuna.TrialPruned()
    return value


def selection_accuracy(result: dict[str, Any]) -> float | None:
    best = result.get("best", {})
    chooser = "val" if "val" in best else "test"
    return best.get(chooser, {}).get("accuracy")


def work(plan: Plan, worker: int = 0) -> None:
    """One worker: take trials from the study until none is left to start."""
    import optuna

    study = optuna.load_study(
        study_name=plan.study, storage=open_storage(plan.storage), sampler=sampler(plan, worker)
    )
    while _wanted(plan, study):
        study.optimize(lambda trial: objective(plan, trial), n_trials=1, catch=(Exception,))


def _work_quietly(plan: Plan, worker: int) -> None:
    """A spawned worker. SIGTERM ends its run as Ctrl-C does (status interrupted, resumable);
    either way the parent reports the interruption, once."""

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupt)
    with suppress(KeyboardInterrupt):
        work(plan, worker)


def describe(summary_: dict[str, Any]) -> str:
    """A run's summary in one line: status, length, time, test accuracy (and at best val)."""
    final = summary_.get("final", {}).get("test", {})
    best = summary_.get("best", {})
    # palindromes (and full-batch runs) take one step an epoch: say steps, as their keys do
    unit = "step" if summary_.get("steps") == summary_["epochs"] else "epoch"
    text = f"{summary_['status']}, {summary_['epochs']} {unit}s, {summary_['wall_time_s']:.1f} s"
    if final.get("accuracy") is not None:
        text += f"; test accuracy {final['accuracy']:.4f}"
    if "val" in best:  # best by validation; the test result at that epoch
        val, test = best["val"], best["test"]
        text += (
            f" (best val {val['accuracy']:.4f} at {unit} {val['epoch']}: "
            f"test {test['accuracy']:.4f})"
        )
    elif best.get("test", {}).get("accuracy") is not None:
        text += f" (best {best['test']['accuracy']:.4f} at {unit} {best['test']['epoch']})"
    return text


def run_workers(plan: Plan, workers: int) -> None:
    """`workers` processes, or this process alone for one. Nothing starts when the study has
    no trial left to start (running a finished sweep again)."""
    import optuna

    study = optuna.load_study(study_name=plan.study, storage=open_storage(plan.storage))
    if not _wanted(plan, study):
        return
    if workers == 1:
        work(plan)
        return
    # forkserver: one fresh interpreter imports torch and the experiments once, then forks a
    # worker per process. Forking this process instead could inherit a started OpenMP pool
    # (a hang in the child); spawning would import everything once per worker (~3 s each).
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["classicnets.experiments", __name__])
    procs = [context.Process(target=_work_quietly, args=(plan, i)) for i in range(workers)]
    for p in procs:
        p.start()
    try:
        for p in procs:
            p.join()
    finally:  # interrupted: Ctrl-C reached the workers too; a SIGTERM to us alone is passed on
        deadline = time.monotonic() + 5
        for p in procs:
            p.join(timeout=max(0.0, deadline - time.monotonic()))
            if p.is_alive():
                p.terminate()  # SIGTERM: the worker records its run as interrupted
                p.join()
