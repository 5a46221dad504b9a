"""The one training loop, for every model in classicnets.

It owns epochs, the evaluation schedule, divergence detection, early stopping, checkpoints
and the run record. What differs between models (NumPy or PyTorch, MLP, CNN or RNN, data in
memory or drawn fresh every step) lives on the learner, behind a few methods:

    learner.splits                the splits evaluated: ("train", "test") or with "val"
    learner.epoch_batches(seed, epoch, batch_size)   the epoch's batches, in order
    learner.step(X, y)            one update on one batch
    learner.evaluate(split)       (mean loss, accuracy) on one of learner.splits
    learner.learning_rate         the rate the next update uses (logged to TensorBoard)
    learner.state_dict() / load_state_dict(state)   tensors and numbers, for checkpoints
    learner.weights() / load_weights(weights)       the model's weights alone, for best.pt

An "epoch" is whatever the learner's epoch_batches yields: a pass over the training split,
or, for data drawn fresh every step (palindromes), a single step, so that `epochs` counts
steps and `eval_freq` is in steps. Batches depend only on (seed, epoch), so two learners
given the same seed see the same batches in the same order, and a resumed run sees what an
uninterrupted one would have seen.

"Best" is chosen on the validation split, and the test result is the one at that same step:
the test split never chooses anything. Without a validation split nothing is chosen: the
summary has no "best" and nothing stops early (records/results.py holds the rule).

best.pt holds the weights of the best validation evaluation (runs without a validation split
choose no model, and have none). It is written after that evaluation's checkpoint, so at any
kill it is the checkpoint's best or, killed between the two writes, one evaluation older
while the checkpoint holds the chosen weights themselves: a resume writes it from them.

Data-parallel (torchrun), every rank runs this loop in step: the learner shards the batches
and all-reduces the evaluations, so every rank reaches the same decisions; rank 0 alone
writes the run record (train/distributed.py).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field, fields
from typing import Any, Protocol

import numpy as np
import torch

from classicnets.errors import UsageError
from classicnets.records import CHECKPOINT, RunDir, choosing_split, finite_or_none
from classicnets.records.hparams import final_metrics, hyperparameters
from classicnets.seeds import epoch_order
from classicnets.train import distributed
from classicnets.train.distributed import Ranks
from classicnets.train.progress import Progress


class Learner(Protocol):
    splits: tuple[str, ...]
    learning_rate: float  # the next update's, after any schedule

    def epoch_batches(
        self, seed: int, epoch: int, batch_size: int
    ) -> Iterable[tuple[Any, Any]]: ...

    def step(self, X: Any, y: Any) -> None: ...

    def evaluate(self, split: str) -> tuple[float, float]: ...

    def state_dict(self) -> dict[str, torch.Tensor]: ...

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None: ...

    def weights(self) -> dict[str, torch.Tensor]: ...

    def load_weights(self, weights: dict[str, torch.Tensor]) -> None: ...


@dataclass(frozen=True)
class LoopSettings:
    epochs: int  # passes over the training split
    eval_freq: int  # epochs between evaluations (also at epoch 0 and at the last epoch)
    batch_size: int  # samples per update; 1 = per-sample SGD, 0 = the whole split
    seed: int  # batch order is drawn from (seed, epoch)
    patience: int = 0  # evaluations without a better selection accuracy before stopping; 0 = never

    @classmethod
    def from_keys(cls, keys: Any, **given: int) -> LoopSettings:
        """The loop's settings from an experiment's config: its fields of these names,
        unless given (rnn-palindrome's loop epochs are its train_steps)."""
        names = [f.name for f in fields(cls)]
        taken = {n: getattr(keys, n) for n in names if n not in given and hasattr(keys, n)}
        return cls(**taken, **given)


@dataclass
class LoopState:
    """Where the loop is; saved in every checkpoint (plain numbers, safe to load)."""

    epoch: int = 0
    step: int = 0
    wall_time_s: float = 0.0  # the whole run, evaluations and checkpoints included
    train_time_s: float = 0.0  # updates only
    samples: int = 0  # training samples seen
    evals_since_best: int = 0
    best: dict[str, Any] = field(default_factory=dict)  # split -> loss, accuracy, step, epoch
    final: dict[str, Any] = field(default_factory=dict)  # last evaluation, by split


def batches(X: Any, y: Any, order: np.ndarray, batch_size: int) -> list[tuple[Any, Any]]:
    """Gather the epoch's order once, then cut it into views of `batch_size` rows."""
    if isinstance(X, torch.Tensor):
        order = torch.from_numpy(order).to(X.device)
        # Tensor.split makes all the views in one call: ~2 µs a batch less than slicing.
        return list(zip(X[order].split(batch_size), y[order].split(batch_size)))
    X, y = X[order], y[order]
    return [(X[s : s + batch_size], y[s : s + batch_size]) for s in range(0, len(X), batch_size)]


def shuffled_batches(
    X: Any, y: Any, seed: int, epoch: int, batch_size: int
) -> list[tuple[Any, Any]]:
    """An epoch over (X, y) in memory: the (seed, epoch) order; batch_size 0 = one batch."""
    return batches(X, y, epoch_order(seed, epoch, len(X)), batch_size or len(X))


# Told of every evaluation after its checkpoint: (epoch, {split: row as metrics.jsonl holds
# it}) -> None to go on, or the status to stop with ("pruned": a sweep's pruner, which
# compares the run's validation accuracy with other trials'). The loop knows no more of it.
OnEvaluation = Callable[[int, dict[str, dict[str, Any]]], str | None]


def go_on(epoch: int, rows: dict[str, dict[str, Any]]) -> None:
    """The default OnEvaluation: never stops a run."""
    return None


def _restore(learner: Learner, run: RunDir) -> LoopState:
    """The learner and RNG as checkpointed; the loop's state. A checkpoint that loads but
    does not fit this run (another model, a damaged entry) is bad input, not a crash."""
    checkpoint = run.load_checkpoint()
    try:
        learner.load_state_dict(checkpoint["learner"])
        torch.set_rng_state(checkpoint["torch_rng"])
        if "cuda_rng" in checkpoint and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(checkpoint["cuda_rng"])
        return LoopState(**checkpoint["loop"])
    except (KeyError, TypeError, ValueError, AttributeError, RuntimeError, IndexError) as error:
        raise UsageError(
            f"{run.file(CHECKPOINT)}: does not fit this run ({type(error).__name__}); start "
            "the run again into a new --out, without --resume"
        ) from None


def best_file(learner: Learner, state: LoopState) -> dict[str, Any]:
    """What best.pt holds: the learner's weights now, chosen by the validation evaluation
    that state.best records (at the current step)."""
    val = state.best["val"]
    return {
        "weights": learner.weights(),
        "step": val["step"],
        "epoch": val["epoch"],
        "val": {"loss": val["loss"], "accuracy": val["accuracy"]},
    }


def _mend_best(learner: Learner, run: RunDir, state: LoopState) -> None:
    """On resume: a kill between a checkpoint whose evaluation was the best and the best.pt
    after it leaves best.pt an older choice (or none); the restored learner holds the chosen
    weights, so write them. A best.pt of the checkpoint's best is left as it is."""
    val = state.best.get("val")
    if val is None or val["step"] != state.step:
        return  # the best is older than the checkpoint: its best.pt was written before it
    try:
        held = run.load_best()
    except UsageError:  # damaged: the restored learner holds what it should have held
        held = None
    if held is None or held["step"] != state.step:
        run.save_best(best_file(learner, state))


def _patience_spent(state: LoopState, settings: LoopSettings) -> bool:
    """Early stopping's rule, on the state a checkpoint holds (so a resume reads it too)."""
    return bool(settings.patience) and state.evals_since_best >= settings.patience


def train(
    learner: Learner,
    settings: LoopSettings,
    run: RunDir,
    resume: bool = False,
    progress: bool = True,
    ranks: Ranks | None = None,
    hparams: dict[str, Any] | None = None,
    on_evaluation: OnEvaluation = go_on,
) -> dict[str, Any]:
    """Train to the end (or divergence, or early stop), recording everything in `run`.

    With `ranks` (a learner already distributed), only rank 0 writes to `run`. `hparams`
    (the experiment and its keys) go to TensorBoard's HParams tab with the final metrics.
    `on_evaluation` hears of each evaluation and may stop the run with a status of its own.
    Returns the summary written to summary.json.
    """
    lead = ranks is None or ranks.lead  # the one process that writes the run record
    state = LoopState()
    if resume:  # every rank loads the checkpoint rank 0 wrote (one node, or a shared disk)
        state = _restore(learner, run)
        if ranks is not None:
            distributed.barrier()  # all have read it before rank 0 may write anything new
        if lead:
            run.truncate_metrics(state.step)
            _mend_best(learner, run, state)
    chooser = choosing_split(learner.splits)
    writer = run.tensorboard(purge_step=state.step + 1 if resume else None) if lead else None
    started = time.perf_counter() - state.wall_time_s
    status = "completed"
    bar = Progress(run.path.name, settings.epochs, state.epoch, enabled=progress and lead)

    def evaluate_and_save() -> str | None:
        """Log both splits at the current step; checkpoint; say why to stop, if we should."""
        state.wall_time_s = time.perf_counter() - started
        rows = {}
        for split in learner.splits:
            loss, accuracy = learner.evaluate(split)
            rows[split] = {
                "step": state.step,
                "epoch": state.epoch,
                "split": split,
                "loss": finite_or_none(loss),
                "accuracy": accuracy,
                "time_s": round(state.wall_time_s, 4),
            }
            if lead:
                writer.add_scalar(f"{split}/loss", loss, state.step)
                writer.add_scalar(f"{split}/accuracy", accuracy, state.step)
            state.final[split] = {"loss": finite_or_none(loss), "accuracy": accuracy}
        if lead:
            writer.add_scalar("learning_rate", learner.learning_rate, state.step)
            writer.flush()
            run.append_metrics(list(rows.values()))
        bar.evaluated(state.step, rows)
        if any(row["loss"] is None for row in rows.values()):
            # not checkpointed: the last checkpoint stays the last finite state; a run that
            # diverges at its first evaluation has none (its figures draw only the curves)
            return "diverged"
        # no validation split (chooser None): nothing is chosen, nothing counts towards patience
        improved = chooser is not None and (
            not state.best or rows[chooser]["accuracy"] > state.best[chooser]["accuracy"]
        )
        if improved:
            keep = ("loss", "accuracy", "step", "epoch")
            # the chooser's best and, with a validation split, the test result at that step
            state.best = {
                s: {k: rows[s][k] for k in keep} for s in dict.fromkeys((chooser, "test"))
            }
            state.evals_since_best = 0
        elif chooser is not None:
            state.evals_since_best += 1
        if lead:  # the ranks hold the same weights: rank 0's (and its RNG) resume any of them
            run.save_checkpoint(
                {
                    "learner": learner.state_dict(),
                    "torch_rng": torch.get_rng_state(),
                    **(
                        {"cuda_rng": torch.cuda.get_rng_state_all()}
                        if torch.cuda.is_initialized()
                        else {}
                    ),
                    "loop": asdict(state),
                }
            )
            if improved and chooser == "val":  # after the checkpoint: see the module's notes
                run.save_best(best_file(learner, state))
        if _patience_spent(state, settings):
            return "early_stopped"
        return on_evaluation(state.epoch, rows)

    try:
        # Overflow in a diverging run is expected and reported as status "diverged".
        with np.errstate(over="ignore", invalid="ignore"):
            if state.epoch == 0 and not resume:
                stop = evaluate_and_save()
            else:  # a kill after the stop's checkpoint, before summary.json: stopped it stays
                stop = "early_stopped" if _patience_spent(state, settings) else None
            while stop is None and state.epoch < settings.epochs:
                t0 = time.perf_counter()
                for X, y in learner.epoch_batches(settings.seed, state.epoch, settings.batch_size):
                    learner.step(X, y)
                    state.step += 1
                    state.samples += len(y)
                state.train_time_s += time.perf_counter() - t0
                state.epoch += 1
                bar.advance()
                if state.epoch % settings.eval_freq == 0 or state.epoch == settings.epochs:
                    stop = evaluate_and_save()
            status = stop or "completed"
            if lead and hparams is not None:  # an interrupted run is resumed, not ended
                metrics = final_metrics(summary(state, status, started))
                writer.add_hparams(hyperparameters(hparams), metrics, state.step)
    except KeyboardInterrupt:  # Ctrl-C, or SIGTERM (the CLI turns it into this)
        if lead:
            run.write_summary(summary(state, "interrupted", started))
        raise
    except BaseException as error:  # a crash: say so, keep the checkpoint to resume from
        if lead:
            run.write_summary(summary(state, "failed", started) | {"error": repr(error)})
        raise
    finally:
        bar.close()
        if lead:
            writer.close()
    result = summary(state, status, started)
    if lead:
        run.write_summary(result)
    return result


def summary(state: LoopState, status: str, started: float) -> dict[str, Any]:
    wall = time.perf_counter() - started
    return {
        "status": status,
        "final": state.final,
        **({"best": state.best} if state.best else {}),  # none: nothing chosen (or evaluated)
        "steps": state.step,
        "epochs": state.epoch,
        "wall_time_s": round(wall, 3),
        "train_samples_per_s": round(state.samples / state.train_time_s, 1)
        if state.train_time_s > 0
        else None,
    }
