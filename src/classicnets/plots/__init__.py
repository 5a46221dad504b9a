"""Figures and tables, drawn from run records (metrics rows, restored models), never during
training. Matplotlib's object-oriented API only (a Figure drawn by its own Agg canvas), never
pyplot: importing or drawing never changes the backend a notebook or script chose."""

from classicnets.plots.base import COLOR, DPI, Figure, Metrics, save_figure, subplots
from classicnets.plots.classifiers import (
    boundaries,
    confusion_figure,
    data_scatter,
    worst_grid,
)
from classicnets.plots.lines import (
    accuracy_against,
    curves,
    curves_figure,
    curves_grid,
    lr_find,
    search_scatter,
    time_to_accuracy,
    time_to_accuracy_figure,
    write_table,
)

__all__ = [
    "COLOR",
    "DPI",
    "Figure",
    "Metrics",
    "save_figure",
    "subplots",
    "boundaries",
    "confusion_figure",
    "data_scatter",
    "worst_grid",
    "accuracy_against",
    "curves",
    "curves_figure",
    "curves_grid",
    "lr_find",
    "search_scatter",
    "time_to_accuracy",
    "time_to_accuracy_figure",
    "write_table",
]
