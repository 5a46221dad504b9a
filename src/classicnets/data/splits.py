"""Train / validation / test splits of a data set, and their sizes without the data.

The validation split is cut from the training split; quick runs may keep a stratified
subset of the training and test splits. scikit-learn draws both cuts with its own generator,
given the run's seed as random_state (seeds.py). `split_sizes` does the same arithmetic on
sizes alone, so that a sweep checks every trial's batch size without reading any data.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
from sklearn.model_selection import train_test_split

from classicnets.data.arrays import ArrayData
from classicnets.errors import UsageError


def _subset(X: np.ndarray, y: np.ndarray, n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """A stratified random `n` of (X, y) (all of it when n is 0 or covers it)."""
    if n <= 0 or n >= len(y):
        return X, y
    keep, _ = train_test_split(
        np.arange(len(y)), train_size=n, random_state=seed, stratify=_stratify(y, n, len(y) - n)
    )
    keep = np.sort(keep)
    return X[keep], y[keep]


def _stratify(y: np.ndarray, n_kept: int, n_cut: int) -> np.ndarray | None:
    """Stratify by label where every class can be represented on both sides of the cut (as
    scikit-learn requires: each side at least one sample per class, each class two); else a
    plain random split, which takes any sizes of at least one."""
    counts = np.bincount(y)
    classes = int((counts > 0).sum())
    enough = min(n_kept, n_cut) >= classes and counts[counts > 0].min() >= 2
    return y if enough else None


def with_validation(data: ArrayData, val_size: float, seed: int) -> ArrayData:
    """data with a validation split cut from its training split (unchanged for val_size 0)."""
    n_val = validation_size(len(data.y_train), val_size)
    if not n_val:
        return data
    X, y, X_val, y_val = cut_validation(data.X_train, data.y_train, n_val, seed)
    return replace(data, X_train=X, y_train=y, X_val=X_val, y_val=y_val)


@dataclass(frozen=True)
class Splits:
    """train / val / test as numpy arrays: the validation part is cut from the training split."""

    arrays: dict[str, tuple[np.ndarray, np.ndarray]]
    num_classes: int

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(self.arrays)


def split_sizes(
    n_train: int, n_test: int, val_size: float, train_samples: int = 0, test_samples: int = 0
) -> dict[str, int]:
    """The sizes make_splits gives a data set of n_train + n_test samples, checked."""
    kept = train_samples if 0 < train_samples < n_train else n_train
    sizes = {"train": kept}
    if val_size > 0:
        n_val = max(1, round(val_size * kept))
        if n_val >= kept:
            of = f"--train_samples {kept}" if kept < n_train else f"{kept} samples"
            raise UsageError(
                f"--val_size {val_size}: leaves no training samples out of {of}; "
                "use a smaller fraction, e.g. 0.1"
            )
        sizes = {"train": kept - n_val, "val": n_val}
    sizes["test"] = test_samples if 0 < test_samples < n_test else n_test
    return sizes


def validation_size(n_train: int, val_size: float) -> int:
    """How many of n_train samples the validation split takes (0 for val_size 0), checked:
    at least one, and at least one left to train on."""
    if val_size <= 0:
        return 0
    n_val = max(1, round(val_size * n_train))
    if n_val >= n_train:
        raise UsageError(
            f"--val_size {val_size}: leaves no training samples out of {n_train}; "
            "use a smaller fraction, e.g. 0.1"
        )
    return n_val


def cut_validation(
    X: np.ndarray, y: np.ndarray, n_val: int, seed: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(X, y, X_val, y_val): a stratified n_val of the training split held out, drawn by
    scikit-learn with random_state = seed (seeds.py) — the one validation cut of every data
    set, the images' and the toy sets' alike."""
    X, X_val, y, y_val = train_test_split(
        X, y, test_size=n_val, random_state=seed, stratify=_stratify(y, len(y) - n_val, n_val)
    )
    return X, y, X_val, y_val


def make_splits(
    data: ArrayData, val_size: float, seed: int, train_samples: int = 0, test_samples: int = 0
) -> Splits:
    """Cut a stratified validation split off the training split (scikit-learn, random_state =
    seed), and optionally keep only a stratified subset of train and test (for quick runs)."""
    sizes = split_sizes(len(data.y_train), len(data.y_test), val_size, train_samples, test_samples)
    X, y = _subset(data.X_train, data.y_train, train_samples, seed)
    arrays = {"train": (X, y)}
    if "val" in sizes:
        X, y, X_val, y_val = cut_validation(X, y, sizes["val"], seed)
        arrays = {"train": (X, y), "val": (X_val, y_val)}
    arrays["test"] = _subset(data.X_test, data.y_test, test_samples, seed)
    return Splits(arrays, data.num_classes)
