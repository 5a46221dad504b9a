"""Palindromes of digits: read the first T digits, predict the last, which equals the first.

A palindrome of T + 1 digits is fixed by its first k = ceil((T + 1) / 2) digits, the rest
mirror them, so there are exactly 10^k distinct ones. Digits are arrays (N, T) of uint8 and
targets (N,) of int64; `encode` turns digits into the network's input.

Two ways to get data, both reproducible from `seed` alone:
  * streaming (the course's way): `palindrome_batch(batch_size, T, seed, step)` is a fresh batch
    for every step, from the PALINDROME_BATCH stream of (seed, step); `stream_sample` gives
    the fixed validation and test sets from their own streams, and a fixed sample of the
    training distribution (for the "train" evaluation) from another (seeds.py);
  * a fixed data set: `palindrome_splits` draws distinct palindromes and splits them, so no
    palindrome is in two splits.
All sampling is vectorised: no Python loop over samples.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from classicnets.errors import UsageError
from classicnets.seeds import Stream, rng

NUM_DIGITS = 10  # also the number of classes
_SAMPLES = {
    "val": Stream.PALINDROME_VAL,
    "test": Stream.PALINDROME_TEST,
    "train": Stream.PALINDROME_TRAIN_SAMPLE,
}

Split = tuple[np.ndarray, np.ndarray]  # digits (N, T) uint8, targets (N,) int64


def num_distinct(input_length: int) -> int:
    """How many palindromes of input_length + 1 digits there are: 10^ceil((T + 1) / 2)."""
    return NUM_DIGITS ** ((input_length + 2) // 2)


def _from_halves(halves: np.ndarray, input_length: int) -> Split:
    """(N, k) leading digits -> (digits (N, T), targets (N,)) of the palindromes they fix."""
    L = input_length + 1
    full = np.concatenate([halves, halves[:, : L // 2][:, ::-1]], axis=1)  # (N, T + 1)
    return np.ascontiguousarray(full[:, :input_length]), full[:, -1].astype(np.int64)


def _random(n: int, input_length: int, rng: np.random.Generator) -> Split:
    halves = rng.integers(0, NUM_DIGITS, size=(n, (input_length + 2) // 2), dtype=np.uint8)
    return _from_halves(halves, input_length)


def _check(n: int, input_length: int, name: str) -> None:
    if input_length < 1:
        raise UsageError(f"input_length {input_length}: expected at least 1 digit to read")
    if n < 1:
        raise UsageError(f"{name} {n}: expected a positive number of palindromes")


def palindrome_batch(batch_size: int, input_length: int, seed: int, step: int) -> Split:
    """The training batch of `step` in streaming mode: the same (seed, step), the same batch."""
    _check(batch_size, input_length, "batch_size")
    return _random(batch_size, input_length, rng(seed, Stream.PALINDROME_BATCH, step))


def stream_sample(n: int, input_length: int, seed: int, split: str) -> Split:
    """n palindromes from the stream of `split`: "val" and "test" are the held-out sets,
    "train" a fixed sample of the training distribution (its own stream, not a batch)."""
    if split not in _SAMPLES:
        raise UsageError(f"split {split!r}: expected one of {', '.join(_SAMPLES)}")
    _check(n, input_length, "eval_size")
    return _random(n, input_length, rng(seed, _SAMPLES[split]))


def held_out(n: int, input_length: int, seed: int, split: str) -> Split:
    """The fixed validation ("val") or test ("test") set of streaming mode."""
    if split not in ("val", "test"):
        raise UsageError(f"held-out split {split!r}: expected val or test")
    return stream_sample(n, input_length, seed, split)


@dataclass(frozen=True)
class PalindromeSplits:
    train: Split
    val: Split
    test: Split
    note: str | None  # one line when data_size exceeds the distinct palindromes, else None


def _distinct_halves(n: int, k: int, rng: np.random.Generator) -> np.ndarray:
    """n distinct rows of k digits (n <= 10^k), in random order."""
    total = NUM_DIGITS**k
    if total <= 2 * n:  # dense: shuffle them all, take n
        index = rng.permutation(total)[:n]
        powers = NUM_DIGITS ** np.arange(k - 1, -1, -1, dtype=np.int64)
        return (index[:, None] // powers % NUM_DIGITS).astype(np.uint8)
    rows = np.empty((0, k), np.uint8)
    while len(rows) < n:  # sparse: draw, drop repeats (keeping draw order), top up
        more = rng.integers(0, NUM_DIGITS, size=(n - len(rows), k), dtype=np.uint8)
        rows = np.concatenate([rows, more])
        _, first = np.unique(rows, axis=0, return_index=True)
        rows = rows[np.sort(first)]
    return rows


def palindrome_splits(
    data_size: int,
    input_length: int,
    portion_train: float,
    seed: int,
    *,
    val_size: int | None = None,
) -> PalindromeSplits:
    """A fixed data set of min(data_size, 10^k) distinct palindromes: portion_train of them
    train, val_size validate (default: half of the rest), the others test. Distinct before
    splitting, so no palindrome sits in two splits."""
    _check(data_size, input_length, "data_size")
    distinct = num_distinct(input_length)
    n = min(data_size, distinct)
    halves = _distinct_halves(n, (input_length + 2) // 2, rng(seed, Stream.PALINDROME_FIXED))
    digits, targets = _from_halves(halves, input_length)
    n_train = int(round(portion_train * n))
    n_val = (n - n_train) // 2 if val_size is None else val_size
    sizes = {"train": n_train, "validation": n_val, "test": n - n_train - n_val}
    empty = [name for name, size in sizes.items() if size <= 0]
    if empty:
        raise UsageError(
            f"data_size {data_size} (distinct: {n:,}) with portion_train {portion_train}: "
            f"no palindromes left for {' or '.join(empty)}; raise data_size or change "
            "portion_train"
        )
    cuts = np.cumsum([n_train, n_val])
    train, val, test = ((d, t) for d, t in zip(np.split(digits, cuts), np.split(targets, cuts)))
    note = None
    if data_size > distinct:
        note = (
            f"data_size {data_size:,} exceeds the {distinct:,} distinct palindromes of "
            f"{input_length + 1} digits: each is used once, {sizes['train']:,} train, "
            f"{sizes['validation']:,} validation, {sizes['test']:,} test"
        )
    return PalindromeSplits(train, val, test, note)


def encode(digits: np.ndarray, input_dim: int) -> np.ndarray:
    """Digits (N, T) -> float32 inputs (N, T, input_dim): one-hot (10) or the digit itself (1,
    unscaled, 0..9, as the course feeds it)."""
    if input_dim == NUM_DIGITS:
        return np.eye(NUM_DIGITS, dtype=np.float32)[digits]
    if input_dim == 1:
        return digits[..., None].astype(np.float32)
    raise UsageError(f"input_dim {input_dim}: expected 10 (one-hot digits) or 1 (the digit)")
