"""scikit-learn's 2-D toy sets: moons, circles, classification; split and standardised."""

from __future__ import annotations

import numpy as np
from sklearn.datasets import make_circles, make_classification, make_moons
from sklearn.model_selection import train_test_split

from classicnets.data.arrays import ArrayData, standardise

TOY_DATASETS = ("moons", "circles", "classification")


def make_toy(
    name: str, n_samples: int, noise: float, factor: float, test_size: float, seed: int
) -> ArrayData:
    """Generate a toy set, split it (stratified) and standardise it with training statistics.

    The same arguments always give the same arrays, so plots can rebuild the data of a run
    from its config.json instead of storing it.
    """
    if name == "moons":
        X, y = make_moons(n_samples=n_samples, noise=noise, random_state=seed)
    elif name == "circles":
        X, y = make_circles(n_samples=n_samples, noise=noise, factor=factor, random_state=seed)
    elif name == "classification":
        # Two informative features and nothing else, one cluster per class: a 2-D problem
        # that can be drawn. `noise` has no meaning here (make_classification's own label
        # noise, flip_y, stays at its default of 1%).
        X, y = make_classification(
            n_samples=n_samples,
            n_features=2,
            n_informative=2,
            n_redundant=0,
            n_clusters_per_class=1,
            random_state=seed,
        )
    else:
        raise ValueError(f"unknown toy data set {name!r}")
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=test_size, random_state=seed, stratify=y
    )
    X_train, X_test, mean, std = standardise(X_train, X_test)
    return ArrayData(
        X_train=X_train,
        y_train=y_train.astype(np.int64),
        X_test=X_test,
        y_test=y_test.astype(np.int64),
        num_classes=2,
        mean=mean,
        std=std,
    )
