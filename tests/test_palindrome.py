"""Palindrome data: what a sample is, the encodings, the fixed splits (disjoint, reproducible,
the note when there are too few distinct palindromes) and the streams."""

from __future__ import annotations

import numpy as np
import pytest

from classicnets.data.palindrome import (
    encode,
    held_out,
    num_distinct,
    palindrome_batch,
    palindrome_splits,
    stream_sample,
)
from classicnets.errors import UsageError


def whole(digits: np.ndarray, targets: np.ndarray) -> np.ndarray:
    return np.concatenate([digits, targets[:, None]], axis=1)  # (N, T + 1)


@pytest.mark.parametrize("input_length", [1, 2, 5, 10, 19])
def test_a_sample_is_a_palindrome_whose_last_digit_is_the_target(input_length):
    digits, targets = palindrome_batch(500, input_length, 0, 3)
    assert digits.shape == (500, input_length) and targets.shape == (500,)
    assert digits.dtype == np.uint8 and targets.dtype == np.int64
    full = whole(digits, targets)
    assert (full == full[:, ::-1]).all()  # the input is a palindrome's prefix
    assert (targets == digits[:, 0]).all()  # the target is the first digit
    assert digits.min() == 0 and digits.max() == 9


def test_num_distinct_counts_the_free_half():
    assert [num_distinct(T) for T in (1, 2, 3, 4, 9, 10)] == [10, 100, 100, 1000, 10**5, 10**6]
    digits, targets = palindrome_batch(20_000, 3, 0, 0)
    assert len(np.unique(whole(digits, targets), axis=0)) == num_distinct(3)


def test_encodings():
    digits, _ = palindrome_batch(50, 7, 1, 0)
    one_hot = encode(digits, 10)
    assert one_hot.shape == (50, 7, 10) and one_hot.dtype == np.float32
    assert (one_hot.sum(-1) == 1).all() and (one_hot.argmax(-1) == digits).all()
    raw = encode(digits, 1)
    assert raw.shape == (50, 7, 1) and raw.dtype == np.float32
    assert (raw[..., 0] == digits).all()
    with pytest.raises(UsageError, match="input_dim 3"):
        encode(digits, 3)


def test_streaming_is_a_function_of_seed_and_step():
    a = palindrome_batch(64, 9, 7, 11)
    assert all((x == y).all() for x, y in zip(a, palindrome_batch(64, 9, 7, 11)))
    for other in (palindrome_batch(64, 9, 7, 12), palindrome_batch(64, 9, 8, 11)):
        assert not (a[0] == other[0]).all()


def test_held_out_sets_are_fixed_and_from_their_own_streams():
    val, test = held_out(300, 8, 5, "val"), held_out(300, 8, 5, "test")
    assert (val[0] == held_out(300, 8, 5, "val")[0]).all()
    train = stream_sample(300, 8, 5, "train")
    first_batch = palindrome_batch(300, 8, 5, 0)  # numpy pads seeds with zeros: not the same
    for a, b in [(val, test), (val, train), (train, first_batch), (test, first_batch)]:
        assert not (a[0] == b[0]).all()
    with pytest.raises(UsageError, match="expected val or test"):
        held_out(10, 8, 5, "train")


@pytest.mark.parametrize(
    "data_size, input_length", [(600, 4), (3000, 9), (5000, 30)], ids=["dense", "sparse", "long"]
)
def test_splits_hold_distinct_palindromes_in_no_two_splits(data_size, input_length):
    splits = palindrome_splits(data_size, input_length, 0.8, 42)
    parts = [splits.train, splits.val, splits.test]
    assert [len(t) for _, t in parts] == [
        int(0.8 * data_size),
        data_size // 10,
        data_size // 10,
    ]
    rows = [{tuple(r) for r in whole(d, t)} for d, t in parts]
    assert sum(map(len, rows)) == data_size  # distinct within each split ...
    assert not (rows[0] & rows[1] or rows[0] & rows[2] or rows[1] & rows[2])  # ... and across
    for d, t in parts:
        full = whole(d, t)
        assert (full == full[:, ::-1]).all()
    assert splits.note is None


def test_splits_are_reproducible_from_the_seed():
    a, b = palindrome_splits(500, 6, 0.8, 1), palindrome_splits(500, 6, 0.8, 1)
    c = palindrome_splits(500, 6, 0.8, 2)
    for split in ("train", "val", "test"):
        assert (getattr(a, split)[0] == getattr(b, split)[0]).all()
    assert not (a.train[0] == c.train[0]).all()


def test_a_data_size_beyond_the_distinct_palindromes_gets_a_note():
    splits = palindrome_splits(5000, 4, 0.8, 0)  # 5 digits: 1,000 distinct
    sizes = [len(t) for _, t in (splits.train, splits.val, splits.test)]
    assert sizes == [800, 100, 100]
    assert splits.note == (
        "data_size 5,000 exceeds the 1,000 distinct palindromes of 5 digits: each is used "
        "once, 800 train, 100 validation, 100 test"
    )
    assert "\n" not in splits.note
    rows = {tuple(r) for d, t in (splits.train, splits.val, splits.test) for r in whole(d, t)}
    assert len(rows) == 1000


def test_val_size_and_empty_splits():
    splits = palindrome_splits(100, 6, 0.5, 0, val_size=10)
    assert [len(t) for _, t in (splits.train, splits.val, splits.test)] == [50, 10, 40]
    with pytest.raises(UsageError, match="no palindromes left for validation or test"):
        palindrome_splits(100, 6, 1.0, 0)
    with pytest.raises(UsageError, match="input_length 0"):
        palindrome_batch(10, 0, 0, 0)
    with pytest.raises(UsageError, match="data_size 0"):
        palindrome_splits(0, 5, 0.8, 0)


@pytest.mark.parametrize("input_length", [5, 10])
def test_held_out_palindromes_never_occur_in_a_whole_default_stream(input_length):
    """Over the default run's every training batch (5,000 steps of 128, seed 42), no
    validation or test palindrome ever trains: they are held out by a hash of the sequence.
    (Before, 100% of the T = 5 and 45% of the T = 10 test palindromes also trained.)"""
    held = {
        row.tobytes()
        for split in ("val", "test")
        for row in stream_sample(1000, input_length, 42, split)[0]
    }
    trained = set()
    for step in range(5000):
        trained.update(row.tobytes() for row in palindrome_batch(128, input_length, 42, step)[0])
    assert len(trained) > 900 and len(held) > 50
    assert len(held & trained) == 0


def test_a_space_too_small_to_hold_sets_out_says_so():
    from classicnets.data.palindrome import can_hold_out, hold_out_note

    assert not can_hold_out(3) and can_hold_out(4)
    assert hold_out_note(3) == (
        "palindromes of 4 digits are only 100: too few to give validation and test their own, "
        "so they share palindromes with training (accuracy there measures memory of seen "
        "sequences)"
    )
    assert hold_out_note(4) is None
