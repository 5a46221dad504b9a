"""The command line's parser: every command, its flags and their help; bad flags are one-line
UsageErrors. The commands themselves are in the package's __init__."""

from __future__ import annotations

import argparse
from dataclasses import fields
from pathlib import Path

from classicnets import config, configfile
from classicnets.errors import UsageError
from classicnets.experiments import EXPERIMENTS, SUITES, SWEEPS
from classicnets.runner import lrfind
from classicnets.train.lrfind import RangeTest


class Parser(argparse.ArgumentParser):
    """argparse, with its errors raised as one-line UsageErrors instead of usage dumps."""

    def error(self, message: str):
        # argparse quotes the user's words: keep a stray line break from splitting the line
        message = message if message.isprintable() else ascii(message)[1:-1]
        raise UsageError(f"{message}; see '{self.prog} --help'")


def _common(parser: argparse.ArgumentParser, out_help: str, quiet: bool = True) -> None:
    parser.add_argument("--out", type=Path, help=out_help)
    parser.add_argument(
        "--device",
        default="auto",
        choices=("auto", "cpu", "cuda", "mps"),
        help="where torch runs: auto takes cuda, else Apple's mps, else cpu (default: auto)",
    )
    if quiet:  # commands that show progress
        parser.add_argument(
            "--quiet",
            action="store_true",
            help="no progress (a bar; off a terminal, a line per evaluation)",
        )


def _scale(parser: argparse.ArgumentParser) -> None:
    """The flags that spread a sweep over processes and machines."""
    parser.add_argument(
        "--workers",
        type=int,
        default=1,
        help="worker processes taking trials at once, each with cores/workers CPU threads "
        "(default: 1)",
    )
    parser.add_argument(
        "--storage",
        help="the Optuna study's database: sqlite:///FILE, or postgresql://USER:PASSWORD@HOST/DB "
        "that workers on several machines share (default: sqlite:///OUT/sweep.db)",
    )


def build_parser() -> Parser:
    parser = Parser(
        prog="classicnets",
        allow_abbrev=False,
        description="Train, compare and report on the classic neural networks.",
    )
    commands = parser.add_subparsers(
        dest="command", required=True, metavar="COMMAND", parser_class=Parser
    )
    listing = commands.add_parser("list", help="experiments and sweeps, one line each")
    listing.add_argument(
        "--markdown",
        action="store_true",
        help="the tables of experiments with their keys and defaults, sweeps and suites, as "
        "the README carries them",
    )

    train = commands.add_parser("train", help="train one experiment into a run directory")
    experiments = train.add_subparsers(
        dest="experiment", required=True, metavar="EXPERIMENT", parser_class=Parser
    )
    for e in EXPERIMENTS.values():
        p = experiments.add_parser(
            e.name, help=e.description, description=e.description, allow_abbrev=False
        )
        config.add_flags(p, e.config)
        configfile.add_flags(p)
        _common(p, "run directory (default: runs/EXPERIMENT/TIMESTAMP)")
        p.add_argument(
            "--resume", action="store_true", help="continue the run in --out from its checkpoint.pt"
        )

    sweep = commands.add_parser("sweep", help="run every trial of a sweep, then compare them")
    sweeps = sweep.add_subparsers(dest="sweep", required=True, metavar="SWEEP", parser_class=Parser)
    for s in SWEEPS.values():
        p = sweeps.add_parser(
            s.name,
            help=s.description,
            allow_abbrev=False,
            description=f"{s.description}. Keys of {' and '.join(s.experiments)} given here apply "
            "to every trial whose experiment has them (mlp-vs-cnn: --width to the cnn alone). "
            "Run it again to continue an interrupted sweep.",
        )
        added: set[str] = set()
        for e in s.experiments:  # every key of any of its experiments, once
            names = {f.name for f in fields(EXPERIMENTS[e].config)} - added
            config.add_flags(p, EXPERIMENTS[e].config, only=names)
            added |= names
        configfile.add_flags(p)
        _common(p, "sweep directory (default: runs/SWEEP)")
        _scale(p)
        p.add_argument(
            "--seeds",
            type=int,
            default=1,
            metavar="N",
            help="train every configuration with seeds seed .. seed+N-1 (trials NAME-seedS); "
            "tables and findings give mean ± sd and n over them (default: 1)",
        )
        if s.space:
            drawn = ", ".join(r.key for r in s.space)
            p.add_argument(
                "--search",
                type=int,
                default=0,
                metavar="N",
                help=f"instead of the grid: N trials drawn by Optuna's TPE over {drawn}, "
                "scored by best validation accuracy (run again with a larger N for more)",
            )
            p.add_argument(
                "--prune",
                action="store_true",
                help="with --search: stop a trial whose validation accuracy falls below the "
                "median of the finished trials' at the same epoch (Optuna's MedianPruner); "
                "it is recorded as pruned",
            )

    analyze = commands.add_parser(
        "analyze",
        help="look inside a trained model: figures into RUN_DIR/figures",
        description="Every image run: the test confusion matrix and the highest-loss images; "
        "a cnn run: filters, activation statistics, deconvnet and occlusion too; a sequence "
        "run: gradient flow over time.",
    )
    analyze.add_argument("run_dir", type=Path, metavar="RUN_DIR", help="a finished run")
    analyze.add_argument(
        "--layer",
        type=int,
        default=None,
        help="cnn: the conv layer (1-based) the deconvnet projects from (default: the last one)",
    )
    analyze.add_argument(
        "--weights",
        choices=("best", "last"),
        default="best",
        help="best: the chosen model, RUN_DIR/best.pt (the best validation evaluation; the "
        "last where the run chose none, said in one line); last: the last checkpoint's",
    )

    export = commands.add_parser(
        "export",
        help="write the chosen model (RUN_DIR/best.pt; the last where none) as ONNX or safetensors",
        description="An image run's ONNX graph takes images as stored (N, C, H, W), float32 "
        "(its normalisation is inside); safetensors holds the state dict. "
        "runner/export.py has the details.",
    )
    export.add_argument("run_dir", type=Path, metavar="RUN_DIR", help="a finished run")
    export.add_argument(
        "--format",
        required=True,
        choices=("onnx", "safetensors"),
        help="onnx: a graph to run; safetensors: the weights",
    )
    export.add_argument("--out", type=Path, help="the file (default: RUN_DIR/model.FORMAT)")
    predict = commands.add_parser(
        "predict",
        help="classify PNG/JPEG images or .npz arrays (X or X_test) with the chosen model",
    )
    predict.add_argument("run_dir", type=Path, metavar="RUN_DIR", help="a finished run")
    predict.add_argument("files", type=Path, nargs="+", metavar="FILE", help=".png/.jpg/.npz")
    predict.add_argument("--json", action="store_true", help="one JSON document on stdout")

    report = commands.add_parser(
        "report",
        help="one self-contained HTML page (or markdown) from run and sweep directories",
        description="Reads every sweep and run under the directories (runs/ by default) and "
        "writes one HTML file with the figures embedded: it opens anywhere, offline. "
        "--format markdown prints the same sections' tables, findings and the claims, "
        "without the figures, for a README.",
    )
    report.add_argument(
        "dirs", type=Path, nargs="*", metavar="RUN_OR_SWEEP_DIR", help="default: runs"
    )
    report.add_argument(
        "--format",
        choices=("html", "markdown"),
        default="html",
        help="html: one page with the figures; markdown: the text and tables, ### headings "
        "(default: html)",
    )
    report.add_argument(
        "--out",
        type=Path,
        help="the file, written whole or not at all (.html; .md for markdown); - prints it "
        "(default: report.html; markdown: printed)",
    )

    lr_find = commands.add_parser(
        "lr-find",
        help="learning-rate range test: training loss as the rate grows, a suggested rate",
    )
    able = lr_find.add_subparsers(
        dest="experiment", required=True, metavar="EXPERIMENT", parser_class=Parser
    )
    for name in lrfind.able():
        e = EXPERIMENTS[name]
        p = able.add_parser(
            name,
            allow_abbrev=False,
            help=e.description,
            description=f"Smith's range test on {name}'s model, optimizer and training "
            "batches: the rate grows exponentially from --start_lr to --end_lr, one step at "
            "a time, until the smoothed training loss blows up. Writes OUT/lr_find.json and "
            "OUT/lr_find.png; the model is thrown away.",
        )
        config.add_flags(p, e.config)
        config.add_flags(p, RangeTest)
        out_help = "where lr_find.json and lr_find.png go (default: runs/lr-find/EXPERIMENT)"
        _common(p, out_help, quiet=False)  # it prints one line when done

    run = commands.add_parser("run", help="the main job: run a suite of sweeps, then report")
    run.add_argument(
        "--suite",
        default="quick",
        choices=tuple(SUITES),
        help="quick: the studies that run in minutes on a CPU; full: all of them (default: quick)",
    )
    _common(run, "suite directory (default: runs/suite-SUITE)")
    _scale(run)
    run.add_argument(
        "--seeds",
        type=int,
        default=None,
        metavar="N",
        help="seeds per configuration in every study (default: the suite's own, 3 for the "
        "quick suite's comparisons)",
    )
    return parser
