"""Worker processes that take trials from a sweep's study until none is left.

A worker runs one trial at a time with cores / workers CPU threads, so N workers do not
oversubscribe the machine. It holds the trial's lock while it trains (locks.py), so two
workers never train into one run directory; a race lost is recorded as a pruned
"duplicate". A trial that crashes is recorded as failed, with its error, and the sweep goes
on; running the command again asks for it again, and it resumes from its checkpoint.
"""

from __future__ import annotations

import multiprocessing
import os
import shutil
import signal
import socket
import time
from contextlib import suppress
from pathlib import Path
from typing import Any

from classicnets import config, robust
from classicnets.errors import one_line
from classicnets.experiments import EXPERIMENTS
from classicnets.records import CHECKPOINT, RunDir, chosen_accuracy, describe
from classicnets.runner.run import run_experiment
from classicnets.runner.sweep.locks import queue_lock, trial_lock
from classicnets.runner.sweep.plan import Plan, search_dir
from classicnets.runner.sweep.study import (
    finished_dirs,
    open_storage,
    pruner,
    sampler,
    trial_dir,
    wanted,
)
from classicnets.train.loop import OnEvaluation, go_on


def _suggest(trial: Any, r: Any) -> Any:
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
    name = trial_dir(plan, trial) or search_dir(trial.number)
    return name, plan.experiment, {**dict(plan.base), **drawn}


def pruning(plan: Plan, trial: Any) -> OnEvaluation:
    """The loop's hook for a trial: each evaluation's validation accuracy reported to the
    study, and the run stopped ("pruned") when the study's pruner says it trails."""
    if not plan.prune:
        return go_on

    def report(epoch: int, rows: dict[str, dict[str, Any]]) -> str | None:
        trial.report(rows["val"]["accuracy"], epoch)  # a search always has a validation split
        return "pruned" if trial.should_prune() else None

    return report


def objective(plan: Plan, trial: Any) -> float:
    """Run (or resume) the trial's run directory; the value is its best validation accuracy."""
    import optuna

    out = Path(plan.out)
    name, experiment_name, keys = _trial_keys(plan, trial)
    trial.set_user_attr("dir", name)
    trial.set_user_attr("host", socket.gethostname())
    experiment = EXPERIMENTS[experiment_name]
    with trial_lock(out, name) as mine:
        if not mine or name in finished_dirs(plan, trial.study):  # a race lost: someone has it
            trial.set_user_attr("status", "duplicate")
            raise optuna.TrialPruned()
        run = RunDir(out / name)
        resume = run.file(CHECKPOINT).is_file()
        if not resume and run.path.exists():  # stopped before its first checkpoint: again
            shutil.rmtree(run.path)
        try:
            cfg = config.build(experiment.config, keys)
            result = run_experiment(
                experiment, cfg, run.path, plan.device, resume, plan.progress, plan.threads,
                figures=False, on_evaluation=pruning(plan, trial),
            )  # fmt: skip
        except Exception as error:  # recorded in the study and in the run; the sweep goes on
            trial.set_user_attr("status", "failed")
            trial.set_user_attr("error", one_line(error))
            print(f"  {name:<24} failed: {one_line(error)}", flush=True)
            raise
        except KeyboardInterrupt:
            trial.set_user_attr("status", "interrupted")
            raise
        # Recorded before the lock is let go: a worker waiting for it then finds it finished
        # (a duplicate), rather than taking the finished run for one to resume.
        trial.set_user_attr("status", result["status"])
        trial.set_user_attr("summary", result)
    print(f"  {name:<24} {describe(result)}", flush=True)
    if result["status"] == "pruned":  # the study records it PRUNED, as the run does
        raise optuna.TrialPruned()
    value = chosen_accuracy(result)
    if value is None:  # diverged before its first evaluation: nothing to score
        raise optuna.TrialPruned()
    return value


def _queued_study(plan: Plan, worker: int) -> Any:
    """The study as a worker takes trials from it: Optuna's Study, except that taking an
    enqueued trial (a retry that requeue asked for) is one worker's at a time on this machine.
    Optuna takes one by reading the trials still WAITING and then marking one RUNNING; on
    SQLite that read runs outside the update's transaction (pysqlite opens one at the first
    write), so two workers can both read a trial as WAITING and both take it (Optuna issues
    #1014 and #4621). Both then run it: the one that loses the trial's lock records the shared
    trial a "duplicate", and the run the other finishes is left without a COMPLETE trial.
    PostgreSQL's SELECT ... FOR UPDATE already makes the take one worker's."""
    import optuna

    out = Path(plan.out)

    class Queue(optuna.Study):
        # Optuna's private method (Study.ask takes every enqueued trial through it): a new
        # Optuna that renamed it would only lose this lock, which test_sweep_workers notices
        def _pop_waiting_trial_id(self) -> int | None:
            with queue_lock(out):
                return super()._pop_waiting_trial_id()

    return Queue(
        study_name=plan.study,
        storage=open_storage(plan.storage),
        sampler=sampler(plan, worker),
        pruner=pruner(plan),
    )


def work(plan: Plan, worker: int = 0) -> None:
    """One worker: take trials from the study until none is left to start."""
    study = _queued_study(plan, worker)
    while wanted(plan, study):
        study.optimize(lambda trial: objective(plan, trial), n_trials=1, catch=(Exception,))


def _work_quietly(plan: Plan, worker: int, sweep: int) -> None:
    """A forked worker of the sweep process `sweep`. SIGTERM ends its run as Ctrl-C does
    (status interrupted, resumable); either way the parent reports the interruption, once.
    It ends so too when the sweep dies, even by SIGKILL: no worker trains on unwatched."""

    signal.signal(signal.SIGTERM, robust.interrupt)
    robust.end_with(sweep)
    with suppress(KeyboardInterrupt):
        work(plan, worker)


def run_workers(plan: Plan, workers: int) -> None:
    """`workers` processes, or this process alone for one. Nothing starts when the study has
    no trial left to start (running a finished sweep again)."""
    import optuna

    study = optuna.load_study(study_name=plan.study, storage=open_storage(plan.storage))
    if not wanted(plan, study):
        return
    if workers == 1:
        work(plan)
        return
    # forkserver: one fresh interpreter imports torch and the experiments once, then forks a
    # worker per process. Forking this process instead could inherit a started OpenMP pool
    # (a hang in the child); spawning would import everything once per worker (~3 s each).
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["classicnets.experiments", __name__])
    procs = [
        context.Process(target=_work_quietly, args=(plan, i, os.getpid())) for i in range(workers)
    ]
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
