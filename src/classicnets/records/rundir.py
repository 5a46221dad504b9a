"""The run directory: the one record that plots, the report, sweeps and checks read.

RUN_DIR/config.json     every resolved key, plus experiment, seed, versions, device
RUN_DIR/metrics.jsonl   {"step", "epoch", "split", "loss", "accuracy", "time_s"} per line
RUN_DIR/summary.json    status, final and best metrics, steps, epochs, times (written last)
RUN_DIR/tb/             TensorBoard events: SPLIT/loss, SPLIT/accuracy and learning_rate per
                        evaluation; the keys and final metrics for the HParams tab (hparams.py)
RUN_DIR/checkpoint.pt   latest learner and loop state, for --resume
RUN_DIR/best.pt         the model's weights at the best validation evaluation (the chosen
                        model: what analyze, export, predict and the report use); only runs
                        with a validation split have one
RUN_DIR/figures/        this run's pictures

Every read of config, summary and metrics checks the file against its schema (schema.py):
a file that does not hold what we write is one UsageError naming the file and the field.

A run without summary.json is unfinished (running, or killed and resumable); its checkpoint
says where it got to. Reading config, summary and metrics needs no torch: the checkpoint
and TensorBoard methods import it when called.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import time
import warnings
from pathlib import Path
from typing import Any

from classicnets.errors import UsageError
from classicnets.records.files import (
    TEMPORARY,
    atomic_write,
    naming,
    parse_jsonl,
    read_json,
    write_json,
)
from classicnets.records.schema import check_config, check_metrics_row, check_summary

CONFIG, METRICS, SUMMARY, CHECKPOINT, BEST = (
    "config.json",
    "metrics.jsonl",
    "summary.json",
    "checkpoint.pt",
    "best.pt",
)
# What a run's config.json holds beside its keys (runner/run.py writes them): the experiment,
# and where and with what it ran. A config file (--config) may hold them too.
CONFIG_RECORD = ("experiment", "device", "threads", "world_size", "versions")


class _Events:
    """TensorBoard's SummaryWriter, with its write errors naming tb/ (they are raised from
    its writer thread and name no file)."""

    def __init__(self, writer: Any, path: Path):
        self.writer, self.path = writer, path

    def add_scalar(self, tag: str, value: float, step: int) -> None:
        with naming(self.path):
            self.writer.add_scalar(tag, value, step)

    def add_hparams(self, hparams: dict[str, Any], metrics: dict[str, float], step: int) -> None:
        """The run's session for the HParams tab, written into this writer's own directory
        (SummaryWriter.add_hparams would open a subdirectory per call, a second "run" beside
        the curves): its keys, then each metric as a scalar the tab reads at `step`."""
        from torch.utils.tensorboard.summary import hparams as session

        with naming(self.path):
            for summary in session(hparams, metrics):  # experiment, session start, session end
                self.writer.file_writer.add_summary(summary, step)
            for tag, value in metrics.items():
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


# statuses a resume leaves alone (a pruned run was stopped on purpose: it stays stopped)
FINISHED = ("completed", "diverged", "early_stopped", "pruned")


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
        path = self.file(CONFIG)
        return check_config(read_json(path), path)

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
        return check_summary(read_json(path), path) if path.is_file() else None

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
        if not path.is_file():
            return []
        return parse_jsonl(path, lambda row, line: check_metrics_row(row, path, line))

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

    # --- checkpoint and the chosen weights ---
    def _save(self, name: str, state: dict[str, Any]) -> None:
        # Serialised in memory first: torch.save straight to a file turns a full disk into a
        # RuntimeError about zip offsets, with no errno to tell it is one.
        import torch

        buffer = io.BytesIO()
        torch.save(state, buffer)
        atomic_write(self.file(name), buffer.getbuffer())

    def _load(self, name: str, what: str, fix: str) -> Any:
        # weights_only=True: torch's restricted unpickler, which builds tensors and plain
        # containers only. A checkpoint is a pickle, and a full unpickle of a file someone
        # handed you can run arbitrary code.
        import torch

        path = self.file(name)
        try:
            # torch warns before it refuses some files (a pickle protocol it did not write):
            # our one line says what is wrong, and a warning above it is noise
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                return torch.load(path, map_location="cpu", weights_only=True)
        except Exception as error:  # cut short, damaged or foreign: many failures, one meaning
            # torch's messages run to paragraphs (and advise weights_only=False): the error's
            # type is enough to tell what went wrong
            raise UsageError(
                f"{path}: not a readable {what} ({type(error).__name__}); {fix}"
            ) from None

    def save_checkpoint(self, state: dict[str, Any]) -> None:
        self._save(CHECKPOINT, state)

    def load_checkpoint(self) -> dict[str, Any]:
        return self._load(
            CHECKPOINT, "checkpoint", "start the run again into a new --out, without --resume"
        )

    def save_best(self, state: dict[str, Any]) -> None:
        """best.pt: {"weights": the model's state dict, "step", "epoch", "val": {loss,
        accuracy}}, the evaluation that chose them."""
        self._save(BEST, state)

    def load_best(self) -> dict[str, Any] | None:
        """best.pt as save_best wrote it; None where the run has none (nothing chosen)."""
        if not self.file(BEST).is_file():
            return None
        fix = "train the run again, or pass --weights last"
        best = self._load(BEST, "best.pt", fix)
        if (
            not isinstance(best, dict)
            or not isinstance(best.get("weights"), dict)
            or not all(isinstance(best.get(k), int) for k in ("step", "epoch"))
        ):
            raise UsageError(
                f"{self.file(BEST)}: not a best.pt of classicnets (weights, step and epoch "
                f"expected); {fix}"
            )
        return best

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
