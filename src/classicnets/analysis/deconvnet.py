"""The deconvnet of Zeiler & Fergus 2014, "Visualizing and Understanding Convolutional Networks".

One activation of a feature map, every other activation set to zero, is projected back to
pixel space by running the network backwards, layer by layer:

    ReLU        -> ReLU of the reconstruction (the signal is rectified, not masked by the
                   forward pass: this is where a deconvnet differs from the input gradient)
    max pool    -> unpooling through the switches (argmax positions) of the forward pass
    batch norm  -> its transpose as an affine map: x gamma / sqrt(running_var + eps); the shift
                   is dropped, as Z&F drop biases: the projection shows which input pattern
                   excites the unit, not the offsets added along the way
    conv        -> the transposed convolution with the same weights (no bias)

Without ReLUs every step is exactly the transpose of the forward layer's Jacobian, so the
projection equals the gradient of the activation with respect to the input (the tests hold
it to torch.autograd). The functions take any nn.Sequential of those four module types
(`plain_stack` finds one in a model).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

Size = tuple[int, int]


@dataclass
class Trace:
    """What the way back needs from the way forward, keyed by module index in the Sequential."""

    switches: dict[int, torch.Tensor] = field(default_factory=dict)  # (B, C, h, w) argmax in H*W
    in_sizes: dict[int, Size] = field(default_factory=dict)  # (H, W) of each module's input


INVERTIBLE = (nn.Conv2d, nn.BatchNorm2d, nn.ReLU, nn.MaxPool2d)


def _check(module: nn.Module) -> None:
    if not isinstance(module, INVERTIBLE):
        raise TypeError(f"deconvnet: cannot invert {type(module).__name__}")


def plain_stack(model: nn.Module) -> nn.Sequential | None:
    """The part of `model` a deconvnet can run backwards: `model` itself if it is an
    nn.Sequential of the four invertible module types, else its `features` if that is one (as
    in models.VGG); None for anything else (a ResNet: a skip connection has no inverse here).
    """
    for stack in (model, getattr(model, "features", None)):
        if isinstance(stack, nn.Sequential) and all(isinstance(m, INVERTIBLE) for m in stack):
            return stack
    return None


def record_forward(layers: nn.Sequential, X: torch.Tensor) -> tuple[torch.Tensor, Trace]:
    """(B, C, H, W) -> (output, trace). Batch norm always uses its running statistics (eval
    behaviour, whatever the mode) so that `project` inverts exactly the map applied here."""
    trace = Trace()
    for i, m in enumerate(layers):
        _check(m)
        trace.in_sizes[i] = (X.shape[-2], X.shape[-1])
        if isinstance(m, nn.MaxPool2d):
            X, trace.switches[i] = F.max_pool2d(
                X, m.kernel_size, m.stride, m.padding, m.dilation, m.ceil_mode, True
            )
        elif isinstance(m, nn.BatchNorm2d):
            X = F.batch_norm(X, m.running_mean, m.running_var, m.weight, m.bias, False, 0.0, m.eps)
        elif isinstance(m, nn.ReLU):
            X = F.relu(X)  # never in place: the first layer's input is the caller's tensor
        else:
            X = m(X)
    return X, trace


def _unpool(R: torch.Tensor, switches: torch.Tensor, size: Size) -> torch.Tensor:
    """(B, C, h, w) -> (B, C, H, W): each value goes back to its window's argmax.

    Summed with scatter_add rather than F.max_unpool2d: 3x3 windows with stride 2 overlap, so
    two windows can share one switch, and max_unpool2d writes instead of adding, keeping one
    of the two values (max pool's backward, like the transpose, adds them).
    """
    B, C = R.shape[:2]
    out = R.new_zeros(B, C, size[0] * size[1])
    out.scatter_add_(2, switches.flatten(2), R.flatten(2))
    return out.view(B, C, *size)


def _conv_transpose(R: torch.Tensor, conv: nn.Conv2d, size: Size) -> torch.Tensor:
    if isinstance(conv.padding, str) or conv.padding_mode != "zeros":
        raise TypeError("deconvnet: convs need integer zero padding")
    # A strided conv maps several input sizes to one output size: output_padding picks `size`.
    extra = tuple(
        size[d]
        - (
            (R.shape[2 + d] - 1) * conv.stride[d]
            - 2 * conv.padding[d]
            + conv.dilation[d] * (conv.kernel_size[d] - 1)
            + 1
        )
        for d in (0, 1)
    )
    return F.conv_transpose2d(
        R, conv.weight, None, conv.stride, conv.padding, extra, conv.groups, conv.dilation
    )


def project(
    layers: nn.Sequential, trace: Trace, top: torch.Tensor, rectify: bool = True
) -> torch.Tensor:
    """Run `top` (shaped like the output of `layers`) back to the input of `layers[0]`.

    rectify=False skips the ReLUs (for comparisons only; Z&F rectify).
    """
    R = top
    for i in reversed(range(len(layers))):
        m = layers[i]
        _check(m)
        if isinstance(m, nn.ReLU):
            R = F.relu(R) if rectify else R
        elif isinstance(m, nn.BatchNorm2d):
            scale = torch.rsqrt(m.running_var + m.eps)  # (C,)
            if m.weight is not None:
                scale = scale * m.weight
            R = R * scale[:, None, None]
        elif isinstance(m, nn.MaxPool2d):
            R = _unpool(R, trace.switches[i], trace.in_sizes[i])
        else:
            R = _conv_transpose(R, m, trace.in_sizes[i])
    return R


def conv_stop(features: nn.Sequential, layer: int) -> int:
    """The end (exclusive) of the prefix of `features` that ends after conv `layer`'s ReLU
    (1-based over the Conv2d modules; its batch norm and ReLU come with it)."""
    convs = [i for i, m in enumerate(features) if isinstance(m, nn.Conv2d)]
    stop = convs[layer - 1] + 1
    for j in range(stop, len(features)):
        if not isinstance(features[j], (nn.BatchNorm2d, nn.ReLU)):
            break
        stop = j + 1
        if isinstance(features[j], nn.ReLU):
            break
    return stop


def receptive_field(layers: nn.Sequential) -> tuple[int, int, float]:
    """(size, jump, start) of an output unit of `layers` in input pixels: unit (i, j) sees the
    size x size square centred on (start + i jump, start + j jump), padding included."""
    size, jump, start = 1, 1, 0.0
    for m in layers:
        if isinstance(m, (nn.Conv2d, nn.MaxPool2d)):
            geometry = (m.kernel_size, m.stride, m.padding)
            k, s, p = (v if isinstance(v, int) else v[0] for v in geometry)  # square only
            size += (k - 1) * jump
            start += ((k - 1) / 2 - p) * jump
            jump *= s
    return size, jump, start


@dataclass
class Projections:
    """The top activations of a few channels and their projections to pixel space."""

    channels: list[int]  # n channel indices, strongest first
    images: torch.Tensor  # (n, k) batch index of each activation's image
    units: torch.Tensor  # (n, k, 2) (row, col) of each activation in the feature map
    values: torch.Tensor  # (n, k) the activations
    recons: torch.Tensor  # (n, k, C, H, W) their projections to the (fitted) input


@torch.no_grad()
def top_projections(
    features: nn.Sequential,
    X: torch.Tensor,
    stop: int,
    acts: torch.Tensor | None = None,
    num_channels: int = 4,
    k: int = 9,
) -> Projections:
    """X (B, C, H, W) already fitted to the network; acts (B, C', h, w) = features[:stop](X)
    if already at hand. The `num_channels` channels with the largest activation anywhere in
    the batch; for each, its k largest activations from k different images (as Z&F show them:
    a unit's strongest images, not k neighbouring positions of one image), each projected back
    on its own."""
    layers = features[:stop]
    acts = layers(X) if acts is None else acts
    B, _, h, w = acts.shape
    per_image, where = acts.flatten(2).max(dim=2)  # (B, C'): each image's peak per channel
    k = min(k, B)
    channels = per_image.max(dim=0).values.topk(min(num_channels, acts.shape[1])).indices
    values, images = per_image[:, channels].topk(k, dim=0)  # (k, n)
    values, images = values.T, images.T  # (n, k)
    flat = where[images, channels[:, None]]  # (n, k) position in h*w
    units = torch.stack([flat // w, flat % w], dim=-1)  # (n, k, 2)

    # Forward again on just these n*k images, recording switches, then project all at once.
    out, trace = record_forward(layers, X[images.flatten()])  # (n*k, C', h, w)
    rows = torch.arange(out.shape[0])
    chan = channels.repeat_interleave(k)
    top = torch.zeros_like(out)
    top[rows, chan, units[..., 0].flatten(), units[..., 1].flatten()] = out[
        rows, chan, units[..., 0].flatten(), units[..., 1].flatten()
    ]
    recons = project(layers, trace, top)  # (n*k, C, H, W)
    recons = recons.view(len(channels), k, *X.shape[1:])
    return Projections(channels.tolist(), images.cpu(), units.cpu(), values.cpu(), recons.cpu())


def window(centre: float, size: int, lo: int, hi: int) -> tuple[int, int]:
    """[a, b) of length min(size, hi - lo) centred on `centre` as nearly as fits in [lo, hi):
    every crop of one layer has the same size, shifted inward at the image's edges."""
    size = min(size, hi - lo)
    a = round(centre - (size - 1) / 2)
    a = max(lo, min(a, hi - size))
    return a, a + size
