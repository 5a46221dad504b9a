"""The toy data sets: the issue's settings, the split, the scaling, determinism."""

from __future__ import annotations

import numpy as np
import pytest

from classicnets.data import make_toy


@pytest.mark.parametrize("name", ["moons", "circles", "classification"])
def test_toy_sets_split_80_20_stratified_and_standardised_on_train(name):
    data = make_toy(name, n_samples=1000, noise=0.1, factor=0.5, test_size=0.2, seed=42)
    assert data.X_train.shape == (800, 2) and data.X_test.shape == (200, 2)
    assert data.num_classes == 2 and set(np.unique(data.y_train)) == {0, 1}
    # stratified: both splits keep the class balance of the whole set
    np.testing.assert_allclose(
        np.bincount(data.y_train) / 800, np.bincount(data.y_test) / 200, atol=0.005
    )
    np.testing.assert_allclose(data.X_train.mean(axis=0), 0, atol=1e-12)
    np.testing.assert_allclose(data.X_train.std(axis=0), 1, atol=1e-12)
    assert abs(data.X_test.mean()) < 0.2  # test scaled with train statistics, not its own
    np.testing.assert_allclose(data.scale(data.raw(data.X_test)), data.X_test, atol=1e-12)
    again = make_toy(name, n_samples=1000, noise=0.1, factor=0.5, test_size=0.2, seed=42)
    assert np.array_equal(again.X_train, data.X_train)
    other = make_toy(name, n_samples=1000, noise=0.1, factor=0.5, test_size=0.2, seed=7)
    assert not np.array_equal(other.X_train, data.X_train)


def test_circles_factor_sets_the_inner_radius():
    data = make_toy("circles", n_samples=1000, noise=0.0, factor=0.3, test_size=0.2, seed=0)
    X = data.raw(np.concatenate([data.X_train, data.X_test]))
    y = np.concatenate([data.y_train, data.y_test])
    radius = np.linalg.norm(X, axis=1)
    np.testing.assert_allclose(radius[y == 1], 0.3, atol=1e-9)  # make_circles: 1 = inner
    np.testing.assert_allclose(radius[y == 0], 1.0, atol=1e-9)
