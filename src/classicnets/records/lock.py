"""One writer per run directory: the process that writes a run holds RUN_DIR/.lock for the
whole of it (a resume too); a sweep's worker holds its trial's lock the same way.

flock(2), never waiting long: the kernel lets go when the holder dies, however it dies
(SIGKILL too), so a lock left free is never stale, and the file a killed process leaves
behind is no lock. The holder writes its pid and host into the file, for the message of the
process that finds it taken. On Linux, flock on NFS is a whole-file lock the server keeps,
so processes on several machines sharing a --out exclude each other too.

Without fcntl (Windows), the lock is the file itself, made with O_EXCL and holding the pid;
one whose process no longer runs on this machine is taken for stale and replaced. That is
weaker: two processes replacing the same stale file at once may both go on, a reused pid
keeps a stale file taken, and a file left by another machine is never stale.

Only the standard library and classicnets.errors: the run record is read without torch.
"""

from __future__ import annotations

import errno
import os
import socket
import stat
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

from classicnets.errors import UsageError, shown

LOCK = ".lock"  # RUN_DIR/.lock

# never follow a link planted where the lock goes (it could name any file to truncate);
# never block on opening a FIFO planted there
_OPEN = os.O_CREAT | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
_OPEN |= getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0)
_POLL_S = 0.025  # how often a waiting process tries the lock again


class Held(Exception):
    """Another process holds the lock; `holder` says which ("pid 123", "pid 123 on node7")."""

    def __init__(self, path: Path, holder: str):
        super().__init__(f"{path} is held by {holder}")
        self.path, self.holder = path, holder


def _fcntl():
    try:
        import fcntl
    except ImportError:  # Windows: the O_EXCL file instead
        return None
    return fcntl


@contextmanager
def hold(path: Path, keep: bool = False, wait_s: float = 0.0) -> Iterator[None]:
    """Hold the lock file `path` while inside (its directory must exist). Raises Held, naming
    the holder, when another process has held it for `wait_s` seconds; a UsageError when
    something other than a lock file is in its place (a link, a directory).

    On leaving, the file is removed; with keep it stays (empty), for locks taken over and over
    (a sweep's trials). Where there is no fcntl it is always removed: there it is the lock.
    """
    path = Path(path)
    fcntl = _fcntl()
    fd = _flock(fcntl, path, wait_s) if fcntl else _create(path, wait_s)
    try:
        yield
    finally:
        if fcntl is None:  # closed first: Windows removes no file a process has open
            os.close(fd)
            with suppress(OSError):
                os.unlink(path)
        else:
            with suppress(OSError):
                if keep:
                    os.ftruncate(fd, 0)  # no pid of ours for the next holder's readers
                else:
                    os.unlink(path)  # while held: no one takes the removed file meanwhile
            os.close(fd)  # closing lets go


def _flock(fcntl, path: Path, wait_s: float) -> int:
    deadline = time.monotonic() + wait_s
    while True:
        fd = _open(path)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _holder(fd)
            os.close(fd)
            if time.monotonic() >= deadline:
                raise Held(path, holder) from None
            time.sleep(_POLL_S)
            continue
        except BaseException:
            os.close(fd)
            raise
        if _same_file(fd, path):
            _write_holder(fd)
            return fd
        os.close(fd)  # a holder removed the file as we opened it: ours is no lock, again


def _open(path: Path) -> int:
    try:
        fd = os.open(path, os.O_RDWR | _OPEN, 0o666)
    except PermissionError:  # another user's lock file: flock needs no write access
        fd = _open_as(path, os.O_RDONLY | (_OPEN & ~os.O_CREAT))
    except OSError as error:  # ELOOP: a link; EISDIR: a directory
        raise _not_a_lock(path, error) from None
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise _not_a_lock(path, None)
    return fd


def _open_as(path: Path, flags: int) -> int:
    try:
        return os.open(path, flags)
    except OSError as error:
        raise _not_a_lock(path, error) from None


def _not_a_lock(path: Path, error: OSError | None) -> UsageError:
    try:
        mode = os.lstat(path).st_mode
    except OSError:
        mode = 0
    kinds = {stat.S_ISLNK: "a symbolic link", stat.S_ISDIR: "a directory"}
    kind = next((k for test, k in kinds.items() if test(mode)), None)
    if kind is None and error is not None and error.errno in (errno.EACCES, errno.EPERM):
        return UsageError(
            f"'{shown(str(path))}': cannot open this lock file ({error.strerror}); run as the "
            "user who owns the run, or choose another --out"
        )
    what = kind or ("not a regular file" if error is None else error.strerror)
    return UsageError(
        f"'{shown(str(path))}' is {what}, not the lock file classicnets makes there; "
        "remove it, then run again"
    )


def _same_file(fd: int, path: Path) -> bool:
    try:
        on_disk = os.stat(path, follow_symlinks=False)
    except OSError:
        return False
    held = os.fstat(fd)
    return (on_disk.st_dev, on_disk.st_ino) == (held.st_dev, held.st_ino)


def _write_holder(fd: int) -> None:
    with suppress(OSError):  # opened read-only, or a full disk: the lock holds all the same
        os.ftruncate(fd, 0)
        os.lseek(fd, 0, os.SEEK_SET)
        os.write(fd, f"{os.getpid()} {socket.gethostname()}\n".encode())


def _holder(fd: int) -> str:
    """Who holds the lock, from what it wrote in the file (given a moment to write it)."""
    deadline = time.monotonic() + 0.5
    while True:
        with suppress(OSError):
            os.lseek(fd, 0, os.SEEK_SET)
            text = os.read(fd, 256)
            if text.endswith(b"\n"):
                return _described(*_parsed(text))
        if time.monotonic() >= deadline:
            return "pid unknown"
        time.sleep(_POLL_S)


def _parsed(text: bytes) -> tuple[int | None, str | None]:
    """(pid, host) from a lock file, read as data anyone may have written: a pid is digits,
    a host printable and short, or they are None."""
    pid, _, host = text.decode(errors="replace").strip().partition(" ")
    if not (pid.isascii() and pid.isdigit() and len(pid) <= 10):
        return None, None
    return int(pid), host if host and host.isprintable() and len(host) <= 64 else None


def _described(pid: int | None, host: str | None) -> str:
    """'pid N', with ' on HOST' when HOST is another machine."""
    if pid is None:
        return "pid unknown"
    return f"pid {pid} on {host}" if host and host != socket.gethostname() else f"pid {pid}"


# --- without fcntl: the file itself is the lock ---
def _create(path: Path, wait_s: float) -> int:
    deadline = time.monotonic() + wait_s
    while True:
        try:
            fd = os.open(path, os.O_RDWR | os.O_EXCL | _OPEN, 0o666)
        except FileExistsError:
            holder = _stale_or_holder(path)
            if holder is None:
                continue  # stale, and removed: try again
            if time.monotonic() >= deadline:
                raise Held(path, holder) from None
            time.sleep(_POLL_S)
            continue
        except OSError as error:
            raise _not_a_lock(path, error) from None
        _write_holder(fd)
        return fd


def _stale_or_holder(path: Path) -> str | None:
    """The holder of the lock file at `path`; None after removing it, when its process is
    gone (or it stayed empty for seconds: a process killed before it wrote its pid)."""
    try:
        info = os.lstat(path)
        if not stat.S_ISREG(info.st_mode):
            raise _not_a_lock(path, None)
        text = Path(path).read_bytes()[:256]
    except FileNotFoundError:
        return None  # let go meanwhile
    pid, host = _parsed(text)
    here = host is None or host == socket.gethostname()
    # no pid: a process killed before it wrote one, once the file has stayed empty a while
    stale = time.time() - info.st_mtime > 5 if pid is None else here and not alive(pid)
    if not stale:
        return _described(pid, host)
    with suppress(FileNotFoundError):
        os.unlink(path)
    return None


def alive(pid: int) -> bool:
    """Does process `pid` run on this machine?"""
    if sys.platform == "win32":  # os.kill(pid, 0) there would stop it (CTRL_C_EVENT is 0)
        import ctypes

        kernel32 = ctypes.windll.kernel32  # type: ignore[attr-defined]
        handle = kernel32.OpenProcess(0x1000, False, pid)  # PROCESS_QUERY_LIMITED_INFORMATION
        if not handle:
            return kernel32.GetLastError() == 5  # access denied: it runs, as another user
        code = ctypes.c_ulong()
        kernel32.GetExitCodeProcess(handle, ctypes.byref(code))
        kernel32.CloseHandle(handle)
        return code.value == 259  # STILL_ACTIVE
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # it runs, as another user
        return True
    return True
