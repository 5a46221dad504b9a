"""What the ReLUs of a CNN put out on real images: mean, spread and how many units are off.

Read through forward hooks on every nn.ReLU module, so any network works, whatever its
forward does between them (skip connections, padding, pooling), as long as each ReLU is a
module of its own: a functional relu is invisible to hooks.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from classicnets.analysis.deconvnet import conv_stop, plain_stack


@dataclass
class Walk:
    """One forward pass through a network, with what the analyses need from it."""

    rows: list[dict[str, Any]]  # a row of statistics per ReLU call, in the order they ran
    kept: torch.Tensor | None  # (B, C, h, w) the ReLU output of the conv asked for, if any
    output: torch.Tensor  # the network's output: (B, K) logits for a classifier


def relu_names(model: nn.Module) -> dict[nn.Module, str]:
    """Where each ReLU module of `model` sits. In a plain stack (deconvnet.plain_stack: VGG's
    `features`), after the conv it follows, 1-based: "conv3"; elsewhere its qualified name
    from named_modules(): "stage2.block1.relu2"."""
    names = {m: name for name, m in model.named_modules() if isinstance(m, nn.ReLU)}
    stack = plain_stack(model)
    conv = 0
    for m in stack if stack is not None else ():
        conv += isinstance(m, nn.Conv2d)
        if isinstance(m, nn.ReLU):
            names[m] = f"conv{conv}"
    return names


def relu_row(name: str, X: torch.Tensor) -> dict[str, Any]:
    """layer ("conv3 (256 ch, 8x8)"), mean, std (population: over every image, channel and
    position) and zero_fraction (units exactly 0 after the ReLU: off for these inputs) of one
    ReLU output X (B, C, H, W)."""
    _, C, H, W = X.shape
    n = X.numel()
    # Sums in float64: float32 over ~10^7 values loses the digits we print. Activations are
    # >= 0 with std ~ mean, so E[x^2] - E[x]^2 does not cancel badly.
    mean = X.sum(dtype=torch.float64).item() / n
    square = X.square().sum(dtype=torch.float64).item() / n
    return {
        "layer": f"{name} ({C} ch, {H}x{W})",
        "mean": mean,
        "std": max(square - mean * mean, 0.0) ** 0.5,
        "zero_fraction": (n - int(torch.count_nonzero(X))) / n,
    }


@torch.no_grad()
def activation_stats(model: nn.Module, X: torch.Tensor, keep: int | None = None) -> Walk:
    """Run X (B, C, H, W) through `model` (in the mode it is in: eval for test statistics),
    with a forward hook on every nn.ReLU: a `relu_row` per ReLU call, named by `relu_names`.

    `keep`: a conv of the model's plain stack (1-based, as `conv_stop` counts), whose ReLU
    output is kept so the deconvnet can pick its top activations without a second pass.
    """
    names = relu_names(model)
    target = None
    if keep is not None:
        stack = plain_stack(model)
        if stack is None:
            raise ValueError(f"keep={keep}: {type(model).__name__} has no plain conv stack")
        last = stack[conv_stop(stack, keep) - 1]
        target = last if isinstance(last, nn.ReLU) else None  # a conv without ReLU: none
    rows: list[dict[str, Any]] = []
    kept: list[torch.Tensor] = []

    def record(module: nn.Module, inputs: tuple, output: torch.Tensor) -> None:
        # Read now: an in-place ReLU's output is a tensor a later in-place module may change.
        rows.append(relu_row(names[module], output))
        if module is target:
            kept.append(output.clone())

    hooks = [m.register_forward_hook(record) for m in names]
    try:
        output = model(X)
    finally:
        for hook in hooks:
            hook.remove()
    return Walk(rows, kept[-1] if kept else None, output)
