"""The CIFAR ResNet of He et al. 2016, "Deep Residual Learning for Image Recognition" (sec. 4.2),
as its figure reads:

    conv 3x3, 16                          stem            (B, 16, H, W)
    [conv 3x3, 16;  conv 3x3, 16] x n     stage1          (B, 16, H, W)
    [conv 3x3, 32;  conv 3x3, 32] x n     stage2, /2      (B, 32, H/2, W/2)
    [conv 3x3, 64;  conv 3x3, 64] x n     stage3, /2      (B, 64, H/4, W/4)
    global average pool, linear 64 -> classes

depth = 6n + 2 weighted layers (the 6n convs of the blocks, the stem and the head): 20, 32,
44, 56, 110 for n = 3, 5, 7, 9, 18. Every conv is followed by batch norm; each basic block adds
its input back before the last ReLU. The first block of stages 2 and 3 halves the map with
stride 2 and doubles the channels; there the shortcut is the paper's option B, a 1x1 conv with
stride 2 and batch norm (the paper's CIFAR nets use option A, zero-padded identity, which has
no weights: option B adds 2 x (1x1 conv + BN) = 2,752 of ResNet-20's 272,474 parameters).
Elsewhere the shortcut is the identity.

`width` scales every channel count (0.25 = a quarter-width copy). The global pool makes any
input size work (8x8 digits, 28x28 Fashion-MNIST, 32x32 CIFAR) without padding. Each ReLU is its
own module, so forward hooks on nn.ReLU see every activation once (analysis/activations.py).
"""

from __future__ import annotations

from collections import OrderedDict

import torch
from torch import nn

from classicnets.models.vgg import channels  # the same rounding of widths as the VGG

DEPTHS = "20, 32, 44, 56, 110"  # 6n + 2 for n = 3, 5, 7, 9, 18: the paper's CIFAR nets


def conv3x3(c_in: int, c_out: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1, bias=False)  # BN supplies the bias


class BasicBlock(nn.Module):
    """conv3x3 - BN - ReLU - conv3x3 - BN, plus the shortcut, then ReLU."""

    def __init__(self, c_in: int, c_out: int, stride: int = 1):
        super().__init__()
        self.conv1 = conv3x3(c_in, c_out, stride)
        self.bn1 = nn.BatchNorm2d(c_out)
        self.relu1 = nn.ReLU(inplace=True)
        self.conv2 = conv3x3(c_out, c_out)
        self.bn2 = nn.BatchNorm2d(c_out)
        self.shortcut: nn.Module = nn.Identity()
        if stride != 1 or c_in != c_out:  # option B: project where the shape changes
            self.shortcut = nn.Sequential(
                nn.Conv2d(c_in, c_out, 1, stride=stride, bias=False), nn.BatchNorm2d(c_out)
            )
        self.relu2 = nn.ReLU(inplace=True)

    def forward(self, X: torch.Tensor) -> torch.Tensor:  # (B, C, H, W) -> (B, C', H/s, W/s)
        residual = self.relu1(self.bn1(self.conv1(X)))  # F(x) of the paper's eq. (1)
        residual = self.bn2(self.conv2(residual))
        return self.relu2(residual + self.shortcut(X))  # y = ReLU(F(x) + W_s x)


class ResNet(nn.Module):
    """stem, stage1..3 of n blocks each (depth = 6n + 2), global average pool, head."""

    def __init__(self, in_channels: int, num_classes: int, depth: int = 20, width: float = 1.0):
        super().__init__()
        n, extra = divmod(depth - 2, 6)
        if extra or n < 1:
            raise ValueError(f"ResNet depth {depth}: must be 6n + 2 with n >= 1, e.g. {DEPTHS}")
        widths = channels(((n, 16), (n, 32), (n, 64)), width)  # (blocks, channels) per stage
        self.stem = nn.Sequential(
            OrderedDict(
                conv=conv3x3(in_channels, widths[0]),
                bn=nn.BatchNorm2d(widths[0]),
                relu=nn.ReLU(inplace=True),
            )
        )
        c_in = widths[0]
        for s, c_out in enumerate(widths, start=1):
            blocks: OrderedDict[str, nn.Module] = OrderedDict()
            for b in range(1, n + 1):
                stride = 2 if s > 1 and b == 1 else 1  # stages 2 and 3 open by halving the map
                blocks[f"block{b}"] = BasicBlock(c_in, c_out, stride)
                c_in = c_out
            self.add_module(f"stage{s}", nn.Sequential(blocks))
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.head = nn.Linear(c_in, num_classes)

        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
        for m in self.modules():
            if isinstance(m, BasicBlock):
                # gamma = 0 in each block's last BN: every residual branch starts at F(x) = 0,
                # so a block with an identity shortcut starts as the identity (x >= 0, a ReLU
                # output) and signal and gradient cross the whole depth through the shortcuts
                # unscaled, whatever n; the branches then grow from zero (Goyal et al. 2017,
                # "Accurate, Large Minibatch SGD"; torchvision's zero_init_residual).
                nn.init.zeros_(m.bn2.weight)

    def forward(self, X: torch.Tensor) -> torch.Tensor:  # (B, C, H, W) -> (B, K) logits
        X = self.stem(X)  # (B, 16w, H, W)
        X = self.stage3(self.stage2(self.stage1(X)))  # (B, 64w, H/4, W/4), sides rounded up
        X = self.pool(X).flatten(1)  # (B, 64w)
        return self.head(X)
