"""Shared helpers: run the CLI in-process and read what it wrote."""

from __future__ import annotations

import json
from pathlib import Path

import pytest


class CLI:
    def __init__(self, capsys: pytest.CaptureFixture, cwd: Path):
        self.capsys, self.cwd = capsys, cwd

    def __call__(self, *argv: str) -> tuple[int, str, str]:
        """Run `classicnets ARGV...` (with --quiet where it applies); return (code, out, err)."""
        from classicnets.cli import main  # imported here: collection stays fast

        self.capsys.readouterr()
        code = main(list(argv))
        captured = self.capsys.readouterr()
        return code, captured.out, captured.err


@pytest.fixture
def cli(capsys: pytest.CaptureFixture, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> CLI:
    """The CLI, run from an empty temporary directory (default outputs land there)."""
    monkeypatch.chdir(tmp_path)
    return CLI(capsys, tmp_path)


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in Path(path).read_text().splitlines()]


def read_json(path: Path) -> dict:
    return json.loads(Path(path).read_text())


def files_under(path: Path) -> list[Path]:
    return sorted(p for p in Path(path).rglob("*"))
