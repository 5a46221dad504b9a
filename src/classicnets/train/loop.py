"""The one training loop, for every model in classicnets.

It owns epochs, batch order, the evaluation schedule, divergence detection, early stopping,
checkpoints and the run record. What differs between models (NumPy or PyTorch, MLP or CNN)
lives on the learner, behind four methods:

    learner.train_data            (X, y) of the training split, in the learner's array type
    learner.step(X, y)            one update on one batch
    learner.evaluate(split)       (mean loss, accuracy) on "train" or "test"
    learner.state_dict() / load_state_dict(state)   tensors, for checkpoints

Batches come from a permutation that depends only on (seed, epoch), so two learners given the
same seed see the same batches in the same order, and a resumed run sees what an
uninterrupted one would have seen.
"""

from __future__ import annotations

import sys
import time
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

import numpy as np
import torch
from tqdm import tqdm

from classicnets.train.runs import RunDir, finite_or_none


class Learner(Protocol):
    train_data: tuple[Any, Any]

    def step(self, X: Any, y: Any) -> None: ...

    def evaluate(self, split: str) -> tuple[float, float]: ...

    def state_dict(self) -> dict[str, torch.Tensor]: ...

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None: ...


@dataclass(frozen=True)
class LoopSettings:
    epochs: int  # passes over the training split
    eval_freq: int  # epochs between evaluations (also at epoch 0 and at the last epoch)
    batch_size: int  # samples per update; 1 = per-sample SGD, 0 = the whole split
    seed: int  # batch order is drawn from (seed, epoch)
    patience: int = 0  # evaluations without a better test accuracy before stopping; 0 = never


@dataclass
class LoopState:
    """Where the loop is; saved in every checkpoint (plain numbers, safe to load)."""

    epoch: int = 0
    step: int = 0
    wall_time_s: float = 0.0  # the whole run, evaluations and checkpoints included
    train_time_s: float = 0.0  # updates only
    samples: int = 0  # training samples seen
    evals_since_best: int = 0
    best: dict[str, Any] = field(default_factory=dict)  # test loss, accuracy, step, epoch
    final: dict[str, Any] = field(default_factory=dict)  # last evaluation, by split


def epoch_order(seed: int, epoch: int, n: int) -> np.ndarray:
    """The order of the training samples in `epoch`: stream (1, epoch) of the run's seed."""
    return np.random.default_rng([seed, 1, epoch]).permutation(n)


def batches(X: Any, y: Any, order: np.ndarray, batch_size: int) -> list[tuple[Any, Any]]:
    """Gather the epoch's order once, then cut it into views of `batch_size` rows."""
    if isinstance(X, torch.Tensor):
        order = torch.from_numpy(order).to(X.device)
        # Tensor.split makes all the views in one call: ~2 µs a batch less than slicing.
        return list(zip(X[order].split(batch_size), y[order].split(batch_size)))
    X, y = X[order], y[order]
    return [(X[s : s + batch_size], y[s : s + batch_size]) for s in range(0, len(X), batch_size)]


def train(
    learner: Learner,
    settings: LoopSettings,
    run: RunDir,
    resume: bool = False,
    progress: bool = True,
) -> dict[str, Any]:
    """Train to the end (or divergence, or early stop), recording everything in `run`.

    Returns the summary written to summary.json.
    """
    state = LoopState()
    if resume:
        checkpoint = run.load_checkpoint()
        learner.load_state_dict(checkpoint["learner"])
        torch.set_rng_state(checkpoint["torch_rng"])
        state = LoopState(**checkpoint["loop"])
        run.truncate_metrics(state.step)
    n = len(learner.train_data[0])
    batch_size = settings.batch_size or n
    writer = run.tensorboard(purge_step=state.step + 1 if resume else None)
    started = time.perf_counter() - state.wall_time_s
    status = "completed"
    bar = tqdm(
        total=settings.epochs,
        initial=state.epoch,
        disable=not progress or not sys.stderr.isatty(),
        leave=False,
        desc=run.path.name,
        unit="epoch",
        dynamic_ncols=True,
    )

    def evaluate_and_save() -> str | None:
        """Log both splits at the current step; checkpoint; say why to stop, if we should."""
        state.wall_time_s = time.perf_counter() - started
        rows = []
        for split in ("train", "test"):
            loss, accuracy = learner.evaluate(split)
            rows.append(
                {
                    "step": state.step,
                    "epoch": state.epoch,
                    "split": split,
                    "loss": finite_or_none(loss),
                    "accuracy": accuracy,
                    "time_s": round(state.wall_time_s, 4),
                }
            )
            writer.add_scalar(f"{split}/loss", loss, state.step)
            writer.add_scalar(f"{split}/accuracy", accuracy, state.step)
            state.final[split] = {"loss": finite_or_none(loss), "accuracy": accuracy}
        writer.flush()
        run.append_metrics(rows)
        bar.set_postfix(test_acc=f"{rows[1]['accuracy']:.3f}")
        if any(row["loss"] is None for row in rows):
            return "diverged"
        test = rows[1]
        if not state.best or test["accuracy"] > state.best["accuracy"]:
            state.best = {k: test[k] for k in ("loss", "accuracy", "step", "epoch")}
            state.evals_since_best = 0
        else:
            state.evals_since_best += 1
        run.save_checkpoint(
            {
                "learner": learner.state_dict(),
                "torch_rng": torch.get_rng_state(),
                "loop": asdict(state),
            }
        )
        if settings.patience and state.evals_since_best >= settings.patience:
            return "early_stopped"
        return None

    try:
        # Overflow in a diverging run is expected and reported as status "diverged".
        with np.errstate(over="ignore", invalid="ignore"):
            stop = evaluate_and_save() if state.epoch == 0 and not resume else None
            while stop is None and state.epoch < settings.epochs:
                order = epoch_order(settings.seed, state.epoch, n)
                epoch_batches = batches(*learner.train_data, order, batch_size)
                t0 = time.perf_counter()
                for X, y in epoch_batches:
                    learner.step(X, y)
                state.train_time_s += time.perf_counter() - t0
                state.step += len(epoch_batches)
                state.samples += n
                state.epoch += 1
                bar.update(1)
                if state.epoch % settings.eval_freq == 0 or state.epoch == settings.epochs:
                    stop = evaluate_and_save()
            status = stop or "completed"
    except BaseException as error:  # a crash or Ctrl-C: say so, keep the checkpoint to resume
        run.write_summary(summary(state, "failed", started) | {"error": repr(error)})
        raise
    finally:
        bar.close()
        writer.close()
    result = summary(state, status, started)
    run.write_summary(result)
    return result


def summary(state: LoopState, status: str, started: float) -> dict[str, Any]:
    wall = time.perf_counter() - started
    return {
        "status": status,
        "final": state.final,
        "best": {"test": state.best},
        "steps": state.step,
        "epochs": state.epoch,
        "wall_time_s": round(wall, 3),
        "train_samples_per_s": round(state.samples / state.train_time_s, 1)
        if state.train_time_s > 0
        else None,
    }
