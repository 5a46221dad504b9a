"""One worker per trial: a worker holds SWEEP_DIR/.locks/TRIAL.lock while it trains TRIAL
(records/lock.py: the kernel lets go when the process dies, however it dies, so a free lock
means no live worker on this machine is training that trial). The run it trains holds its
own RUN_DIR/.lock besides, as every run does.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

from classicnets.records.lock import Held, hold

LOCKS = ".locks"  # SWEEP_DIR/.locks/TRIAL.lock
# Looking whether a trial runs elsewhere takes its lock for a moment: a worker starting it
# then tries again for this long before it calls the race lost.
PATIENCE_S = 0.5
QUEUE = ".queue"  # SWEEP_DIR/.locks/.queue.lock: no trial's name starts with a dot
QUEUE_WAIT_S = 60  # s: a pop takes milliseconds; this long means a stuck process


def lock_file(out: Path, name: str) -> Path:
    return out / LOCKS / f"{name}.lock"


@contextmanager
def trial_lock(out: Path, name: str) -> Iterator[bool]:
    """Hold the lock on trial `name` while inside; yields False if another process holds it.
    `name` is a single path component the plan made (study.trial_dir checks it)."""
    (out / LOCKS).mkdir(parents=True, exist_ok=True)
    with ExitStack() as held:
        try:
            held.enter_context(hold(lock_file(out, name), keep=True, wait_s=PATIENCE_S))
        except Held:
            yield False
            return
        yield True


def locked(out: Path, name: str) -> bool:
    """Does another process hold trial `name`'s lock? (Taken for a moment to see, where its
    file is: a trial never started has none, and gets none from looking.)"""
    if not lock_file(out, name).is_file():
        return False
    try:
        with hold(lock_file(out, name), keep=True):
            return False
    except Held:
        return True


@contextmanager
def queue_lock(out: Path) -> Iterator[None]:
    """Hold the sweep's queue lock while a worker takes an enqueued trial from the study, so
    no two workers on this machine take the same one (workers._queued_study says why)."""
    (out / LOCKS).mkdir(parents=True, exist_ok=True)
    with hold(lock_file(out, QUEUE), keep=True, wait_s=QUEUE_WAIT_S):
        yield
