"""The PyTorch MLP: the same structure as the NumPy one, nn.Linear layers with ReLU between.

Trained with nn.functional.cross_entropy (softmax and cross-entropy in one, as
nn.CrossEntropyLoss) and SGD, by autograd; see train/learners.py.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn


class TorchMLP(nn.Module):
    """Linear -> ReLU -> ... -> Linear, returning logits."""

    def __init__(self, sizes: tuple[int, ...]):
        """sizes: (inputs, hidden..., classes), e.g. (2, 20, 2)."""
        super().__init__()
        self.linears = nn.ModuleList(nn.Linear(i, o) for i, o in zip(sizes[:-1], sizes[1:]))

    def forward(self, X: torch.Tensor) -> torch.Tensor:  # (B, D) -> (B, K) logits
        *hidden, last = self.linears
        for linear in hidden:
            # F.linear on the layer's tensors rather than linear(X): the same op, without
            # nn.Module.__call__'s hook checks, which cost ~10 µs a layer at batch size 1.
            X = torch.relu(F.linear(X, linear.weight, linear.bias))
        return F.linear(X, last.weight, last.bias)

    @torch.no_grad()
    def copy_from(self, layers: list[tuple[np.ndarray, np.ndarray]]) -> TorchMLP:
        """Set the weights from (W, b) arrays in nn.Linear's layout (init_linear_layers)."""
        for linear, (W, b) in zip(self.linears, layers, strict=True):
            linear.weight.copy_(torch.from_numpy(W))
            linear.bias.copy_(torch.from_numpy(b))
        return self


class ImageMLP(nn.Module):
    """The MLP for images: [Linear -> BatchNorm? -> ReLU -> Dropout?] per hidden layer, then
    a Linear to the classes. Input: flattened images (B, C*H*W)."""

    def __init__(self, sizes: tuple[int, ...], dropout: float = 0.0, batchnorm: bool = False):
        """sizes: (inputs, hidden..., classes), e.g. (784, 512, 256, 128, 10)."""
        super().__init__()
        layers: list[nn.Module] = []
        for fan_in, fan_out in zip(sizes[:-2], sizes[1:-1]):
            layers.append(nn.Linear(fan_in, fan_out, bias=not batchnorm))  # BN has the bias
            if batchnorm:
                layers.append(nn.BatchNorm1d(fan_out))
            layers.append(nn.ReLU(inplace=True))
            if dropout > 0:
                layers.append(nn.Dropout(dropout))
        layers.append(nn.Linear(sizes[-2], sizes[-1]))
        self.layers = nn.Sequential(*layers)

    def forward(self, X: torch.Tensor) -> torch.Tensor:  # (B, D) -> (B, K) logits
        return self.layers(X)
