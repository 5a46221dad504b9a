"""How a run shows its progress: a bar where someone watches, a line per evaluation where
output goes to a log.

    in a Jupyter kernel   tqdm.auto's widget (a plain line per evaluation without ipywidgets)
    stderr a terminal     tqdm.auto's text bar, the latest accuracy beside it
    anything else         one plain line per evaluation on stderr (a log, a pipe, CI)

The loop calls `advance()` after each epoch and `evaluated(...)` after each evaluation; a
disabled Progress (--quiet, another rank, a sweep's parallel workers) does nothing.
"""

from __future__ import annotations

import sys
from typing import Any

from classicnets.records import choosing_split


def in_notebook() -> bool:
    """Is this process a Jupyter kernel (where tqdm.auto draws a widget)?"""
    shell = sys.modules.get("IPython")
    get_ipython = getattr(shell, "get_ipython", None)
    kernel = get_ipython() if get_ipython else None
    return kernel is not None and "IPKernelApp" in getattr(kernel, "config", {})


def _widget_bar(**kwargs: Any) -> Any | None:
    """tqdm.auto's notebook widget, or None where ipywidgets is missing (tqdm refuses then)."""
    from tqdm.auto import tqdm

    try:
        return tqdm(**kwargs)
    except ImportError:  # "IProgress not found": no ipywidgets in this kernel
        return None


class Progress:
    """The progress of one run: `total` epochs, named `name`, `initial` done already."""

    def __init__(self, name: str, total: int, initial: int = 0, enabled: bool = True):
        self.name, self.total, self.epoch = name, total, initial
        self.bar: Any | None = None
        self.lines = False  # one plain line per evaluation instead of a bar
        if not enabled:
            return
        options = dict(total=total, initial=initial, desc=name, unit="epoch", leave=False)
        if in_notebook():
            self.bar = _widget_bar(**options)
        elif sys.stderr.isatty():
            from tqdm.auto import tqdm

            self.bar = tqdm(**options, dynamic_ncols=True)
        self.lines = self.bar is None

    def advance(self) -> None:
        self.epoch += 1
        if self.bar is not None:
            self.bar.update(1)

    def evaluated(self, step: int, rows: dict[str, dict[str, Any]]) -> None:
        """After an evaluation: rows maps each split to its metrics row."""
        chooser = choosing_split(tuple(rows)) or "test"  # shown; without val nothing chooses
        accuracy = rows[chooser]["accuracy"]
        if self.bar is not None:
            self.bar.set_postfix({f"{chooser}_acc": f"{accuracy:.3f}"})
        if self.lines:
            loss = rows[chooser]["loss"]
            shown = "not finite (diverged)" if loss is None else f"{loss:.4g}"
            print(
                f"{self.name}: epoch {self.epoch}/{self.total}, step {step}: "
                f"{chooser} accuracy {accuracy:.4f}, loss {shown}",
                file=sys.stderr,
                flush=True,
            )

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
