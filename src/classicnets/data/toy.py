"""scikit-learn's 2-D toy sets: moons, circles, classification; split and standardised."""

from __future__ import annotations

import math

import numpy as np
from sklearn.datasets import make_circles, make_classification, make_moons
from sklearn.model_selection import train_test_split

from classicnets.data.arrays import ArrayData, standardise
from classicnets.data.splits import cut_validation, validation_size
from classicnets.errors import UsageError

TOY_DATASETS = ("moons", "circles", "classification")


def make_toy(
    name: str,
    n_samples: int,
    noise: float,
    factor: float,
    test_size: float,
    seed: int,
    val_size: float = 0.0,
) -> ArrayData:
    """Generate a toy set, split it (stratified), cut a validation split of val_size of the
    training part (the one validation cut, data/splits.py; none for 0), and standardise all
    three with the statistics of what is left to train on.

    The same arguments always give the same arrays, so plots can rebuild the data of a run
    from its config.json instead of storing it.
    """
    X, y = _generate(name, n_samples, noise, factor, seed)
    if not _splittable(y, test_size):
        smallest = next(
            n
            for n in range(_smallest_sizes(n_samples, test_size), n_samples + SEARCH)
            if _splittable(_generate(name, n, noise, factor, seed)[1], test_size)
        )
        raise UsageError(
            f"--n_samples {n_samples}: too few for a stratified split with --test_size "
            f"{test_size} (each of the 2 classes needs 2 samples, each split 2); use at least "
            f"--n_samples {smallest}"
        )
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=test_size, random_state=seed, stratify=y
    )
    X_val = y_val = None
    n_val = validation_size(len(y_train), val_size)
    if n_val:
        X_train, y_train, X_val, y_val = cut_validation(X_train, y_train, n_val, seed)
    X_train, X_test, mean, std = standardise(X_train, X_test)
    return ArrayData(
        X_train=X_train,
        y_train=y_train.astype(np.int64),
        X_test=X_test,
        y_test=y_test.astype(np.int64),
        num_classes=2,
        mean=mean,
        std=std,
        X_val=None if X_val is None else (X_val - mean) / std,
        y_val=None if y_val is None else y_val.astype(np.int64),
    )


def _generate(name: str, n_samples: int, noise: float, factor: float, seed: int):
    if name == "moons":
        return make_moons(n_samples=n_samples, noise=noise, random_state=seed)
    if name == "circles":
        return make_circles(n_samples=n_samples, noise=noise, factor=factor, random_state=seed)
    if name == "classification":
        # Two informative features and nothing else, one cluster per class: a 2-D problem
        # that can be drawn. `noise` has no meaning here (make_classification's own label
        # noise, flip_y, stays at its default of 1%).
        return make_classification(
            n_samples=n_samples,
            n_features=2,
            n_informative=2,
            n_redundant=0,
            n_clusters_per_class=1,
            random_state=seed,
        )
    raise ValueError(f"unknown toy data set {name!r}")


SEARCH = 100_000  # sizes tried above a too-small n_samples for the smallest that splits


def _sizes(n: int, test_size: float) -> tuple[int, int]:
    n_test = math.ceil(test_size * n)  # as scikit-learn's train_test_split rounds
    return n - n_test, n_test


def _splittable(y: np.ndarray, test_size: float) -> bool:
    """Can scikit-learn cut a stratified split of these labels? Each class needs 2 samples,
    and each side of the cut as many samples as there are classes (2)."""
    counts = np.bincount(y, minlength=2)
    return counts.min() >= 2 and min(_sizes(len(y), test_size)) >= 2


def _smallest_sizes(n_samples: int, test_size: float) -> int:
    """The smallest n above n_samples whose two sides hold 2 samples each (the labels of
    a candidate are drawn only from there on)."""
    n = n_samples + 1
    while min(_sizes(n, test_size)) < 2:
        n += 1
    return n
