"""classicnets: train, compare and report on the classic neural networks.

The Python API (classicnets/api.py), for notebooks and scripts:

    import classicnets
    run = classicnets.train("mlp-toy", dnn_hidden_units=(64, 32), epochs=50)
    run.history[-1], run.plot(), run.model
    classicnets.report([run.dir], "report.html")

`import classicnets` stays light: the API, torch and matplotlib are imported on first use.
Two of the calls share their names with subpackages (classicnets.train, the training loop;
classicnets.report, the HTML report), so those two packages are callable modules: the
package stays what every import of it expects, and calling it calls the API's function.
"""

from __future__ import annotations

import types
from typing import TYPE_CHECKING, Any

from classicnets import report, train  # docstrings only: no torch, no matplotlib
from classicnets.errors import UsageError
from classicnets.version import __version__

_API = ("History", "Run", "Sweep", "load", "load_sweep", "sweep")  # imported on first use
__all__ = [
    "History",
    "Run",
    "Sweep",
    "UsageError",
    "__version__",
    "load",
    "load_sweep",
    "report",
    "sweep",
    "train",
]

if TYPE_CHECKING:
    from classicnets.api import History, Run, Sweep, load, load_sweep, sweep


class _CallablePackage(types.ModuleType):
    """A subpackage that is also a call of the API: classicnets.train(...) is api.train(...)."""

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        from classicnets import api

        return getattr(api, self.__name__.rpartition(".")[2])(*args, **kwargs)


for _package in (report, train):
    _package.__class__ = _CallablePackage


def __getattr__(name: str) -> Any:
    if name in _API:
        from classicnets import api

        return getattr(api, name)
    raise AttributeError(f"module 'classicnets' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *_API})
