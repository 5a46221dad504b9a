"""Where a run trains and what it runs on: the device, the CPU cores and threads, and the
versions recorded in its config.json."""

from __future__ import annotations

import os
import platform
import subprocess
from pathlib import Path

import numpy as np
import torch

from classicnets.errors import UsageError
from classicnets.experiments import Experiment
from classicnets.version import __version__


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise UsageError("--device cuda: this machine has no usable CUDA GPU; use --device cpu")
    if name not in ("cpu", "cuda"):
        raise UsageError(f"--device {name!r}: expected auto, cpu or cuda")
    return torch.device(name)


def cpu_cores() -> int:
    """The cores this process may use (taskset, cgroups), where the system says."""
    if hasattr(os, "sched_getaffinity"):  # Linux; elsewhere every core counts
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def cpu_threads(experiment: Experiment, share: int = 1) -> int:
    """The intra-op threads a run of `experiment` uses on a CPU, when `share` processes (the
    ranks torchrun starts on this machine) divide the cores between them."""
    cores = cpu_cores()
    return min(experiment.threads or cores, max(1, cores // share))


def git_commit() -> str | None:
    """The commit of the source this package runs from, "+dirty" with uncommitted changes;
    None outside a git checkout (an installed wheel) or without git."""
    here = Path(__file__).resolve().parent
    try:
        head = subprocess.run(
            ["git", "-C", str(here), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5
        )
        if head.returncode != 0:
            return None
        dirty = subprocess.run(
            ["git", "-C", str(here), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            timeout=5,
        ).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        return None
    return head.stdout.strip() + ("+dirty" if dirty else "")


def versions() -> dict[str, str | None]:
    import sklearn

    return {
        "classicnets": __version__,
        "git_commit": git_commit(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "torch": torch.__version__,
        "scikit-learn": sklearn.__version__,
    }
