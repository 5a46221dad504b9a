"""Turning tensors into pictures: min-max scaling, un-normalising, channel handling, mosaics.

Everything returns NumPy arrays ready for `imshow`: (H, W) for grey (drawn with a grey
colour map), (H, W, 3) for RGB, values in [0, 1].
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

MeanStd = tuple  # (mean, std): floats, (C,) sequences or (C, 1, 1) tensors, per channel


def minmax(a: np.ndarray) -> np.ndarray:
    """Scale to [0, 1]; a constant array becomes mid-grey rather than dividing by zero."""
    lo, hi = float(a.min()), float(a.max())
    if hi - lo < 1e-12:
        return np.full_like(a, 0.5)
    return (a - lo) / (hi - lo)


def signed(a: np.ndarray, quantile: float = 0.99) -> np.ndarray:
    """Scale to [0, 1] with 0 at mid-grey, +-q at white and black, q the `quantile` of |a|
    (larger values saturate). For signed maps such as deconvnet projections: min-max scaling
    would put 0 at a different grey in each tile, and a handful of extreme pixels would
    leave the rest one flat grey."""
    peak = float(np.quantile(np.abs(a), quantile))
    if peak < 1e-12:
        peak = float(np.abs(a).max())
    if peak < 1e-12:
        return np.full_like(a, 0.5)
    return np.clip(a / (2 * peak) + 0.5, 0.0, 1.0)


def to_picture(image: torch.Tensor) -> np.ndarray:
    """(C, H, W) -> (H, W) grey for C = 1, (H, W, 3) RGB for C = 3, the channel mean otherwise
    (a 2- or 5-channel input has no natural colouring). Values are passed through unscaled."""
    a = image.detach().cpu().double().numpy()
    if a.shape[0] == 3:
        return a.transpose(1, 2, 0)
    return a.mean(axis=0)


def unnormalise(X: torch.Tensor, mean_std: MeanStd | None) -> torch.Tensor:
    """(B, C, H, W) normalised images -> (B, C, H, W) in [0, 1] for display.

    With mean and std the images are first mapped back to data units, then min-max scaled
    over the whole batch (not per image: a dark digit stays darker than a bright one, and the
    data's own range, 0..1 or 0..255, does not matter). Without them, each image is min-max
    scaled on its own, which is all that can be done.
    """
    X = X.detach().cpu().double()
    if mean_std is None:
        lo = X.amin(dim=(1, 2, 3), keepdim=True)
        hi = X.amax(dim=(1, 2, 3), keepdim=True)
        return (X - lo) / (hi - lo).clamp_min(1e-12)
    mean, std = (torch.as_tensor(v, dtype=torch.float64).reshape(-1, 1, 1) for v in mean_std)
    X = X * std + mean
    return (X - X.min()) / (X.max() - X.min()).clamp_min(1e-12)


def mosaic(tiles: Sequence[np.ndarray], ncols: int, pad: int = 1) -> np.ndarray:
    """Tiles of equal shape (h, w) or (h, w, 3) on a grid with `pad`-pixel white gutters.

    One image instead of an axes per tile: 64 filters draw in one `imshow`, not 64.
    """
    h, w = tiles[0].shape[:2]
    rgb = tiles[0].ndim == 3
    nrows = -(-len(tiles) // ncols)  # ceil
    shape = (nrows * (h + pad) + pad, ncols * (w + pad) + pad) + ((3,) if rgb else ())
    grid = np.ones(shape)
    for k, tile in enumerate(tiles):
        r, c = divmod(k, ncols)
        top, left = pad + r * (h + pad), pad + c * (w + pad)
        grid[top : top + h, left : left + w] = tile
    return grid
