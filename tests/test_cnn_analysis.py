"""The CNN analyses: the deconvnet against autograd and by hand, occlusion on a model whose
answer hangs on one pixel, activation statistics against direct sums, and analyze_cnn's files,
for the VGG and for a ResNet (no deconvnet there)."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from classicnets.analysis.activations import activation_stats
from classicnets.analysis.cnn import analyze_cnn, default_layer
from classicnets.analysis.deconvnet import (
    conv_stop,
    project,
    receptive_field,
    record_forward,
    top_projections,
)
from classicnets.analysis.occlusion import occluder_masks, occlusion_map, pick_examples
from classicnets.errors import UsageError
from classicnets.experiments.cnn import ARCH
from classicnets.models.resnet import ResNet
from classicnets.models.vgg import VGG


def _random_bn(channels: int, generator: torch.Generator) -> nn.BatchNorm2d:
    """Batch norm in eval mode with statistics and affine parameters far from the identity."""
    bn = nn.BatchNorm2d(channels)
    bn.running_mean = torch.randn(channels, generator=generator)
    bn.running_var = torch.rand(channels, generator=generator) + 0.2
    with torch.no_grad():
        bn.weight.copy_(torch.randn(channels, generator=generator))
        bn.bias.copy_(torch.randn(channels, generator=generator))
    return bn


def _tiny_net(seed: int, relu: bool) -> nn.Sequential:
    """conv -> BN -> [ReLU] -> pool -> strided conv -> [ReLU] -> pool, float64, eval mode.
    The strided conv on an even size makes the transposed conv need output_padding."""
    g = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    layers = [nn.Conv2d(2, 3, 3, padding=1), _random_bn(3, g)]
    layers += [nn.ReLU()] if relu else []
    layers += [nn.MaxPool2d(3, stride=2, padding=1), nn.Conv2d(3, 4, 3, stride=2, padding=1)]
    layers += [nn.ReLU()] if relu else []
    layers += [nn.MaxPool2d(3, stride=2, padding=1)]
    return nn.Sequential(*layers).double().eval()


def _one_hot_units(out: torch.Tensor, seed: int) -> torch.Tensor:
    """One random unit per image set to 1, every other unit 0."""
    g = torch.Generator().manual_seed(seed)
    B, C, H, W = out.shape
    top = torch.zeros_like(out)
    for b in range(B):
        c, i, j = (int(torch.randint(n, (1,), generator=g)) for n in (C, H, W))
        top[b, c, i, j] = 1.0
    return top


def _input_gradient(net: nn.Module, X: torch.Tensor, top: torch.Tensor) -> torch.Tensor:
    """d(sum of the chosen units)/dX; the images do not interact (BN in eval)."""
    X = X.clone().requires_grad_(True)
    (grad,) = torch.autograd.grad((net(X) * top).sum(), X)
    return grad


@pytest.mark.parametrize("seed", range(4))
def test_deconvnet_without_relu_is_the_input_gradient(seed):
    net = _tiny_net(seed, relu=False)
    g = torch.Generator().manual_seed(seed)
    X = torch.randn(3, 2, 14, 14, dtype=torch.float64, generator=g)
    out, trace = record_forward(net, X)
    torch.testing.assert_close(out, net(X))
    top = _one_hot_units(out, seed)
    torch.testing.assert_close(project(net, trace, top), _input_gradient(net, X, top))


class _RectifiedBackwardReLU(torch.autograd.Function):
    """ReLU forward; backward rectifies the incoming signal instead of masking it by the
    forward's sign: the deconvnet's rule, written as an autograd function."""

    @staticmethod
    def forward(ctx, X):
        return X.clamp_min(0)

    @staticmethod
    def backward(ctx, grad):
        return grad.clamp_min(0)


class _Rectified(nn.Module):
    def forward(self, X):
        return _RectifiedBackwardReLU.apply(X)


@pytest.mark.parametrize("seed", range(3))
def test_deconvnet_rectifies_the_backward_signal_where_the_gradient_masks_it(seed):
    net = _tiny_net(seed, relu=True)
    g = torch.Generator().manual_seed(seed)
    X = torch.randn(3, 2, 14, 14, dtype=torch.float64, generator=g)
    out, trace = record_forward(net, X)
    top = _one_hot_units(out, seed) * out  # the unit's own value, as the deconvnet starts
    deconv = project(net, trace, top)
    swapped = nn.Sequential(*[_Rectified() if isinstance(m, nn.ReLU) else m for m in net])
    torch.testing.assert_close(deconv, _input_gradient(swapped, X, top))
    assert not torch.allclose(deconv, _input_gradient(net, X, top))


def test_projection_by_hand_lands_on_the_switch_through_the_filter_tap():
    conv = nn.Conv2d(1, 1, 3, padding=1, bias=False)
    with torch.no_grad():
        conv.weight.zero_()
        conv.weight[0, 0, 0, 2] = 2.0  # top-right tap: out(i, j) = 2 X(i - 1, j + 1)
    net = nn.Sequential(conv, nn.MaxPool2d(3, stride=2, padding=1))
    X = torch.zeros(1, 1, 4, 4)
    X[0, 0, 0, 1] = 5.0  # conv output peaks at (1, 0): the switch of pool windows (0, 0), (1, 0)
    out, trace = record_forward(net, X)  # (1, 1, 2, 2)
    assert out[0, 0, 0, 0] == 10.0
    top = torch.zeros_like(out)
    top[0, 0, 0, 0] = 1.0
    expected = torch.zeros_like(X)
    expected[0, 0, 0, 1] = 2.0  # back through the switch (1, 0), then the tap to (0, 1)
    torch.testing.assert_close(project(net, trace, top), expected)


def test_unpooling_adds_what_overlapping_windows_share():
    pool = nn.Sequential(nn.MaxPool2d(3, stride=2, padding=1))
    X = torch.zeros(1, 1, 4, 4)
    X[0, 0, 1, 1] = 1.0  # the maximum of all four overlapping windows
    _, trace = record_forward(pool, X)
    back = project(pool, trace, torch.ones(1, 1, 2, 2))
    assert back[0, 0, 1, 1] == 4.0 and back.sum() == 4.0  # F.max_unpool2d would give 1


def test_vgg_geometry_default_layer_and_projection_support():
    model = VGG(1, 10, ARCH, 0.0625).eval()
    assert default_layer(model.features) == 4
    stop = conv_stop(model.features, 4)
    assert isinstance(model.features[stop - 1], nn.ReLU)
    assert receptive_field(model.features[:stop]) == (29, 4, 0.0)
    X = torch.randn(6, 1, 32, 32)
    proj = top_projections(model.features, X, stop, num_channels=2, k=3)
    assert proj.recons.shape == (2, 3, 1, 32, 32)
    for c in range(2):
        for j in range(3):
            support = proj.recons[c, j, 0].abs() > 0
            rows, cols = support.any(dim=1).nonzero(), support.any(dim=0).nonzero()
            centre = 4 * proj.units[c, j]  # the unit's receptive field: centre +- 14 px
            assert rows.min() >= centre[0] - 14 and rows.max() <= centre[0] + 14
            assert cols.min() >= centre[1] - 14 and cols.max() <= centre[1] + 14


class _OnePixelModel(nn.Module):
    """Class 0's logit is 10 x pixel (3, 5); class 1's is 0. Counts its forward passes."""

    calls = 0

    def forward(self, X):
        self.calls += 1
        logit = 10 * X[:, 0, 3, 5]
        return torch.stack([logit, torch.zeros_like(logit)], dim=1)


def test_occlusion_map_is_lowest_exactly_on_the_pixel_the_model_reads():
    model = _OnePixelModel()
    masks = occluder_masks(12, 12, 3, 2)
    assert masks.shape == (36, 1, 12, 12)  # tops 0, 2, 4, 6, 8 and 9 (the last edge)
    assert (masks.sum(dim=(1, 2, 3)) == 9).all() and masks.any(dim=0).all()

    heat = occlusion_map(model, torch.ones(1, 12, 12), label=0, patch=3, stride=2)
    assert heat.shape == (12, 12) and model.calls == 1  # one batched forward
    clean = torch.sigmoid(torch.tensor(10.0))
    assert divmod(int(heat.argmin()), 12) == (3, 5)
    torch.testing.assert_close(heat[3, 5], torch.tensor(0.5))  # every square covering it hides it
    torch.testing.assert_close(heat[11, 0], clean)  # no square covers both
    torch.testing.assert_close(heat[0, 11], clean)


def test_pick_examples_prefers_correct_and_distinct_classes():
    y = torch.tensor([1, 1, 2, 3, 3, 0])
    y_hat = torch.tensor([1, 1, 2, 0, 3, 1])
    assert pick_examples(y_hat, y, 4) == [0, 2, 4, 1]
    assert pick_examples(y_hat, y, 6)[4:] == [3, 5]  # the wrong ones only to fill up


def test_activation_stats_match_direct_computation():
    torch.manual_seed(0)
    model = VGG(1, 10, ARCH, 0.0625).eval()
    X = torch.randn(5, 1, 32, 32)
    walk = activation_stats(model.features, X, keep=3)
    relus = []
    with torch.no_grad():
        H = X
        for m in model.features:
            H = m(H)
            if isinstance(m, nn.ReLU):
                relus.append(H.clone())
    assert [r["layer"] for r in walk.rows][:3] == [
        "conv1 (4 ch, 32x32)",
        "conv2 (8 ch, 16x16)",
        "conv3 (16 ch, 8x8)",
    ]
    for row, a in zip(walk.rows, relus):
        assert row["zero_fraction"] == pytest.approx(1 - (a > 0).double().mean().item())
        assert row["mean"] == pytest.approx(a.double().mean().item(), rel=1e-9)
        assert row["std"] == pytest.approx(a.double().std(correction=0).item(), rel=1e-7)
    torch.testing.assert_close(walk.kept, relus[2])
    torch.testing.assert_close(walk.output, F.relu(H))


NAMES = [
    "filters.png",
    "activation_stats.png",
    "activation_stats.md",
    "deconvnet.png",
    "occlusion.png",
]


@pytest.mark.parametrize(
    "channels, side, options",
    [
        (1, 8, {}),
        (
            1,
            28,
            {
                "layer": 2,
                "class_names": [f"digit {k}" for k in range(10)],
                "mean_std": (0.13, 0.31),
            },
        ),
        (3, 32, {"mean_std": ([0.5, 0.4, 0.3], [0.2, 0.2, 0.25])}),
    ],
)
def test_analyze_cnn_writes_every_figure(tmp_path, channels, side, options):
    torch.manual_seed(0)
    model = VGG(channels, 10, ARCH, 0.0625)
    X, y = torch.randn(24, channels, side, side), torch.randint(0, 10, (24,))
    options = {"class_names": None, **options}
    paths = analyze_cnn(model, X, y, out_dir=tmp_path / "figures", **options)
    assert [p.name for p in paths] == NAMES
    assert model.training  # the caller's mode is restored
    for p in paths:
        assert p.parent == tmp_path / "figures"
        assert p.stat().st_size > (5000 if p.suffix == ".png" else 100), p.name
    assert (tmp_path / "figures" / "activation_stats.csv").exists()
    assert "conv8 (32 ch, 2x2)" in paths[2].read_text()


def test_analyze_cnn_rejects_a_layer_it_does_not_have(tmp_path):
    model = VGG(1, 10, ARCH, 0.0625)
    X, y = torch.randn(4, 1, 8, 8), torch.zeros(4, dtype=torch.long)
    for layer in (9, 0):
        with pytest.raises(UsageError) as caught:
            analyze_cnn(model, X, y, None, tmp_path / "figures", layer=layer)
        assert str(caught.value) == (f"--layer {layer}: this network has 8 conv layers; pass 1..8")
    assert not (tmp_path / "figures").exists()  # rejected before anything was written


def test_analyze_cnn_on_a_resnet_writes_all_but_the_deconvnet(tmp_path):
    torch.manual_seed(0)
    model = ResNet(1, 10, depth=8, width=0.25)
    X, y = torch.randn(6, 1, 28, 28), torch.randint(0, 10, (6,))
    said = []
    paths = analyze_cnn(model, X, y, None, tmp_path / "figures", say=said.append)
    assert [p.name for p in paths] == [n for n in NAMES if n != "deconvnet.png"]
    for p in paths:
        assert p.stat().st_size > (5000 if p.suffix == ".png" else 100), p.name
    assert not (tmp_path / "figures" / "deconvnet.png").exists()
    assert len(said) == 1 and "deconvnet" in said[0] and "\n" not in said[0]
    assert model.training

    # A row per ReLU module, in module order, named where it sits.
    relus = [name for name, m in model.named_modules() if isinstance(m, nn.ReLU)]
    assert len(relus) == 1 + 2 * 3  # the stem's, and two in each of the three blocks
    table = paths[2].read_text()
    rows = [line for line in table.splitlines() if "ch, " in line]
    assert [row.split("|")[1].strip().split(" (")[0] for row in rows] == relus
    for name in ("stem.relu (4 ch, 28x28)", "stage2.block1.relu2 (8 ch, 14x14)"):
        assert name in table
    assert "stage3.block1.relu2 (16 ch, 7x7)" in table


def test_analyze_cnn_activation_rows_match_the_resnets_relus():
    torch.manual_seed(0)
    model = ResNet(1, 10, depth=8, width=0.25).eval()
    X = torch.randn(3, 1, 28, 28)
    walk = activation_stats(model, X)
    relus = [(name, m) for name, m in model.named_modules() if isinstance(m, nn.ReLU)]
    assert [r["layer"].split(" (")[0] for r in walk.rows] == [name for name, _ in relus]
    torch.testing.assert_close(walk.output, model(X))
    assert walk.kept is None
    with pytest.raises(ValueError, match="no plain conv stack"):
        activation_stats(model, X, keep=1)


def test_analyze_cnn_rejects_a_layer_for_a_net_without_deconvnet(tmp_path):
    model = ResNet(1, 10, depth=8, width=0.25)
    X, y = torch.randn(4, 1, 28, 28), torch.zeros(4, dtype=torch.long)
    with pytest.raises(
        UsageError, match=r"^--layer 2: ResNet has no deconvnet .*leave --layer out$"
    ):
        analyze_cnn(model, X, y, None, tmp_path / "figures", layer=2)
    assert not (tmp_path / "figures").exists()
