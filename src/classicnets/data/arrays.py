"""A split data set held as NumPy arrays, and loading one from a user's .npz file."""

from __future__ import annotations

import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from classicnets.errors import UsageError, one_line


@dataclass(frozen=True)
class ArrayData:
    """Train, test and (optionally) validation arrays: X (N, ...) features, y (N,) integer
    labels 0..K-1. The validation split, where there is one, was cut from the training
    split (data/splits.py)."""

    X_train: np.ndarray
    y_train: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    num_classes: int
    # Standardisation applied to X (X_scaled = (X_raw - mean) / std), kept so that plots can
    # map raw coordinates (decision-boundary grids) into the model's input space.
    mean: np.ndarray | None = None
    std: np.ndarray | None = None
    X_val: np.ndarray | None = None  # None: no validation split (val_size 0)
    y_val: np.ndarray | None = None

    @property
    def splits(self) -> tuple[str, ...]:
        """The splits a learner on these data evaluates."""
        return ("train", "test") if self.X_val is None else ("train", "val", "test")

    @property
    def num_features(self) -> int:
        return int(np.prod(self.X_train.shape[1:]))

    def raw(self, X: np.ndarray) -> np.ndarray:
        """Undo the standardisation (for plotting in the data's own coordinates)."""
        return X if self.mean is None else X * self.std + self.mean

    def scale(self, X: np.ndarray) -> np.ndarray:
        return X if self.mean is None else (X - self.mean) / self.std


def standardise(X_train: np.ndarray, X_test: np.ndarray) -> tuple:
    """Zero mean, unit variance per feature, with statistics of the training split only."""
    mean = X_train.mean(axis=0)
    std = X_train.std(axis=0)
    std = np.where(std > 0, std, 1.0)
    return (X_train - mean) / std, (X_test - mean) / std, mean, std


NPZ = "npz:"  # --dataset npz:PATH: the user's own arrays
NPZ_KEYS = ("X_train", "y_train", "X_test", "y_test")


def is_npz(name: str) -> bool:
    """Does --dataset name the user's .npz (npz:PATH)?"""
    return name.startswith(NPZ) and len(name) > len(NPZ)


MAX_CLASSES = 100_000  # more output units than any classifier here is meant for


def load_npz(path: str) -> ArrayData:
    """A data set from a .npz with arrays X_train, y_train, X_test, y_test (labels 0..K-1).

    Loaded with allow_pickle=False: a .npz can carry pickled objects, and unpickling an
    untrusted file runs its code.
    """
    file = Path(path)
    fix = f"pass npz:PATH to a .npz holding {', '.join(NPZ_KEYS)}"
    if not file.is_file():
        raise UsageError(f"--dataset npz:{path}: no such file; {fix}")
    try:
        loaded = np.load(file, allow_pickle=False)
        if not isinstance(loaded, np.lib.npyio.NpzFile):  # a .npy: one bare array
            raise ValueError("one array (.npy), not a .npz archive")
        with loaded as npz:
            missing = [k for k in NPZ_KEYS if k not in npz.files]
            if missing:
                raise UsageError(f"--dataset npz:{path}: missing array {missing[0]}; {fix}")
            arrays = {k: npz[k] for k in NPZ_KEYS}
    # EOFError: empty or cut short; zlib.error: damaged compressed data; MemoryError: a
    # header that claims more than fits (numpy allocates before reading); NotImplementedError
    # and RuntimeError: zipfile on a member whose header names an unknown compression method,
    # or encryption
    except (
        ValueError,
        OSError,
        EOFError,
        zlib.error,
        MemoryError,
        zipfile.BadZipFile,
        NotImplementedError,
        RuntimeError,
    ) as error:
        reason = one_line(error)  # numpy echoes a damaged header, line breaks too
        raise UsageError(f"--dataset npz:{path}: not a readable .npz ({reason}); {fix}") from None
    for split in ("train", "test"):
        X, y = arrays[f"X_{split}"], arrays[f"y_{split}"]
        if X.ndim == 0 or y.ndim != 1 or len(X) != len(y) or len(X) == 0:
            raise UsageError(
                f"--dataset npz:{path}: X_{split} has shape {X.shape}, y_{split} {y.shape}; "
                "give each split one label per row (at least one row)"
            )
        if X.dtype.kind not in "biuf":  # strings, dates, records: not features
            raise UsageError(f"--dataset npz:{path}: X_{split} holds {X.dtype}, not numbers")
        if not np.issubdtype(y.dtype, np.integer) or y.min() < 0:
            raise UsageError(f"--dataset npz:{path}: y_{split} must hold integer labels 0..K-1")
    num_classes = int(max(arrays["y_train"].max(), arrays["y_test"].max())) + 1
    if num_classes > MAX_CLASSES:  # a stray label of 10^9 would ask for a 10^9-way output
        raise UsageError(
            f"--dataset npz:{path}: labels go up to {num_classes - 1}; number the classes "
            f"0..K-1 (K at most {MAX_CLASSES:,})"
        )
    _check_classes(path, arrays["y_train"], arrays["y_test"])
    return ArrayData(
        X_train=arrays["X_train"].astype(np.float64),
        y_train=arrays["y_train"].astype(np.int64),
        X_test=arrays["X_test"].astype(np.float64),
        y_test=arrays["y_test"].astype(np.int64),
        num_classes=max(num_classes, 2),
    )


def _check_classes(path: str, y_train: np.ndarray, y_test: np.ndarray) -> None:
    """Labels are classes 0..K-1, every one of them in y_train: labels {1000, 1001} would
    otherwise make a 1002-way output of 1000 classes never seen, and a test label no training
    row has is a class the model cannot learn."""
    trained = np.unique(y_train)
    K = int(trained[-1]) + 1
    if len(trained) < K:
        missing = np.setdiff1d(np.arange(K), trained)
        raise UsageError(
            f"--dataset npz:{path}: y_train's labels are {_ranges(trained)} but classes must "
            f"be numbered 0..K-1 (missing: {_ranges(missing)}); renumber them"
        )
    unseen = np.setdiff1d(np.unique(y_test), trained)
    if len(unseen):
        raise UsageError(
            f"--dataset npz:{path}: y_test holds labels {_ranges(unseen)}, which no row of "
            f"y_train has (its classes are 0..{K - 1}); every class needs training rows"
        )


def _ranges(values: np.ndarray, most: int = 4) -> str:
    """Sorted distinct integers as runs, for one line: "0..999", "1, 3..5, 8", and "..." past
    `most` runs."""
    breaks = np.flatnonzero(np.diff(values) != 1) + 1
    runs = [(int(run[0]), int(run[-1])) for run in np.split(values, breaks)]
    text = [str(a) if a == b else f"{a}..{b}" for a, b in runs]
    return ", ".join(text[:most]) + (", ..." if len(text) > most else "")
