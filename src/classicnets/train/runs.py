"""The run directory: the one record that plots, the report, sweeps and checks read.

RUN_DIR/config.json     every resolved key, plus experiment, seed, versions, device
RUN_DIR/metrics.jsonl   {"step", "epoch", "split", "loss", "accuracy", "time_s"} per line
RUN_DIR/summary.json    status, final and best metrics, steps, epochs, times (written last)
RUN_DIR/tb/             TensorBoard events: train/loss, train/accuracy, test/loss, test/accuracy
RUN_DIR/checkpoint.pt   latest learner and loop state, for --resume
RUN_DIR/figures/        this run's pictures

Every file is written to a temporary name and renamed, so a reader sees the old version or
the new one, never half of one. A run without summary.json is unfinished (running, or
crashed and resumable); its checkpoint says where it got to.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from pathlib import Path
from typing import Any

import torch

from classicnets.errors import UsageError

CONFIG, METRICS, SUMMARY, CHECKPOINT = (
    "config.json",
    "metrics.jsonl",
    "summary.json",
    "checkpoint.pt",
)


def finite_or_none(value: float | None) -> float | None:
    """JSON has no NaN or infinity: a diverged loss is recorded as null."""
    return value if value is not None and math.isfinite(value) else None


def atomic_write(path: Path, data: bytes | str) -> None:
    """Write to a temporary file beside `path`, then rename it over `path`."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    umask = os.umask(0)
    os.umask(umask)
    try:
        os.fchmod(fd, 0o666 & ~umask)  # mkstemp makes 0600; give the file the usual mode
        with os.fdopen(fd, "wb") as f:
            f.write(data.encode() if isinstance(data, str) else data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_json(path: Path, data: Any) -> None:
    atomic_write(path, json.dumps(data, indent=2, sort_keys=False) + "\n")


def read_json(path: Path) -> Any:
    return json.loads(Path(path).read_text())


def check_out_dir(path: Path, resume: bool, flag: str = "--out") -> None:
    """Refuse, before anything is written, an --out that cannot hold this run."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise UsageError(f"{flag} '{path}' is a file; pass a directory path (it is created)")
    if resume:
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
        write_json(self.file(SUMMARY), summary)

    def summary(self) -> dict[str, Any] | None:
        path = self.file(SUMMARY)
        return read_json(path) if path.is_file() else None

    # --- metrics ---
    def append_metrics(self, rows: list[dict[str, Any]]) -> None:
        """Append rows to metrics.jsonl and flush them to disk (a crash loses no logged row)."""
        with open(self.file(METRICS), "a") as f:
            for row in rows:
                f.write(json.dumps(row) + "\n")
            f.flush()
            os.fsync(f.fileno())

    def metrics(self) -> list[dict[str, Any]]:
        path = self.file(METRICS)
        if not path.is_file():
            return []
        return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]

    def truncate_metrics(self, last_step: int) -> None:
        """Drop rows logged after the checkpoint at `last_step` (a resumed run logs them again)."""
        kept = [row for row in self.metrics() if row["step"] <= last_step]
        atomic_write(self.file(METRICS), "".join(json.dumps(row) + "\n" for row in kept))

    # --- checkpoint ---
    def save_checkpoint(self, state: dict[str, Any]) -> None:
        tmp = self.file(f".{CHECKPOINT}.tmp")
        torch.save(state, tmp)
        os.replace(tmp, self.file(CHECKPOINT))

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
    def tensorboard(self, purge_step: int | None = None):
        """A SummaryWriter on tb/. On resume, purge_step makes TensorBoard drop events that a
        crashed segment logged after the checkpoint, so the curves do not double back."""
        from torch.utils.tensorboard import SummaryWriter  # slow import: only when training

        return SummaryWriter(str(self.path / "tb"), purge_step=purge_step)
