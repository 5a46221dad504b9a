"""The VGG-style CNN of the course, as its figure reads:

    conv 64, pool, conv 128, pool, conv 256 x2, pool, conv 512 x2, pool, conv 512 x2, pool,
    linear 512 -> classes

Every conv is 3x3 with padding 1, then batch norm, then ReLU; every pool is a 3x3 max pool
with stride 2 and padding 1, so a 32x32 input ends 1x1 after five pools. `arch` holds
(convs, channels) per stage; `width` scales every channel count (0.25 = a quarter-width copy).

`features` is one flat nn.Sequential of Conv2d, BatchNorm2d, ReLU and MaxPool2d, so analysis
code can walk it layer by layer (activation statistics, the deconvnet's switches).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

Arch = tuple[tuple[int, int], ...]  # ((convs, channels), ...) per stage, each ending in a pool
SIDE = 32  # the input side the network is drawn for: five stride-2 pools take it to 1x1


def channels(arch: Arch, width: float) -> list[int]:
    """Each stage's channel count at this width (at least 1)."""
    return [max(1, round(c * width)) for _, c in arch]


class VGG(nn.Module):
    def __init__(self, in_channels: int, num_classes: int, arch: Arch, width: float = 1.0):
        super().__init__()
        layers: list[nn.Module] = []
        c_in = in_channels
        for (convs, _), c_out in zip(arch, channels(arch, width)):
            for _ in range(convs):
                layers += [
                    nn.Conv2d(c_in, c_out, 3, padding=1, bias=False),  # BN supplies the bias
                    nn.BatchNorm2d(c_out),
                    nn.ReLU(inplace=True),
                ]
                c_in = c_out
            layers.append(nn.MaxPool2d(3, stride=2, padding=1))
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Linear(c_in, num_classes)

    @staticmethod
    def pad_to_32(X: torch.Tensor) -> torch.Tensor:
        """Bring inputs smaller than 32x32 to 32x32: zero padding (the normalised data's mean)
        from 16 px up, so 28x28 keeps every pixel as it is; upsampling below that (8x8 digits
        would be mostly padding). A one-pixel-wide signal (MNIST-1D's 40x1) is kept as it is:
        each 3x3 convolution then acts on it as a 3-tap 1-D one."""
        H, W = X.shape[-2:]
        if (H >= SIDE and W >= SIDE) or W == 1:
            return X
        if min(H, W) >= SIDE // 2:
            top, left = (SIDE - H) // 2, (SIDE - W) // 2
            return F.pad(X, (left, SIDE - W - left, top, SIDE - H - top))
        return F.interpolate(X, size=(SIDE, SIDE), mode="bilinear", align_corners=False)

    def forward(self, X: torch.Tensor) -> torch.Tensor:  # (B, C, H, W) -> (B, K) logits
        X = self.features(self.pad_to_32(X))  # (B, C', 1, 1) at 32x32; larger inputs leave more
        X = F.adaptive_avg_pool2d(X, 1).flatten(1)  # (B, C'); the identity at 1x1
        return self.classifier(X)
