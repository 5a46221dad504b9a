"""`classicnets run`'s data: Fashion-MNIST where its studies read it, fetched when absent.

The suites train on Fashion-MNIST. Where it is on the machine (DATA_DIR/fashion-mnist,
torchvision's DATA_DIR/FashionMNIST/raw, Debian's folder) it is used; where it is not, it is
downloaded through the checked path (data/download.py: MD5, resume, the mirror in
CLASSICNETS_DATA_MIRROR). Only when that download fails does the quick suite fall back to
scikit-learn's digits, which ship with it, saying so in one line; the full suite's numbers
mean nothing on digits, so there the failure is the error.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from classicnets.data import images, registry
from classicnets.errors import UsageError
from classicnets.experiments import SUITES
from classicnets.experiments.images import MIRROR_ENV

SUITE_DATA = "fashion-mnist"  # what the suites' studies name (experiments.SUITES)
FALLBACK = "digits"  # the quick suite's, when SUITE_DATA can be neither found nor fetched
DATA_DIR = Path("data")  # the image experiments' default data_dir, which the suites keep


def suite_dataset(
    suite: str, say: Callable[[str], None], progress: bool, data_dir: Path = DATA_DIR
) -> str | None:
    """The data set to use in place of Fashion-MNIST in `suite`'s studies, or None to keep
    it: found here, or downloaded now (UsageError for the full suite when it cannot be)."""
    if not any(s.keys.get("dataset") == SUITE_DATA for s in SUITES[suite]):
        return None
    if registry.IMAGE_SETS[SUITE_DATA].available(data_dir):
        return None
    target = data_dir / SUITE_DATA
    looked = ", ".join(str(d) for d in images.idx_dirs(SUITE_DATA, data_dir))
    say(f"{SUITE_DATA} not found in {looked}: downloading it (30 MB, MD5-checked) into {target}")
    try:
        registry.load(SUITE_DATA, data_dir, True, progress, os.environ.get(MIRROR_ENV))
    except UsageError as error:
        if suite != "quick":
            raise
        say(f"{error}; the quick suite uses scikit-learn's digits instead")
        return FALLBACK
    return None


def suite_keys(keys: dict[str, str], dataset: str | None) -> dict[str, str]:
    """A study's keys in the suite, with `dataset` in place of Fashion-MNIST where given."""
    if dataset and keys.get("dataset") == SUITE_DATA:
        return {**keys, "dataset": dataset}
    return keys
