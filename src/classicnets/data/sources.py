"""Sources: the data a learner trains on, as batches of tensors on the run's device.

Two kinds, one protocol (`Source`): `TensorSource` holds image or vector splits; the
`PalindromeSource` draws palindromes (a fresh batch every step, or a fixed set).

A data set is held once, as it is stored (uint8 images stay uint8: a quarter of the memory
and of the host-to-device traffic of float32), and every batch is cast and normalised on the
way to the model. Augmentation (random crop after zero padding, horizontal flip) works on a
whole batch with tensor ops; there is no per-image Python and no DataLoader. The idea is
airbench's (github.com/KellerJordan/cifar10-airbench: the data set lives on the GPU and is
augmented there in batches), made to run on a CPU first.

Everything random is drawn from (seed, epoch) streams (seeds.py), so a resumed run sees the
same batches and the same augmentations as an uninterrupted one.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Literal, Protocol

import numpy as np
import torch
import torch.nn.functional as F

from classicnets.data import palindrome
from classicnets.data.splits import Splits
from classicnets.errors import UsageError
from classicnets.seeds import Stream, epoch_order, rng, torch_generator

Batch = tuple[torch.Tensor, torch.Tensor]  # inputs in the model's layout, labels (B,)

Layout = Literal["image", "flat", "rows"]  # (B, C, H, W) | (B, C*H*W) | (B, T=H, F=C*W)
EVAL_BATCH = 1000  # samples per evaluation forward pass: bounded memory, whatever the split
# The "train" evaluation reads a fixed random subset of at most this many training samples:
# an estimate as good as the whole split's for a curve, at a fraction of the cost.
TRAIN_EVAL_MAX = 10_000


def channel_stats(X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel mean and std of images (N, C, H, W), in float64, from the training split."""
    X = X.reshape(len(X), X.shape[1], -1)
    with np.errstate(invalid="ignore", over="ignore"):  # a non-finite pixel: the run diverges
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
    # A one-pixel-wide (or tall) signal is shifted along its length only: offsets on its
    # short axis would move it into the padding. The draws stay the same either way.
    pad_h, pad_w = (pad if side > 1 else 0 for side in (H, W))
    padded = F.pad(X, (pad_w, pad_w, pad_h, pad_h))  # (B, C, H+2p, W+2p)
    rows = draws[0][:, None] * (H > 1) + torch.arange(H, device=X.device)  # (B, H)
    cols = draws[1][:, None] * (W > 1) + torch.arange(W, device=X.device)  # (B, W)
    batch = torch.arange(B, device=X.device)[:, None, None, None]
    channel = torch.arange(C, device=X.device)[None, :, None, None]
    out = padded[batch, channel, rows[:, None, :, None], cols[:, None, None, :]]
    if flip:
        mirrored = torch.rand(B, generator=generator).to(X.device) < 0.5
        out = torch.where(mirrored[:, None, None, None], out.flip(3), out)
    return out


class Source(Protocol):
    """What a learner trains on and evaluates (train/classifier.py)."""

    splits: tuple[str, ...]  # ("train", "val", "test"), or without "val"

    def epoch_batches(self, seed: int, epoch: int, batch_size: int) -> Iterable[Batch]:
        """The training batches of `epoch`, in order (drawn from the seed's streams)."""
        ...

    def eval_batches(self, split: str) -> Iterable[Batch]:
        """The whole of `split`, in bounded batches."""
        ...

    def sample(self, split: str, n: int) -> Batch:
        """The first n samples of `split` as model inputs (the analysis pictures)."""
        ...


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
        seed: int = 0,
    ):
        self.splits, self.num_classes = splits.names, splits.num_classes
        self.device, self.layout, self.augment = device, layout, augment
        self.memory_format = memory_format
        self.data = {  # np.require: a writable copy where the loader's array is read-only
            name: (
                torch.from_numpy(np.require(X, requirements=["C", "W"])).to(device),
                torch.as_tensor(np.require(y, requirements=["W"]), dtype=torch.int64).to(device),
            )
            for name, (X, y) in splits.arrays.items()
        }
        X_train = splits.arrays["train"][0]
        self._train_eval = self.data["train"]
        if len(X_train) > TRAIN_EVAL_MAX:  # a fixed random subset, the same in every run
            subset = rng(seed, Stream.TRAIN_EVAL_SUBSET).choice(len(X_train), TRAIN_EVAL_MAX, False)
            keep = np.sort(subset)
            keep_t = torch.from_numpy(keep).to(device)
            self._train_eval = tuple(t[keep_t] for t in self.data["train"])
        self.is_image = X_train.ndim == 4
        if self.is_image:
            self.image_shape = tuple(X_train.shape[1:])  # (C, H, W)
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

    def mirror(self, X: torch.Tensor) -> torch.Tensor:
        """Model inputs (as `inputs` makes them) -> the same images mirrored left to right,
        in the same layout: flip-based test-time augmentation (train/classifier.py)."""
        if not self.is_image:
            raise UsageError("--tta true: the inputs are not images; there is no mirror")
        B = len(X)
        if self.layout == "image":  # (B, C, H, W)
            return X.flip(3).contiguous(memory_format=self.memory_format)
        C, H, W = self.image_shape
        if self.layout == "flat":  # (B, C*H*W)
            return X.reshape(B, C, H, W).flip(3).reshape(B, C * H * W)
        return X.reshape(B, H, C, W).flip(3).reshape(B, H, C * W)  # rows: (B, T=H, F=C*W)

    def epoch_batches(
        self, seed: int, epoch: int, batch_size: int
    ) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """The training split in the (seed, epoch) order, augmented from the AUGMENT stream."""
        X, y = self.data["train"]
        order = torch.from_numpy(epoch_order(seed, epoch, len(y))).to(self.device)
        generator = torch_generator(seed, Stream.AUGMENT, epoch)
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


class PalindromeSource:
    """Batches of encoded palindromes (B, T, input_dim) on the device, one per step.

    Streaming (data_size 0, the course's way) draws a fresh batch every step; a fixed data
    set (data_size N) is shuffled per pass and cut into batches, the pass and the batch
    found from the step. The held-out sets and the "train" evaluation's sample are fixed.
    """

    splits = ("train", "val", "test")

    def __init__(
        self,
        input_length: int,  # T: digits read
        input_dim: int,  # 10: one-hot digits; 1: the digit as a number
        data_size: int,  # 0: streaming; N: a fixed set of N palindromes
        portion_train: float,  # fixed set: the fraction that trains
        eval_size: int,  # streaming: palindromes in each held-out set
        seed: int,
        device: torch.device,
    ):
        self.input_length, self.input_dim, self.data_size = input_length, input_dim, data_size
        self.device = device
        if data_size:
            data = palindrome.palindrome_splits(data_size, input_length, portion_train, seed)
            self.note = data.note
            self.fixed = {split: getattr(data, split) for split in self.splits}
        else:
            self.note = palindrome.hold_out_note(input_length)
            self.fixed = {
                split: palindrome.stream_sample(eval_size, input_length, seed, split)
                for split in self.splits
            }
        self._order: tuple[int, np.ndarray] | None = None  # (pass, order) of the fixed set

    def _tensors(self, digits: np.ndarray, targets: np.ndarray) -> Batch:
        X = palindrome.encode(digits, self.input_dim)  # (B, T, input_dim)
        return (
            torch.from_numpy(X).to(self.device),
            torch.from_numpy(targets).to(self.device),
        )

    def epoch_batches(self, seed: int, step: int, batch_size: int) -> list[Batch]:
        if not self.data_size:
            return [
                self._tensors(
                    *palindrome.palindrome_batch(batch_size, self.input_length, seed, step)
                )
            ]
        digits, targets = self.fixed["train"]
        per_pass = -(-len(targets) // batch_size)
        epoch, index = divmod(step, per_pass)
        if self._order is None or self._order[0] != epoch:
            self._order = (epoch, epoch_order(seed, epoch, len(targets)))
        rows = self._order[1][index * batch_size : (index + 1) * batch_size]
        return [self._tensors(digits[rows], targets[rows])]

    def eval_batches(self, split: str) -> Iterator[Batch]:
        digits, targets = self.fixed[split]
        for start in range(0, len(targets), EVAL_BATCH):
            yield self._tensors(
                digits[start : start + EVAL_BATCH], targets[start : start + EVAL_BATCH]
            )

    def sample(self, split: str, n: int) -> Batch:
        digits, targets = self.fixed[split]
        return self._tensors(digits[:n], targets[:n])
