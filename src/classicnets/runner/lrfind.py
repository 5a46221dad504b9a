"""`classicnets lr-find EXPERIMENT`: Smith's learning-rate range test (train/lrfind.py) on
the experiment's own model, optimizer and training batches, into OUT/lr_find.json and
OUT/lr_find.png.

The model trained by the test is thrown away: no checkpoint, no weights written, and the
process's torch random state is as it was before (a notebook's next run draws what it would
have drawn). Only the training split is read; nothing is evaluated on validation or test.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import torch

from classicnets import config, plots
from classicnets.errors import UsageError
from classicnets.experiments import EXPERIMENTS, Experiment
from classicnets.records import LR_FIND, write_json
from classicnets.runner.devices import cpu_cores, cpu_threads, resolve_device
from classicnets.runner.outdir import check_name, check_no_dangling_link
from classicnets.train.lrfind import range_test

FIGURE = "lr_find.png"


def able() -> list[str]:
    """The experiments the test runs on: those trained by a torch optimizer (their learner is
    the ClassifierLearner, the one that trains data-parallel too)."""
    return [e.name for e in EXPERIMENTS.values() if e.data_parallel]


def check(experiment: Experiment, test: Any, out: Path) -> None:
    """Everything about the input that can be wrong, before anything is read or written."""
    if experiment.name not in able():
        raise UsageError(
            f"lr-find: {experiment.name} trains without a torch optimizer to set the rate of; "
            f"use one of {', '.join(able())}"
        )
    if test.end_lr <= test.start_lr:
        raise UsageError(
            f"--end_lr {test.end_lr:g}: must be above --start_lr {test.start_lr:g}, e.g. 10"
        )
    check_name(out)
    check_no_dangling_link(out)
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out '{out}' is a file; pass a directory path (it is created)")


def lr_find(
    experiment: Experiment, cfg: Any, test: Any, out: Path, device: str = "auto"
) -> dict[str, Any]:
    """Run the range test for `cfg` (a RangeTest `test`) and write its record and figure."""
    out = Path(out)
    check(experiment, test, out)
    experiment.validate(cfg)
    torch_device = resolve_device(device)
    if torch_device.type == "cpu":
        torch.set_num_threads(min(cpu_threads(experiment, 1), cpu_cores()))
    # The test sets every step's rate itself: the run's schedule would fight it (and a
    # one-cycle schedule refuses more steps than the run was sized for).
    tested = dataclasses.replace(cfg, lr_schedule="none")
    cuda = [torch_device.index or 0] if torch_device.type == "cuda" else []
    with torch.random.fork_rng(devices=cuda):  # the process's random state is left as it was
        built = experiment.build(tested, torch_device)
        result = range_test(built.learner, test, cfg.seed, built.settings.batch_size)
        del built  # the trained weights go nowhere
    record = {
        "experiment": experiment.name,
        "keys": config.to_dict(cfg),
        "range": config.to_dict(test),
        "split": "train",  # the only split the test reads
        "device": str(torch_device),
        **result,
    }
    out.mkdir(parents=True, exist_ok=True)
    write_json(out / LR_FIND, record)
    plots.lr_find(record, out / FIGURE)
    return record


def describe(record: dict[str, Any]) -> str:
    """The record in one line: how far it went, and the suggestion."""
    rows = record["rows"]
    last = f"{rows[-1]['learning_rate']:.2g}" if rows else "—"
    how = "the loss blew up" if record["stopped"] == "diverged" else "end_lr reached"
    text = f"{len(rows)} steps to rate {last} ({how})"
    if record["suggested"] is None:
        return text + "; no descent of the loss to suggest a rate from: lower --start_lr"
    return (
        f"{text}; suggested learning rate {record['suggested']:.2g} (steepest descent of the "
        f"smoothed loss; minimum / 10: {record['minimum_over_10']:.2g})"
    )
