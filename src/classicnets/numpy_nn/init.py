"""One initialiser for both MLPs, so the NumPy and the PyTorch run start from the same weights.

It draws what torch.nn.Linear's own reset_parameters draws (kaiming_uniform with a=sqrt(5),
which works out to U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for the weight, and the same bound for
the bias), but from a NumPy generator seeded by the run's seed, so it is reproducible without
torch and identical in both implementations.
"""

from __future__ import annotations

import numpy as np

from classicnets.seeds import Stream, rng


def init_linear_layers(sizes: tuple[int, ...], seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """Weights and biases for Linear layers sizes[0] -> sizes[1] -> ... -> sizes[-1].

    Returns float64 (W, b) pairs with W of shape (out, in), b of shape (out,): the layout of
    torch.nn.Linear, so the arrays copy one to one into either implementation.
    """
    draw = rng(seed, Stream.WEIGHTS)
    layers = []
    for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
        bound = 1.0 / np.sqrt(fan_in)
        W = draw.uniform(-bound, bound, size=(fan_out, fan_in))
        b = draw.uniform(-bound, bound, size=(fan_out,))
        layers.append((W, b))
    return layers
