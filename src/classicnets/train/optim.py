"""The training keys every torch.optim experiment shares, and the optimizer and schedule
they describe. Experiments inherit OptimKeys and redeclare a field to change its default
(the CNN's learning rate 1e-4, the RNN's rmsprop)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

import torch

from classicnets.config import hp, non_negative, positive

Optimizer = Literal["sgd", "adam", "adamw", "adagrad", "rmsprop"]
Schedule = Literal["none", "step", "cosine", "onecycle"]


def _below_one(value: float) -> str | None:
    return None if 0 <= value < 1 else "must be in [0, 1), e.g. 0.1"


@dataclass(frozen=True)
class OptimKeys:
    optimizer: Optimizer = hp("adam", "sgd, adam, adamw, adagrad or rmsprop (torch.optim)")
    learning_rate: float = hp(1e-3, "step size (the peak of the schedule)", positive)
    momentum: float = hp(0.0, "sgd and rmsprop: momentum (0 = none, as torch.optim)", _below_one)
    nesterov: bool = hp(False, "sgd: Nesterov momentum")
    weight_decay: float = hp(
        0.0,
        "L2 penalty; decoupled (AdamW-style) for adamw, added to the gradient otherwise",
        non_negative,
    )
    lr_schedule: Schedule = hp(
        "none",
        "learning rate over the run: none (constant), step (x0.1 at 50% and 75% of the "
        "steps), cosine (to 0), onecycle (warm-up to learning_rate, then down)",
    )
    label_smoothing: float = hp(0.0, "cross-entropy label smoothing (0 = none)", _below_one)
    max_norm: float = hp(
        0.0, "clip the gradient to this global L2 norm (0 = no clipping)", non_negative
    )


def make_optimizer(params: Iterable[torch.nn.Parameter], keys: OptimKeys) -> torch.optim.Optimizer:
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
    optimizer: torch.optim.Optimizer, keys: OptimKeys, total_steps: int
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
