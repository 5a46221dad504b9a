"""MNIST-1D (Greydanus, "Scaling down deep learning", 2020): ten one-dimensional "digits",
each a 12-point template padded, scaled, sheared, shifted and noised into 40 samples.

Made here by the `mnist1d` package's own generator with its default arguments (5,000
signals, seed 42, the first 4,000 for training), which is how the paper's data set was
made; its published test accuracies are the peers: logistic regression 32%, MLP 68%,
CNN 94%, GRU 91%. Nothing is downloaded and nothing is unpickled.

Stored as (N, 1, 40, 1) float32: a column 40 pixels tall and one wide, which the image
experiments read as they read any image: the MLP as 40 inputs, the RNN row by row as 40
steps of one value, the CNN's 3x3 convolutions as 3-tap 1-D ones (models/vgg.py keeps a
one-pixel-wide input as it is).
"""

from __future__ import annotations

import random

import numpy as np

from classicnets.data.arrays import ArrayData
from classicnets.errors import UsageError

LENGTH = 40  # samples per signal (the generator's final_seq_length)
SIZES = (4_000, 1_000)  # (train, test): its 5,000 signals split 0.8
SHAPE = (1, LENGTH, 1)  # (C, H, W) of one signal
HOW_TO_GET = "pip install mnist1d (its generator makes the data set; nothing is downloaded)"


def installed() -> bool:
    """Is the generator importable? (Looks only: nothing is made.)"""
    from importlib.util import find_spec

    return find_spec("mnist1d") is not None


def load_mnist1d() -> ArrayData:
    """The 4,000 + 1,000 signals the generator makes with its defaults, in its order."""
    try:
        from mnist1d.data import get_dataset_args, make_dataset
    except ImportError:
        raise UsageError(
            f"--dataset mnist1d: the mnist1d package is missing; {HOW_TO_GET}"
        ) from None
    # The generator seeds and draws from the process's global `random` and `np.random`:
    # their states are put back, so that making the data changes nothing else.
    saved = random.getstate(), np.random.get_state()
    try:
        made = make_dataset(get_dataset_args())
    finally:
        random.setstate(saved[0])
        np.random.set_state(saved[1])
    X_train, X_test = (made[k].astype(np.float32)[:, None, :, None] for k in ("x", "x_test"))
    y_train, y_test = (made[k].astype(np.int64) for k in ("y", "y_test"))
    if (len(y_train), len(y_test)) != SIZES or X_train.shape[1:] != SHAPE:
        raise UsageError(
            f"--dataset mnist1d: the installed generator made {len(y_train)} + {len(y_test)} "
            f"signals of shape {X_train.shape[1:]}, not {SIZES[0]} + {SIZES[1]} of {SHAPE}; "
            "pip install mnist1d==0.0.2.post1"
        )
    return ArrayData(X_train, y_train, X_test, y_test, num_classes=10)
