"""The command line: list, train, sweep, analyze, export, predict, report, run, lr-find.

    classicnets list
    classicnets train EXPERIMENT [--KEY VALUE ...] [--config FILE] [--print_config] [--out DIR]
                             [--device auto|cpu|cuda|mps] [--resume]
    classicnets sweep SWEEP [--KEY VALUE ...] [--config FILE] [--print_config] [--workers N]
                            [--storage URL] [--search N] [--prune] [--seeds N] [--out DIR]
                            [--device auto|cpu|cuda|mps]
    classicnets analyze RUN_DIR [--layer N] [--weights best|last]
    classicnets export RUN_DIR --format onnx|safetensors [--out FILE]
    classicnets predict RUN_DIR FILE... [--json]
    classicnets report [RUN_OR_SWEEP_DIR ...] [--format html|markdown] [--out FILE|-]
    classicnets run [--suite quick|full] [--seeds N] [--workers N] [--storage URL] [--out DIR]
    classicnets lr-find EXPERIMENT [--KEY VALUE ...] [--out DIR] [--device auto|cpu|cuda|mps]

Exit codes: 0 done (a diverged run too: it is recorded as such), 2 bad input (one line that
names the problem and the fix), 1 anything else.
"""

from __future__ import annotations

import argparse
import sys
import time
import traceback
from dataclasses import fields
from pathlib import Path

from classicnets import config, configfile, robust
from classicnets.cli.parser import build_parser
from classicnets.errors import UsageError
from classicnets.experiments import EXPERIMENTS, SUITES, SWEEPS, catalog
from classicnets.records import atomic_write, describe
from classicnets.runner import lrfind
from classicnets.runner import run as runner
from classicnets.runner.outdir import check_name, check_writable
from classicnets.runner.suite import suite_dataset, suite_keys
from classicnets.runner.sweep import run_sweep
from classicnets.runner.sweep.plan import check_seed_count
from classicnets.runner.sweep.run import make_plan
from classicnets.train import distributed
from classicnets.train.lrfind import RangeTest


def cmd_lr_find(args: argparse.Namespace) -> int:
    distributed.refuse(distributed.from_env(), "classicnets lr-find", _NOT_UNDER_TORCHRUN)
    experiment = EXPERIMENTS[args.experiment]
    texts, tested = _overrides(args), {f.name for f in fields(RangeTest)}
    cfg = config.build(experiment.config, {k: v for k, v in texts.items() if k not in tested})
    test = config.build(RangeTest, {k: v for k, v in texts.items() if k in tested})
    out = args.out or Path("runs") / "lr-find" / experiment.name
    record = lrfind.lr_find(experiment, cfg, test, out, args.device)
    _say(f"{out}: {lrfind.describe(record)}")
    _say(f"records: {out}/lr_find.json; figure: {out}/{lrfind.FIGURE}")
    return 0


def _say(line: str) -> None:
    print(line, flush=True)


def cmd_list(args: argparse.Namespace) -> int:
    if args.markdown:
        sys.stdout.write(catalog.markdown(EXPERIMENTS.values(), SWEEPS.values(), SUITES))
        return 0
    _say("experiments (classicnets train NAME --help lists the keys):")
    for e in EXPERIMENTS.values():
        _say(f"  {e.name:<18} {e.description}")
    _say("sweeps (classicnets sweep NAME):")
    for s in SWEEPS.values():
        _say(f"  {s.name:<18} {s.description}")
    _say("suites (classicnets run --suite NAME):")
    for name, members in SUITES.items():
        _say(f"  {name:<18} {', '.join(f'{m.sweep} (x{m.seeds} seeds)' for m in members)}")
    return 0


def cmd_train(args: argparse.Namespace) -> int:
    experiment = EXPERIMENTS[args.experiment]
    cfg = configfile.resolve(experiment, args.config_file, _overrides(args))
    if args.print_config:  # checked as a sweep's plan checks a trial: the data is not read
        experiment.validate(cfg)
        _say(configfile.experiment_json(experiment, cfg))
        return 0
    if args.resume and args.out is None:
        raise UsageError("--resume needs --out RUN_DIR: the run to continue")
    # Under torchrun, rank 0 writes the run (other ranks' default --out goes unused).
    ranks = distributed.from_env()
    out = args.out or Path("runs") / experiment.name / time.strftime("%Y%m%d-%H%M%S")
    result = runner.run_experiment(
        experiment, cfg, out, args.device, args.resume, not args.quiet, ranks=ranks
    )
    if ranks is None or ranks.lead:
        _say(f"{out}: {describe(result)}")
        _say(f"records: {out}/metrics.jsonl, {out}/summary.json; figures: {out}/figures/")
    return 0


def _sweep(
    name: str, overrides: dict[str, str], out: Path, args: argparse.Namespace, seeds: int = 1
) -> None:
    sweep = SWEEPS[name]
    search, prune = getattr(args, "search", 0), getattr(args, "prune", False)
    size = f"{search} trials drawn by TPE" if search else f"{len(sweep.trials) * seeds} runs"
    size += ", pruned by the median rule" if prune and search else ""

    def started(workers: int) -> None:  # once every input is checked: refusals come first
        _say(f"sweep {name}: {size} into {out}/{f' on {workers} workers' if workers > 1 else ''}")

    record = run_sweep(
        sweep,
        overrides,
        out,
        args.device,
        not args.quiet,
        workers=args.workers,
        storage=args.storage,
        search=search,
        started=started,
        prune=prune,
        seeds=seeds,
    )
    statuses = [t["status"] for t in record["trials"]]
    counts = ", ".join(f"{statuses.count(s)} {s}" for s in dict.fromkeys(statuses))
    took = f"{record['wall_time_s']:.1f} s"
    if record["complete"]:
        _say(f"{len(statuses)} trials: {counts}; {took}")
    else:  # never "4 trials: 4 completed" for a sweep of 6
        finished = sum(s in runner.FINISHED for s in statuses)
        counts = f" ({counts})" if counts else ""
        _say(f"{finished} of {record['planned']} trials finished{counts}; {took}")
    _say(f"records: {out}/sweep.json and {out}/TRIAL/; figures: {out}/figures/")


def _overrides(args: argparse.Namespace) -> dict[str, str]:
    return {k[4:]: v for k, v in vars(args).items() if k.startswith("key_") and v is not None}


# a sweep's runs are many: torchrun shares one run between processes
_NOT_UNDER_TORCHRUN = "start it without torchrun, or torchrun one run: classicnets train NAME"


def cmd_sweep(args: argparse.Namespace) -> int:
    distributed.refuse(distributed.from_env(), "classicnets sweep", _NOT_UNDER_TORCHRUN)
    sweep, search = SWEEPS[args.sweep], getattr(args, "search", 0)
    keys = {**configfile.sweep_keys(sweep, args.config_file, bool(search)), **_overrides(args)}
    out = args.out or Path("runs") / args.sweep
    if args.print_config:  # checked as the sweep would check it; nothing written
        prune = getattr(args, "prune", False)
        make_plan(
            sweep, keys, out, args.device, False, args.workers, args.storage, search, prune,
            args.seeds,
        )  # fmt: skip
        _say(configfile.sweep_json(sweep, keys))
        return 0
    _sweep(args.sweep, keys, out, args, args.seeds)
    return 0


def cmd_analyze(args: argparse.Namespace) -> int:
    for path in runner.analyze(args.run_dir, args.layer, _say, args.weights):
        _say(str(path))
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from classicnets.runner.export import export  # torch.onnx: only here

    _say(f"export: {export(args.run_dir, args.format, args.out, _say)}")
    return 0


def cmd_predict(args: argparse.Namespace) -> int:
    from classicnets.runner.predict import predict

    predict(args.run_dir, args.files, args.json, _say)
    return 0


SUFFIXES = {"html": (".html", ".htm"), "markdown": (".md", ".markdown")}  # --out, by --format


def _report_dirs(dirs: list[Path]) -> list[Path]:
    missing = [d for d in dirs if not d.is_dir()]
    if missing:
        raise UsageError(f"'{missing[0]}' is not a directory; pass run or sweep directories")
    return dirs


def _report_out(args: argparse.Namespace) -> Path | None:
    """The file `classicnets report` writes; None: stdout (--out -, or markdown by default)."""
    if args.out is None:
        return Path("report.html") if args.format == "html" else None
    return None if str(args.out) == "-" else args.out


def report_html(dirs: list[Path], out: Path) -> Path:
    from classicnets.report.build import build_report  # jinja2 and the template: only here

    dirs = _report_dirs(dirs)
    _check_report_file(out, "html")
    return build_report(dirs, out)


def _check_report_file(out: Path, form: str) -> None:
    if out.is_dir() or out.suffix.lower() not in SUFFIXES[form]:
        raise UsageError(f"--out '{out}': expected a file name ending in {SUFFIXES[form][0]}")


def cmd_report(args: argparse.Namespace) -> int:
    from classicnets.report.build import report_text

    dirs, out = _report_dirs(args.dirs or [Path("runs")]), _report_out(args)
    if out is not None:
        _check_report_file(out, args.format)
    text = report_text(dirs, args.format)  # whole before a byte is written: a refusal leaves none
    if out is None:
        sys.stdout.write(text)
        return 0
    atomic_write(out, text)
    _say(f"report: {out}")
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    distributed.refuse(distributed.from_env(), "classicnets run", _NOT_UNDER_TORCHRUN)
    out = args.out or Path("runs") / f"suite-{args.suite}"
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out '{out}' is a file; pass a directory path (it is created)")
    if args.seeds is not None:
        check_seed_count(args.seeds)
    dataset = suite_dataset(args.suite, _say, not args.quiet)  # found, fetched, or digits
    for name, keys, seeds, sized_for in SUITES[args.suite]:
        _say(f"{name}, sized for this suite: {sized_for}")
        _sweep(name, suite_keys(keys, dataset), out / name, args, args.seeds or seeds)
    _say(f"suite {args.suite} done: {out}/")
    _say(f"report: {report_html([out], out / 'report.html')}")
    return 0


COMMANDS = {
    "list": cmd_list,
    "train": cmd_train,
    "sweep": cmd_sweep,
    "analyze": cmd_analyze,
    "export": cmd_export,
    "predict": cmd_predict,
    "report": cmd_report,
    "run": cmd_run,
    "lr-find": cmd_lr_find,
}


def _check_outputs(args: argparse.Namespace) -> None:
    """Refuse an output this process cannot write, before any data is read or anything
    trained: a run that cannot record itself is better not started."""
    if getattr(args, "print_config", False):  # prints, writes nothing
        return
    if args.command in ("train", "sweep", "run", "lr-find"):  # default outputs: under runs/
        check_name(args.out or Path("runs"))
        check_writable(args.out or Path("runs"))
    elif args.command == "report" and _report_out(args) is not None:  # else: stdout
        check_name(_report_out(args))
        check_writable(_report_out(args), is_file=True)
    elif args.command == "analyze" and args.run_dir.is_dir():  # else: cmd_analyze says why
        check_writable(args.run_dir / "figures", "RUN_DIR/figures")


def main(argv: list[str] | None = None) -> int:
    robust.stop_on_sigterm()
    robust.quiet_disk_full_in_threads()
    args = None
    try:
        args = build_parser().parse_args(argv)
        _check_outputs(args)
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
    except Exception as error:
        full = robust.disk_full(error)
        if full is None:  # anything else is our fault: show where
            traceback.print_exc()
            return 1
        # Exit 1, not 2: 2 tells a script to change its input, and the input was right; as
        # after an interruption, the record is whole up to the last checkpoint, and the
        # same command continues from it (with --resume) once there is space.
        command, out = (args.command, getattr(args, "out", None)) if args else (None, None)
        message = robust.disk_full_message(full, command, out)
        print(f"classicnets: error: {message}", file=sys.stderr)
        return 1
