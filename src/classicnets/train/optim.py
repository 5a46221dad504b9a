"""The optimizer and the learning-rate schedule an experiment's keys describe (the keys
themselves are declared in experiments/keys.py, OPTIM)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal, Protocol

import torch

Optimizer = Literal["sgd", "adam", "adamw", "adagrad", "rmsprop"]
Schedule = Literal["none", "step", "cosine", "onecycle"]


class OptimSettings(Protocol):
    """The keys an optimizer and its schedule are made from (experiments/keys.py: OPTIM)."""

    optimizer: Optimizer
    learning_rate: float
    momentum: float
    nesterov: bool
    weight_decay: float
    lr_schedule: Schedule
    label_smoothing: float
    max_norm: float


def make_optimizer(
    params: Iterable[torch.nn.Parameter], keys: OptimSettings
) -> torch.optim.Optimizer:
    """The torch.optim optimizer, in its multi-tensor (foreach) or fused form."""
    params = list(params)
    lr, wd = keys.learning_rate, keys.weight_decay
    if keys.optimizer == "sgd":
        return torch.optim.SGD(
            params,
            lr=lr,
            momentum=keys.momentum,
            nesterov=keys.nesterov and keys.momentum > 0,
            weight_decay=wd,
            foreach=True,
        )
    if keys.optimizer in ("adam", "adamw"):
        # fused: one kernel for the whole update, on CPU (torch >= 2.4) and CUDA
        cls = torch.optim.Adam if keys.optimizer == "adam" else torch.optim.AdamW
        return cls(params, lr=lr, weight_decay=wd, fused=True)
    if keys.optimizer == "adagrad":
        return torch.optim.Adagrad(params, lr=lr, weight_decay=wd, foreach=True)
    return torch.optim.RMSprop(params, lr=lr, momentum=keys.momentum, weight_decay=wd, foreach=True)


def make_schedule(
    optimizer: torch.optim.Optimizer, keys: OptimSettings, total_steps: int
) -> torch.optim.lr_scheduler.LRScheduler | None:
    """A schedule stepped once per update, over the run's `total_steps` updates."""
    total_steps = max(total_steps, 1)
    if keys.lr_schedule == "step":
        milestones = [total_steps // 2, (3 * total_steps) // 4]
        return torch.optim.lr_scheduler.MultiStepLR(optimizer, milestones, gamma=0.1)
    if keys.lr_schedule == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=total_steps)
    if keys.lr_schedule == "onecycle":
        return torch.optim.lr_scheduler.OneCycleLR(
            optimizer,
            max_lr=keys.learning_rate,
            total_steps=total_steps,
            cycle_momentum=keys.optimizer in ("sgd", "rmsprop") and keys.momentum > 0,
        )
    return None
