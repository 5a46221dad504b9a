"""Several seeds of one configuration trained at once, each exactly as its own run would be.

Seeds cost time: a toy MLP at batch size 1 or a small palindrome RNN spends its step in
per-call overhead, not arithmetic, so S seeds stacked along a leading axis (weights
(S, ...), batches (S, B, ...)) take about the calls of one. Every seed keeps its own initial
weights, its own data and its own batch order: a stacked learner is made from the S learners
that S separate runs would train (the experiment's own build, seed by seed), and each epoch's
batches come from each seed's own streams. So the metrics per seed are those of the separate
runs, up to rounding (float64: within 1e-10 over the runs tests/test_together.py trains;
benchmarks/seeds.py measures the speed-up and the difference).

`train_together` follows train/loop.py's schedule: evaluate at epoch 0, every eval_freq
epochs and at the last; a seed stops where its own run would (a non-finite loss: diverged;
patience spent on the validation split), and its rows end there while the others go on.
What it returns is the metrics alone, per seed: no run directory, checkpoint or TensorBoard
(a sweep still trains its trials one by one).

Stacked learners: StackedNumpyLearner (the NumPy MLP, below) and StackedRNNLearner (the
explicit recurrent cells through torch.func.vmap, train/together_rnn.py).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from classicnets.numpy_nn import SGD
from classicnets.numpy_nn.stacked import StackedMLP
from classicnets.records import choosing_split, finite_or_none
from classicnets.seeds import epoch_order
from classicnets.train.learners import NumpyLearner, log_softmax_loss
from classicnets.train.loop import Learner, LoopSettings


class StackedLearner(Protocol):
    """A train/loop.py Learner for S seeds at once: batches, steps and evaluations stacked."""

    splits: tuple[str, ...]
    seeds: tuple[int, ...]  # S seeds; index s of every stacked axis is seeds[s]

    def epoch_batches(self, epoch: int, batch_size: int) -> Iterable[tuple[Any, Any]]:
        """The epoch's batches, each (S, B, ...): row s in seeds[s]'s own order."""
        ...

    def step(self, X: Any, y: Any) -> None: ...

    def evaluate(self, split: str) -> list[tuple[float, float]]:
        """(mean loss, accuracy) of each seed, in seeds' order."""
        ...

    def weights(self, index: int) -> dict[str, Any]:
        """A copy of seed seeds[index]'s weights, named as its own learner's weights()."""
        ...


class OneSeed:
    """A train/loop.py Learner as a StackedLearner of one seed: a separate run through
    train_together, with no run record (what benchmarks/seeds.py times the stack against)."""

    def __init__(self, learner: Learner, seed: int):
        self.learner, self.seeds, self.splits = learner, (seed,), learner.splits

    def epoch_batches(self, epoch: int, batch_size: int) -> Iterable[tuple[Any, Any]]:
        return self.learner.epoch_batches(self.seeds[0], epoch, batch_size)

    def step(self, X: Any, y: Any) -> None:
        self.learner.step(X, y)

    def evaluate(self, split: str) -> list[tuple[float, float]]:
        return [self.learner.evaluate(split)]

    def weights(self, index: int) -> dict[str, Any]:
        # NumpyLearner's may share memory with the live weights: copied, as the protocol says
        return {name: value.clone() for name, value in self.learner.weights().items()}


@dataclass
class SeedRun:
    """One seed's record: its metrics.jsonl rows (without time_s) and why it stopped."""

    seed: int
    rows: list[dict[str, Any]] = field(default_factory=list)
    status: str | None = None  # None while it trains; then completed, diverged, early_stopped
    best_accuracy: float | None = None  # the choosing split's best, as the loop keeps it
    evals_since_best: int = 0
    weights: dict[str, Any] = field(default_factory=dict)  # at its last evaluation (copies)


def train_together(learner: StackedLearner, settings: LoopSettings) -> list[SeedRun]:
    """Train every seed for settings.epochs (settings.seed is not read: each seed draws from
    its own streams), evaluating on the loop's schedule; one SeedRun per seed, in order."""
    runs = [SeedRun(seed) for seed in learner.seeds]
    chooser = choosing_split(learner.splits)
    step = epoch = 0

    def evaluate() -> None:
        per_split = {split: learner.evaluate(split) for split in learner.splits}
        for s, run in enumerate(runs):
            if run.status is not None:
                continue  # stopped: its separate run ended here, the others go on
            rows = {
                split: {
                    "step": step,
                    "epoch": epoch,
                    "split": split,
                    "loss": finite_or_none(per_split[split][s][0]),
                    "accuracy": per_split[split][s][1],
                }
                for split in learner.splits
            }
            run.rows += rows.values()
            run.status = _stop(run, rows, chooser, settings.patience)
            if run.status is not None or epoch == settings.epochs:
                run.weights = learner.weights(s)  # what its own run ends with

    with np.errstate(over="ignore", invalid="ignore"):  # a diverging seed: reported, not raised
        evaluate()
        while epoch < settings.epochs and any(run.status is None for run in runs):
            for X, y in learner.epoch_batches(epoch, settings.batch_size):
                learner.step(X, y)
                step += 1
            epoch += 1
            if epoch % settings.eval_freq == 0 or epoch == settings.epochs:
                evaluate()
    for run in runs:
        run.status = run.status or "completed"
    return runs


def _stop(run: SeedRun, rows: dict[str, dict], chooser: str | None, patience: int) -> str | None:
    """train/loop.py's rules after an evaluation: diverged at a non-finite loss; else a better
    choosing-split accuracy resets the patience count, any other adds one."""
    if any(row["loss"] is None for row in rows.values()):
        return "diverged"
    if chooser is None:
        return None
    accuracy = rows[chooser]["accuracy"]
    if run.best_accuracy is None or accuracy > run.best_accuracy:
        run.best_accuracy, run.evals_since_best = accuracy, 0
    else:
        run.evals_since_best += 1
    return "early_stopped" if patience and run.evals_since_best >= patience else None


class StackedNumpyLearner:
    """S NumPy MLPs (numpy_nn/stacked.py) on their seeds' data, with plain SGD per seed.

    Made from the NumpyLearners of the S separate runs: their initial weights, their training
    and evaluation arrays (each seed's own split of its own toy set) and their learning rate.
    """

    def __init__(self, learners: Sequence[NumpyLearner], seeds: Sequence[int]):
        if len(learners) != len(seeds) or not learners:
            raise ValueError("StackedNumpyLearner: one learner per seed, at least one")
        first = learners[0]
        if any(ln.optimizer.learning_rate != first.optimizer.learning_rate for ln in learners):
            raise ValueError("StackedNumpyLearner: the seeds must share one learning rate")
        if any(ln.splits != first.splits for ln in learners):
            raise ValueError("StackedNumpyLearner: the seeds must have the same splits")
        self.seeds, self.splits = tuple(seeds), first.splits
        self.model = StackedMLP([ln.model for ln in learners])
        # (S, N, D) inputs and (S, N, K) one-hot targets: every seed's training split
        self.train_data = tuple(np.stack([ln.train_data[i] for ln in learners]) for i in (0, 1))
        self.eval_data = {  # split -> (S, N, D), (S, N)
            split: tuple(np.stack([ln.eval_data[split][i] for ln in learners]) for i in (0, 1))
            for split in self.splits
        }
        self.optimizer = SGD(self.model.flat_params, self.model.flat_grads, first.learning_rate)
        self._rows = np.arange(len(seeds))[:, None]  # (S, 1): gathers row s by seed s's order

    def epoch_batches(self, epoch: int, batch_size: int) -> list[tuple[np.ndarray, np.ndarray]]:
        """Each seed's (seed, epoch) order, as train/loop.py's shuffled_batches draws it."""
        X, T = self.train_data
        N = X.shape[1]
        orders = np.stack([epoch_order(seed, epoch, N) for seed in self.seeds])  # (S, N)
        X, T = X[self._rows, orders], T[self._rows, orders]  # (S, N, D), (S, N, K)
        B = batch_size or N
        return [(X[:, i : i + B], T[:, i : i + B]) for i in range(0, N, B)]

    def step(self, X: np.ndarray, T: np.ndarray) -> None:  # X (S, B, D), T (S, B, K) one-hot
        self.model.step_gradients(X, T)
        self.optimizer.step()

    def evaluate(self, split: str) -> list[tuple[float, float]]:
        X, y = self.eval_data[split]
        Z = self.model.logits(X)  # (S, N, K)
        return [
            (log_softmax_loss(Z[s], y[s]), float((Z[s].argmax(axis=1) == y[s]).mean()))
            for s in range(len(self.seeds))
        ]

    def weights(self, index: int) -> dict[str, np.ndarray]:
        return {name: view.copy() for name, view in self.model.weights(index).items()}
