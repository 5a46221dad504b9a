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
    assert text == out, f"README is stale: python3 tests/test_readme.py writes `{command}` anew"


if __name__ == "__main__":  # python3 tests/test_readme.py: write every block anew
    import subprocess

    text = README.read_text()
    for command, _ in BLOCK.findall(text):
        out = subprocess.run(command.split(), capture_output=True, text=True, check=True).stdout
        start = text.index(f"<!-- {command} -->\n") + len(f"<!-- {command} -->\n")
        text = text[:start] + out + text[text.index(f"<!-- end of {command} -->", start) :]
    README.write_text(text)
