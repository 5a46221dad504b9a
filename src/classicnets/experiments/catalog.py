"""The registry as markdown: what `classicnets list --markdown` prints and the README
carries word for word (a test holds the two equal), so the tables of experiments, their
keys and defaults, sweeps and suites are never written by hand.

An experiment's row names the keys it declares itself and the shared keys whose default it
changes; the keys it shares unchanged are listed once, in the table of groups.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from typing import Any

from classicnets import config
from classicnets.config import Key
from classicnets.experiments import keys
from classicnets.experiments.spec import Experiment, Sweep

GROUPS: tuple[tuple[str, str, Mapping[str, Key]], ...] = (
    ("image data", "mlp-images, cnn, resnet, rnn-images", keys.IMAGE),
    ("training loop", "mlp-images, cnn, resnet, rnn-images", keys.TRAINING),
    ("optimizer", "every torch experiment but mlp-toy", keys.OPTIM),
    ("small-budget recipe", "mlp-images, cnn, resnet, rnn-images", keys.RECIPE),
    ("recurrent cell", "rnn-palindrome, rnn-images", keys.RECURRENT),
)


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _value(value: Any) -> str:
    return config.format_value(value) if value != "" else '""'


def _keys(pairs: Iterable[tuple[str, Any]]) -> str:
    return ", ".join(f"`{name}` {_cell(_value(value))}" for name, value in pairs)


def _automatic(help_text: str) -> str:
    """An automatic --epochs as its help says it (keys.auto_epochs): "0 = automatic: 40"."""
    start = help_text.find("0 = automatic: ")
    return help_text[start : help_text.index(",", start)] if start >= 0 else "0"


def _shared() -> dict[str, Key]:
    return {name: key for _, _, group in GROUPS for name, key in group.items()}


def own_keys(experiment: Experiment) -> list[tuple[str, Any]]:
    """(key, default) of what the experiment declares itself or changes from its group."""
    shared = _shared()
    rows = []
    for f in dataclasses.fields(experiment.config):
        key = shared.get(f.name)
        if key is None or key.help != f.metadata["help"] or key.default != f.default:
            automatic = f.name == "epochs" and f.default == 0
            rows.append((f.name, _automatic(f.metadata["help"]) if automatic else f.default))
    return rows


def markdown(
    experiments: Iterable[Experiment],
    sweeps: Iterable[Sweep],
    suites: Mapping[str, tuple[Any, ...]],  # of experiments.SuiteSweep
) -> str:
    lines = [
        "| experiment | what | its own keys, and the shared defaults it changes |",
        "|---|---|---|",
    ]
    for e in experiments:
        lines.append(f"| `{e.name}` | {_cell(e.description)} | {_keys(own_keys(e))} |")
    lines += ["", "| shared keys | taken by | keys (default) |", "|---|---|---|"]
    for name, users, group in GROUPS:
        defaults = [
            (k, _automatic(v.help) if k == "epochs" else v.default) for k, v in group.items()
        ]
        lines.append(f"| {name} | {users} | {_keys(defaults)} |")
    lines += ["", "| sweep | what |", "|---|---|"]
    lines += [f"| `{s.name}` | {_cell(s.description)} |" for s in sweeps]
    lines += ["", "| suite | sweep | seeds | the keys that size it | sized for |"]
    lines.append("|---|---|---|---|---|")
    for name, members in suites.items():
        for m in members:
            sized = _keys(m.keys.items()) or "—"
            lines.append(f"| `{name}` | `{m.sweep}` | {m.seeds} | {sized} | {_cell(m.sized_for)} |")
    return "\n".join(lines) + "\n"
