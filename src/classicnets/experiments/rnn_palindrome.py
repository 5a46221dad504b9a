"""rnn-palindrome: predict the last digit of a palindrome from the first `input_length`
digits, and the memory-against-length study (rnn-lengths).

The loop counts steps here: every "epoch" of the loop is one update, so `train_steps` is the
loop's epochs and `eval_freq` is in steps. Streaming (data_size 0, the course's way) draws a
fresh batch every step from (seed, step); a fixed data set (data_size > 0) is shuffled per
pass and cut into batches, the pass and the batch found from the step.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import torch

from classicnets import config, plots
from classicnets.config import Key, fraction, non_negative, positive
from classicnets.data.palindrome import NUM_DIGITS
from classicnets.data.sources import EVAL_BATCH, PalindromeSource
from classicnets.experiments import findings, keys, memory, reproduce
from classicnets.experiments.rnn_images import analyze, gradient_flow, make_rnn, rnn_memory
from classicnets.experiments.spec import (
    Built,
    Experiment,
    ReportSection,
    Sweep,
    checkpointed,
    grid,
)
from classicnets.experiments.tables import sweep_table
from classicnets.records import RunDir, test_at_chosen
from classicnets.seeds import seed_torch
from classicnets.train.classifier import ClassifierLearner
from classicnets.train.loop import LoopSettings


def _input_dim(value: int) -> str | None:
    return None if value in (1, 10) else "expected 10 (one-hot digits) or 1 (the raw digit)"


PalindromeConfig = config.define(
    "PalindromeConfig",
    keys.RECURRENT,
    keys.OPTIM,
    input_length=Key(
        int, 10, "T: digits read; the palindrome has T + 1, the last is the target", positive
    ),
    input_dim=Key(int, 10, "10: each digit one-hot; 1: the digit as a number", _input_dim),
    data_size=Key(
        int,
        0,
        "0: a fresh batch every step (streaming); N: a fixed set of N palindromes, split "
        "by portion_train, the rest halved into validation and test",
        non_negative,
    ),
    portion_train=Key(float, 0.8, "fixed set: the fraction that trains", fraction),
    eval_size=Key(int, 1000, "streaming: palindromes in each held-out set (val, test)", positive),
    batch_size=Key(int, 128, "palindromes per update", positive),
    train_steps=Key(int, 5000, "updates", positive),
    eval_freq=Key(int, 100, "steps between evaluations of train, val and test", positive),
    patience=keys.PATIENCE,
    seed=keys.SEED,
    optimizer="rmsprop",  # the course's
    max_norm=10.0,  # clip the gradient's global L2 norm: recurrent nets spike
)


def source(cfg: Any, device: torch.device) -> PalindromeSource:
    return PalindromeSource(
        cfg.input_length,
        cfg.input_dim,
        cfg.data_size,
        cfg.portion_train,
        cfg.eval_size,
        cfg.seed,
        device,
    )


def memory_parts(cfg: Any, input_length: int | None = None) -> list[memory.Part]:
    """The run's memory (experiments/memory.py) at `input_length` (default: the config's):
    the recurrent net's, and the palindromes: digits (N, T + 1) uint8, made from their
    leading halves, which streaming draws ~20 times over to find the held-out splits' own."""
    T = cfg.input_length if input_length is None else input_length
    half = (T + 2) // 2  # the leading digits that fix a palindrome: 10^half distinct ones
    if cfg.data_size:  # min(data_size, 10^half), the power taken only where it may be less
        n = cfg.data_size if half > 18 else min(cfg.data_size, NUM_DIGITS**half)
        data = n * (3 * (T + 1) + 2 * half + 24)  # digits, halves and their sort; targets
        data_key = ("data_size", cfg.data_size)
    else:  # the train sample, val and test; each held-out set drawn from ~20x its halves
        n = 3 * cfg.eval_size
        data = n * 2 * (T + 1) + 24 * cfg.eval_size * half
        data_key = ("eval_size", cfg.eval_size)
    eval_batch = min(EVAL_BATCH, n)

    def most(limit: int) -> str:
        fits = memory.largest_fitting(lambda t: memory.total(memory_parts(cfg, t)), limit, T)
        if fits:
            return f"use at most --input_length {fits}"
        return "use fewer units (--num_hidden) or a smaller --eval_size"

    return [
        *rnn_memory(cfg, T, cfg.input_dim, 10, ("input_length", T, most), eval_batch),
        memory.Part("the palindromes", data, *data_key, "use fewer palindromes"),
    ]


def build(cfg, device: torch.device) -> Built:
    memory.check(memory_parts(cfg), device)
    data = source(cfg, device)
    if data.note:  # data_size beyond the distinct palindromes: said once, when the run builds
        print(f"rnn-palindrome: {data.note}", file=sys.stderr, flush=True)
    seed_torch(cfg.seed)  # the initial weights
    model = make_rnn(cfg, cfg.input_dim, 10)
    learner = ClassifierLearner(model, data, cfg, device, cfg.train_steps)
    return Built(learner, LoopSettings.from_keys(cfg, epochs=cfg.train_steps), data)


def validate(cfg) -> None:
    memory.check(memory_parts(cfg))
    source(cfg, torch.device("cpu"))


def figures(run: RunDir) -> list[Path]:
    cfg = run.config()
    title = f"{cfg['cell']} on palindromes, T = {cfg['input_length']}"
    return [plots.curves({cfg["cell"]: run.metrics()}, run.figures / "curves.png", title, "step")]


EXPERIMENT = Experiment(
    name="rnn-palindrome",
    description="last digit of a palindrome from the first T: vanilla RNN, LSTM or GRU",
    config=PalindromeConfig,
    validate=validate,
    build=build,
    figures=figures,
    analyze=analyze,
    threads=1,  # tiny sequential ops: one thread is fastest (spec.Experiment.threads)
    data_parallel=True,  # a ClassifierLearner: every rank draws the same batch, shards it
)


# --- the study: accuracy against length, per cell ---
LENGTHS = (5, 10, 15, 20, 25, 30)
CELLS = ("rnn", "lstm", "gru")


def lengths_figures(out: Path, trials: list[dict[str, Any]]) -> list[Path]:
    """Test accuracy (at the best validation step) against T, a line per cell; each cell's
    curves; the table; and the gradient flow of every cell at the longest T."""
    by_cell: dict[str, dict[int, list[float | None]]] = {}  # cell -> T -> one value per seed
    for t in trials:
        at = by_cell.setdefault(t["keys"]["cell"], {})
        at.setdefault(t["keys"]["input_length"], []).append(test_at_chosen(t))
    figures = out / "figures"
    paths = [
        plots.accuracy_against(
            by_cell, figures / "accuracy_vs_length.png", "input length T (digits read)"
        )
    ]
    grid_runs: dict[str, dict[str, list]] = {}  # "T = 5" -> cell -> one run per seed
    for t in trials:
        cells = grid_runs.setdefault(f"T = {t['keys']['input_length']}", {})
        cells.setdefault(t["keys"]["cell"], []).append(RunDir(out / t["dir"]).metrics())
    paths.append(plots.curves_grid(grid_runs, figures / "curves.png", ("val",), x="step"))
    paths.append(
        plots.write_table(sweep_table(trials, ("cell", "input_length")), figures / "table")
    )
    flow = gradient_flow_figure(out, trials, figures / "gradient_flow.png")
    return paths + ([flow] if flow else [])


def gradient_flow_figure(out: Path, trials: list[dict[str, Any]], path: Path) -> Path | None:
    """|dL/dh_t| against t for every cell at the longest T, trained and untrained (of the
    runs with a checkpoint: none where all diverged at their first evaluation)."""
    from classicnets.analysis.gradient_flow import plot_gradient_flow

    longest = max(t["keys"]["input_length"] for t in trials)
    curves, cells = {}, set()
    for t in trials:  # with several seeds: each cell's first seed that has a checkpoint
        run = RunDir(out / t["dir"])
        cell = t["keys"]["cell"]
        if t["keys"]["input_length"] == longest and cell not in cells and checkpointed(run):
            cfg, built = EXPERIMENT.restore(run)  # the chosen weights, where it chose any
            chosen = "best val" if built.weights.chosen else "last"
            for name, norms in gradient_flow(cfg, built).items():  # the legend says which
                name = name.replace("(trained)", f"(trained: {chosen}, step {built.weights.step})")
                curves[name] = norms
            cells.add(cell)
    if not curves:
        return None
    return plot_gradient_flow(curves, path, f"gradient flow over time, T = {longest}")


LENGTHS_SWEEP = Sweep(
    name="rnn-lengths",
    description="rnn-palindrome: input_length T in {5 .. 30} x cell {rnn, lstm, gru} (18 runs)",
    trials=grid("rnn-palindrome", "{cell}-T{input_length}", cell=CELLS, input_length=LENGTHS),
    figures=lengths_figures,
    report=ReportSection(
        "Sequences: memory against length",
        "Palindromes of T + 1 digits: read the first T, predict the last (= the first). The "
        "vanilla RNN, LSTM and GRU at T = 5 … 30.",
        (
            ("accuracy_vs_length.png", "Test accuracy against T, a line per cell."),
            (
                "gradient_flow.png",
                "Norm of ∂L/∂h_t against t, before and after training (the chosen model: "
                "best validation, its step in the legend).",
            ),
            ("curves.png", "Validation accuracy over training, per length."),
        ),
        findings.lengths,
        conclude=reproduce.falls,
    ),
)
