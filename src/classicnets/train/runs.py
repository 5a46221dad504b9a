"""The run directory: the one record that plots, the report, sweeps and checks read.

RUN_DIR/config.json     every resolved key, plus experiment, seed, versions, device
RUN_DIR/metrics.jsonl   {"step", "epoch", "split", "loss", "accuracy", "time_s"} per line
RUN_DIR/summary.json    status, final and best metrics, steps, epochs, times (written last)
RUN_DIR/tb/             TensorBoard events: train/loss, train/accuracy, test/loss, test/accuracy
RUN_DIR/checkpoint.pt   latest learner and loop state, for --resume
RUN_DIR/figures/        this run's pictures

Every file but metrics.jsonl is written to a temporary name, synced and renamed, so a reader
sees the old version or the new one, never half of one, even after a kill or a power cut.
metrics.jsonl is appended to: a kill can cut its last line short, so readers take only lines
that end in a newline, and a resume drops the rest. A run without summary.json is unfinished
(running, or killed and resumable); its checkpoint says where it got to.

Write errors name the file they were writing (a failed write() names none), so that a full
disk is reported as "which file, on which disk" (cli.py).
"""

from __future__ import annotations

import contextlib
import errno
import io
import json
import math
import os
import re
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch

from classicnets.errors import UsageError
from classicnets.errors import summary as one_line

CONFIG, METRICS, SUMMARY, CHECKPOINT = (
    "config.json",
    "metrics.jsonl",
    "summary.json",
    "checkpoint.pt",
)
DISK_FULL = (errno.ENOSPC, errno.EDQUOT)  # no space left; over the user's quota
TEMPORARY = ".*.tmp"  # what atomic_write writes before the rename (a kill can leave one)


def finite_or_none(value: float | None) -> float | None:
    """JSON has no NaN or infinity: a diverged loss is recorded as null."""
    return value if value is not None and math.isfinite(value) else None


@contextlib.contextmanager
def naming(path: Path | str) -> Iterator[None]:
    """Within: an OSError that names no file (write, flush and fsync name none) names `path`."""
    try:
        yield
    except OSError as error:
        if error.filename is None:
            error.filename = str(path)
        raise


def _sync_directory(path: Path) -> None:
    """Make a rename in `path` durable (a power cut after it cannot bring the old file back).
    Some file systems cannot sync a directory (EINVAL): there the rename is as durable as
    they make it."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    except OSError as error:
        if error.errno != errno.EINVAL:
            raise
    finally:
        os.close(fd)


def atomic_write(path: Path, data: bytes | bytearray | memoryview | str) -> None:
    """Write to a temporary file beside `path`, sync it, then rename it over `path`.

    The sync before the rename is what makes the rename safe across a power cut: without it
    the new name can point at blocks never written. Measured on the 2-core machine's ext4
    disk: ~4 ms for the file and ~2 ms for its directory (0.3 ms in all on tmpfs; 95 ms on a
    40 MB checkpoint), next to an evaluation that takes far longer. On any failure the
    temporary file is removed, which also gives back the space a full disk needs for the
    summary that records the failure.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    umask = os.umask(0)
    os.umask(umask)
    try:
        with naming(path), os.fdopen(fd, "wb") as f:
            os.fchmod(f.fileno(), 0o666 & ~umask)  # mkstemp makes 0600: the usual mode instead
            f.write(data.encode() if isinstance(data, str) else data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    with naming(path):
        _sync_directory(path.parent)


def write_json(path: Path, data: Any) -> None:
    atomic_write(path, json.dumps(data, indent=2, sort_keys=False) + "\n")


def read_json(path: Path) -> Any:
    try:
        return json.loads(Path(path).read_text())
    except ValueError as error:  # written atomically by us: damaged by something else
        raise UsageError(
            f"{path}: not valid JSON ({one_line(error)}); the run record is damaged: run it "
            "again into a new --out"
        ) from None


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


def parse_jsonl(path: Path) -> list[dict[str, Any]]:
    """The rows of a JSON-lines file that a writer finished.

    A last line without its newline is a row a kill (or a power cut) cut short: not a row,
    and dropped. Any other line that is not a JSON object means the file was damaged by
    something else, and is an error rather than a silently shorter record.
    """
    lines = path.read_bytes().split(b"\n")
    rows = []
    for number, line in enumerate(lines[:-1], 1):  # lines[-1]: b"" or the cut-short row
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except ValueError:
            row = None
        if not isinstance(row, dict):
            raise UsageError(
                f"{path}: line {number} is not a JSON object; the run record is damaged: run "
                "it again into a new --out"
            )
        rows.append(row)
    return rows


class _Events:
    """TensorBoard's SummaryWriter, with its write errors naming tb/ (they are raised from
    its writer thread and name no file)."""

    def __init__(self, writer: Any, path: Path):
        self.writer, self.path = writer, path

    def add_scalar(self, tag: str, value: float, step: int) -> None:
        with naming(self.path):
            self.writer.add_scalar(tag, value, step)

    def flush(self) -> None:
        with naming(self.path):
            self.writer.flush()

    def close(self) -> None:
        with naming(self.path):
            self.writer.close()


def _after_earlier_events(tb: Path) -> None:
    """Wait (at most 2 s) until the clock is a second past tb/'s newest events file.

    TensorBoard reads a directory's event files in name order, and a name is the second the
    writer opened it, then host and process id compared as text. A resume that opens its file
    in the same second as the segment it continues can sort first: the segment's events
    after the checkpoint would then be read after the resume's purge, and not purged.
    """
    seconds = [
        int(m.group(1))
        for p in tb.glob("events.out.tfevents.*")
        if (m := re.match(r"events\.out\.tfevents\.(\d+)\.", p.name))
    ]
    if seconds:
        delay = max(seconds) + 1 - time.time()
        if 0 < delay <= 2:  # more: a clock set back, which no short wait mends
            time.sleep(delay)


class RunDir:
    """Reads and writes one run's files."""

    def __init__(self, path: Path | str):
        self.path = Path(path)

    def file(self, name: str) -> Path:
        return self.path / name

    @property
    def figures(self) -> Path:
        return self.path / "figures"

    # --- config and summary ---
    def write_config(self, config: dict[str, Any]) -> None:
        write_json(self.file(CONFIG), config)

    def config(self) -> dict[str, Any]:
        return read_json(self.file(CONFIG))

    def write_summary(self, summary: dict[str, Any]) -> None:
        """Write summary.json. One that records a failure or an interruption is written if it
        can be: when it cannot (the disk that failed the run is full), the error to report
        is the one that stopped the run, not this one about summary.json."""
        if summary.get("status") in ("failed", "interrupted"):
            with contextlib.suppress(OSError):
                write_json(self.file(SUMMARY), summary)
            return
        write_json(self.file(SUMMARY), summary)

    def summary(self) -> dict[str, Any] | None:
        path = self.file(SUMMARY)
        return read_json(path) if path.is_file() else None

    # --- metrics ---
    def append_metrics(self, rows: list[dict[str, Any]]) -> None:
        """Append rows to metrics.jsonl and sync them to disk (a crash loses no logged row).

        A write that fails part-way (a full disk takes what fits) is cut back off, so the
        file still ends with a whole row.
        """
        path = self.file(METRICS)
        data = memoryview("".join(json.dumps(row) + "\n" for row in rows).encode())
        with naming(path):
            fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o666)
            try:
                start = os.fstat(fd).st_size
                try:
                    while data:  # os.write may write less than asked
                        data = data[os.write(fd, data) :]
                    os.fsync(fd)
                except OSError:
                    with contextlib.suppress(OSError):  # truncating needs no free space
                        os.ftruncate(fd, start)
                    raise
            finally:
                os.close(fd)

    def metrics(self) -> list[dict[str, Any]]:
        path = self.file(METRICS)
        return parse_jsonl(path) if path.is_file() else []

    def truncate_metrics(self, last_step: int) -> None:
        """Make the record agree with the checkpoint at `last_step`, for a resume: drop the
        rows logged after it (the resumed run logs them again) and a last row cut short,
        and remove the temporary files of writes that a kill interrupted."""
        kept = [row for row in self.metrics() if row["step"] <= last_step]
        self.remove_temporaries()
        atomic_write(self.file(METRICS), "".join(json.dumps(row) + "\n" for row in kept))

    def remove_temporaries(self) -> None:
        """Remove what atomic writes that a kill interrupted left (hidden, and as large as
        a checkpoint). Only for a run that no process is writing: one being resumed."""
        for folder in (self.path, self.figures):
            for stale in folder.glob(TEMPORARY):
                stale.unlink(missing_ok=True)

    # --- checkpoint ---
    def save_checkpoint(self, state: dict[str, Any]) -> None:
        # Serialised in memory first: torch.save straight to a file turns a full disk into a
        # RuntimeError about zip offsets, with no errno to tell it is one.
        buffer = io.BytesIO()
        torch.save(state, buffer)
        atomic_write(self.file(CHECKPOINT), buffer.getbuffer())

    def load_checkpoint(self) -> dict[str, Any]:
        # weights_only=True: torch's restricted unpickler, which builds tensors and plain
        # containers only. A checkpoint is a pickle, and a full unpickle of a file someone
        # handed you can run arbitrary code.
        path = self.file(CHECKPOINT)
        try:
            return torch.load(path, map_location="cpu", weights_only=True)
        except Exception as error:  # cut short, damaged or foreign: many failures, one meaning
            # torch's messages run to paragraphs (and advise weights_only=False): the error's
            # type is enough to tell what went wrong
            raise UsageError(
                f"{path}: not a readable checkpoint ({type(error).__name__}); start the run "
                "again into a new --out, without --resume"
            ) from None

    # --- TensorBoard ---
    def tensorboard(self, purge_step: int | None = None) -> _Events:
        """A SummaryWriter on tb/. On resume, purge_step makes TensorBoard drop events that a
        crashed segment logged after the checkpoint, so the curves do not double back."""
        from torch.utils.tensorboard import SummaryWriter  # slow import: only when training

        tb = self.path / "tb"
        if purge_step is not None:
            _after_earlier_events(tb)
        with naming(tb):
            return _Events(SummaryWriter(str(tb), purge_step=purge_step), tb)
