"""The command line: list, train, sweep, analyze, report, run.

    classicnets list
    classicnets train EXPERIMENT [--KEY VALUE ...] [--out DIR] [--device auto|cpu|cuda] [--resume]
    classicnets sweep SWEEP [--KEY VALUE ...] [--out DIR] [--device auto|cpu|cuda]
    classicnets analyze RUN_DIR [--layer N]
    classicnets report [RUN_OR_SWEEP_DIR ...] [--out FILE.html]
    classicnets run [--suite quick|full] [--out DIR]

Exit codes: 0 done (a diverged run too: it is recorded as such), 2 bad input (one line that
names the problem and the fix), 1 anything else.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
import time
import traceback
from dataclasses import fields
from pathlib import Path
from typing import Any

from classicnets import config
from classicnets.errors import UsageError
from classicnets.experiments import EXPERIMENTS, SUITES, SWEEPS
from classicnets.experiments.base import run_experiment, run_sweep
from classicnets.train.runs import CHECKPOINT, CONFIG, RunDir


class Parser(argparse.ArgumentParser):
    """argparse, with its errors raised as one-line UsageErrors instead of usage dumps."""

    def error(self, message: str):
        # argparse quotes the user's words: keep a stray line break from splitting the line
        message = message if message.isprintable() else ascii(message)[1:-1]
        raise UsageError(f"{message}; see '{self.prog} --help'")


def _common(parser: argparse.ArgumentParser, out_help: str) -> None:
    parser.add_argument("--out", type=Path, help=out_help)
    parser.add_argument(
        "--device",
        default="auto",
        choices=("auto", "cpu", "cuda"),
        help="where torch runs: cuda if available with auto (default: auto)",
    )
    parser.add_argument("--quiet", action="store_true", help="no progress bars")


def build_parser() -> Parser:
    parser = Parser(
        prog="classicnets",
        allow_abbrev=False,
        description="Train, compare and report on the classic neural networks.",
    )
    commands = parser.add_subparsers(
        dest="command", required=True, metavar="COMMAND", parser_class=Parser
    )
    commands.add_parser("list", help="experiments and sweeps, one line each")

    train = commands.add_parser("train", help="train one experiment into a run directory")
    experiments = train.add_subparsers(
        dest="experiment", required=True, metavar="EXPERIMENT", parser_class=Parser
    )
    for e in EXPERIMENTS.values():
        p = experiments.add_parser(
            e.name, help=e.summary, description=e.summary, allow_abbrev=False
        )
        config.add_flags(p, e.config)
        _common(p, "run directory (default: runs/EXPERIMENT/TIMESTAMP)")
        p.add_argument(
            "--resume", action="store_true", help="continue the run in --out from its checkpoint.pt"
        )

    sweep = commands.add_parser("sweep", help="run every trial of a sweep, then compare them")
    sweeps = sweep.add_subparsers(dest="sweep", required=True, metavar="SWEEP", parser_class=Parser)
    for s in SWEEPS.values():
        p = sweeps.add_parser(
            s.name,
            help=s.summary,
            allow_abbrev=False,
            description=f"{s.summary}. Keys of {' and '.join(s.experiments)} given here apply "
            "to every trial whose experiment has them (mlp-vs-cnn: --width to the cnn alone). "
            "Run it again to continue an interrupted sweep.",
        )
        added: set[str] = set()
        for e in s.experiments:  # every key of any of its experiments, once
            names = {f.name for f in fields(EXPERIMENTS[e].config)} - added
            config.add_flags(p, EXPERIMENTS[e].config, only=names)
            added |= names
        _common(p, "sweep directory (default: runs/SWEEP)")

    analyze = commands.add_parser(
        "analyze",
        help="look inside a trained model: figures into RUN_DIR/figures",
        description="Filters, activation statistics, deconvnet and occlusion for a cnn run; "
        "gradient flow over time for a sequence run.",
    )
    analyze.add_argument("run_dir", type=Path, metavar="RUN_DIR", help="a finished run")
    analyze.add_argument(
        "--layer",
        type=int,
        default=None,
        help="cnn: the conv layer (1-based) the deconvnet projects from (default: the last one)",
    )

    report = commands.add_parser(
        "report",
        help="one self-contained HTML page from run and sweep directories",
        description="Reads every sweep and run under the directories (runs/ by default) and "
        "writes one HTML file with the figures embedded: it opens anywhere, offline.",
    )
    report.add_argument(
        "dirs", type=Path, nargs="*", metavar="RUN_OR_SWEEP_DIR", help="default: runs"
    )
    report.add_argument(
        "--out", type=Path, default=Path("report.html"), help="the HTML file (default: report.html)"
    )

    run = commands.add_parser("run", help="the main job: run a suite of sweeps, then report")
    run.add_argument(
        "--suite",
        default="quick",
        choices=tuple(SUITES),
        help="quick: the studies that run in minutes on a CPU; full: all of them (default: quick)",
    )
    _common(run, "suite directory (default: runs/suite-SUITE)")
    return parser


def _say(line: str) -> None:
    print(line, flush=True)


def _describe(summary: dict[str, Any]) -> str:
    final = summary.get("final", {}).get("test", {})
    best = summary.get("best", {})
    text = f"{summary['status']}, {summary['epochs']} epochs, {summary['wall_time_s']:.1f} s"
    if final.get("accuracy") is not None:
        text += f"; test accuracy {final['accuracy']:.4f}"
    if "val" in best:  # best by validation; the test result at that epoch
        val, test = best["val"], best["test"]
        text += (
            f" (best val {val['accuracy']:.4f} at epoch {val['epoch']}: "
            f"test {test['accuracy']:.4f})"
        )
    elif best.get("test", {}).get("accuracy") is not None:
        text += f" (best {best['test']['accuracy']:.4f} at epoch {best['test']['epoch']})"
    return text


def cmd_list(args: argparse.Namespace) -> int:
    _say("experiments (classicnets train NAME --help lists the keys):")
    for e in EXPERIMENTS.values():
        _say(f"  {e.name:<18} {e.summary}")
    _say("sweeps (classicnets sweep NAME):")
    for s in SWEEPS.values():
        _say(f"  {s.name:<18} {s.summary}")
    _say("suites (classicnets run --suite NAME):")
    for name, members in SUITES.items():
        _say(f"  {name:<18} {', '.join(sweep for sweep, _ in members)}")
    return 0


def cmd_train(args: argparse.Namespace) -> int:
    experiment = EXPERIMENTS[args.experiment]
    cfg = config.from_flags(experiment.config, args)
    if args.resume and args.out is None:
        raise UsageError("--resume needs --out RUN_DIR: the run to continue")
    out = args.out or Path("runs") / experiment.name / time.strftime("%Y%m%d-%H%M%S")
    summary = run_experiment(experiment, cfg, out, args.device, args.resume, not args.quiet)
    _say(f"{out}: {_describe(summary)}")
    _say(f"records: {out}/metrics.jsonl, {out}/summary.json; figures: {out}/figures/")
    return 0


def _sweep(name: str, overrides: dict[str, str], out: Path, device: str, quiet: bool) -> None:
    sweep = SWEEPS[name]
    _say(f"sweep {name}: {len(sweep.trials)} runs into {out}/")
    run_sweep(
        sweep,
        EXPERIMENTS,
        overrides,
        out,
        device,
        not quiet,
        on_trial=lambda trial, row: _say(f"  {trial:<24} {_describe(row)}"),
    )
    _say(f"records: {out}/sweep.json and {out}/TRIAL/; figures: {out}/figures/")


def _overrides(args: argparse.Namespace) -> dict[str, str]:
    return {k[4:]: v for k, v in vars(args).items() if k.startswith("key_") and v is not None}


def cmd_sweep(args: argparse.Namespace) -> int:
    _sweep(
        args.sweep, _overrides(args), args.out or Path("runs") / args.sweep, args.device, args.quiet
    )
    return 0


def cmd_analyze(args: argparse.Namespace) -> int:
    run = RunDir(args.run_dir)
    if not run.file(CONFIG).is_file() or not run.file(CHECKPOINT).is_file():
        raise UsageError(
            f"'{args.run_dir}' holds no config.json and checkpoint.pt; pass the --out of a "
            "finished run"
        )
    name = run.config().get("experiment")
    experiment = EXPERIMENTS.get(name)
    if experiment is None or experiment.analyze is None:
        able = ", ".join(e.name for e in EXPERIMENTS.values() if e.analyze)
        raise UsageError(f"'{args.run_dir}' is a {name} run; analyze looks inside {able} runs")
    if args.layer is not None and args.layer < 1:
        raise UsageError(f"--layer {args.layer}: expected a conv layer number from 1")
    for path in experiment.analyze(run, args.layer):
        _say(str(path))
    return 0


def _report(dirs: list[Path], out: Path) -> Path:
    from classicnets.report.build import build_report  # jinja2 and the template: only here

    missing = [d for d in dirs if not d.is_dir()]
    if missing:
        raise UsageError(f"'{missing[0]}' is not a directory; pass run or sweep directories")
    if out.is_dir() or out.suffix.lower() not in (".html", ".htm"):
        raise UsageError(f"--out '{out}': expected a file name ending in .html")
    return build_report(dirs, out)


def cmd_report(args: argparse.Namespace) -> int:
    dirs = args.dirs or [Path("runs")]
    _say(f"report: {_report(dirs, args.out)}")
    return 0


def _offline_images(suite: str) -> str | None:
    """The quick suite reads Fashion-MNIST where it is on the machine (./data or Debian's
    dataset-fashion-mnist), else scikit-learn's digits, which ship with it: never a download."""
    from classicnets.data.images import load_images

    if suite != "quick":
        return None
    try:
        load_images("fashion-mnist", Path("data"), download=False, progress=False)
    except UsageError as missing:
        _say(f"{missing}; the quick suite uses scikit-learn's digits instead")
        return "digits"
    return None


def cmd_run(args: argparse.Namespace) -> int:
    out = args.out or Path("runs") / f"suite-{args.suite}"
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out '{out}' is a file; pass a directory path (it is created)")
    fallback = _offline_images(args.suite)
    for name, keys in SUITES[args.suite]:
        if fallback and keys.get("dataset") == "fashion-mnist":
            keys = {**keys, "dataset": fallback}
        _sweep(name, keys, out / name, args.device, args.quiet)
    _say(f"suite {args.suite} done: {out}/")
    _say(f"report: {_report([out], out / 'report.html')}")
    return 0


COMMANDS = {
    "list": cmd_list,
    "train": cmd_train,
    "sweep": cmd_sweep,
    "analyze": cmd_analyze,
    "report": cmd_report,
    "run": cmd_run,
}


def _stop_on_sigterm() -> None:
    """SIGTERM (a scheduler's or `kill`'s stop) ends a run as Ctrl-C does: the summary says
    "interrupted" and --resume continues from the last checkpoint."""

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, interrupt)


def main(argv: list[str] | None = None) -> int:
    _stop_on_sigterm()
    try:
        args = build_parser().parse_args(argv)
        return COMMANDS[args.command](args)
    except UsageError as error:
        print(f"classicnets: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(
            "classicnets: interrupted; continue with --resume (sweeps: run them again)",
            file=sys.stderr,
        )
        return 1
    except Exception:  # anything else is our fault: show where
        traceback.print_exc()
        return 1
