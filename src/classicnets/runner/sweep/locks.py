"""One writer per trial: a worker holds SWEEP_DIR/.locks/TRIAL.lock while it trains TRIAL.

flock(2): the kernel lets go when the process dies, however it dies, so a free lock means
no live worker on this machine is training that trial.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

LOCKS = ".locks"  # SWEEP_DIR/.locks/TRIAL.lock


@contextmanager
def trial_lock(out: Path, name: str) -> Iterator[bool]:
    """Hold the lock on trial `name` while inside; yields False if another process holds it.
    `name` is a single path component the plan made (study.trial_dir checks it)."""
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
