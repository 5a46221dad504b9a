"""Failure handling, in one place: signals that end a run as Ctrl-C does, a worker that ends
with the process that started it, a full disk found behind whatever error a library wrapped
it in, and the thread hook that keeps a second report of it quiet. The CLI installs these;
workers use the same signal handler."""

from __future__ import annotations

import errno
import os
import select
import signal
import sqlite3
import sys
import threading
import time
from pathlib import Path

from classicnets.errors import shown
from classicnets.records import CHECKPOINT, DISK_FULL
from classicnets.records.lock import alive


def interrupt(signum: int, frame: object) -> None:
    """A signal handler: end what runs as Ctrl-C does (status interrupted, resumable)."""
    raise KeyboardInterrupt


def stop_on_sigterm() -> None:
    """SIGTERM (a scheduler's or `kill`'s stop) ends a run as Ctrl-C does: the summary says
    "interrupted" and --resume continues from the last checkpoint."""
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, interrupt)


def end_with(pid: int) -> None:
    """End this process as SIGTERM does (its run: interrupted, resumable) when process `pid`
    ends, however it ends: a SIGKILL leaves `pid` no handler to stop us with. For a sweep's
    workers. Their parent is multiprocessing's forkserver, which would exit when the sweep
    does, but does not while a worker lives: each worker holds a copy of the sweep's end of
    the "alive" pipe whose closing would tell it. So a thread watches the sweep itself: a
    pidfd that becomes readable when it ends (Linux 5.3+), else a look each second. On Linux
    the kernel also sends SIGTERM if the forkserver dies first (PR_SET_PDEATHSIG).
    """
    _signal_at_parents_death(signal.SIGTERM)
    threading.Thread(target=_watch, args=(pid,), name="end-with", daemon=True).start()


def _watch(pid: int) -> None:
    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:  # gone before we looked
        fd = -1
    except (AttributeError, OSError):  # not Linux, or a kernel without pidfds
        fd = None
    if fd is not None and fd >= 0:
        waiting = select.poll()
        waiting.register(fd, select.POLLIN)
        waiting.poll()  # readable once it has ended (a zombie, or reaped)
    elif fd is None:
        parent = os.getppid()
        while alive(pid) and os.getppid() == parent:
            time.sleep(1.0)
    os.kill(os.getpid(), signal.SIGTERM)


def _signal_at_parents_death(signum: int) -> bool:
    if not sys.platform.startswith("linux"):
        return False
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        PR_SET_PDEATHSIG = 1
        args = (signum, 0, 0, 0)  # unsigned longs to the kernel: passed as such, not as ints
        return libc.prctl(PR_SET_PDEATHSIG, *(ctypes.c_ulong(a) for a in args)) == 0
    except (OSError, AttributeError):  # no libc to load, or no prctl in it
        return False


def disk_full(error: BaseException) -> OSError | None:
    """The full disk (or quota) behind `error`, if one is: torch and TensorBoard raise their
    own errors from the OSError."""
    seen: set[int] = set()
    cause: BaseException | None = error
    while cause is not None and id(cause) not in seen:
        if isinstance(cause, OSError) and cause.errno in DISK_FULL:
            return cause
        if isinstance(cause, sqlite3.OperationalError) and "disk is full" in str(cause):
            # a sweep's SQLite study: sqlite3 says so in words, without an errno
            return OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), "the sweep's sweep.db")
        seen.add(id(cause))
        cause = cause.__cause__ or cause.__context__
    return None


def disk_full_message(error: OSError, command: str | None, out: Path | None) -> str:
    """One line: which file could not be written, and how to continue once there is space."""
    where = f"'{shown(str(error.filename))}'" if error.filename else "the run's files"
    if command == "train" and out and not (out / CHECKPOINT).is_file():
        again = f"delete '{shown(str(out))}' and run it again"  # nothing to resume from
    elif command == "train":
        again = "continue with the same command and --resume" + (
            "" if out else " --out RUN_DIR (the directory named here)"
        )
    elif command in ("sweep", "run"):
        again = "run the same command again: it continues where it stopped"
    else:
        again = "run the same command again"
    return f"disk full ({error.strerror}) writing {where}; free some space, then {again}"


def quiet_disk_full_in_threads() -> None:
    """TensorBoard's writer thread hands a failed write to the main thread, which reports a
    full disk in one line, and then lets it end the thread too: keep that second report (a
    traceback) quiet. Any other error of a thread is shown as before."""
    previous = threading.excepthook
    if getattr(previous, "quiet_disk_full", False):  # installed before in this process
        return

    def hook(args: threading.ExceptHookArgs) -> None:
        if args.exc_value is None or disk_full(args.exc_value) is None:
            previous(args)

    hook.quiet_disk_full = True  # type: ignore[attr-defined]
    threading.excepthook = hook
