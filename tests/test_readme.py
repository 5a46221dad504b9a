"""The README carries what commands print, not what someone typed: each block between
`<!-- COMMAND -->` and `<!-- end of COMMAND -->` is that command's output, word for word.

A block made from run records (`classicnets report DIR --format markdown`) is written from
records the tests do not have (the quick suite takes minutes of training): here it must have
the shape that command prints, its sections the registry's, in the report's order; the
writer below fills it from the records where they are."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
BLOCK = re.compile(r"<!-- (classicnets [^>]*?) -->\n(.*?)<!-- end of \1 -->", re.S)
BLOCKS = BLOCK.findall(README.read_text())
PENDING = "(to be filled from a real run)\n"  # a records block before its first real run


def _from_records(command: str) -> bool:
    return command.split()[1] == "report"


def test_the_readme_has_generated_blocks():
    assert [command for command, _ in BLOCKS] == [
        "classicnets list --markdown",
        "classicnets report runs/suite-quick --format markdown",
    ]


@pytest.mark.parametrize("command, text", [b for b in BLOCKS if not _from_records(b[0])])
def test_a_generated_block_is_what_its_command_prints(cli, command, text):
    code, out, err = cli(*command.split()[1:])
    assert code == 0, err
    assert text == out, f"README is stale: python3 tests/test_readme.py writes `{command}` anew"


@pytest.mark.parametrize("command, text", [b for b in BLOCKS if _from_records(b[0])])
def test_a_block_from_run_records_has_the_shape_its_command_prints(command, text):
    from classicnets.experiments import reported

    if text == PENDING:
        return
    roots = command.split()[2:-2]  # classicnets report ROOTS... --format markdown
    assert text.startswith(f"From the run records under {', '.join(roots)} (classicnets ")
    order = [study.title for _, study in reported()]
    order += ["Single runs", "The course's claims, checked"]
    headings = re.findall(r"^### (.*)$", text, re.M)
    assert headings and all(h in order for h in headings), headings
    assert headings == sorted(headings, key=order.index), "sections out of the report's order"
    assert "<" not in text  # no HTML: the command escapes every record's text


if __name__ == "__main__":  # python3 tests/test_readme.py: write every block anew
    text = README.read_text()
    for command, _ in BLOCKS:
        run = subprocess.run(command.split(), capture_output=True, text=True, cwd=ROOT)
        if run.returncode != 0:  # e.g. no runs/suite-quick here: that block is left as it is
            print(f"left as it is: `{command}`: {run.stderr.strip()}", file=sys.stderr)
            continue
        start = text.index(f"<!-- {command} -->\n") + len(f"<!-- {command} -->\n")
        text = text[:start] + run.stdout + text[text.index(f"<!-- end of {command} -->", start) :]
    README.write_text(text)
