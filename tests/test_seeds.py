"""The random streams (seeds.py): every (stream, ids) its own generator, the arity rule that
makes it so, and the entropy of the streams that predate the registry kept as it was."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from classicnets.seeds import ARITY, Stream, rng, torch_seed

SEEDS = (0, 7, 42)
IDS = (0, 1, 2)


def _draw(generator: np.random.Generator) -> tuple[int, ...]:
    return tuple(int(v) for v in generator.integers(0, 2**62, size=4))


def _every_stream_call() -> list[tuple[Stream, tuple[int, ...]]]:
    """(stream, ids) for every stream, with every ids in IDS of its arity."""
    return [
        (stream, ids) for stream in Stream for ids in itertools.product(IDS, repeat=ARITY[stream])
    ]


def test_every_stream_has_an_arity_and_its_own_number():
    assert set(ARITY) == set(Stream)
    assert len({int(s) for s in Stream}) == len(Stream)


@pytest.mark.parametrize("seed", SEEDS)
def test_every_stream_and_ids_draw_their_own_numbers(seed):
    calls = _every_stream_call()
    # 1 + 3 + 3 + 1 + 3 + 9 + 1 + 1 + 1 + 1 (arities 0,1,1,0,1,2,0,0,0,0 over ids {0,1,2})
    assert len(calls) == 24
    draws = {(stream.name, ids): _draw(rng(seed, stream, *ids)) for stream, ids in calls}
    assert len(set(draws.values())) == len(draws), "two (stream, ids) share a generator"


def test_the_fixed_palindromes_no_longer_share_epoch_0s_batch_order():
    # Before the registry, the fixed palindrome set drew from [s, 1]: epoch 0's order [s, 1, 0].
    assert _draw(rng(7, Stream.PALINDROME_FIXED)) != _draw(rng(7, Stream.EPOCH_ORDER, 0))


def test_numpy_pads_entropy_with_zeros_which_is_why_each_stream_has_an_arity():
    # The reason for the arity rule: without it, (stream 1, no ids) would be (stream 1, id 0).
    assert _draw(np.random.default_rng([7, 1])) == _draw(np.random.default_rng([7, 1, 0]))
    assert _draw(np.random.default_rng([7, 1])) != _draw(np.random.default_rng([7, 1, 1]))


@pytest.mark.parametrize(
    "stream, ids",
    [
        (Stream.WEIGHTS, (0,)),
        (Stream.EPOCH_ORDER, ()),
        (Stream.EPOCH_ORDER, (0, 0)),
        (Stream.DROPOUT_RANK, (0,)),
        (Stream.PALINDROME_FIXED, (0,)),
    ],
)
def test_a_wrong_number_of_ids_is_refused(stream, ids):
    expected = f"stream {stream.name} takes {ARITY[stream]} ids, not {len(ids)}"
    with pytest.raises(ValueError) as caught:
        rng(7, stream, *ids)
    assert str(caught.value) == expected


@pytest.mark.parametrize("seed", SEEDS)
def test_the_streams_that_predate_the_registry_keep_their_entropy(seed):
    """Image and toy runs' records stay what they were: these streams draw from the very
    entropy they had before the registry existed."""
    old = np.random.default_rng
    for e, r, step in itertools.product(IDS, IDS, IDS):
        assert _draw(rng(seed, Stream.EPOCH_ORDER, e)) == _draw(old([seed, 1, e]))
        assert _draw(rng(seed, Stream.AUGMENT, e)) == _draw(old([seed, 4, e]))
        assert _draw(rng(seed, Stream.DROPOUT_RANK, e, r)) == _draw(old([seed, 5, e, r]))
        assert _draw(rng(seed, Stream.PALINDROME_BATCH, step)) == _draw(old([seed, 2, step]))
        # torch's per-rank dropout seed is drawn from that same entropy
        assert torch_seed(seed, Stream.DROPOUT_RANK, e, r) == int(
            old([seed, 5, e, r]).integers(2**62)
        )
    assert _draw(rng(seed, Stream.WEIGHTS)) == _draw(old([seed, 0]))
