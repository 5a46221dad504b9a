"""Config files: `--config FILE` gives an experiment's or a sweep's keys from JSON or YAML.

    classicnets train mlp-toy --config runs/A/config.json --out runs/B   # A's run again
    classicnets train cnn --config cnn.yaml --epochs 3                   # the flag wins

A file is a mapping of keys to values. A value is read as its flag's text is when it is text
(YAML reads `1e-3` as text), else by its JSON type (`dnn_hidden_units: [64, 32]`, or `20`
for one layer), and checked by the key's own check (config.value_from_file). Keys take
hyphens as flags do (`learning-rate`). Flags given beside the file win.

A run's own config.json is valid input: the fields its record holds beside the keys
(records.CONFIG_RECORD) are accepted; `experiment` must name the experiment trained, the
others (device, threads, world_size, versions) are where it ran and are ignored: --device
picks where it runs. So training from it reproduces the run's metrics.

Every problem (a missing or malformed file, an unknown key, a bad value) is one UsageError
that names the file, the key and the fix, raised before anything is written.
"""

from __future__ import annotations

import argparse
import dataclasses
import difflib
import json
import os
import reprlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from classicnets import config
from classicnets.errors import UsageError, shown
from classicnets.experiments import EXPERIMENTS, Experiment, Sweep
from classicnets.records import CONFIG, CONFIG_RECORD

Source = Any  # a file's path; from Python also its contents (a mapping) or a Run's .config
MAX_BYTES = 1 << 20  # a config file is a few hundred bytes; anything past 1 MiB is not one

EPILOG = (
    "Keys take hyphens too (--learning-rate); a true/false key alone means true, "
    "--no-KEY false. --config FILE reads keys from JSON or YAML (a run's config.json works); "
    "flags given beside it win."
)


def add_flags(parser: argparse.ArgumentParser) -> None:
    """--config FILE and --print_config, for train's and sweep's parsers."""
    parser.add_argument(
        "--config",
        dest="config_file",
        type=Path,
        metavar="FILE",
        help="keys from a JSON or YAML file (a run's config.json works); flags given beside it win",
    )
    for flag, shown_help in (("--print_config", None), ("--print-config", argparse.SUPPRESS)):
        parser.add_argument(
            flag,
            dest="print_config",
            action="store_true",
            help=shown_help or "print the resolved keys as JSON (valid --config input) and exit",
        )
    parser.epilog = EPILOG


# --- reading a file -------------------------------------------------------------------------
def read(source: Source) -> tuple[dict[str, Any], str]:
    """The file's mapping, its keys' hyphens made underscores, and the name messages give
    it. A mapping (from Python) is taken as a file's contents."""
    if source is None:
        return {}, ""
    if isinstance(source, Mapping):
        return _names(source, "config"), "config"
    if dataclasses.is_dataclass(source) and not isinstance(source, type):  # a Run's .config
        return _names(config.to_dict(source), "config"), "config"
    if not isinstance(source, (str, os.PathLike)):
        raise UsageError(
            f"config={_quoted(source)}: expected a JSON or YAML file's path, or a mapping of keys"
        )
    path = Path(source)
    where = shown(str(path))
    if not path.exists():
        raise UsageError(
            f"--config '{where}': no such file; pass a JSON or YAML file of keys "
            "(a run's config.json works)"
        )
    if path.is_dir():
        inside = path / CONFIG
        example = f", e.g. {shown(str(inside))}" if inside.is_file() else ""
        raise UsageError(f"--config '{where}' is a directory; pass a JSON or YAML file{example}")
    if not path.is_file():  # a FIFO or a device would block or never end
        raise UsageError(f"--config '{where}' is not a regular file; pass a JSON or YAML file")
    try:
        with path.open("rb") as file:
            blob = file.read(MAX_BYTES + 1)
    except OSError as error:
        raise UsageError(
            f"--config '{where}': cannot read it ({error.strerror or error}); check its permissions"
        ) from None
    if len(blob) > MAX_BYTES:
        raise UsageError(
            f"--config '{where}' is over {MAX_BYTES} bytes: not a config file; pass a JSON or "
            "YAML file of keys"
        )
    try:
        text = blob.decode("utf-8")
    except UnicodeDecodeError:
        raise UsageError(
            f"--config '{where}' is not UTF-8 text; pass a JSON or YAML file"
        ) from None
    return _names(_parse(text, path.suffix.lower() == ".json", where), where), where


def _parse(text: str, is_json: bool, where: str) -> Any:
    """The file's data: JSON for a .json file, YAML (safe_load: plain data only) otherwise."""
    if is_json:
        try:
            return json.loads(text)
        except json.JSONDecodeError as error:
            raise UsageError(
                f"{where}: not valid JSON (line {error.lineno}, column {error.colno}: "
                f"{error.msg}); fix the file"
            ) from None
        except RecursionError:
            raise UsageError(
                f"{where}: nested too deeply for a config file; fix the file"
            ) from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        at = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        problem = getattr(error, "problem", None) or str(error)
        raise UsageError(
            f"{where}: not valid YAML ({at}{_one_line(problem)}); fix the file"
        ) from None
    except (ValueError, TypeError, OverflowError, RecursionError) as error:  # e.g. 2026-13-45
        raise UsageError(
            f"{where}: not valid YAML ({_one_line(str(error))}); fix the file"
        ) from None


def _names(data: Any, where: str) -> dict[str, Any]:
    """The mapping, its keys checked to be names and hyphens made underscores."""
    if data is None:
        raise UsageError(f"{where} is empty; write keys and values, e.g. epochs: 10")
    if not isinstance(data, Mapping):
        what = {list: "a list", str: "text"}.get(type(data), f"a {type(data).__name__}")
        raise UsageError(
            f"{where} holds {what}, not a mapping of keys to values; write e.g. epochs: 10 "
            '(YAML) or {"epochs": 10} (JSON)'
        )
    names: dict[str, Any] = {}
    for key, value in data.items():
        if not isinstance(key, str):
            raise UsageError(
                f"{where}: key {_quoted(key)} is not a name; keys are names, e.g. epochs"
            )
        name = key.replace("-", "_")
        if name in names:
            raise UsageError(f"{where}: key {shown(name)} is given twice; keep one")
        names[name] = value
    return names


# --- the keys of an experiment, or of a sweep -----------------------------------------------
def experiment_keys(experiment: Experiment, source: Source) -> dict[str, str]:
    """The file's keys for `experiment`, each checked and written as its flag's text."""
    data, where = read(source)
    if "sweep" in data:  # a sweep's --print_config, or its sweep.json
        raise UsageError(
            f"{where} holds the keys of sweep {_quoted(data['sweep'])}; give it to classicnets "
            "sweep, or pass a run's config.json (a sweep's TRIAL/config.json)"
        )
    if "experiment" in data and data["experiment"] != experiment.name:
        named = data["experiment"]
        fix = (
            f"train it with classicnets train {named} --config {where}, or remove the "
            "experiment field"
            if isinstance(named, str) and named in EXPERIMENTS
            else f"write {experiment.name}, or remove the experiment field"
        )
        raise UsageError(f"{where}: experiment {_quoted(named)} is not {experiment.name}; {fix}")
    keys = _without_record(data)
    names = _key_names(experiment)
    for key in keys:
        if key not in names:
            _unknown(where, key, names, f"classicnets train {experiment.name} --help")
    return {key: _text(experiment.config, key, raw, where) for key, raw in keys.items()}


def sweep_keys(sweep: Sweep, source: Source, search: bool = False) -> dict[str, str]:
    """The file's keys for `sweep`: known to one of its experiments, and not set by its
    trials (or drawn by --search), each checked by every experiment of the sweep that has it."""
    data, where = read(source)
    if "sweep" in data and data["sweep"] != sweep.name:
        raise UsageError(
            f"{where}: sweep {_quoted(data['sweep'])} is not {sweep.name}; "
            "run that sweep with it, or remove the sweep field"
        )
    named = data.get("experiment", sweep.experiments[0])
    if named not in sweep.experiments:
        raise UsageError(
            f"{where}: experiment {_quoted(named)} is not one that {sweep.name} runs "
            f"({', '.join(sweep.experiments)}); remove the experiment field"
        )
    keys = {k: v for k, v in _without_record(data).items() if k != "sweep"}
    experiments = [EXPERIMENTS[e] for e in sweep.experiments]
    names = set().union(*(_key_names(e) for e in experiments))
    if search:
        taken, how = {r.key for r in sweep.space}, "drawn by --search in"
    else:
        taken, how = {k for _, _, trial in sweep.trials for k in trial}, "set by each trial of"
    texts = {}
    for key, raw in keys.items():
        if key not in names:
            _unknown(where, key, names, f"classicnets sweep {sweep.name} --help")
        if key in taken:
            raise UsageError(f"{where}: {key} is {how} {sweep.name}; remove it from the file")
        having = [_text(e.config, key, raw, where) for e in experiments if key in _key_names(e)]
        texts[key] = having[0]
    return texts


def resolve(experiment: Experiment, source: Source, flags: dict[str, str]) -> Any:
    """The experiment's config from the file's keys and the flags' (which win), checked."""
    return config.build(experiment.config, {**experiment_keys(experiment, source), **flags})


def experiment_json(experiment: Experiment, cfg: Any) -> str:
    """What --print_config prints for train: config.json's layout, valid --config input."""
    return json.dumps({"experiment": experiment.name, **config.to_dict(cfg)}, indent=2)


def sweep_json(sweep: Sweep, texts: dict[str, str]) -> str:
    """What --print_config prints for a sweep: the keys given to every trial, as values."""
    values: dict[str, Any] = {"sweep": sweep.name}
    for key, text in texts.items():
        cls = next(
            EXPERIMENTS[e].config for e in sweep.experiments if key in _key_names(EXPERIMENTS[e])
        )
        value = config.parse_value(cls, key, text)
        values[key] = list(value) if isinstance(value, tuple) else value
    return json.dumps(values, indent=2)


# --- helpers --------------------------------------------------------------------------------
def _key_names(experiment: Experiment) -> set[str]:
    return set(config.field_types(experiment.config))


def _without_record(data: dict[str, Any]) -> dict[str, Any]:
    """The keys alone: the record's own fields (experiment, device, ...) left out."""
    return {k: v for k, v in data.items() if k not in CONFIG_RECORD}


def _text(cls: type, key: str, raw: Any, where: str) -> str:
    try:
        value = config.value_from_file(cls, key, raw)
    except ValueError as problem:
        raise UsageError(f"{where}: {key} {_quoted(raw)}: {problem}") from None
    return config.format_value(value)


def _unknown(where: str, key: str, names: set[str], help_command: str) -> None:
    close = difflib.get_close_matches(key, sorted(names), n=1)
    fix = f"did you mean {close[0]}?" if close else f"'{help_command}' lists the keys"
    raise UsageError(f"{where}: unknown key {_quoted(key)}; {fix}")


_SHORT = reprlib.Repr()  # bounded: a YAML alias may make a list of a billion leaves
_SHORT.maxlevel, _SHORT.maxlist, _SHORT.maxdict, _SHORT.maxstring = 2, 4, 4, 30


def _quoted(value: Any, limit: int = 40) -> str:
    """A value from the file as a message quotes it: one line, and short."""
    if isinstance(value, str):
        text = repr(value)
    elif value is None or isinstance(value, (bool, float)):
        text = json.dumps(value)  # as the file wrote it: true, null
    elif isinstance(value, int):
        text = str(value) if value.bit_length() < 128 else "(an integer too large)"
    else:
        text = _SHORT.repr(value)
    text = shown(text)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _one_line(text: str) -> str:
    return shown(" ".join(str(text).split()))
