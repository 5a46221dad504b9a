"""rnn-palindrome: predict the last digit of a palindrome from the first `input_length`
digits, and the memory-against-length study (rnn-lengths).

The loop counts steps here: every "epoch" of the loop is one update, so `train_steps` is the
loop's epochs and `eval_freq` is in steps. Streaming (data_size 0, the course's way) draws a
fresh batch every step from (seed, step); a fixed data set (data_size > 0) is shuffled per
pass and cut into batches, the pass and the batch found from the step.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from classicnets import plots
from classicnets.config import fraction, hp, non_negative, override, positive
from classicnets.data import palindrome
from classicnets.experiments.base import Built, Experiment, Sweep, grid
from classicnets.experiments.images import restore
from classicnets.experiments.rnn import RecurrentKeys, analyze_gradient_flow, make_rnn
from classicnets.experiments.studies import trial_table
from classicnets.train.classifier import ClassifierLearner
from classicnets.train.loop import LoopSettings, epoch_order
from classicnets.train.optim import Optimizer, OptimKeys
from classicnets.train.runs import RunDir


def _input_dim(value: int) -> str | None:
    return None if value in (1, 10) else "expected 10 (one-hot digits) or 1 (the raw digit)"


@dataclass(frozen=True)
class PalindromeConfig(RecurrentKeys, OptimKeys):
    input_length: int = hp(
        10, "T: digits read; the palindrome has T + 1, the last is the target", positive
    )
    input_dim: int = hp(10, "10: each digit one-hot; 1: the digit as a number", _input_dim)
    data_size: int = hp(
        0,
        "0: a fresh batch every step (streaming); N: a fixed set of N palindromes, split "
        "by portion_train, the rest halved into validation and test",
        non_negative,
    )
    portion_train: float = hp(0.8, "fixed set: the fraction that trains", fraction)
    eval_size: int = hp(1000, "streaming: palindromes in each held-out set (val, test)", positive)
    optimizer: Optimizer = override(OptimKeys, "optimizer", "rmsprop")
    max_norm: float = override(OptimKeys, "max_norm", 10.0)
    batch_size: int = hp(128, "palindromes per update", positive)
    train_steps: int = hp(5000, "updates", positive)
    eval_freq: int = hp(100, "steps between evaluations of train, val and test", positive)
    patience: int = hp(
        0,
        "evaluations without a better validation accuracy before stopping (0 = never)",
        non_negative,
    )
    seed: int = hp(42, "seeds the data, the initial weights and the batch order")


class PalindromeSource:
    """Batches of encoded palindromes (B, T, input_dim) on the device, one per step."""

    splits = ("train", "val", "test")

    def __init__(self, cfg: PalindromeConfig, device: torch.device):
        self.cfg, self.device = cfg, device
        if cfg.data_size:
            data = palindrome.palindrome_splits(
                cfg.data_size, cfg.input_length, cfg.portion_train, cfg.seed
            )
            self.note = data.note
            self.fixed = {split: getattr(data, split) for split in self.splits}
        else:
            self.note = None
            self.fixed = {
                "train": palindrome.stream_sample(
                    cfg.eval_size, cfg.input_length, cfg.seed, "train"
                ),
                **{
                    split: palindrome.held_out(cfg.eval_size, cfg.input_length, cfg.seed, split)
                    for split in ("val", "test")
                },
            }
        self._order: tuple[int, np.ndarray] | None = None  # (pass, order) of the fixed set

    def _tensors(self, digits: np.ndarray, targets: np.ndarray) -> tuple[torch.Tensor, ...]:
        X = palindrome.encode(digits, self.cfg.input_dim)  # (B, T, input_dim)
        return (
            torch.from_numpy(X).to(self.device),
            torch.from_numpy(targets).to(self.device),
        )

    def epoch_batches(self, seed: int, step: int, batch_size: int):
        if not self.cfg.data_size:
            return [
                self._tensors(
                    *palindrome.palindrome_batch(batch_size, self.cfg.input_length, seed, step)
                )
            ]
        digits, targets = self.fixed["train"]
        per_pass = -(-len(targets) // batch_size)
        epoch, index = divmod(step, per_pass)
        if self._order is None or self._order[0] != epoch:
            self._order = (epoch, epoch_order(seed, epoch, len(targets)))
        rows = self._order[1][index * batch_size : (index + 1) * batch_size]
        return [self._tensors(digits[rows], targets[rows])]

    def eval_batches(self, split: str):
        digits, targets = self.fixed[split]
        for start in range(0, len(targets), 1000):
            yield self._tensors(digits[start : start + 1000], targets[start : start + 1000])

    def sample(self, split: str, n: int) -> tuple[torch.Tensor, torch.Tensor]:
        digits, targets = self.fixed[split]
        return self._tensors(digits[:n], targets[:n])


def build(cfg: PalindromeConfig, device: torch.device) -> Built:
    source = PalindromeSource(cfg, device)
    if source.note:  # data_size beyond the distinct palindromes: said once, when the run builds
        print(f"rnn-palindrome: {source.note}", file=sys.stderr, flush=True)
    torch.manual_seed(cfg.seed)
    model = make_rnn(cfg, cfg.input_dim, 10)
    learner = ClassifierLearner(model, source, cfg, device, cfg.train_steps)
    settings = LoopSettings(
        epochs=cfg.train_steps,
        eval_freq=cfg.eval_freq,
        batch_size=cfg.batch_size,
        seed=cfg.seed,
        patience=cfg.patience,
    )
    return Built(learner, settings, source)


def validate(cfg: PalindromeConfig) -> None:
    PalindromeSource(cfg, torch.device("cpu"))


def figures(run: RunDir) -> list[Path]:
    cfg = run.config()
    title = f"{cfg['cell']} on palindromes, T = {cfg['input_length']}"
    return [plots.curves({cfg["cell"]: run.metrics()}, run.figures / "curves.png", title, "step")]


EXPERIMENT = Experiment(
    name="rnn-palindrome",
    summary="last digit of a palindrome from the first T: vanilla RNN, LSTM or GRU",
    config=PalindromeConfig,
    validate=validate,
    build=build,
    figures=figures,
    threads=1,  # tiny sequential ops: one thread is fastest (base.Experiment.threads)
)
EXPERIMENT = replace(EXPERIMENT, analyze=analyze_gradient_flow(EXPERIMENT))


# --- the study: accuracy against length, per cell ---
LENGTHS = (5, 10, 15, 20, 25, 30)
CELLS = ("rnn", "lstm", "gru")


def lengths_figures(out: Path, trials: list[dict[str, Any]]) -> list[Path]:
    """Test accuracy (at the best validation step) against T, a line per cell; each cell's
    curves; the table; and the gradient flow of every cell at the longest T."""
    by_cell: dict[str, dict[int, float | None]] = {}
    for t in trials:
        test = t.get("best", {}).get("test", {})
        by_cell.setdefault(t["keys"]["cell"], {})[t["keys"]["input_length"]] = test.get("accuracy")
    figures = out / "figures"
    paths = [
        plots.accuracy_against(
            by_cell, figures / "accuracy_vs_length.png", "input length T (digits read)"
        )
    ]
    grid_runs = {f"T = {t['keys']['input_length']}": {} for t in trials}
    for t in trials:
        grid_runs[f"T = {t['keys']['input_length']}"][t["keys"]["cell"]] = RunDir(
            out / t["dir"]
        ).metrics()
    paths.append(plots.curves_grid(grid_runs, figures / "curves.png", ("val",), x="step"))
    paths.append(
        plots.write_table(trial_table(trials, ("cell", "input_length")), figures / "table")
    )
    paths.append(gradient_flow_figure(out, trials, figures / "gradient_flow.png"))
    return paths


def gradient_flow_figure(out: Path, trials: list[dict[str, Any]], path: Path) -> Path:
    """|dL/dh_t| against t for every cell at the longest T, trained and untrained."""
    from classicnets.analysis.gradient_flow import gradient_norms, plot_gradient_flow

    longest = max(t["keys"]["input_length"] for t in trials)
    curves = {}
    for t in trials:
        if t["keys"]["input_length"] != longest:
            continue
        cfg, trained = restore(EXPERIMENT, RunDir(out / t["dir"]))
        untrained = build(cfg, torch.device("cpu"))
        X, y = trained.data.sample("test", 256)
        curves[f"{cfg.cell} (untrained)"] = gradient_norms(untrained.learner.model, X, y)
        curves[f"{cfg.cell} (trained)"] = gradient_norms(trained.learner.model, X, y)
    return plot_gradient_flow(curves, path, f"gradient flow over time, T = {longest}")


LENGTHS_SWEEP = Sweep(
    name="rnn-lengths",
    summary="rnn-palindrome: input_length T in {5 .. 30} x cell {rnn, lstm, gru} (18 runs)",
    trials=grid("rnn-palindrome", "{cell}-T{input_length}", cell=CELLS, input_length=LENGTHS),
    figures=lengths_figures,
)
