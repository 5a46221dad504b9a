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


def _mps_available() -> bool:
    """Apple's Metal GPU (an M-series Mac), where this torch build has the backend."""
    mps = getattr(torch.backends, "mps", None)
    return bool(mps is not None and mps.is_available())


def resolve_device(name: str) -> torch.device:
    """auto: CUDA, else Apple's MPS, else the CPU."""
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        return torch.device("mps" if _mps_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise UsageError("--device cuda: this machine has no usable CUDA GPU; use --device cpu")
    if name == "mps" and not _mps_available():
        raise UsageError("--device mps: this machine has no usable Apple MPS GPU; use --device cpu")
    if name not in ("cpu", "cuda", "mps"):
        raise UsageError(f"--device {name!r}: expected auto, cpu, cuda or mps")
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
