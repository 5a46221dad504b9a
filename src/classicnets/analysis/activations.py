"""What the ReLUs of a CNN put out on real images: mean, spread and how many units are off."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import nn


@dataclass
class Walk:
    """One forward pass through `features`, with what the analyses need from it."""

    rows: list[dict[str, Any]]  # a row of statistics per ReLU
    kept: torch.Tensor | None  # (B, C, h, w) the ReLU output of the conv asked for, if any
    output: torch.Tensor  # (B, C', h', w') the output of `features`


@torch.no_grad()
def activation_stats(features: nn.Sequential, X: torch.Tensor, keep: int | None = None) -> Walk:
    """Run X (B, C, H, W), already fitted to the network, through `features` (eval mode).

    A row per ReLU: layer ("conv3 (256 ch, 8x8)", after the conv it follows), mean, std
    (population: over every image, channel and position) and zero_fraction (units exactly 0
    after the ReLU: off for these inputs). Conv `keep`'s (1-based) ReLU output is kept, so the
    deconvnet can pick its top activations without a second pass.
    """
    rows, kept, conv = [], None, 0
    for m in features:
        X = m(X)  # the ReLUs work in place: read their output, which is X itself
        if isinstance(m, nn.Conv2d):
            conv += 1
        if isinstance(m, nn.ReLU):
            _, C, H, W = X.shape
            n = X.numel()
            # Sums in float64: float32 over ~10^7 values loses the digits we print. Activations
            # are >= 0 with std ~ mean, so E[x^2] - E[x]^2 does not cancel badly.
            mean = X.sum(dtype=torch.float64).item() / n
            square = X.square().sum(dtype=torch.float64).item() / n
            rows.append(
                {
                    "layer": f"conv{conv} ({C} ch, {H}x{W})",
                    "mean": mean,
                    "std": max(square - mean * mean, 0.0) ** 0.5,
                    "zero_fraction": (n - int(torch.count_nonzero(X))) / n,
                }
            )
            if conv == keep:
                kept = X.clone()  # a later in-place module could otherwise change it
    return Walk(rows, kept, X)
