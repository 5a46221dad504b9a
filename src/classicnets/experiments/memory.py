"""What a run needs in memory, estimated from its config and the data's shape before anything
is allocated, and the refusal of a run that cannot fit (one line, exit 2, no run directory).

Each model's estimate lives beside its builder (experiments/*.py) and is a list of parts:

    parameters x copies     weights, gradients and the optimizer's state (Adam: 2 copies more)
    a training batch        the activations kept for the backward pass, and their gradients
    an evaluation batch     the largest layer's input and output, EVAL_BATCH samples, no graph
    the data                as the run holds it (loaded, and again on the device)

Rough on purpose: the largest terms counted, allocator slack and the framework's own memory
not. It errs high only where that is cheap, so every default and every test run passes;
it is there to refuse what cannot fit (a 149 GiB MLP, a 2 TB CNN) in a second, not after
minutes of a run that then dies out of memory.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any, NamedTuple

import torch

from classicnets.errors import UsageError

FLOAT = 4  # bytes of a float32: the weights and activations of every torch model here
GiB = 2**30


class Part(NamedTuple):
    """One term of a run's memory, and the key that would make it smaller."""

    what: str  # as the message says it: "parameters, gradients and AdamW state"
    bytes: int
    key: str  # the key that sizes it, as the message names it (--KEY VALUE)
    value: Any
    fix: str | Callable[[int], str]  # what to do, or: the bytes available -> what to do


def optimizer_state(cfg: Any) -> tuple[int, str]:
    """Copies of the parameters the optimizer keeps (torch.optim's state), and its name."""
    momentum = getattr(cfg, "momentum", 0) > 0
    copies = {"sgd": int(momentum), "adam": 2, "adamw": 2, "adagrad": 1, "rmsprop": 1 + momentum}
    name = {"sgd": "SGD", "adam": "Adam", "adamw": "AdamW", "adagrad": "Adagrad"}
    return copies[cfg.optimizer], name.get(cfg.optimizer, "RMSprop")


def parameters(cfg: Any, count: int, key: str, value: Any, fix: str) -> Part:
    """`count` float32 parameters trained by the config's optimizer: the weights, their
    gradients and the optimizer's state, and at every evaluation the checkpoint's copy of
    the weights and the state (the learner's state_dict clones them) and its serialised
    bytes (records.RunDir.save_checkpoint), while the gradients still exist: for Adam,
    4 + 2 x 3 = 10 copies (measured: an 8000,8000 image MLP peaks at 10.3). An average of
    the weights (the image experiments' `ema`) is one more copy, checkpointed too."""
    state, name = optimizer_state(cfg)
    kept = f"parameters, gradients and {name} state" if state else "parameters and gradients"
    if getattr(cfg, "ema", 0) > 0:  # held, and checkpointed, as the optimizer's state is
        state, kept = state + 1, f"{kept}, the weights' average"
    copies = 2 + state + 2 * (1 + state)
    return Part(f"{kept}, and their checkpoint", count * copies * FLOAT, key, value, fix)


def machine_bytes() -> int | None:
    """The machine's physical memory (None where the system does not say: no check then)."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):  # no sysconf (Windows), or no such name
        return None


def _available(device: torch.device | None) -> tuple[int, str] | None:
    if device is not None and device.type == "cuda":
        return torch.cuda.get_device_properties(device).total_memory, "the GPU's"
    total = machine_bytes()
    return None if total is None else (total, "this machine's")


def size(n: float) -> str:
    """Bytes as a person reads them: 149 GiB, 2.1 TiB; 1.5e+29 bytes past the PiB."""
    for unit, scale in (("GiB", 1), ("TiB", 2**10), ("PiB", 2**20)):
        amount = n / GiB / scale
        if amount < 1024:
            return f"{amount:.0f} {unit}" if amount >= 10 else f"{amount:.1f} {unit}"
    return f"{n:.1e} bytes"


def check(parts: list[Part], device: torch.device | None = None) -> None:
    """Refuse a run whose parts add up to more than the memory it would run in (the GPU's
    on cuda, else the machine's), naming the largest part's key and its fix."""
    available = _available(device)
    total = sum(p.bytes for p in parts)
    if available is None or total <= available[0]:
        return
    limit, whose = available
    largest = max(parts, key=lambda p: p.bytes)
    what = largest.what if largest.bytes >= 0.9 * total else f"mostly {largest.what}"
    fix = largest.fix(limit) if callable(largest.fix) else largest.fix
    raise UsageError(
        f"--{largest.key} {largest.value}: the run needs about {size(total)} ({what}), more "
        f"than {whose} {size(limit)}; {fix}"
    )


def total(parts: list[Part]) -> int:
    return sum(p.bytes for p in parts)


def largest_fitting(need: Callable[[int], int], limit: int, high: int) -> int:
    """The largest n in 1 .. high whose need(n) fits in `limit` bytes (need grows with n);
    0 when not even n = 1 fits."""
    low = 0
    while low < high:
        mid = (low + high + 1) // 2
        if need(mid) <= limit:
            low = mid
        else:
            high = mid - 1
    return low
