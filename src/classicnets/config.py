"""Configs are frozen dataclasses; their fields are the command-line keys.

A field is declared with `hp(default, help, check)`: the help text is the comment a reader
needs and what `--help` prints; `check` validates the parsed value. Flags are generated from
the fields (`--learning_rate 0.01`), values are parsed by the field's type, and every problem
becomes a one-line UsageError that names the key, the value and a valid example.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import typing
from collections.abc import Callable
from typing import Any, Literal

from classicnets.errors import UsageError, shown

Check = Callable[[Any], "str | None"]  # returns what is wrong, or None


def hp(default: Any, help: str, check: Check | None = None) -> Any:
    """A hyperparameter: a dataclass field with its help text and validation."""
    return dataclasses.field(default=default, metadata={"help": help, "check": check})


def override(base: type, name: str, default: Any, help: str | None = None) -> Any:
    """A field of `base` redeclared in a subclass with another default (and help text),
    keeping its check: `learning_rate: float = override(OptimKeys, "learning_rate", 1e-4)`."""
    field = next(f for f in dataclasses.fields(base) if f.name == name)
    metadata = {**field.metadata, **({"help": help} if help else {})}
    return dataclasses.field(default=default, metadata=metadata)


# --- checks: each returns None when the value is fine, else what a valid one looks like ---
def positive(value: float) -> str | None:
    return None if value > 0 else "must be > 0"


def non_negative(value: float) -> str | None:
    return None if value >= 0 else "must be >= 0"


def fraction(value: float) -> str | None:
    return None if 0 < value < 1 else "must be between 0 and 1, e.g. 0.2"


def positive_ints(value: tuple[int, ...]) -> str | None:
    return None if value and all(v > 0 for v in value) else "expected positive integers"


# --- parsing by type ---
def _parse_int(text: str) -> int:
    return int(text)


def _parse_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError
    return value


def _parse_bool(text: str) -> bool:
    lowered = text.lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise ValueError


def _parse_int_tuple(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.split(","))


_EXPECTED = {  # what a value of each type looks like, for error messages
    int: "expected an integer",
    float: "expected a finite number",
    bool: "expected true or false",
    tuple: "expected comma-separated positive integers",
}
_EXAMPLE = {int: "10", float: "0.01", bool: "true", tuple: "1024,512"}


def _kind(tp: Any) -> Any:
    """The parser key of a field's type: int, float, str, bool, tuple or a Literal."""
    origin = typing.get_origin(tp)
    if origin is Literal:
        return tp
    if origin is tuple:
        return tuple
    return tp


def field_types(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def parse_value(cls: type, name: str, text: str) -> Any:
    """Parse one key's text by the field's type and run its check; raise UsageError if bad."""
    tp = _kind(field_types(cls)[name])
    flag = f"--{name} {text!r}"
    if typing.get_origin(tp) is Literal:
        choices = typing.get_args(tp)
        if text not in choices:
            raise UsageError(f"{flag}: expected one of {', '.join(choices)}")
        value: Any = text
    elif tp is str:
        value = text
    else:
        parser = {int: _parse_int, float: _parse_float, bool: _parse_bool, tuple: _parse_int_tuple}[
            tp
        ]
        try:
            value = parser(text)
        except ValueError:
            raise UsageError(f"{flag}: {_EXPECTED[tp]}, e.g. {_EXAMPLE[tp]}") from None
    check = next(f for f in dataclasses.fields(cls) if f.name == name).metadata.get("check")
    problem = check(value) if check else None
    if problem:
        example = "" if "e.g." in problem or tp not in _EXAMPLE else f", e.g. {_EXAMPLE[tp]}"
        raise UsageError(f"{flag}: {problem}{example}")
    return value


def format_value(value: Any) -> str:
    """A value as it is written on the command line (the inverse of parse_value)."""
    if isinstance(value, tuple):
        return ",".join(str(v) for v in value)
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def add_flags(parser: argparse.ArgumentParser, cls: type, only: set[str] | None = None) -> None:
    """One `--key VALUE` flag per field (or per field named in `only`), with the help text,
    the default and the choices."""
    types = field_types(cls)
    for f in dataclasses.fields(cls):
        if only is not None and f.name not in only:
            continue
        tp = _kind(types[f.name])
        if typing.get_origin(tp) is Literal:
            metavar = "{" + ",".join(typing.get_args(tp)) + "}"
        else:
            metavar = {int: "INT", float: "FLOAT", bool: "BOOL", tuple: "N,N,..."}.get(tp, "STR")
        parser.add_argument(
            f"--{f.name}",
            dest=f"key_{f.name}",
            metavar=metavar,
            default=None,
            help=f"{f.metadata.get('help', '')} (default: {format_value(f.default)})".replace(
                "%", "%%"
            ),
        )


def from_flags(cls: type, args: argparse.Namespace, overrides: dict[str, str] | None = None):
    """The config from parsed flags (and key=value text overrides), validated."""
    texts = dict(overrides or {})
    for f in dataclasses.fields(cls):
        text = getattr(args, f"key_{f.name}", None)
        if text is not None:
            texts[f.name] = text
    return build(cls, texts)


def build(cls: type, texts: dict[str, str]):
    """A config from key -> text, every value parsed and checked, then the config's own
    cross-key `validate()` if it has one."""
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(texts) - names)
    if unknown:
        key = shown(unknown[0])  # the user's text: a line break would split the message
        raise UsageError(f"unknown key --{key}; the keys are: {', '.join(sorted(names))}")
    config = cls(**{name: parse_value(cls, name, text) for name, text in texts.items()})
    validate = getattr(config, "validate", None)
    if validate:
        validate()
    return config


def to_dict(config: Any) -> dict[str, Any]:
    """The config as JSON-ready data (tuples become lists)."""
    return {
        k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(config).items()
    }


def from_dict(cls: type, data: dict[str, Any]):
    """A config back from to_dict's output (e.g. a run's config.json); extra keys ignored."""
    types = field_types(cls)
    values = {}
    for f in dataclasses.fields(cls):
        if f.name in data:
            value = data[f.name]
            values[f.name] = tuple(value) if _kind(types[f.name]) is tuple else value
    return cls(**values)
