"""The optimizer and the learning-rate schedule an experiment's keys describe (the keys
themselves are declared in experiments/keys.py, OPTIM)."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from typing import Literal, Protocol

import torch

from classicnets.errors import UsageError

Optimizer = Literal["sgd", "adam", "adamw", "adagrad", "rmsprop"]
Schedule = Literal["none", "step", "cosine", "onecycle", "linear"]


class OptimSettings(Protocol):
    """The keys an optimizer and its schedule are made from (experiments/keys.py: OPTIM)."""

    optimizer: Optimizer
    learning_rate: float
    momentum: float
    nesterov: bool
    weight_decay: float
    lr_schedule: Schedule
    warmup: float
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


def schedule_problem(keys: OptimSettings) -> str | None:
    """What is wrong with the schedule's keys together, as one line; or None."""
    if keys.warmup > 0 and keys.lr_schedule == "onecycle":
        return (
            f"--warmup {keys.warmup:g}: onecycle warms up on its own (the first 30% of the "
            "steps); use --warmup 0 with it, or --lr_schedule linear"
        )
    return None


def schedule_factor(keys: OptimSettings, total_steps: int) -> Callable[[int], float]:
    """The rate at update t (0-based) as a fraction of learning_rate, in closed form: a
    linear warm-up over the first round(warmup * total_steps) updates, from 1/W up to 1,
    then the schedule's shape over the rest (none, linear or cosine to 0, or step: x0.1 at
    50% and 75% of all the steps, the milestones the warm-up-free step schedule has)."""
    T = max(total_steps, 1)
    W = min(round(keys.warmup * T), T)
    shape = keys.lr_schedule

    def factor(t: int) -> float:
        if t < W:
            return (t + 1) / W
        u = (t - W) / max(T - W, 1)  # 0 at the end of the warm-up, 1 after the last update
        if shape == "linear":
            return max(1.0 - u, 0.0)
        if shape == "cosine":
            return 0.5 * (1.0 + math.cos(math.pi * min(u, 1.0)))
        if shape == "step":
            return 0.1 ** ((t >= T // 2) + (t >= (3 * T) // 4))
        return 1.0

    return factor


def make_schedule(
    optimizer: torch.optim.Optimizer, keys: OptimSettings, total_steps: int
) -> torch.optim.lr_scheduler.LRScheduler | None:
    """A schedule stepped once per update, over the run's `total_steps` updates.

    Without a warm-up, step, cosine and onecycle are torch's own schedulers (as they always
    were here: runs made before `warmup` existed resume to the bit); linear, and any schedule
    with a warm-up, is schedule_factor's closed form in a LambdaLR. A function, not an
    object, so its checkpoint holds only the step count: the keys make it again.
    """
    problem = schedule_problem(keys)
    if problem:
        raise UsageError(problem)
    total_steps = max(total_steps, 1)
    if keys.warmup > 0 or keys.lr_schedule == "linear":
        factor = schedule_factor(keys, total_steps)
        return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)
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
