"""Every random stream of a run, named: one seed, and a numbered stream for each use.

A stream is NumPy's generator on the entropy [seed, stream, *ids], where ids say which epoch,
step or rank draws. NumPy's SeedSequence pads entropy with zeros, so [s, 1] and [s, 1, 0] are
the same stream: each stream therefore takes a fixed number of ids, and no two streams share
a number, which makes every (stream, ids) distinct. tests/test_seeds.py checks both.

Numbers 0 to 5 keep the entropy they had before this registry existed, so the records of
image and toy runs are unchanged; the palindrome streams moved to 6 and up (they collided:
[s, 1], the fixed palindrome set, was epoch 0's batch order [s, 1, 0]).

Not drawn from these streams, and said where they are used:
  * initial weights of torch models: torch's own generator, seeded with the run's seed
    (`seed_torch`);
  * scikit-learn's splits (the validation cut of every data set, images and toy sets
    alike, in data/splits.py; stratified subsets; the toy sets' test cut): their own
    generator, given the run's seed itself as random_state.
"""

from __future__ import annotations

from enum import IntEnum
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import torch


class Stream(IntEnum):
    WEIGHTS = 0  # the NumPy/PyTorch toy MLP's initial weights (numpy_nn.init)
    EPOCH_ORDER = 1  # (epoch,): the order of the training samples in an epoch
    PALINDROME_BATCH = 2  # (step,): the streaming palindromes of a training step
    PALINDROME_VAL = 3  # (): the streaming validation palindromes
    AUGMENT = 4  # (epoch,): crops and flips of an epoch's batches
    DROPOUT_RANK = 5  # (epoch, rank): torch's generator of each data-parallel rank
    PALINDROME_FIXED = 6  # (): the fixed palindrome set (--data_size N), before its split
    PALINDROME_TEST = 7  # (): the streaming test palindromes
    PALINDROME_TRAIN_SAMPLE = 8  # (): the fixed sample the "train" evaluation reads
    TRAIN_EVAL_SUBSET = 9  # (): which training samples the "train" evaluation reads


ARITY = {  # how many ids each stream takes
    Stream.WEIGHTS: 0,
    Stream.EPOCH_ORDER: 1,
    Stream.PALINDROME_BATCH: 1,
    Stream.PALINDROME_VAL: 0,
    Stream.AUGMENT: 1,
    Stream.DROPOUT_RANK: 2,
    Stream.PALINDROME_FIXED: 0,
    Stream.PALINDROME_TEST: 0,
    Stream.PALINDROME_TRAIN_SAMPLE: 0,
    Stream.TRAIN_EVAL_SUBSET: 0,
}


def rng(seed: int, stream: Stream, *ids: int) -> np.random.Generator:
    """The generator of `stream` for this seed and these ids (epoch, step, rank)."""
    if len(ids) != ARITY[stream]:
        raise ValueError(f"stream {stream.name} takes {ARITY[stream]} ids, not {len(ids)}")
    return np.random.default_rng([seed, int(stream), *ids])


def torch_generator(seed: int, stream: Stream, *ids: int) -> torch.Generator:
    """A CPU torch generator seeded from a stream (torch draws what NumPy cannot: per-batch
    augmentation on the device's tensors). torch is imported here: the NumPy MLP never is."""
    import torch

    return torch.Generator().manual_seed(torch_seed(seed, stream, *ids))


def torch_seed(seed: int, stream: Stream, *ids: int) -> int:
    """A seed for torch's generators drawn from a stream."""
    return int(rng(seed, stream, *ids).integers(2**62))


def seed_torch(seed: int) -> None:
    """Seed torch's global generator with the run's seed: initial weights and dropout."""
    import torch

    torch.manual_seed(seed)


def epoch_order(seed: int, epoch: int, n: int) -> np.ndarray:
    """The order of n training samples in `epoch`."""
    return rng(seed, Stream.EPOCH_ORDER, epoch).permutation(n)
