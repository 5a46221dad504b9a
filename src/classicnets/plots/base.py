"""What every figure shares: a Figure outside pyplot, its saving, and the styles."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import matplotlib.figure
from matplotlib.backends.backend_agg import FigureCanvasAgg

from classicnets.records import atomic_write

Metrics = list[dict[str, Any]]
SPLIT_STYLE = {"train": "--", "val": ":", "test": "-"}
# One colour per implementation, model and cell across every figure (and so the report).
COLOR = {
    "numpy": "tab:blue",
    "torch": "tab:orange",
    "mlp": "tab:brown",
    "cnn": "tab:cyan",
    "rnn": "tab:red",
    "lstm": "tab:purple",
    "gru": "tab:green",
}
# With several runs on one axis the first is drawn wide and pale, the others thin on top:
# where curves coincide (as the NumPy and PyTorch MLPs do, by construction) all stay visible.
UNDERLAY = {"linewidth": 4.0, "alpha": 0.45}
OVERLAY = {"linewidth": 1.2, "marker": "."}
LEGEND_INSIDE = 8  # legend entries that still fit inside a pair of axes


DPI = 110  # dots per inch of the PNGs: sharp in the report, a few hundred kB at most


class Figure(matplotlib.figure.Figure):
    """A matplotlib Figure on its own Agg canvas, outside pyplot's registry: nothing global
    changes when one is made, and none is left open. In a notebook it shows as a PNG
    (IPython's `_repr_png_`), whatever the backend, and pyplot need not be imported."""

    def __init__(self, **kwargs: Any):
        super().__init__(**kwargs)
        FigureCanvasAgg(self)  # sets self.canvas

    def png(self) -> bytes:
        buffer = io.BytesIO()
        self.savefig(buffer, format="png", dpi=DPI, bbox_inches="tight")
        return buffer.getvalue()

    def _repr_png_(self) -> bytes:
        return self.png()


def subplots(*args: Any, figsize: tuple[float, float], **kwargs: Any) -> tuple[Figure, Any]:
    """pyplot.subplots' (figure, axes), without pyplot."""
    fig = Figure(figsize=figsize)
    return fig, fig.subplots(*args, **kwargs)


def save_figure(fig: Figure, path: Path) -> Path:
    atomic_write(path, fig.png())
    return path
