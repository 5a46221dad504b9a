"""What a study is made of: an Experiment (one run), a Sweep (many runs compared) and the
section of the report a sweep writes. Each study module declares its own; the registry
(experiments/__init__.py) lists them, and the runner, the CLI and the report read nothing
else."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from itertools import product
from pathlib import Path
from typing import Any, NamedTuple

import torch

from classicnets import config
from classicnets.data import ArrayData
from classicnets.data.sources import Source
from classicnets.errors import UsageError
from classicnets.experiments import reproduce
from classicnets.records import BEST, CHECKPOINT, CONFIG, RunDir
from classicnets.train.loop import Learner, LoopSettings

Trial = dict[str, Any]  # a row of sweep.json: trial, dir, experiment, keys, status, results


@dataclass(frozen=True)
class Weights:
    """Which weights a restored learner holds: the chosen ones (best.pt, the best validation
    evaluation) or the last checkpoint's, and the evaluation they are from."""

    chosen: bool  # best.pt; False: the last checkpoint
    step: int
    epoch: int
    why_last: str = ""  # where best ones were asked for: why the last stand in

    @property
    def at(self) -> str:
        """ "epoch 3 (step 120)"; palindromes and full-batch runs take one step an epoch, and
        their keys count steps: "step 300"."""
        if self.step == 0:  # the evaluation before the first update chose
            return "step 0, before training"
        if self.step == self.epoch:
            return f"step {self.step}"
        return f"epoch {self.epoch} (step {self.step})"

    @property
    def label(self) -> str:
        """For figure titles: "best-validation weights, epoch 3 (step 120)"."""
        return f"{'best-validation' if self.chosen else 'last'} weights, {self.at}"

    def sentence(self, run: Path) -> str:
        """One line for the command line: what is shown, and why not the best where not."""
        if self.chosen:
            return f"weights: the chosen model, best validation at {self.at} ({run / BEST})"
        last = f"the last, {self.at} ({run / CHECKPOINT})"
        if self.why_last:
            return f"weights: {last}: no best.pt ({self.why_last})"
        return f"weights: {last}, as asked"


class Built(NamedTuple):
    learner: Learner
    settings: LoopSettings
    data: Source | ArrayData  # what the learner was built on (plots of a restored run need it)
    weights: Weights | None = None  # a restored run's: which weights the learner holds


@dataclass(frozen=True)
class Experiment:
    name: str
    description: str  # one line, for `classicnets list` and --help
    config: type  # frozen dataclass of the experiment's keys (config.define)
    # Checks what needs the data (e.g. batch_size against the split): raises UsageError.
    # It reads split sizes, not the data set; build makes the same checks on the data.
    validate: Callable[[Any], None]
    build: Callable[[Any, torch.device], Built]  # config, device -> learner, settings, data
    figures: Callable[[RunDir], list[Path]]  # draws a finished run's figures/ from its record
    # `classicnets analyze`: looks inside a restored model: (config, built, figures folder,
    # layer, say) -> the figures written
    analyze: Callable[..., list[Path]] | None = None
    # CPU threads for its ops (None: every core the process may use). Tiny sequential ops
    # (the toy MLP, the recurrent cells' steps) run faster on one thread: more only add
    # synchronisation, and on a busy machine OpenMP's waiting threads stall them badly
    # (measured: a T=30, 16-unit RNN took 7.1 s on 2 threads beside another job, 0.1 s on 1).
    threads: int | None = None
    data_parallel: bool = False  # its learner trains under torchrun (ClassifierLearner)

    def restore(
        self, run: RunDir, device: str | torch.device = "cpu", weights: str = "best"
    ) -> tuple[Any, Built]:
        """A run's config (checked as flags are: a damaged config.json is one UsageError)
        and its learner with the chosen weights (best.pt), or the last checkpointed ones
        (weights="last", or a run that chose none); Built.weights says which."""
        cfg = config.from_dict(self.config, run.config(), str(run.file(CONFIG)))
        built = self.build(cfg, torch.device(device))
        best = run.load_best() if weights == "best" else None
        if best is not None:
            try:
                built.learner.load_weights(best["weights"])
            except (KeyError, TypeError, ValueError, RuntimeError) as error:
                raise UsageError(
                    f"{run.file(BEST)}: does not fit this run ({type(error).__name__}); "
                    "train the run again, or pass --weights last"
                ) from None
            return cfg, built._replace(weights=Weights(True, best["step"], best["epoch"]))
        checkpoint = run.load_checkpoint()
        built.learner.load_state_dict(checkpoint["learner"])
        loop = checkpoint.get("loop") or {}
        why = ""
        if weights == "best":
            split = "val" in built.learner.splits
            why = "the run chose none" if split else "no validation split: nothing is chosen"
        last = Weights(False, int(loop.get("step", 0)), int(loop.get("epoch", 0)), why)
        return cfg, built._replace(weights=last)


def checkpointed(run: RunDir) -> bool:
    """Has the run a checkpoint to restore? Not one that diverged at its first evaluation:
    the loop checkpoints only evaluations with a finite loss. Its figures draw what needs no
    model (the curves)."""
    return run.file(CHECKPOINT).is_file()


@dataclass(frozen=True)
class Range:
    """One key that `sweep --search N` draws for each trial (Optuna's TPE chooses where)."""

    key: str  # the experiment's key
    low: float = 0.0  # numbers: the smallest value drawn
    high: float = 0.0  # numbers: the largest value drawn
    log: bool = False  # numbers: draw uniformly in log space (learning rates, sizes)
    integer: bool = False  # numbers: whole numbers only
    choices: tuple[str, ...] = ()  # a categorical key: its values as the command line spells them


@dataclass(frozen=True)
class ReportSection:
    """What a sweep contributes to `classicnets report`: a section in the study's order."""

    title: str
    intro: str
    figures: tuple[tuple[str, str], ...]  # (file under figures/ or TRIAL/figures/, caption)
    findings: Callable[[Path, list[Trial]], list[str]]  # sweep dir, trial rows -> sentences
    analysis_trial: str | None = None  # a trial whose `analyze` figures belong here
    # The conclusion its findings come to, in the form its reference run records
    # (reproduce.ranked(label), .falls, .parity): trial rows -> reproduce.Measured.
    conclude: Callable[[list[Trial]], Any] | None = None


@dataclass(frozen=True)
class Sweep:
    name: str
    description: str
    trials: tuple[tuple[str, str, dict[str, str]], ...]  # (trial name, experiment, keys it sets)
    figures: Callable[[Path, list[Trial]], list[Path]]  # sweep dir, trial rows
    # What `--search N` draws from, for a sweep of one experiment; () = grid only.
    space: tuple[Range, ...] = ()
    report: ReportSection | None = None  # its section of the report (None: not reported)

    def findings(self, out: Path, trials: list[Trial]) -> list[str]:
        """What its report section says of these trials: the section's findings, then how
        their conclusion stands against the study's reference run (reproduce.py). Every
        report reads a section's sentences here."""
        if self.report is None:
            return []
        return self.report.findings(out, trials) + reproduce.sentences(
            self.name, self.report.conclude, trials
        )

    @property
    def experiments(self) -> tuple[str, ...]:
        """The experiments its trials run, in order of first appearance."""
        return tuple(dict.fromkeys(experiment for _, experiment, _ in self.trials))


def grid(experiment: str, name: str, **axes: tuple[Any, ...]) -> tuple:
    """Trials for every combination of the axes' values, named from the values in order:
    grid("cnn", "{optimizer}-lr{learning_rate}", optimizer=(...), learning_rate=(...))."""
    trials = []
    for values in product(*axes.values()):
        keys = dict(zip(axes, values))
        trials.append(
            (name.format(**keys), experiment, {k: config.format_value(v) for k, v in keys.items()})
        )
    return tuple(trials)
