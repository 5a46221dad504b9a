"""Checks on a command's outputs, made before anything is read or written: a run that
cannot record itself is better not started."""

from __future__ import annotations

import tempfile
from pathlib import Path

from classicnets.errors import UsageError
from classicnets.records import CHECKPOINT, CONFIG


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
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise UsageError(f"{flag} '{path}' is a file; pass a directory path (it is created)")
    if resume:
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
    elif path.is_dir() and any(path.iterdir()):
        raise UsageError(
            f"{flag} '{path}' already holds files; pass --resume to continue that run "
            "or choose a new directory"
        )
    check_writable(path, flag)
