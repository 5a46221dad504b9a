"""Occlusion sensitivity (Zeiler & Fergus 2014, section 4.2): slide a grey square over an
image and watch the probability of the true class. Where it falls, the model was looking.

The square is filled with 0, the data mean in normalised units ("grey"), and slides over the
image at its own size (not the network's 32x32 fitted copy): the map lines up with the image
as the reader sees it, and `model` does its own fitting. All positions of one image go through
the model as one batch.
"""

from __future__ import annotations

import torch
from torch import nn


def default_patch(H: int, W: int) -> tuple[int, int]:
    """(patch, stride): a quarter of the shorter side (8 px at 32, 7 at 28, 2 at 8), moved by
    half its size, so every pixel is covered by about four positions."""
    patch = max(1, round(min(H, W) / 4))
    return patch, max(1, patch // 2)


def positions(side: int, patch: int, stride: int) -> torch.Tensor:
    """Top (or left) edges 0, stride, ... and always side - patch, so the last rows are covered."""
    starts = list(range(0, side - patch + 1, stride))
    if starts[-1] != side - patch:
        starts.append(side - patch)
    return torch.tensor(starts)


def occluder_masks(H: int, W: int, patch: int, stride: int) -> torch.Tensor:
    """(N, 1, H, W) bool: True inside the square at each of the N positions, row-major."""
    rows, cols = torch.arange(H), torch.arange(W)
    tops, lefts = positions(H, patch, stride), positions(W, patch, stride)
    in_rows = (rows >= tops[:, None]) & (rows < tops[:, None] + patch)  # (nT, H)
    in_cols = (cols >= lefts[:, None]) & (cols < lefts[:, None] + patch)  # (nL, W)
    masks = in_rows[:, None, :, None] & in_cols[None, :, None, :]  # (nT, nL, H, W)
    return masks.reshape(-1, 1, H, W)


@torch.no_grad()
def occlusion_map(
    model: nn.Module,
    image: torch.Tensor,
    label: int,
    patch: int | None = None,
    stride: int | None = None,
    fill: float = 0.0,
) -> torch.Tensor:
    """image (C, H, W) -> (H, W): at each pixel, the mean softmax probability of `label` over
    the occluder positions that cover it (a per-pixel map rather than a per-position grid, so
    it overlays the image directly). `model` maps (B, C, H, W) to (B, K) logits, in eval mode.
    """
    H, W = image.shape[-2:]
    default = default_patch(H, W)
    patch, stride = patch or default[0], stride or default[1]
    masks = occluder_masks(H, W, patch, stride).to(image.device)  # (N, 1, H, W)
    copies = torch.where(masks, image.new_tensor(fill), image)  # (N, C, H, W)
    probs = model(copies).float().softmax(dim=-1)[:, label]  # (N,)
    masks = masks[:, 0].float()  # (N, H, W)
    covered = masks.sum(dim=0)  # (H, W), >= 1 everywhere by construction of `positions`
    return (probs[:, None, None] * masks).sum(dim=0) / covered


def pick_examples(y_hat: torch.Tensor, y: torch.Tensor, n: int = 4) -> list[int]:
    """Indices of n correctly classified images, one per class while classes last (so the
    figure is not four 1s); misclassified ones only fill up when too few are right."""
    right = [int(i) for i in torch.nonzero(y_hat == y).flatten()]
    chosen, seen = [], set()
    for i in right:
        if int(y[i]) not in seen:
            chosen.append(i)
            seen.add(int(y[i]))
    rest = [i for i in right if i not in chosen]
    rest += [i for i in range(len(y)) if i not in right]
    return (chosen + rest)[:n]
