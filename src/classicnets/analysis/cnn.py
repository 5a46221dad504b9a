"""`classicnets analyze` for a trained CNN: four looks inside, after Zeiler & Fergus 2014.

    filters.png           the first conv layer's filters
    activation_stats.png  mean, std and fraction of zeros after every ReLU (+ .md/.csv table)
    deconvnet.png         one conv layer's strongest activations projected back to pixels
    occlusion.png         p(true class) as a grey square slides over the image

Any convolutional nn.Module works (VGG, ResNet): the filters are its first nn.Conv2d, the
statistics come from forward hooks on its nn.ReLU modules, occlusion from its own forward. The
deconvnet needs a plain conv/BN/ReLU/max-pool stack (deconvnet.plain_stack, VGG's `features`)
and is skipped, with one line said, for anything else: a skip connection has no inverse.

The default deconvnet layer is the last conv of the third stage: conv4 of the course net,
256 channels at 8x8, each unit seeing 29x29 pixels of the 32x32 input. Units of conv1-conv3
see 3 to 21 pixels; those of conv5 on see 53 or more, all of the input, so every crop beside
their projections would be the whole image. `--layer N` picks another.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path

import matplotlib
import numpy as np
import torch
from matplotlib.axes import Axes
from matplotlib.cm import ScalarMappable
from matplotlib.colors import Normalize
from torch import nn

from classicnets.analysis.activations import activation_stats
from classicnets.analysis.deconvnet import (
    Projections,
    conv_stop,
    plain_stack,
    receptive_field,
    top_projections,
    window,
)
from classicnets.analysis.display import (
    MeanStd,
    minmax,
    mosaic,
    signed,
    to_picture,
    unnormalise,
)
from classicnets.analysis.occlusion import default_patch, occlusion_map, pick_examples
from classicnets.errors import UsageError
from classicnets.plots import Figure, save_figure, subplots, write_table

Box = tuple[int, int, int, int]  # top, bottom, left, right (exclusive ends)


def _show(ax: Axes, picture: np.ndarray, title: str = "") -> None:
    """A [0, 1] picture, grey or RGB, pixels as squares, no ticks."""
    ax.imshow(picture, cmap="gray", vmin=0, vmax=1, interpolation="nearest")
    ax.set_title(title, fontsize=9)
    ax.set_xticks([])
    ax.set_yticks([])


def default_layer(features: nn.Sequential) -> int:
    """The last conv before the third pool (or the last conv of a shallower net), 1-based."""
    conv, pools = 0, 0
    for m in features:
        conv += isinstance(m, nn.Conv2d)
        pools += isinstance(m, nn.MaxPool2d)
        if pools == 3:
            break
    return conv


def first_conv(model: nn.Module) -> tuple[str, nn.Conv2d]:
    """The first nn.Conv2d of `model` in module order, and where it sits ("conv1" in a plain
    stack, else its qualified name, "stem.conv")."""
    stack = plain_stack(model)
    for name, m in model.named_modules():
        if isinstance(m, nn.Conv2d):
            in_stack = stack is not None and any(m is s for s in stack)
            return ("conv1" if in_stack else name), m
    raise TypeError(f"{type(model).__name__} has no nn.Conv2d: not a convolutional network")


def noted(title: str, note: str) -> str:
    """A figure's title, with a second line (which weights it shows) where there is one."""
    return f"{title}\n{note}" if note else title


def plot_filters(conv: nn.Conv2d, path: Path, name: str = "conv1", note: str = "") -> Path:
    """Each filter (C_in, 3, 3) as a small picture, min-max scaled on its own."""
    weight = conv.weight.detach().cpu()  # (C_out, C_in, kh, kw)
    tiles = [minmax(to_picture(w)) for w in weight]
    ncols = math.ceil(math.sqrt(len(tiles)))
    fig, ax = subplots(figsize=(0.45 * ncols + 2.0, 0.45 * ncols + 2.2))
    kind = {1: "grey", 3: "RGB"}.get(weight.shape[1], "mean over channels")
    _show(ax, mosaic(tiles, ncols))
    ax.set_title(
        noted(
            f"{name}: {len(tiles)} filters, {weight.shape[2]}x{weight.shape[3]}x"
            f"{weight.shape[1]} ({kind}), each min-max scaled",
            note,
        ),
        fontsize=9,
    )
    return save_figure(fig, path)


def plot_activation_stats(rows: list[dict], path: Path, note: str = "") -> Path:
    """Mean, std and fraction of zeros after each ReLU: three bar charts, one above the other,
    sharing the layer axis."""
    # ResNet-20 has 19 ReLUs, VGG 8: widen the figure so the rotated names stay apart.
    fig, axes = subplots(3, 1, figsize=(max(7.0, 0.4 * len(rows)), 6.4), sharex=True)
    panels = (("mean", "mean"), ("std", "std"), ("zero_fraction", "fraction of zeros"))
    for ax, (key, label) in zip(axes, panels):
        ax.bar(range(len(rows)), [r[key] for r in rows], color="tab:cyan")
        ax.set_ylabel(label)
        ax.grid(axis="y", alpha=0.3)
    axes[2].set_ylim(0, 1)
    axes[2].set_xticks(range(len(rows)), [r["layer"] for r in rows], rotation=30, ha="right")
    title = noted("activations after each ReLU (eval mode, test images)", note)
    axes[0].set_title(title, fontsize=11)
    return save_figure(fig, path)


@contextmanager
def _inputs_of(module: nn.Module) -> Iterator[list[torch.Tensor]]:
    """Collects, while open, a copy of the input of every call of `module` (a forward pre-hook):
    what a plain stack really receives once the model's forward has padded or resized X."""
    seen: list[torch.Tensor] = []
    handle = module.register_forward_pre_hook(lambda m, args: seen.append(args[0].clone()))
    try:
        yield seen
    finally:
        handle.remove()


def _content_box(model: nn.Module, stack: nn.Sequential, shape: torch.Size) -> Box:
    """Where the original (C, H, W) image lies inside the stack's input: the padding the model
    adds on the way (VGG.pad_to_32's zeros) is cropped from the figures, an upsampled image is
    shown whole. Found by sending an all-ones image through the model, eval mode."""
    with _inputs_of(stack) as seen:
        model(torch.ones(1, *shape, device=next(model.parameters()).device))
    inside = seen[0][0].ne(0).any(dim=0)  # (H', W')
    rows, cols = inside.any(dim=1).nonzero(), inside.any(dim=0).nonzero()
    return int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1


def _beside(left: np.ndarray, right: np.ndarray, gap: int = 3) -> np.ndarray:
    """Two pictures of equal height side by side with a white gap, as RGB if either is."""
    if left.ndim != right.ndim:
        left, right = (
            a if a.ndim == 3 else np.repeat(a[..., None], 3, axis=2) for a in (left, right)
        )
    gutter = np.ones((left.shape[0], gap) + left.shape[2:])
    return np.concatenate([left, gutter, right], axis=1)


def _grid_axes(n: int, width: float, height: float) -> tuple[Figure, list[Axes]]:
    """n axes, two to a row (one draw call per axes: fewer axes, a faster figure)."""
    ncols = 2 if n > 1 else 1
    nrows = math.ceil(n / ncols)
    fig, axes = subplots(nrows, ncols, figsize=(width * ncols, height * nrows), squeeze=False)
    for ax in axes.flat[n:]:
        ax.axis("off")
    return fig, list(axes.flat[:n])


def plot_deconvnet(
    proj: Projections,
    shown: torch.Tensor,
    rf: tuple[int, int, float],
    box: Box,
    title: str,
    path: Path,
) -> Path:
    """Per channel, two 3x3 mosaics side by side: the projections, and the input patches
    under them. shown (B, C, H, W): the stack's inputs in [0, 1]. Both crops are the unit's
    receptive field, clipped to `box` and the same size for every unit so the tiles line up.
    """
    size, jump, start = rf
    n, k = proj.images.shape
    ncols = math.ceil(math.sqrt(k))
    fig, axes = _grid_axes(n, 5.0, 2.8)
    for c, ax in enumerate(axes):
        recons, patches = [], []
        for j in range(k):
            row, col = (start + jump * int(u) for u in proj.units[c, j])
            top, bottom = window(row, size, box[0], box[1])
            left, right = window(col, size, box[2], box[3])
            recons.append(signed(to_picture(proj.recons[c, j, :, top:bottom, left:right])))
            patches.append(to_picture(shown[proj.images[c, j], :, top:bottom, left:right]))
        both = _beside(mosaic(recons, ncols), mosaic(patches, ncols), gap=4)
        _show(
            ax,
            both,
            f"channel {proj.channels[c]}: projections | top {k} patches\n"
            f"(activations {float(proj.values[c, -1]):.2f} to "
            f"{float(proj.values[c, 0]):.2f})",
        )
    fig.suptitle(title, fontsize=10)
    return save_figure(fig, path)


def plot_occlusion(
    shown: torch.Tensor,
    maps: list[torch.Tensor],
    labels: list[str],
    clean: list[float],
    patch: tuple[int, int],
    path: Path,
    note: str = "",
) -> Path:
    """Per image: the image, and beside it p(true class) with the square centred on each pixel
    (averaged over the positions covering it), on one colour scale."""
    cmap = matplotlib.colormaps["RdYlBu_r"]
    fig, axes = _grid_axes(len(maps), 4.6, 2.7)
    for i, ax in enumerate(axes):
        heat = cmap(maps[i].cpu().numpy())[..., :3]  # (H, W, 3) painted by the colour map
        _show(
            ax,
            _beside(to_picture(shown[i]), heat),
            f"true: {labels[i]} (p = {clean[i]:.2f}) | p({labels[i]}) occluded",
        )
    scale = ScalarMappable(Normalize(0, 1), cmap)
    fig.colorbar(scale, ax=axes, shrink=0.8, label="p(true class), square centred here")
    fig.suptitle(
        noted(
            f"occlusion sensitivity: a {patch[0]}x{patch[0]} grey square every {patch[1]} px", note
        ),
        fontsize=10,
    )
    return save_figure(fig, path)


def _to_stderr(line: str) -> None:
    print(line, file=sys.stderr)


def _check_layer(model: nn.Module, stack: nn.Sequential | None, layer: int | None) -> None:
    """Reject a --layer the model does not have, before anything is written."""
    if layer is None:
        return
    if stack is None:
        raise UsageError(
            f"--layer {layer}: {type(model).__name__} has no deconvnet (it is not a plain "
            f"conv/BN/ReLU/max-pool stack), so there is no layer to pick; leave --layer out"
        )
    num_convs = sum(isinstance(m, nn.Conv2d) for m in stack)
    if not 1 <= layer <= num_convs:
        raise UsageError(
            f"--layer {layer}: this network has {num_convs} conv layers; pass 1..{num_convs}"
        )


def analyze_cnn(
    model: nn.Module,
    X: torch.Tensor,
    y: torch.Tensor,
    class_names: list[str] | None,
    out_dir: Path,
    layer: int | None = None,
    mean_std: MeanStd | None = None,
    say: Callable[[str], None] = _to_stderr,
    weights: str = "",
) -> list[Path]:
    """Write the figures and the table for the convolutional `model` on test images X
    (B, C, H, W), normalised, with labels y (B,); returns [filters.png, activation_stats.png,
    activation_stats.md, deconvnet.png, occlusion.png], without deconvnet.png where the model
    has no plain stack (`say` then gets one line saying so). `layer`: the deconvnet's conv,
    1-based (default: `default_layer`). `mean_std`: the normalisation, to show true colours.
    `weights`: which weights the model holds, said under every figure's title.
    """
    stack = plain_stack(model)
    _check_layer(model, stack, layer)
    name, conv = first_conv(model)
    if stack is not None:
        layer = layer or default_layer(stack)
    out_dir = Path(out_dir)
    device = next(model.parameters()).device
    X, y = X.to(device=device, dtype=torch.float32), y.to(device)
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            # One forward pass of the model for the statistics, the deconvnet's top units and
            # the predictions; the pre-hook catches the stack's input (X padded to 32x32).
            with _inputs_of(stack) if stack is not None else nullcontext([]) as inputs:
                walk = activation_stats(model, X, keep=layer)
            probs = walk.output.float().softmax(dim=1)  # (B, K)
            if stack is not None:
                fitted = inputs[0]  # (B, C, H', W')
                stop = conv_stop(stack, layer)
                proj = top_projections(stack, fitted, stop, walk.kept)
                box = _content_box(model, stack, X.shape[1:])
            examples = pick_examples(probs.argmax(dim=1).cpu(), y.cpu())
            maps = [occlusion_map(model, X[i], int(y[i])) for i in examples]
            clean = probs[examples, y[examples]]  # (n,) p(true) unoccluded
    finally:
        model.train(was_training)

    paths = [plot_filters(conv, out_dir / "filters.png", name, weights)]
    paths.append(plot_activation_stats(walk.rows, out_dir / "activation_stats.png", weights))
    paths.append(write_table(walk.rows, out_dir / "activation_stats"))
    if stack is not None:
        rf = receptive_field(stack[:stop])
        where = f"conv{layer}"  # its ReLU's row: "conv4 (256 ch, 8x8)"
        label = next((r["layer"] for r in walk.rows if r["layer"].split()[0] == where), where)
        title = (
            f"deconvnet: {label}, the top {proj.images.shape[1]} activations"
            f" of its {len(proj.channels)} strongest channels (receptive field {rf[0]} px)"
        )
        title = noted(title, weights)
        shown = unnormalise(fitted, mean_std)  # (B, C, H', W') in [0, 1]
        paths.append(plot_deconvnet(proj, shown, rf, box, title, out_dir / "deconvnet.png"))
    names = [class_names[int(y[i])] if class_names else str(int(y[i])) for i in examples]
    paths.append(
        plot_occlusion(
            unnormalise(X[examples], mean_std),
            maps,
            names,
            clean.tolist(),
            default_patch(*X.shape[-2:]),
            out_dir / "occlusion.png",
            weights,
        )
    )
    if stack is None:
        say(
            f"deconvnet: skipped: {type(model).__name__} is not a plain conv/BN/ReLU/max-pool"
            " stack (skip connections have no deconvnet inverse); filters, activation"
            " statistics and occlusion written"
        )
    return paths
