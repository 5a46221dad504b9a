"""Image and sequence data as tensors on the run's device, batched and augmented there.

A data set is held once, as it is stored (uint8 images stay uint8: a quarter of the memory
and of the host-to-device traffic of float32), and every batch is cast and normalised on the
way to the model. Augmentation (random crop after zero padding, horizontal flip) works on a
whole batch with tensor ops; there is no per-image Python and no DataLoader. The idea is
airbench's (github.com/KellerJordan/cifar10-airbench: the data set lives on the GPU and is
augmented there in batches), made to run on a CPU first.

Everything random is drawn from (seed, epoch), so a resumed run sees the same batches and the
same augmentations as an uninterrupted one.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.model_selection import train_test_split

from classicnets.data.arrays import ArrayData
from classicnets.errors import UsageError
from classicnets.train.loop import epoch_order

Layout = Literal["image", "flat", "rows"]  # (B, C, H, W) | (B, C*H*W) | (B, T=H, F=C*W)
EVAL_BATCH = 1000  # samples per evaluation forward pass: bounded memory, whatever the split
# The "train" evaluation reads a fixed random subset of at most this many training samples:
# an estimate as good as the whole split's for a curve, at a fraction of the cost.
TRAIN_EVAL_MAX = 10_000


def _subset(X: np.ndarray, y: np.ndarray, n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """A stratified random `n` of (X, y) (all of it when n is 0 or covers it)."""
    if n <= 0 or n >= len(y):
        return X, y
    keep, _ = train_test_split(
        np.arange(len(y)), train_size=n, random_state=seed, stratify=_stratify(y, n)
    )
    keep = np.sort(keep)
    return X[keep], y[keep]


def _stratify(y: np.ndarray, n: int) -> np.ndarray | None:
    """Stratify by label where every class can be represented; else a plain random split."""
    counts = np.bincount(y)
    return y if n >= len(counts) and counts[counts > 0].min() >= 2 else None


@dataclass(frozen=True)
class Splits:
    """train / val / test as numpy arrays: the validation part is cut from the training split."""

    arrays: dict[str, tuple[np.ndarray, np.ndarray]]
    num_classes: int

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(self.arrays)


def make_splits(
    data: ArrayData, val_size: float, seed: int, train_samples: int = 0, test_samples: int = 0
) -> Splits:
    """Cut a stratified validation split off the training split (stream 3 of the seed), and
    optionally keep only a stratified subset of train and test (for quick runs)."""
    X, y = _subset(data.X_train, data.y_train, train_samples, seed)
    arrays = {}
    if val_size > 0:
        n_val = max(1, round(val_size * len(y)))
        if n_val >= len(y):
            raise UsageError(
                f"--val_size {val_size}: leaves no training samples out of {len(y)}; "
                "use a smaller fraction, e.g. 0.1"
            )
        X, X_val, y, y_val = train_test_split(
            X, y, test_size=n_val, random_state=seed, stratify=_stratify(y, n_val)
        )
        arrays["train"] = (X, y)
        arrays["val"] = (X_val, y_val)
    else:
        arrays["train"] = (X, y)
    arrays["test"] = _subset(data.X_test, data.y_test, test_samples, seed)
    return Splits(arrays, data.num_classes)


def channel_stats(X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel mean and std of images (N, C, H, W), in float64, from the training split."""
    X = X.reshape(len(X), X.shape[1], -1)
    mean = X.mean(axis=(0, 2), dtype=np.float64)
    var = ((X - mean[None, :, None]) ** 2).mean(axis=(0, 2))
    std = np.sqrt(var)
    return mean, np.where(std > 0, std, 1.0)


def random_crop_flip(
    X: torch.Tensor, pad: int, flip: bool, generator: torch.Generator
) -> torch.Tensor:
    """Random crops of a zero-padded batch and, if `flip`, random horizontal flips.

    X (B, C, H, W), normalised (zero padding is then the data mean). Each image gets its own
    offset in [0, 2*pad] on both axes: one gather, with index grids (B, H) and (B, W).
    """
    B, C, H, W = X.shape
    draws = torch.randint(0, 2 * pad + 1, (2, B), generator=generator).to(X.device)
    padded = F.pad(X, (pad, pad, pad, pad))  # (B, C, H+2p, W+2p)
    rows = draws[0][:, None] + torch.arange(H, device=X.device)  # (B, H)
    cols = draws[1][:, None] + torch.arange(W, device=X.device)  # (B, W)
    batch = torch.arange(B, device=X.device)[:, None, None, None]
    channel = torch.arange(C, device=X.device)[None, :, None, None]
    out = padded[batch, channel, rows[:, None, :, None], cols[:, None, None, :]]
    if flip:
        mirrored = torch.rand(B, generator=generator).to(X.device) < 0.5
        out = torch.where(mirrored[:, None, None, None], out.flip(3), out)
    return out


def epoch_generator(seed: int, epoch: int) -> torch.Generator:
    """A CPU generator for one epoch's augmentation: stream (4, epoch) of the run's seed."""
    return torch.Generator().manual_seed(
        int(np.random.default_rng([seed, 4, epoch]).integers(2**62))
    )


class TensorSource:
    """Splits held on `device` as stored, cast and normalised per batch, in a model's layout.

    images (N, C, H, W) are normalised per channel with the training split's mean and std;
    vectors and sequences (N, D) / (N, T, F) are cast only (their makers scale them).
    """

    def __init__(
        self,
        splits: Splits,
        device: torch.device,
        layout: Layout = "image",
        augment: Callable[[torch.Tensor, torch.Generator], torch.Tensor] | None = None,
        memory_format: torch.memory_format = torch.contiguous_format,
    ):
        self.splits, self.num_classes = splits.names, splits.num_classes
        self.device, self.layout, self.augment = device, layout, augment
        self.memory_format = memory_format
        self.data = {  # np.require: a writable copy where the loader's array is read-only
            name: (
                torch.from_numpy(np.require(X, requirements=["C", "W"])).to(device),
                torch.as_tensor(y, dtype=torch.int64).to(device),
            )
            for name, (X, y) in splits.arrays.items()
        }
        X_train = splits.arrays["train"][0]
        self._train_eval = self.data["train"]
        if len(X_train) > TRAIN_EVAL_MAX:  # a fixed random subset, the same in every run
            keep = np.sort(np.random.default_rng(0).choice(len(X_train), TRAIN_EVAL_MAX, False))
            keep_t = torch.from_numpy(keep).to(device)
            self._train_eval = tuple(t[keep_t] for t in self.data["train"])
        self.is_image = X_train.ndim == 4
        if self.is_image:
            mean, std = channel_stats(X_train)
            self.mean = torch.tensor(mean, dtype=torch.float32, device=device)[:, None, None]
            self.std = torch.tensor(std, dtype=torch.float32, device=device)[:, None, None]
        self.sample_shape = tuple(self.inputs(self.data["train"][0][:1]).shape[1:])

    def __len__(self) -> int:
        return len(self.data["train"][1])

    def inputs(self, X: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """Stored samples -> the model's float input, augmented when a generator is given."""
        X = X.float()
        if not self.is_image:
            return X
        X = (X - self.mean) / self.std  # (B, C, H, W)
        if generator is not None and self.augment is not None:
            X = self.augment(X, generator)
        if self.layout == "flat":
            return X.flatten(1)  # (B, C*H*W)
        if self.layout == "rows":
            B, C, H, W = X.shape
            return X.permute(0, 2, 1, 3).reshape(B, H, C * W)  # (B, T=H, F=C*W)
        return X.contiguous(memory_format=self.memory_format)

    def epoch_batches(
        self, seed: int, epoch: int, batch_size: int
    ) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """The training split in the (seed, epoch) order, augmented with stream (4, epoch)."""
        X, y = self.data["train"]
        order = torch.from_numpy(epoch_order(seed, epoch, len(y))).to(self.device)
        generator = epoch_generator(seed, epoch)
        for idx in order.split(batch_size or len(y)):
            yield self.inputs(X[idx], generator), y[idx]

    def eval_batches(self, split: str) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        X, y = self._train_eval if split == "train" else self.data[split]
        for start in range(0, len(y), EVAL_BATCH):
            yield self.inputs(X[start : start + EVAL_BATCH]), y[start : start + EVAL_BATCH]

    def sample(self, split: str, n: int) -> tuple[torch.Tensor, torch.Tensor]:
        """The first n samples of a split as model inputs (for analysis figures)."""
        X, y = self.data[split]
        return self.inputs(X[:n]), y[:n]
