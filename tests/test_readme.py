"""The README carries what commands print, not what someone typed: each block between
`<!-- COMMAND -->` and `<!-- end of COMMAND -->` is that command's output, word for word."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"
BLOCK = re.compile(r"<!-- (classicnets [^>]*?) -->\n(.*?)<!-- end of \1 -->", re.S)


def test_the_readme_has_generated_blocks():
    assert [m.group(1) for m in BLOCK.finditer(README.read_text())] == [
        "classicnets list --markdown"
    ]


@pytest.mark.parametrize("command, text", BLOCK.findall(README.read_text()))
def test_a_generated_block_is_what_its_command_prints(cli, command, text):
    code, out, err = cli(*command.split()[1:])
    assert code == 0, err
    assert text == out, f"README is stale: run `{command}` and paste its output"
