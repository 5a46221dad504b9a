"""The Python API, for notebooks and scripts: what the command line does, as calls.

    run = classicnets.train("mlp-toy", dnn_hidden_units=(64, 32), epochs=50)
    again = classicnets.train("mlp-toy", config=run.dir / "config.json", epochs=80)
    run.summary["best"], run.history[-1], run.plot(), run.model
    sweep = classicnets.sweep("mlp-toy-compare", epochs=20)
    classicnets.report([run, sweep], "report.html")

Keys are the command line's keys as Python values; `config=` is --config (a JSON or YAML
file, or a mapping), whose keys those given beside it override. Each is written as the command line
writes it (config.format_value) and then parsed and checked as a flag is (config.build), so
a bad value is the same one-line UsageError the CLI prints, and no check lives here twice.
Like the CLI, nothing is written when an input is refused.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from functools import cached_property
from pathlib import Path
from typing import Any

from classicnets import config, configfile
from classicnets.cli import report_html
from classicnets.errors import UsageError
from classicnets.experiments import EXPERIMENTS, SWEEPS, experiment
from classicnets.experiments.tables import configurations, trial_table
from classicnets.plots import Figure, curves_figure
from classicnets.records import CONFIG, RunDir, describe
from classicnets.records.schema import read_sweep
from classicnets.runner import run as runner
from classicnets.runner.outdir import check_name, check_writable
from classicnets.runner.sweep import run_sweep


class History(list):
    """A run's metrics rows (metrics.jsonl), one dict per split per evaluation."""

    def to_pandas(self) -> Any:
        """The rows as a pandas DataFrame (pandas is not a dependency of classicnets)."""
        try:
            import pandas
        except ImportError:
            raise ImportError(
                "Run.history.to_pandas() needs pandas, which is not installed: "
                "pip install pandas (Run.history is a list of dicts without it)"
            ) from None
        return pandas.DataFrame(list(self))


class Run:
    """One run directory, read from its record: config.json, summary.json, metrics.jsonl,
    and the chosen weights (best.pt, else checkpoint.pt: Experiment.restore picks)."""

    def __init__(self, run_dir: Path | str):
        self.dir = Path(run_dir)
        self._record = RunDir(self.dir)
        if not self._record.file(CONFIG).is_file():
            raise UsageError(
                f"'{self.dir}' holds no config.json; pass a run directory "
                "(the --out of classicnets train, or a sweep's TRIAL folder)"
            )
        saved = self._record.config()
        name = saved.get("experiment")
        if name not in EXPERIMENTS:
            raise UsageError(
                f"'{self.dir}': config.json names no experiment of classicnets ({name!r})"
            )
        self.experiment: str = name
        # the keys, checked as flags are: a tampered config.json is one UsageError
        self.config = config.from_dict(
            EXPERIMENTS[name].config, saved, str(self._record.file(CONFIG))
        )

    @property
    def summary(self) -> dict[str, Any] | None:
        """summary.json (None while the run has not finished a first time)."""
        return self._record.summary()

    @property
    def history(self) -> History:
        return History(self._record.metrics())

    @cached_property
    def model(self) -> Any:
        """The chosen model (a torch nn.Module, or the NumPy MLP), on the CPU: the weights
        of the best validation evaluation (RUN_DIR/best.pt), or the last checkpoint's where
        the run chose none (no validation split)."""
        _, _, built = runner.restore(self.dir)
        return built.learner.model

    def plot(self, x: str = "epoch") -> Figure:
        """Accuracy and loss of every split against epoch (or "step"): a matplotlib Figure,
        drawn without pyplot (in a notebook it shows itself; .savefig saves it)."""
        if x not in ("epoch", "step"):
            raise UsageError(f"x={x!r}: expected 'epoch' or 'step'")
        summary = self.summary
        said = describe(summary) if summary else "not finished"
        return curves_figure({self.dir.name: self.history}, f"{self.experiment}: {said}", x)

    def __repr__(self) -> str:
        summary = self.summary
        return f"Run('{self.dir}': {describe(summary) if summary else 'not finished'})"


class Sweep:
    """One sweep directory: sweep.json's record, its trials as Runs, its table's rows."""

    def __init__(self, sweep_dir: Path | str):
        self.dir = Path(sweep_dir)
        path = self.dir / "sweep.json"
        if not path.is_file():
            raise UsageError(
                f"'{self.dir}' holds no sweep.json; pass a sweep directory (the --out of "
                "classicnets sweep)"
            )
        self.record: dict[str, Any] = read_sweep(path)
        self.name: str = self.record["sweep"]

    @property
    def trials(self) -> dict[str, Run]:
        """Trial name -> Run, for the trials that wrote a run record (one refused or failed
        before its config.json was written has a row in `rows`, and no Run)."""
        return {
            t["trial"]: Run(self.dir / t["dir"])
            for t in self.record["trials"]
            if (self.dir / t["dir"] / CONFIG).is_file()
        }

    @property
    def rows(self) -> list[dict[str, Any]]:
        """The sweep's table (figures/table.md): a row per trial, its status and results."""
        return trial_table(self.record["trials"], ())

    @property
    def configurations(self) -> list[dict[str, Any]]:
        """A record per configuration, its seeds together: keys, seeds, statuses, and the
        mean, sd and n of its validation accuracy, the test accuracy there and the final
        test accuracy (sweep.json's "configurations")."""
        return configurations(self.record["trials"])

    def __repr__(self) -> str:
        done, planned = len(self.record["trials"]), self.record["planned"]
        return f"Sweep('{self.dir}': {self.name}, {done} of {planned} trials recorded)"


def _text(key: str, value: Any) -> str:
    """A Python value as the command line writes it (lists as tuples: 64,32)."""
    if value is None:
        raise UsageError(f"{key}=None: give a value, or leave {key} out for its default")
    return config.format_value(tuple(value) if isinstance(value, list) else value)


def _texts(keys: dict[str, Any]) -> dict[str, str]:
    return {key: _text(key, value) for key, value in keys.items()}


def _writable(out: Path, is_file: bool = False) -> Path:
    check_name(out)
    check_writable(out, is_file=is_file)
    return out


def train(
    name: str,
    /,
    *,
    out: Path | str | None = None,
    device: str = "auto",
    resume: bool = False,
    progress: bool = True,
    config: configfile.Source = None,
    **keys: Any,
) -> Run:
    """`classicnets train NAME --KEY VALUE ... [--config FILE] [--out OUT] [--device D]
    [--resume]`.

    out defaults to runs/NAME/TIMESTAMP, as on the command line; progress=False is --quiet;
    config: a JSON or YAML file of keys (a run's config.json), or a mapping; keys win.
    """
    chosen = experiment(name)
    if resume and out is None:
        raise UsageError("resume=True needs out=RUN_DIR: the run to continue")
    out = _writable(Path(out or Path("runs") / chosen.name / time.strftime("%Y%m%d-%H%M%S")))
    cfg = configfile.resolve(chosen, config, _texts(keys))
    runner.run_experiment(chosen, cfg, out, device, resume, progress)
    return Run(out)


def sweep(
    name: str,
    /,
    *,
    out: Path | str | None = None,
    device: str = "auto",
    workers: int = 1,
    storage: str | None = None,
    search: int = 0,
    prune: bool = False,
    seeds: int = 1,
    progress: bool = True,
    config: configfile.Source = None,
    **keys: Any,
) -> Sweep:
    """`classicnets sweep NAME --KEY VALUE ... [--config FILE] [--out OUT] [--workers N]
    [--search N] [--prune] [--seeds N]`: keys apply to every trial whose experiment has them,
    and override the config file's (or mapping's); seeds=N trains every configuration with
    seeds seed .. seed+N-1. Called again, it continues the sweep."""
    if name not in SWEEPS:
        raise UsageError(f"unknown sweep {name!r}; 'classicnets list' names them")
    if search and not SWEEPS[name].space:
        raise UsageError(f"search={search}: sweep {name} has no search space; run its grid")
    out = _writable(Path(out or Path("runs") / name))
    given = {**configfile.sweep_keys(SWEEPS[name], config, bool(search)), **_texts(keys)}
    run_sweep(
        SWEEPS[name],
        given,
        out,
        device,
        progress,
        workers=workers,
        storage=storage,
        search=search,
        prune=prune,
        seeds=seeds,
    )
    return Sweep(out)


def load(run_dir: Path | str) -> Run:
    """A finished (or running) run, from its directory."""
    return Run(run_dir)


def load_sweep(sweep_dir: Path | str) -> Sweep:
    return Sweep(sweep_dir)


def report(dirs: Iterable[Path | str | Run | Sweep] | Path | str, out: Path | str) -> Path:
    """`classicnets report DIRS... --out OUT`: one self-contained HTML page; its path."""
    if isinstance(dirs, (str, Path, Run, Sweep)):
        dirs = [dirs]
    folders = [d.dir if isinstance(d, (Run, Sweep)) else Path(d) for d in dirs]
    return report_html(folders, _writable(Path(out), is_file=True))


__all__ = [
    "History",
    "Run",
    "Sweep",
    "UsageError",
    "load",
    "load_sweep",
    "report",
    "sweep",
    "train",
]
