"""Configs are frozen dataclasses; their fields are the command-line keys.

A key is declared once, as a `Key(type, default, help, check)`: the help text is the comment
a reader needs and what `--help` prints; `check` validates the parsed value. Keys come in
groups (experiments/keys.py), and an experiment's config is made by `define`: the groups it
takes, the keys of its own, and a new default for any key, each with a comment (unit, why).
Flags are generated from the fields (`--learning_rate 0.01`, also `--learning-rate`; a bool
key alone is true, `--no-KEY` false), values are parsed by the field's type (a config file's
by their JSON type, or as text: value_from_file), and every problem becomes a one-line
UsageError that names the key, the value and a valid example. A type the parser does not
handle is refused where it is declared.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from classicnets.errors import UsageError, shown

Check = Callable[[Any], "str | None"]  # returns what is wrong, or None


@dataclass(frozen=True)
class Key:
    """One command-line key: its type, default, help text and check."""

    type: Any  # int, float, str, bool, a Literal of strings, tuple[int, ...] or tuple[float, ...]
    default: Any
    help: str
    check: Check | None = None

    def with_default(self, value: Any) -> Key:
        """The same key with another default (for an experiment that takes it alone)."""
        return dataclasses.replace(self, default=value)


Group = Mapping[str, Key]  # keys that experiments share, in the order --help lists them


def define(name: str, /, *groups: Group, **own: Any) -> type:
    """A frozen dataclass of the groups' keys and its own: `own` maps a name to a Key (a key
    of this experiment alone, or a group's restated with the same type, when its help must
    name this experiment's number) or to a plain value (a new default for a group's key).

    Refused here, as TypeError, is what could only fail later: a key declared twice, a
    default for a key no group has, a type the parser cannot read, a default its own check
    rejects.
    """
    keys: dict[str, Key] = {}
    for group in groups:
        for key_name, key in group.items():
            if key_name in keys:
                raise TypeError(f"{name}: key {key_name!r} is declared by two of its groups")
            keys[key_name] = key
    for key_name, value in own.items():
        if isinstance(value, Key):
            if key_name in keys and keys[key_name].type != value.type:
                raise TypeError(
                    f"{name}: key {key_name!r} is a group's {keys[key_name].type.__name__}; "
                    "restate it with the same type, or give a value"
                )
            keys[key_name] = value  # its own, or a group's restated (its help names a number)
        elif key_name in keys:
            keys[key_name] = dataclasses.replace(keys[key_name], default=value)
        else:
            raise TypeError(f"{name}: default for {key_name!r}, which none of its groups has")
    for key_name, key in keys.items():
        _check_declaration(name, key_name, key)
    fields = [
        (
            key_name,
            key.type,
            dataclasses.field(default=key.default, metadata={"help": key.help, "check": key.check}),
        )
        for key_name, key in keys.items()
    ]
    cls = dataclasses.make_dataclass(name, fields, frozen=True)
    cls.__doc__ = f"{name}: the keys of one experiment (config.define)."
    return cls


def _check_declaration(cls_name: str, key_name: str, key: Key) -> None:
    kind = _kind(key.type)
    where = f"{cls_name}.{key_name}"
    if kind not in _PARSERS and kind is not str and typing.get_origin(kind) is not Literal:
        raise TypeError(
            f"{where}: type {key.type!r} is not one the command line parses; use int, float, "
            "str, bool, a Literal of strings, tuple[int, ...] or tuple[float, ...]"
        )
    if typing.get_origin(kind) is Literal and not all(
        isinstance(c, str) for c in typing.get_args(kind)
    ):
        raise TypeError(f"{where}: a Literal of strings only (the command line gives text)")
    problem = key.check(key.default) if key.check else None
    if problem:
        raise TypeError(f"{where}: its default {key.default!r} fails its own check ({problem})")


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


def _parse_float_tuple(text: str) -> tuple[float, ...]:
    return tuple(_parse_float(part) for part in text.split(","))


IntTuple, FloatTuple = tuple[int, ...], tuple[float, ...]
_PARSERS: dict[Any, Callable[[str], Any]] = {
    int: _parse_int,
    float: _parse_float,
    bool: _parse_bool,
    IntTuple: _parse_int_tuple,
    FloatTuple: _parse_float_tuple,
}
_EXPECTED = {  # what a value of each type looks like, for error messages
    int: "expected an integer",
    float: "expected a finite number",
    bool: "expected true or false",
    IntTuple: "expected comma-separated positive integers",
    FloatTuple: "expected comma-separated numbers",
}
_EXAMPLE = {int: "10", float: "0.01", bool: "true", IntTuple: "1024,512", FloatTuple: "0.5,0.25"}
_METAVAR = {int: "INT", float: "FLOAT", bool: "BOOL", IntTuple: "N,N,...", FloatTuple: "X,X,..."}


def _kind(tp: Any) -> Any:
    """The parser key of a field's type: int, float, str, bool, a tuple type or a Literal."""
    if typing.get_origin(tp) is tuple:
        return tuple[typing.get_args(tp)]  # tuple[int, ...] and tuple[float, ...] as written
    return tp


def field_types(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def parse_value(cls: type, name: str, text: str) -> Any:
    """Parse one key's text by the field's type and run its check; raise UsageError if bad."""
    try:
        return _parsed(cls, name, text)
    except ValueError as problem:
        raise UsageError(f"--{name} {text!r}: {problem}") from None


def _parsed(cls: type, name: str, text: str) -> Any:
    """One key's text as its value, checked; ValueError saying what a valid one looks like."""
    tp = _kind(field_types(cls)[name])
    if typing.get_origin(tp) is Literal:
        choices = typing.get_args(tp)
        if text not in choices:
            raise ValueError(f"expected one of {', '.join(choices)}")
        value: Any = text
    elif tp is str:
        value = text
    else:
        try:
            value = _PARSERS[tp](text)
        except ValueError:
            raise ValueError(f"{_EXPECTED[tp]}, e.g. {_EXAMPLE[tp]}") from None
    problem = _problem(cls, name, value)
    if problem:
        raise ValueError(problem)
    return value


def value_from_file(cls: type, name: str, raw: Any) -> Any:
    """One key's value as a JSON or YAML file gives it, checked as its flag is: text is read
    as the flag's text (YAML reads `1e-3` as text), other values by their JSON type, and a
    single number is a one-element list. ValueError saying what a valid value looks like."""
    if raw is None:
        raise ValueError("no value; give one, or remove the key for its default")
    if isinstance(raw, str):
        return _parsed(cls, name, raw)
    tp = _kind(field_types(cls)[name])
    if tp in (IntTuple, FloatTuple) and not isinstance(raw, list):
        raw = [raw]  # `dnn_hidden_units: 20`
    value = _from_json(tp, raw)
    problem = _problem(cls, name, value)
    if problem:
        raise ValueError(problem)
    return value


def _problem(cls: type, name: str, value: Any) -> str | None:
    """What the key's check finds wrong with a value of its type, with an example; or None."""
    check = next(f for f in dataclasses.fields(cls) if f.name == name).metadata.get("check")
    problem = check(value) if check else None
    if not problem:
        return None
    tp = _kind(field_types(cls)[name])
    example = "" if "e.g." in problem or tp not in _EXAMPLE else f", e.g. {_EXAMPLE[tp]}"
    return problem + example


def format_value(value: Any) -> str:
    """A value as it is written on the command line (the inverse of parse_value)."""
    if isinstance(value, tuple):
        return ",".join(str(v) for v in value)
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def add_flags(parser: argparse.ArgumentParser, cls: type, only: set[str] | None = None) -> None:
    """One `--key VALUE` flag per field (or per field named in `only`), with the help text,
    the default and the choices. Each also answers to its hyphenated name (--learning-rate),
    and a bool key to `--key` alone (true) and `--no-key` (false); --help lists each once."""
    types = field_types(cls)
    for f in dataclasses.fields(cls):
        if only is not None and f.name not in only:
            continue
        tp = _kind(types[f.name])
        if typing.get_origin(tp) is Literal:
            metavar = "{" + ",".join(typing.get_args(tp)) + "}"
        else:
            metavar = _METAVAR.get(tp, "STR")
        flag: dict[str, Any] = dict(dest=f"key_{f.name}", metavar=metavar, default=None)
        if tp is bool:
            flag.update(nargs="?", const="true")  # --augment = --augment true
        hyphened = f.name.replace("_", "-")
        parser.add_argument(
            f"--{f.name}",
            **flag,
            help=f"{f.metadata.get('help', '')} (default: {format_value(f.default)})".replace(
                "%", "%%"
            ),
        )
        if hyphened != f.name:
            parser.add_argument(f"--{hyphened}", **flag, help=argparse.SUPPRESS)
        if tp is bool:
            for negated in dict.fromkeys((f"--no-{hyphened}", f"--no_{f.name}")):
                parser.add_argument(
                    negated,
                    dest=flag["dest"],
                    action="store_const",
                    const="false",
                    help=argparse.SUPPRESS,
                )


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


DAMAGED = "the run record is damaged: run it again into a new --out"


def from_dict(cls: type, data: dict[str, Any], source: str = "config.json"):
    """A config back from to_dict's output (e.g. a run's config.json at `source`), every value
    checked as build checks text: its JSON type, then the key's check, then the config's
    `validate()`. A value we would not have written is one UsageError naming `source`, the
    key and the value. Extra keys are ignored; a missing key takes its default."""
    types = field_types(cls)
    values = {}
    for f in dataclasses.fields(cls):
        if f.name not in data:
            continue
        raw, tp = data[f.name], _kind(types[f.name])
        try:
            value = _from_json(tp, raw)
            problem = _problem(cls, f.name, value)
        except ValueError as error:
            problem = str(error)
        if problem:
            shown_value = _short(repr(raw) if isinstance(raw, str) else json.dumps(raw))
            raise UsageError(f"{source}: {f.name} {shown_value}: {problem}; {DAMAGED}")
        values[f.name] = value
    config = cls(**values)
    validate = getattr(config, "validate", None)
    if validate:
        try:
            validate()
        except UsageError as error:
            raise UsageError(f"{source}: {error}; {DAMAGED}") from None
    return config


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)  # JSON true is no integer


def _is_number(value: Any) -> bool:
    if not (_is_int(value) or isinstance(value, float)):
        return False
    try:
        return math.isfinite(value)
    except OverflowError:  # an integer past float's range
        return False


def _from_json(tp: Any, value: Any) -> Any:
    """A JSON value as the field's type; ValueError saying what was expected."""
    if typing.get_origin(tp) is Literal:
        if value not in typing.get_args(tp) or not isinstance(value, str):
            raise ValueError(f"expected one of {', '.join(typing.get_args(tp))}")
        return value
    if tp is str:
        if not isinstance(value, str):
            raise ValueError("expected a string")
        return value
    if tp in (IntTuple, FloatTuple):
        ok, what = (_is_int, "integers") if tp == IntTuple else (_is_number, "numbers")
        if not isinstance(value, list) or not all(ok(v) for v in value):
            example = _EXAMPLE[tp].replace(",", ", ")
            raise ValueError(f"expected a list of {what}, e.g. [{example}]")
        return tuple(value) if tp == IntTuple else tuple(float(v) for v in value)
    ok = {int: _is_int, float: _is_number, bool: lambda v: isinstance(v, bool)}[tp]
    if not ok(value):
        raise ValueError(f"{_EXPECTED[tp]}, e.g. {_EXAMPLE[tp]}")
    return float(value) if tp is float else value


def _short(text: str, limit: int = 40) -> str:
    """A damaged file's value as a message quotes it: one line, and short."""
    text = shown(text)
    return text if len(text) <= limit else text[: limit - 3] + "..."
