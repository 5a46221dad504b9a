"""`classicnets report --format markdown`: the HTML page's sections as text, from the same
records. Built here from synthetic sweep records (sweep.json and the table the sweep writes,
as runner/sweep writes them), so nothing trains: every section's table rows, its findings
and the claims table are in the text; printed or written whole; a damaged record refuses."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from classicnets.experiments import findings
from classicnets.experiments.tables import sweep_table
from classicnets.plots.lines import write_table

OPTIMIZERS = {  # cnn-optimizers: test (= val) accuracy of seeds 42, 43, 44
    ("adam", 0.01): (0.18, 0.19, 0.17),
    ("adagrad", 0.01): (0.68, 0.70, 0.69),
}
LENGTHS = {("rnn", 5): (1.0, 1.0, 0.995), ("rnn", 20): (0.30, 0.35, 0.40)}  # rnn-lengths


def _trial(name: str, experiment: str, keys: dict, seed: int, accuracy: float) -> dict:
    result = {"loss": 0.5, "accuracy": accuracy}
    return {
        "trial": f"{name}-seed{seed}",
        "dir": f"{name}-seed{seed}",
        "experiment": experiment,
        "keys": {**keys, "seed": seed},
        "status": "completed",
        "final": {"train": result, "val": result, "test": result},
        "best": {"val": {**result, "step": 10, "epoch": 2}, "test": {**result, "step": 10,
                                                                     "epoch": 2}},
        "steps": 10,
        "epochs": 2,
        "wall_time_s": 3.0,
        "train_samples_per_s": 100.0,
    }  # fmt: skip


def _sweep(root: Path, name: str, experiment: str, trials: list[dict], keys: tuple) -> Path:
    """A finished sweep's records: sweep.json and figures/table.md/.csv."""
    out = root / name
    record = {"sweep": name, "experiments": [experiment], "overrides": {"epochs": "2"},
              "seeds": 3, "search": 0, "workers": 1, "wall_time_s": 9.0,
              "trials": trials}  # fmt: skip
    out.mkdir(parents=True)
    (out / "sweep.json").write_text(json.dumps(record))
    write_table(sweep_table(trials, keys), out / "figures" / "table")
    return out


@pytest.fixture
def runs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The records, outside the directory the CLI runs in (which must stay empty)."""
    root = tmp_path_factory.mktemp("records") / "runs"
    cnn = [
        _trial(f"{opt}-lr{lr}", "cnn", {"dataset": "fashion-mnist", "optimizer": opt,
                                       "learning_rate": lr}, 42 + i, acc)
        for (opt, lr), accs in OPTIMIZERS.items()
        for i, acc in enumerate(accs)
    ]  # fmt: skip
    rnn = [
        _trial(f"{cell}-T{T}", "rnn-palindrome", {"cell": cell, "input_length": T}, 42 + i, acc)
        for (cell, T), accs in LENGTHS.items()
        for i, acc in enumerate(accs)
    ]
    _sweep(root, "cnn-optimizers", "cnn", cnn, ("optimizer", "learning_rate"))
    _sweep(root, "rnn-lengths", "rnn-palindrome", rnn, ("cell", "input_length"))
    return root


def test_the_markdown_holds_every_section_its_table_findings_and_the_claims(cli, runs):
    code, out, err = cli("report", str(runs), "--format", "markdown")
    assert code == 0 and err == "", err
    cnn = json.loads((runs / "cnn-optimizers" / "sweep.json").read_text())["trials"]
    rnn = json.loads((runs / "rnn-lengths" / "sweep.json").read_text())["trials"]
    order = ["### CNN: optimizer and learning rate", "### Sequences: memory against length",
             "### The course's claims, checked"]  # fmt: skip
    assert [out.index(h) for h in order] == sorted(out.index(h) for h in order)
    cnn_part, rnn_part = out[out.index(order[0]) : out.index(order[1])], out[out.index(order[1]) :]
    assert "Data: Fashion-MNIST." in cnn_part
    assert "classicnets sweep cnn-optimizers --epochs 2 --seeds 3" in cnn_part
    assert "Fixed in every trial: dataset fashion-mnist, learning_rate 0.01." in cnn_part
    for part, sweep in ((cnn_part, "cnn-optimizers"), (rnn_part, "rnn-lengths")):
        head = (runs / sweep / "figures" / "table.md").read_text().splitlines()[0]
        assert head in part and "mean ± sd" in head and "| n |" in head
    assert "| adam | 0.0100 | 3 completed | 3 | 0.1800 ± 0.0100 |" in cnn_part
    assert "| adagrad | 0.0100 | 3 completed | 3 | 0.6900 ± 0.0100 |" in cnn_part
    assert "| rnn | 20 | 3 completed | 3 | 0.3500 ± 0.0500 |" in rnn_part
    for line in findings.optimizers(None, cnn):
        assert f"- {line}\n" in cnn_part
    for line in findings.lengths(None, rnn):
        assert f"- {line}\n" in rnn_part
    claims = out[out.index(order[2]) :]
    for claim in ("| C31 |", "| C38 |", "| C42 |", "| C45 |"):
        assert claim in claims
    assert "| C31 | Adam at lr 1e-2 fails to train the CNN" in claims and "| supported |" in claims
    assert "C02" not in claims  # no toy sweep among the records: no row
    # the studies without runs: one line, the command that makes them
    assert "No runs of these studies here:" in out and "`classicnets sweep mlp-toy-compare`" in out
    assert "data:image" not in out and "<" not in out


def test_the_same_text_printed_with_out_dash_and_written_to_a_file(cli, runs):
    code, printed, _ = cli("report", str(runs), "--format", "markdown")
    assert code == 0
    assert cli("report", str(runs), "--format", "markdown", "--out", "-")[:2] == (0, printed)
    code, out, err = cli("report", str(runs), "--format", "markdown", "--out", "r/report.md")
    assert (code, out, err) == (0, "report: r/report.md\n", "")
    assert (cli.cwd / "r" / "report.md").read_text() == printed
    assert [p.name for p in (cli.cwd / "r").iterdir()] == ["report.md"]  # no temporary left
    code, _, err = cli("report", str(runs), "--format", "markdown", "--out", "report.html")
    assert code == 2 and "ending in .md" in err and not (cli.cwd / "report.html").exists()


def test_html_stays_the_default_and_shows_the_same_table(cli, runs):
    code, out, _ = cli("report", str(runs))
    assert (code, out) == (0, "report: report.html\n")
    page = (cli.cwd / "report.html").read_text()
    assert "<td>adam</td><td>0.0100</td><td>3 completed</td><td>3</td>" in page
    assert cli("report", str(runs), "--out", "-")[1].startswith("<!DOCTYPE html>")


def test_a_damaged_record_refuses_in_one_line_and_writes_nothing(cli, runs):
    path = runs / "cnn-optimizers" / "sweep.json"
    record = json.loads(path.read_text())
    record["trials"][1]["keys"]["learning_rate"] = "fast"
    path.write_text(json.dumps(record))
    for out in ([], ["--out", "report.md"]):
        code, printed, err = cli("report", str(runs), "--format", "markdown", *out)
        assert code == 2 and printed == "" and err.count("\n") == 1, err
        assert err.startswith("classicnets: error: ") and "trials[1].keys.learning_rate" in err
        assert "Traceback" not in err
    assert list(cli.cwd.iterdir()) == []


def test_a_cell_cannot_break_the_table_and_a_table_not_read_is_said(cli, runs):
    table = runs / "rnn-lengths" / "figures" / "table.csv"
    table.write_text("cell,note\nrnn,a|b <script>\n")
    _, out, _ = cli("report", str(runs), "--format", "markdown")
    assert "| rnn | a\\|b &lt;script> |" in out
    table.unlink()
    table.symlink_to(runs / "cnn-optimizers" / "figures" / "table.csv")
    _, out, _ = cli("report", str(runs), "--format", "markdown")
    assert "_table.csv not shown: it is a link_" in out


@pytest.mark.parametrize("argv", [["--format", "pdf"], ["--format"], ["--format", ""]])
def test_a_bad_format_is_one_line_and_exit_2(cli, runs, argv):
    code, out, err = cli("report", str(runs), *argv)
    assert code == 2 and out == "" and err.count("\n") == 1 and "--format" in err
    assert list(cli.cwd.iterdir()) == []
