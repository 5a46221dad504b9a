"""Seeds as an axis of a sweep (`--seeds N`): every configuration trained with seeds
seed .. seed+N-1 as trials of one study, summarised per configuration (mean, sd, n), drawn
as a mean with a min-max band, and handed to the findings seed by seed."""

from __future__ import annotations

import shlex
from types import SimpleNamespace

import numpy as np
import pytest

from classicnets.errors import UsageError
from classicnets.experiments import SWEEPS, findings
from classicnets.experiments.tables import config_table, configurations
from classicnets.plots import lines as plots
from classicnets.runner.sweep.plan import Plan, grid_trials
from classicnets.runner.sweep.study import trial_dir
from tests.conftest import read_json

# two seeds of every toy configuration, a few mini-batch epochs each
SEEDED = shlex.split(
    "sweep mlp-toy-compare --epochs 3 --eval_freq 1 --batch_size 16 --n_samples 300 "
    "--seeds 2 --seed 7 --out study --quiet"
)


def test_a_seeded_sweep_runs_every_seed_and_summarises_each_configuration(cli):
    code, out, err = cli(*SEEDED)
    assert code == 0, err
    assert "12 runs" in out
    study = cli.cwd / "study"
    record = read_json(study / "sweep.json")
    assert record["seeds"] == 2 and "seeds=2" in record["study"].split(":")[1].split(",")
    names = [t["trial"] for t in record["trials"]]
    assert names == [
        f"{ds}-{impl}-seed{s}"
        for ds in ("moons", "circles", "classification")
        for impl in ("numpy", "torch")
        for s in (7, 8)
    ]
    for t in record["trials"]:
        assert t["keys"]["seed"] == int(t["trial"][-1])  # the seed its name says
        assert (study / t["dir"] / "summary.json").is_file()
    configs = record["configurations"]
    datasets, impls = ("moons", "circles", "classification"), ("numpy", "torch")
    assert [c["configuration"] for c in configs] == [f"{d}-{i}" for d in datasets for i in impls]
    moons = configs[0]
    assert moons["seeds"] == [7, 8] and moons["statuses"] == {"completed": 2}
    vals = [t["best"]["val"]["accuracy"] for t in record["trials"][:2]]
    chosen = moons["results"]["val accuracy (chosen by val)"]
    assert chosen["n"] == 2 and chosen["mean"] == pytest.approx(np.mean(vals))
    assert chosen["sd"] == pytest.approx(np.std(vals, ddof=1))
    table = (study / "figures" / "table.md").read_text().splitlines()
    assert table[0].startswith("| dataset | impl | status | n | val accuracy (chosen by val)")
    assert len(table) == 2 + 6 and " ± " in table[2]
    # the findings see both seeds of each pair
    lines = findings.mlp_toy(study, record["trials"])
    assert lines[0].startswith("On moons, NumPy and PyTorch reach the same final test accuracy ")
    assert "in 2 of 2 seeds" in lines[0]
    # run again: the study is the same one, nothing is trained again
    code, out, _ = cli(*SEEDED)
    assert code == 0 and "completed, 3 epochs" not in out
    assert read_json(study / "sweep.json")["trials"] == record["trials"]


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--seeds", "0"], "--seeds 0: expected a number of seeds, 1 or more"),
        (["--seeds", "1001"], "--seeds 1001: expected a number of seeds, 1 or more (at most 1000)"),
        (
            ["--seeds", "3", "--seed", "4294967294"],
            "--seeds 3 from seed 4294967294: the last, 4294967296, is above 4294967295",
        ),
        (
            ["--seeds", "2", "--search", "2"],
            "--seeds 2 with --search: TPE scores each drawn configuration by one run",
        ),
    ],
)
def test_bad_seeds_are_refused_in_one_line(cli, argv, message):
    code, _, err = cli("sweep", "cnn-optimizers", "--dataset", "digits", *argv, "--out", "s")
    assert code == 2 and message in err and err.count("\n") == 1
    assert not (cli.cwd / "s").exists()


def test_run_refuses_zero_seeds(cli):
    code, _, err = cli("run", "--seeds", "0", "--out", "suite")
    assert code == 2 and "--seeds 0: expected a number of seeds" in err
    assert not (cli.cwd / "suite").exists()


def test_the_plan_names_every_seed_and_the_study_can_name_no_other(tmp_path):
    sweep = SWEEPS["mlp-toy-compare"]
    trials = grid_trials(sweep, {"epochs": "1"}, tmp_path, seeds=3)
    assert len(trials) == 18
    assert trials[0][0] == "moons-numpy-seed42" and trials[0][2]["seed"] == "42"
    assert trials[2][0] == "moons-numpy-seed44"
    plan = Plan("mlp-toy-compare", "s", "sqlite://", str(tmp_path), trials, seeds=3)
    ok = SimpleNamespace(number=0, user_attrs={"dir": "moons-numpy-seed44"}, params={})
    assert trial_dir(plan, ok) == "moons-numpy-seed44"
    # a study (untrusted data) naming a seed the plan does not make, or a path, is refused
    for name in ("moons-numpy-seed45", "moons-numpy", "../moons-numpy-seed42"):
        bad = SimpleNamespace(number=1, user_attrs={"dir": name}, params={})
        with pytest.raises(UsageError, match="which this sweep does not make"):
            trial_dir(plan, bad)


def _row(name, seed, val, test, status="completed"):
    best = {"val": {"accuracy": val, "loss": 0.1, "step": 1, "epoch": 1}}
    best["test"] = {"accuracy": test, "loss": 0.1, "step": 1, "epoch": 1}
    return {
        "trial": f"{name}-seed{seed}",
        "dir": f"{name}-seed{seed}",
        "keys": {"optimizer": name, "learning_rate": 0.01, "seed": seed},
        "status": status,
        "best": best if status == "completed" else {},
        "final": {"test": {"accuracy": test, "loss": 0.1}},
        "wall_time_s": 2.0,
    }


def test_configurations_count_only_the_seeds_that_finished():
    rows = [_row("adam", 1, 0.8, 0.7), _row("adam", 2, 0.9, 0.8), _row("adam", 3, 0, 0, "failed")]
    (adam,) = configurations(rows)
    assert adam["statuses"] == {"completed": 2, "failed": 1}
    result = adam["results"]["test accuracy at val's choice"]
    assert result["n"] == 2 and result["mean"] == pytest.approx(0.75)
    assert result["sd"] == pytest.approx(np.std([0.7, 0.8], ddof=1))
    (row,) = config_table(rows, ("optimizer",))
    assert row["n"] == 2 and row["status"] == "2 completed, 1 failed"
    assert row["val accuracy (chosen by val), mean ± sd"] == "0.8500 ± 0.0707"


def test_findings_conclude_over_seeds():
    rows = [_row("adam", s, 0.90 + 0.001 * s, 0.9) for s in (1, 2, 3)]
    rows += [_row("sgd", s, 0.70 + 0.001 * s, 0.7) for s in (1, 2, 3)]
    first = findings.optimizers(None, rows)[0]
    assert first.startswith("Best by validation accuracy: adam at lr 0.01, 90.2% ± 0.1 (n = 3)")
    assert "holds at 95% (Welch's t-test" in first


def test_curves_of_several_seeds_are_a_mean_with_a_min_max_band(tmp_path):
    def run(values):
        return [
            {"step": e, "epoch": e, "split": "val", "loss": 1.0 / (e + 1), "accuracy": v}
            for e, v in enumerate(values)
        ]

    seeds = [run([0.5, 0.6]), run([0.7, 0.9]), run([0.6, 0.75])]
    xs, mean, low, high = plots._banded(seeds, "val", "accuracy", "epoch")
    assert xs == [0, 1] and mean == pytest.approx([0.6, 0.75])
    assert low == pytest.approx([0.5, 0.6]) and high == pytest.approx([0.7, 0.9])
    path = plots.curves_grid({"g": {"a": seeds, "b": run([0.4, 0.5])}}, tmp_path / "c.png")
    assert path.stat().st_size > 10_000


def test_a_study_from_before_seeds_continues_as_one_seed_and_no_other(tmp_path):
    from classicnets.runner.sweep.plan import identity
    from classicnets.runner.sweep.study import open_study

    url = f"sqlite:///{tmp_path / 'sweep.db'}"
    plan = Plan("mlp-toy-compare", "s", url, str(tmp_path), ())
    old = {k: v for k, v in identity(plan, {}).items() if k != "seeds"}  # as saved before
    open_study(plan, old)
    open_study(plan, identity(plan, {}))  # one seed: the same study
    with pytest.raises(UsageError, match="was run with seeds 1, not 3"):
        three = Plan("mlp-toy-compare", "s", url, str(tmp_path), (), seeds=3)
        open_study(plan, identity(three, {}))
