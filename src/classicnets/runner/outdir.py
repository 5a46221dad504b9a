"""Checks on a command's outputs, made before anything is read or written: a run that
cannot record itself is better not started."""

from __future__ import annotations

import errno
import os
import tempfile
import unicodedata
from pathlib import Path

from classicnets.errors import UsageError, shown
from classicnets.records import CHECKPOINT, CONFIG, FINISHED, SUMMARY, RunDir
from classicnets.records.lock import LOCK

# Unicode categories a name must not hold: control characters (a newline splits a message's
# one line, ESC starts a terminal's escape sequence), format characters (U+202E shows the
# text after it reversed) and the line and paragraph separators (line breaks to splitlines).
_UNPRINTABLE = ("Cc", "Cf", "Zl", "Zp")


def check_name(path: Path, flag: str = "--out") -> None:
    """Refuse a path whose name holds a control character: no message could quote it as
    it is, and every listing of the runs would carry it."""
    text = str(path)
    bad = next((c for c in text if unicodedata.category(c) in _UNPRINTABLE), None)
    if bad is not None:
        raise UsageError(
            f"{flag} {ascii(text)}: the name holds the control character {ascii(bad)}; "
            "choose a name of printable characters"
        )


def _nearest_entry(path: Path) -> Path:
    """`path`, or the nearest of its parents that is there, a symbolic link included."""
    path = path.absolute()
    while not os.path.lexists(path) and path != path.parent:
        path = path.parent
    return path


def check_no_dangling_link(path: Path, flag: str = "--out") -> None:
    """Refuse a path that is, or lies under, a symbolic link leading nowhere: creating it
    would fail with a traceback (mkdir: File exists) after everything else was checked."""
    path = Path(path)
    entry = _nearest_entry(path)
    if not entry.is_symlink():
        return
    try:
        entry.stat()
        return  # a link to something that is there: followed as the user meant
    except OSError as error:
        target = shown(os.readlink(entry))
        if error.errno in (errno.ENOENT, errno.ENOTDIR):
            why, fix = "does not exist", f"create '{target}'"
        elif error.errno == errno.ELOOP:
            why, fix = "loops back on itself", "remove the link"
        else:
            why, fix = f"cannot be reached ({error.strerror})", "remove the link"
    named = f"{flag} '{shown(str(path))}'"
    where = f"{named} is" if entry == path.absolute() else f"{named}: '{shown(str(entry))}' is"
    raise UsageError(
        f"{where} a symbolic link to '{target}', which {why}; {fix}, or choose another {flag}"
    )


def _nearest_existing(path: Path) -> Path:
    """`path`, or the nearest of its parents that exists (what a mkdir -p would start from)."""
    path = path.absolute()
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def check_writable(path: Path, flag: str = "--out", is_file: bool = False) -> None:
    """Refuse, before anything is read or written, an output this process cannot create.

    The nearest existing directory of `path` (of its parent, for a file) must take a new
    file. That is tried, not inferred from permission bits: root ignores them, and neither a
    read-only mount nor /proc shows in them. The probe is an unnamed file (O_TMPFILE), so it
    leaves nothing behind, even if the process is killed.
    """
    path = Path(path)
    start = path.parent if is_file else path
    check_no_dangling_link(start, flag)
    try:
        existing = _nearest_existing(start)
    except OSError as error:  # a parent we may not even look into
        raise UsageError(
            f"{flag} '{path}': cannot reach it ({error.strerror}); choose a directory you can "
            "write to"
        ) from None
    if not existing.is_dir():
        raise UsageError(
            f"{flag} '{path}': '{existing}' is a file, not a directory; choose another path"
        )
    try:
        with tempfile.TemporaryFile(dir=existing):
            pass
    except OSError as error:
        raise UsageError(
            f"{flag} '{path}': cannot write in '{existing}' ({error.strerror}); choose a "
            "directory you can write to"
        ) from None


def check_out_dir(path: Path, resume: bool, flag: str = "--out") -> None:
    """Refuse, before anything is written, an --out that cannot hold this run."""
    check_out_path(path, flag)
    check_out_contents(path, resume, flag)


def check_out_path(path: Path, flag: str = "--out") -> None:
    """The checks of an --out that need nothing read in it: its name, that it is not a file
    or a link to nowhere, and that it can be written (made by the run's lock, run.py)."""
    path = Path(path)
    check_name(path, flag)
    check_no_dangling_link(path, flag)
    if path.exists() and not path.is_dir():
        raise UsageError(f"{flag} '{path}' is a file; pass a directory path (it is created)")
    check_writable(path, flag)


def _finished_without_checkpoint(path: Path) -> bool:
    """A run that ended (diverged at step 0) before its first checkpoint: config.json and a
    summary.json whose status is final. Its summary is read through the schema."""
    if not (path / CONFIG).is_file() or not (path / SUMMARY).is_file():
        return False
    summary = RunDir(path).summary()
    return summary is not None and summary["status"] in FINISHED


def check_out_contents(path: Path, resume: bool, flag: str = "--out") -> None:
    """What --out holds: a run to resume, or nothing (a new run). The lock of a run being
    written (or a killed run's, left behind) is no file of the run."""
    path = Path(path)
    if resume:
        if _finished_without_checkpoint(path):
            return  # diverged at its first evaluation: resume only redraws its figures
        if (path / CONFIG).is_file() and not (path / CHECKPOINT).is_file():
            raise UsageError(
                f"--resume: '{path}' holds no checkpoint.pt: it stopped before its first, so "
                "there is nothing to resume; delete it and run again without --resume"
            )
        if not (path / CHECKPOINT).is_file() or not (path / CONFIG).is_file():
            raise UsageError(
                f"--resume: '{path}' holds no checkpoint.pt and config.json to resume; "
                "pass the --out of an earlier run"
            )
    elif path.is_dir() and any(p.name != LOCK for p in path.iterdir()):
        raise UsageError(
            f"{flag} '{path}' already holds files; pass --resume to continue that run "
            "or choose a new directory"
        )
