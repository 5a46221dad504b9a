"""The CIFAR ResNet: shapes at every input size, the paper's parameter count, depth -> blocks,
bad depths rejected, the init, and one SGD step that learns."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from classicnets.models import ResNet
from classicnets.models.resnet import BasicBlock


@pytest.mark.parametrize(
    "shape, final_side",
    [((1, 28, 28), 7), ((3, 32, 32), 8), ((1, 8, 8), 2)],
    ids=["fashion-mnist", "cifar", "digits"],
)
def test_output_shapes_at_every_input_size(shape, final_side):
    torch.manual_seed(0)
    model = ResNet(shape[0], 10, depth=8, width=0.5)
    X = torch.randn(2, *shape)
    assert model(X).shape == (2, 10)
    assert model.stage3(model.stage2(model.stage1(model.stem(X)))).shape == (
        2,
        32,
        final_side,
        final_side,
    )


def test_resnet20_has_the_papers_parameter_count():
    # ResNet-20 (n = 3), 3 input channels, 10 classes; convs have no bias, a BN has 2C.
    #   stem     conv 3->16: 3*16*9 = 432, BN 32                                      =     464
    #   stage1   3 blocks x (2 convs 16*16*9 = 2*2,304, 2 BNs 2*32)                    =  14,016
    #   stage2   block1: 16*32*9 + 32*32*9 + 2*64 + shortcut 1x1 16*32 + BN 64        =  14,528
    #            blocks 2, 3: 2 x (2*9,216 + 2*64)                                    =  37,120
    #   stage3   block1: 32*64*9 + 64*64*9 + 2*128 + shortcut 1x1 32*64 + BN 128      =  57,728
    #            blocks 2, 3: 2 x (2*36,864 + 2*128)                                  = 147,968
    #   head     64*10 + 10                                                           =     650
    #                                                                                   272,474
    # The paper's 0.27M is option A (no shortcut weights): 272,474 - 2,752 = 269,722.
    model = ResNet(3, 10, depth=20, width=1.0)
    assert sum(p.numel() for p in model.parameters()) == 272_474
    shortcuts = [m.shortcut for m in model.modules() if isinstance(m, BasicBlock)]
    assert sum(p.numel() for s in shortcuts for p in s.parameters()) == 2_752


def test_depth_sets_blocks_per_stage_and_width_the_channels():
    model = ResNet(3, 10, depth=32)
    assert [len(getattr(model, f"stage{s}")) for s in (1, 2, 3)] == [5, 5, 5]
    assert model.stage2.block1.conv1.stride == (2, 2)
    assert model.stage2.block2.conv1.stride == (1, 1)
    quarter = ResNet(1, 10, depth=8, width=0.25)
    assert [quarter.stem.conv.out_channels, quarter.head.in_features] == [4, 16]
    assert ResNet(1, 10, depth=8, width=0.01).head.in_features == 1  # at least 1 channel


@pytest.mark.parametrize("depth", [21, 2, 0, -4])
def test_a_depth_that_is_not_6n_plus_2_is_rejected(depth):
    with pytest.raises(ValueError, match=rf"depth {depth}: .*6n \+ 2.*20, 32, 44, 56, 110"):
        ResNet(3, 10, depth=depth)


def test_every_relu_is_its_own_module_and_the_init():
    model = ResNet(3, 10, depth=8)
    relus = [m for m in model.modules() if isinstance(m, nn.ReLU)]
    assert len(relus) == 1 + 2 * 3 and len({id(m) for m in relus}) == len(relus)
    calls = []
    for m in relus:
        m.register_forward_hook(lambda m, i, o: calls.append(m))
    model(torch.randn(1, 3, 8, 8))
    assert calls == relus  # each fires once, in module order
    for block in (m for m in model.modules() if isinstance(m, BasicBlock)):
        assert (block.bn2.weight == 0).all() and (block.bn1.weight == 1).all()
    std = model.stage3.block1.conv2.weight.std().item()  # kaiming fan_out: sqrt(2 / (64*9))
    assert std == pytest.approx((2 / (64 * 9)) ** 0.5, rel=0.1)


def test_one_sgd_step_reaches_the_stem_and_lowers_the_loss():
    torch.manual_seed(0)
    model = ResNet(1, 10, depth=8, width=0.5)
    X, y = torch.randn(16, 1, 8, 8), torch.randint(0, 10, (16,))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    loss = F.cross_entropy(model(X), y)
    optimizer.zero_grad()
    loss.backward()
    assert model.stem.conv.weight.grad.abs().sum() > 0  # through the shortcuts
    optimizer.step()
    assert F.cross_entropy(model(X), y) < loss
