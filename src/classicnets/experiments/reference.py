"""The reference runs: each study measured once at the course's full settings, or at the
largest that fits a session on 2 cores, and the conclusion it came to, in a form code can
compare. The report sets whatever suite ran against it (reproduce.py): does the quick suite
come to the same conclusion, or can it not tell?

A study with no entry in REFERENCES has no reference measured, and its section says so. To
record one, run its command, then print the conclusion its sweep.json comes to, as the
literal to paste into `conclusion=`:

    python3 -c "from classicnets.experiments import reproduce; \\
        print(reproduce.measured('runs/sweeps/rnn-lengths/...'))"

A comparison's winner is chosen by validation accuracy; the lengths study reads test
accuracy at the step validation chose; the toy parity compares final test accuracy (both
MLPs run every epoch: nothing is chosen).
"""

from __future__ import annotations

from dataclasses import dataclass, field

FULL = "the course's full settings"  # `classicnets run --suite full` runs them
TWO_CORES = "the largest that fits 2 cores"  # the full settings do not fit a CPU session


@dataclass(frozen=True)
class Ranking:
    """A comparison study's conclusion (cnn-optimizers, resnet-optimizers, mlp-vs-cnn,
    rnn-images-grid): the two configurations first by mean validation accuracy over seeds,
    named as the section's findings name them, and whether the first is ahead at 95%."""

    first: str  # "adam at lr 0.0001" (findings.optimizer_label); mlp-vs-cnn: "cnn" or "mlp"
    second: str  # the runner-up; "" where only `first` finished
    p: float | None  # Welch's p, first vs second (0.0: identical seeds each side; None: 1 seed)
    holds: bool  # first is ahead at 95% (stats.compare); False: cannot be told apart

    @property
    def winner(self) -> str | None:
        """The configuration ahead at 95%; None where the top two cannot be told apart."""
        return self.first if self.holds else None


@dataclass(frozen=True)
class Falls:
    """rnn-lengths: for each cell, the first T at which its mean test accuracy (at the step
    validation chose) is below 90%; None: at least 90% at every T up to the longest."""

    first_below: dict[str, int | None]  # cell -> T, e.g. {"rnn": 20, "lstm": None}
    # Measured here only, never in a reference: cell -> the Ts without a result that leave
    # where it falls unknown (a missing result is not a fall).
    no_result: dict[str, tuple[int, ...]] = field(default_factory=dict)


@dataclass(frozen=True)
class Parity:
    """mlp-toy-compare: for each data set, whether the NumPy and PyTorch MLPs reach the same
    final test accuracy in every seed that both completed."""

    same: dict[str, bool]  # dataset -> True where every seed agrees, e.g. {"moons": True}


Conclusion = Ranking | Falls | Parity


@dataclass(frozen=True)
class Reference:
    """One study's reference measurement."""

    sweep: str  # the sweep it ran (experiments.SWEEPS)
    keys: dict[str, str]  # the --KEY VALUE it set; the sweep's own defaults for the rest
    seeds: int  # seeds per configuration
    sized: str  # FULL, or TWO_CORES with what was cut: TWO_CORES + ", 2,000 steps not 10,000"
    date: str  # when it was measured, "2026-12-08"
    conclusion: Conclusion  # what it found: reproduce.measured(its sweep directory)
    workers: int = 1  # the sweep's --workers (time only: the results are the same)

    def __post_init__(self) -> None:
        if not self.sized.startswith((FULL, TWO_CORES)):
            raise ValueError(
                f"reference {self.sweep}: sized must begin with {FULL!r} or {TWO_CORES!r}"
            )
        if self.seeds < 1:
            raise ValueError(f"reference {self.sweep}: seeds must be at least 1")

    @property
    def command(self) -> str:
        """The command that made it, from its sweep, keys, seeds and workers."""
        flags = [*self._key_flags(), f"--seeds {self.seeds}"]
        flags += [f"--workers {self.workers}"] if self.workers > 1 else []
        return " ".join(["classicnets sweep", self.sweep, *flags])

    def _key_flags(self) -> list[str]:
        return [f"--{k} {v}" for k, v in self.keys.items()]

    @property
    def full(self) -> bool:
        """Run at the course's full settings (the full suite reproduces it)."""
        return self.sized.startswith(FULL)

    @property
    def settings(self) -> str:
        """ "the largest that fits 2 cores, --train_steps 2000": the size and the keys set."""
        flags = " ".join(self._key_flags())
        return f"{self.sized}, {flags}" if flags else self.sized


# The reference runs, one per study, filled in by whoever measures them. Until a study has
# its entry here, its report section says that no reference is measured. An entry reads:
#
#     Reference(
#         sweep="rnn-lengths",
#         keys={"train_steps": "2000"},
#         seeds=3,
#         sized=TWO_CORES,
#         date="2026-12-08",
#         conclusion=Falls({"rnn": 20, "lstm": None}),
#     ),
#
# and for the other kinds: conclusion=Ranking("adam at lr 0.0001", "adam at lr 1e-05",
# 0.003, True) (cnn-optimizers, resnet-optimizers, rnn-images-grid; mlp-vs-cnn names "cnn"
# or "mlp"), conclusion=Parity({"moons": True, "circles": True}) (mlp-toy-compare).
REFERENCES: tuple[Reference, ...] = (
    Reference(
        sweep="mlp-toy-compare",
        keys={},
        seeds=3,
        sized=FULL,
        date="2026-12-07",
        conclusion=Parity({"moons": True, "circles": True, "classification": True}),
        workers=2,
    ),
    Reference(
        sweep="cnn-optimizers",
        keys={
            "dataset": "fashion-mnist",
            "width": "0.125",
            "train_samples": "4000",
            "test_samples": "2000",
            "epochs": "3",
        },
        seeds=3,
        sized=TWO_CORES + ": 4,000 Fashion-MNIST images for 3 epochs at an eighth of the width, "
        "not CIFAR-10 at full width (31 minutes on 2 cores beside other jobs)",
        date="2026-12-07",
        conclusion=Ranking("adam at lr 0.001", "adagrad at lr 0.001", 0.71, False),
    ),
    Reference(
        sweep="mlp-vs-cnn",
        keys={
            "dataset": "fashion-mnist",
            "width": "0.25",
            "train_samples": "20000",
            "test_samples": "5000",
            "epochs": "3",
        },
        seeds=3,
        sized=TWO_CORES + ": 20,000 images for 3 epochs and a quarter-width CNN, not the "
        "defaults' full training set and full width (13 minutes on 2 cores beside other jobs)",
        date="2026-12-07",
        conclusion=Ranking("mlp", "cnn", 0.048, True),
    ),
    Reference(
        sweep="rnn-lengths",
        keys={"patience": "10"},
        seeds=3,
        sized=TWO_CORES + ": the defaults' 5,000 steps of 128 palindromes, each run stopped "
        "once 10 evaluations (1,000 steps) bring no better validation accuracy, not the full "
        "suite's 10,000 steps (61 minutes on one core beside other jobs); a vanilla RNN still "
        "at chance after 1,000 steps is stopped there",
        date="2026-12-07",
        conclusion=Falls({"rnn": 15, "lstm": None, "gru": None}),
    ),
    Reference(
        sweep="rnn-images-grid",
        keys={
            "dataset": "fashion-mnist",
            "train_samples": "20000",
            "test_samples": "5000",
            "epochs": "3",
        },
        seeds=3,
        sized=TWO_CORES + ": 20,000 images for 3 epochs, not the defaults' full training set "
        "for 15 (8 minutes on 2 workers beside other jobs; 4,000 images gave the same top two, "
        "p = 0.12)",
        date="2026-12-07",
        conclusion=Ranking(
            "gru with adam, lr 0.01, 128 hidden", "gru with adam, lr 0.01, 64 hidden", 0.073, False
        ),
        workers=2,
    ),
)


def reference(sweep: str, references: tuple[Reference, ...] | None = None) -> Reference | None:
    """The sweep's reference run (in REFERENCES unless others are given); None where none
    is measured."""
    table = REFERENCES if references is None else references
    return next((r for r in table if r.sweep == sweep), None)
