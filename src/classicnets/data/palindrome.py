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

import functools
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


# Streaming mode holds sets out for real: every palindrome belongs to one split, by a hash
# of its leading digits (BUCKETS buckets: one for test, one for validation, the rest train),
# so no validation or test palindrome ever occurs in a training batch.
BUCKETS = 20
SPLIT_BUCKET = {"test": 0, "val": 1}  # every other bucket trains
_MIX = np.uint64(0x9E3779B97F4A7C15)  # 2^64 / golden ratio: a multiplicative hash


def bucket(halves: np.ndarray) -> np.ndarray:
    """(N, k) leading digits -> (N,) bucket of each palindrome, 0 .. BUCKETS - 1."""
    h = np.zeros(len(halves), dtype=np.uint64)
    with np.errstate(over="ignore"):
        for column in halves.T.astype(np.uint64):
            h = (h + column + np.uint64(1)) * _MIX  # wraps around 2^64, as hashes do
    return ((h >> np.uint64(40)) % np.uint64(BUCKETS)).astype(np.int64)


def split_of(halves: np.ndarray) -> np.ndarray:
    """(N, k) -> (N,) "train", "val" or "test": which split each palindrome belongs to."""
    names = np.full(BUCKETS, "train", dtype=object)
    for split, b in SPLIT_BUCKET.items():
        names[b] = split
    return names[bucket(halves)]


MIN_HELD_OUT = 25  # distinct palindromes a held-out split needs to be worth the name


@functools.lru_cache(maxsize=64)  # a pure function of T, asked for every batch
def can_hold_out(input_length: int) -> bool:
    """Is the palindrome space large enough that validation and test have MIN_HELD_OUT
    palindromes of their own? (10^k distinct ones, k = ceil((T + 1) / 2): ten at T = 1,
    a hundred at T = 2 and 3; from T = 4 on, a thousand and more.)"""
    k = (input_length + 2) // 2
    if k > 6:
        return True  # a million or more: ~50,000 in each held-out bucket
    every = np.array(np.unravel_index(np.arange(NUM_DIGITS**k), (NUM_DIGITS,) * k)).T
    splits = list(split_of(every))
    return min(splits.count("val"), splits.count("test")) >= MIN_HELD_OUT


def _random(n: int, input_length: int, rng: np.random.Generator, split: str | None = None) -> Split:
    """n random palindromes; with `split`, only palindromes of that split (drawn until n are
    found, so the result is a function of the generator alone)."""
    k = (input_length + 2) // 2
    if split is None or not can_hold_out(input_length):
        halves = rng.integers(0, NUM_DIGITS, size=(n, k), dtype=np.uint8)
        return _from_halves(halves, input_length)
    wanted = 1 - len(SPLIT_BUCKET) / BUCKETS if split == "train" else 1 / BUCKETS
    found = np.empty((0, k), np.uint8)
    while len(found) < n:
        draw = max(16, int(1.2 * (n - len(found)) / wanted))
        halves = rng.integers(0, NUM_DIGITS, size=(draw, k), dtype=np.uint8)
        found = np.concatenate([found, halves[split_of(halves) == split]])
    return _from_halves(found[:n], input_length)


def _check(n: int, input_length: int, name: str) -> None:
    if input_length < 1:
        raise UsageError(f"input_length {input_length}: expected at least 1 digit to read")
    if n < 1:
        raise UsageError(f"{name} {n}: expected a positive number of palindromes")


def palindrome_batch(batch_size: int, input_length: int, seed: int, step: int) -> Split:
    """The training batch of `step` in streaming mode: the same (seed, step), the same batch;
    only training palindromes (never one of the held-out splits)."""
    _check(batch_size, input_length, "batch_size")
    stream = rng(seed, Stream.PALINDROME_BATCH, step)
    return _random(batch_size, input_length, stream, "train")


def stream_sample(n: int, input_length: int, seed: int, split: str) -> Split:
    """n palindromes from the stream of `split`: "val" and "test" are the held-out sets (of
    palindromes that never train), "train" a fixed sample of the training distribution (its
    own stream, not a batch)."""
    if split not in _SAMPLES:
        raise UsageError(f"split {split!r}: expected one of {', '.join(_SAMPLES)}")
    _check(n, input_length, "eval_size")
    return _random(n, input_length, rng(seed, _SAMPLES[split]), split)


def hold_out_note(input_length: int) -> str | None:
    """One line when streaming at this length cannot hold sets out, else None."""
    if can_hold_out(input_length):
        return None
    return (
        f"palindromes of {input_length + 1} digits are only {num_distinct(input_length):,}: "
        "too few to give validation and test their own, so they share palindromes with "
        "training (accuracy there measures memory of seen sequences)"
    )


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
