"""An exponential moving average of a model's weights, updated after every optimizer step.

The average is a second copy of the model, evaluated in place of the trained weights: late
in a short run the trained weights jitter around a minimum with the last batches' noise,
and their average sits nearer its middle (hlb-CIFAR10 and cifar10-airbench evaluate such an
average). Every floating-point tensor of the state is averaged, the parameters and batch
norm's running statistics alike; integer buffers (batch norm's batch count) are copied.

The decay is warmed up as TensorFlow's ExponentialMovingAverage does with num_updates:
update n (1, 2, ...) uses min(decay, (1 + n) / (10 + n)), so the first updates mostly copy
the trained weights and the initial ones are soon forgotten, whatever the decay.
"""

from __future__ import annotations

import copy
from typing import Any

import torch
from torch import nn


def warmed_decay(decay: float, n: int) -> float:
    """The decay update n (1-based) uses."""
    return min(decay, (1 + n) / (10 + n))


class WeightAverage:
    """`model`: a copy of the trained model holding the average; `updates`: how many."""

    def __init__(self, trained: nn.Module, decay: float):
        self.decay, self.updates = decay, 0
        self.model = copy.deepcopy(trained)
        for p in self.model.parameters():
            p.requires_grad_(False)
        self.follow(trained)

    def follow(self, trained: nn.Module) -> None:
        """Pair the average's tensors with the trained model's, by name (again when the
        trained model is replaced by an equal one, as data-parallel training does)."""
        ours, theirs = self.model.state_dict(), trained.state_dict()
        if ours.keys() != theirs.keys():
            raise ValueError("the averaged and the trained model have different tensors")
        floats = [k for k in ours if ours[k].is_floating_point()]
        self._floats = ([ours[k] for k in floats], [theirs[k] for k in floats])
        self._copied = [(ours[k], theirs[k]) for k in ours if k not in set(floats)]

    @torch.no_grad()
    def update(self) -> None:
        """avg <- d * avg + (1 - d) * trained, d = warmed_decay(decay, n); one fused op."""
        self.updates += 1
        weight = 1.0 - warmed_decay(self.decay, self.updates)
        averaged, trained = self._floats
        torch._foreach_lerp_(averaged, trained, weight)  # avg + weight * (trained - avg)
        for ours, theirs in self._copied:
            ours.copy_(theirs)

    def state_dict(self) -> dict[str, Any]:
        return {"model": self.model.state_dict(), "updates": self.updates}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.model.load_state_dict(state["model"])  # in place: the pairs stay valid
        self.updates = int(state["updates"])
