"""The study: `classicnets sweep mlp-toy-compare`, its figures, its table, and NumPy-PyTorch
parity over the whole default run."""

from __future__ import annotations

import shlex

import pytest

from classicnets.experiments import SWEEPS
from classicnets.runner.sweep import run_sweep
from tests.conftest import read_json, read_jsonl

TRIALS = [
    f"{ds}-{impl}" for ds in ("moons", "circles", "classification") for impl in ("numpy", "torch")
]
# A tiny sweep: every trial for 3 epochs of mini-batches.
SMOKE = shlex.split(
    "sweep mlp-toy-compare --epochs 3 --eval_freq 1 --batch_size 16 --out study --quiet"
)
FIGURES = ["boundaries.png", "curves.png", "data.png", "table.csv", "table.md"]


def test_sweep_smoke_writes_every_trial_figures_and_table_and_continues(cli):
    code, out, err = cli(*SMOKE)
    assert code == 0, err
    study = cli.cwd / "study"
    record = read_json(study / "sweep.json")
    assert [t["trial"] for t in record["trials"]] == TRIALS
    assert record["overrides"] == {"epochs": "3", "eval_freq": "1", "batch_size": "16"}
    for trial in record["trials"]:
        assert trial["status"] == "completed" and trial["epochs"] == 3
        assert (study / trial["dir"] / "summary.json").is_file()
    assert sorted(p.name for p in (study / "figures").iterdir()) == FIGURES
    for name in FIGURES[:3]:
        assert (study / "figures" / name).stat().st_size > 20_000
    table = (study / "figures" / "table.md").read_text().splitlines()
    assert table[0].startswith("| dataset | impl | status | final train accuracy | final test")
    assert (
        "| best val accuracy | test accuracy at val's choice | chosen epoch (by val) |"
        in (table[0])
    )
    assert len(table) == 2 + len(TRIALS)
    for trial in TRIALS:
        assert trial in out

    # Running it again keeps the finished trials (same files, not retrained) ...
    before = (study / "moons-numpy" / "metrics.jsonl").stat().st_mtime_ns
    code, _, _ = cli(*SMOKE)
    assert code == 0
    assert (study / "moons-numpy" / "metrics.jsonl").stat().st_mtime_ns == before
    # ... and refuses other keys in the same directory, before touching anything.
    code, _, err = cli(
        "sweep",
        "mlp-toy-compare",
        "--epochs",
        "5",
        "--eval_freq",
        "1",
        "--batch_size",
        "16",
        "--out",
        "study",
        "--quiet",
    )
    assert code == 2 and "--epochs 3" in err
    assert (study / "moons-numpy" / "metrics.jsonl").stat().st_mtime_ns == before


@pytest.fixture(scope="module")
def default_study(tmp_path_factory):
    """The whole default study, as `classicnets run` makes it (about two minutes)."""
    out = tmp_path_factory.mktemp("study")
    sweep = SWEEPS["mlp-toy-compare"]
    run_sweep(sweep, {}, out, "cpu", progress=False)
    return out


@pytest.mark.slow  # the whole default study: 2 min on an idle 2-core box, 4 beside other work
@pytest.mark.parametrize("dataset", ["moons", "circles", "classification"])
def test_numpy_and_torch_agree_to_1e_15_over_the_whole_default_run(default_study, dataset):
    """The README's claim, asserted as made: in float64 the two MLPs' logged losses agree to
    ~1e-16 (a few units in the last place of a loss near 0.1-0.7) over all 200 epochs."""
    numpy_rows = read_jsonl(default_study / f"{dataset}-numpy" / "metrics.jsonl")
    torch_rows = read_jsonl(default_study / f"{dataset}-torch" / "metrics.jsonl")
    assert len(numpy_rows) == len(torch_rows) == 3 * (200 // 10 + 1)  # train, val, test
    for a, b in zip(numpy_rows, torch_rows, strict=True):
        assert (a["step"], a["split"]) == (b["step"], b["split"])
        assert abs(a["loss"] - b["loss"]) < 1e-15, (a, b)
        assert a["accuracy"] == b["accuracy"], (a, b)


# The accuracy targets for the defaults. Deterministic (fixed seed), so a drop below
# them means a change in the data, the model or the training, not bad luck.
TARGETS = {"moons": 0.99, "circles": 0.97, "classification": 0.93}


@pytest.mark.slow  # reads the same whole default study
@pytest.mark.parametrize("trial", TRIALS)
def test_default_run_reaches_the_target_test_accuracy(default_study, trial):
    summary = read_json(default_study / trial / "summary.json")
    assert summary["status"] == "completed"
    assert summary["final"]["test"]["accuracy"] >= TARGETS[trial.split("-")[0]]
