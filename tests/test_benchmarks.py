"""Smoke tests of benchmarks/: each script runs and reports every contender and ratio.

No timing assertions: speed is measured and reported by the script, never tested here.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "mlp_toy.py"
CONTENDERS = {
    "numpy_float64",
    "numpy_float32",
    "sklearn",
    "torch_float32",
    "torch_float64",
    "torch_dataloader",
    "torch_plain",
}

RATIO_NAMES = ("NumPy MLP (float64) vs MLPClassifier", "PyTorch MLP (float32) vs DataLoader loop")


def test_mlp_toy_benchmark_quick(tmp_path):
    out = tmp_path / "bench.json"
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), "--quick", "--json", str(out)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr

    result = json.loads(out.read_text())
    assert set(result["contenders"]) == CONTENDERS
    for key, row in result["contenders"].items():
        us = row["us_per_update"]
        assert math.isfinite(us) and us > 0, (key, us)
        assert math.isfinite(row["updates_per_s"]) and row["updates_per_s"] > 0, key
    assert result["epochs"] == 1 and result["rounds"] == 1

    assert set(RATIO_NAMES) <= {r["name"] for r in result["ratios"]}
    for r in result["ratios"]:
        assert math.isfinite(r["ratio"]) and r["ratio"] > 0, r
        assert r["mark"] in {"PASS", "BELOW", "reference"}

    lines = proc.stdout.splitlines()
    for name in RATIO_NAMES:
        line = next((line for line in lines if name in line), None)
        assert line is not None, f"no ratio line for {name!r} in:\n{proc.stdout}"
        assert "×" in line and ("PASS" in line or "BELOW" in line), line
    assert "os.cpu_count()" in proc.stdout
    assert "python3 benchmarks/mlp_toy.py --quick" in proc.stdout


def _quick(script: str, tmp_path: Path) -> tuple[dict, str]:
    out = tmp_path / f"{script}.json"
    proc = subprocess.run(
        [sys.executable, str(SCRIPT.with_name(f"{script}.py")), "--quick", "--json", str(out)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads(out.read_text()), proc.stdout


def test_rnn_benchmark_quick_times_every_cell_against_torch_and_the_bound(tmp_path):
    result, stdout = _quick("rnn", tmp_path)
    assert result["T"] == 20 and result["batch"] == 128 and result["num_hidden"] == 128
    assert len(result["contenders"]) == 6  # explicit and fused, for rnn, lstm and gru
    assert result["bound_ms"] > 0 and result["gemm_gflops"] > 0
    for r in result["ratios"]:
        assert math.isfinite(r["ratio"]) and r["ratio"] > 0, r
    for cell in ("nn.RNN", "nn.LSTM", "nn.GRU", "matrix-multiply bound", "tanh_backward"):
        assert cell in stdout


def test_cnn_benchmark_quick_measures_ours_bare_and_dataloader(tmp_path):
    result, stdout = _quick("cnn", tmp_path)
    assert result["matmul_gflops"] > 0
    (row,) = result["results"]
    assert set(row["images_per_s"]) == {"ours", "bare", "dataloader"}
    assert all(v > 0 and math.isfinite(v) for v in row["images_per_s"].values())
    assert row["gflops"] > 0
    assert "ours/bare" in stdout and "GFLOP/s" in stdout


def test_seeds_benchmark_quick_times_every_workload_both_ways_and_their_difference(tmp_path):
    result, stdout = _quick("seeds", tmp_path)
    assert result["seeds"] == 2 and result["rounds"] == 1 and result["size"] == "smoke"
    workloads = result["workloads"]
    assert set(workloads) == {"mlp", "rnn", "lstm", "lstm128"}
    for key, row in workloads.items():
        for name in ("separate_s", "together_s", "speedup"):
            assert math.isfinite(row[name]) and row[name] > 0, (key, row)
        # float32 RNNs round differently each way; nothing more than that
        assert row["max_diff_metrics"] < 1e-3 and row["max_diff_weights"] < 1e-3, (key, row)
    mlp = workloads["mlp"]  # float64: the stacked MLP is the separate runs to the rounding
    assert mlp["max_diff_metrics"] <= 1e-10 and mlp["max_diff_weights"] <= 1e-10
    assert "| workload | separate runs (median) |" in stdout and "speed-up" in stdout
    assert "python3 benchmarks/seeds.py --quick" in stdout and "load average" in stdout


@pytest.mark.slow
def test_run_all_prints_one_table_with_every_benchmark_row_and_the_matmul_peak(tmp_path):
    out = tmp_path / "all.json"
    proc = subprocess.run(
        [sys.executable, str(SCRIPT.with_name("run_all.py")), "--size", "smoke", "--rounds", "2"]
        + ["--json", str(out)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr
    result = json.loads(out.read_text())
    rows = result["rows"]
    assert {r["benchmark"] for r in rows} == {"mlp_toy", "cnn", "rnn", "sweep_workers", "seeds"}
    peers = {(r["benchmark"], r["peer"]) for r in rows}
    for peer in ("nn.RNN", "nn.LSTM", "nn.GRU", "bound: products + tanh passes"):
        assert ("rnn", peer) in peers
    assert ("mlp_toy", "scikit-learn MLPClassifier float64") in peers
    assert ("sweep_workers", "1 worker") in peers
    assert len([r for r in rows if r["benchmark"] == "cnn"]) == 2  # bare and DataLoader
    assert ("seeds", "2 separate runs") in peers
    assert len([r for r in rows if r["benchmark"] == "seeds"]) == 4  # mlp, rnn, lstm, lstm128
    assert len(rows) == 15
    for r in rows:
        for key in ("thing_median", "peer_median", "ratio"):
            assert math.isfinite(r[key]) and r[key] > 0, r
        assert r["rounds"] == 2, r
    assert result["peak_gflops"] > 0

    lines = proc.stdout.splitlines()
    assert not [line for line in lines if "completed, " in line]  # no sweep's trial lines
    header = next(i for i, line in enumerate(lines) if line.startswith("| benchmark |"))
    body = lines[header + 2 : header + 2 + len(rows)]
    assert all(line.count("|") == 8 and "×" in line for line in body), body
    assert "GFLOP/s" in next(line for line in lines if "matmul peak" in line)


def _recipe_script():
    import importlib.util

    spec = importlib.util.spec_from_file_location("recipe", SCRIPT.with_name("recipe.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_recipe_benchmark_trains_recipes_in_rounds_and_prints_the_table(tmp_path, capsys):
    recipe = _recipe_script()
    keys = "--dataset digits --dnn_hidden_units 16 --epochs 1 --train_samples 200"
    argv = ["mlp-images", "--recipe", "base=", "--recipe", "ema=--ema 0.9"]
    argv += ["--keys", keys, "--seeds", "3", "--target", "0.2", "--out", str(tmp_path / "r")]
    assert recipe.main([*argv, "--json", str(tmp_path / "rows.json")]) == 0
    out = capsys.readouterr().out
    trained = [line.split(":")[0] for line in out.splitlines() if line.startswith("trained ")]
    assert trained == ["trained base seed 3", "trained ema seed 3"]
    rows = json.loads((tmp_path / "rows.json").read_text())["rows"]
    assert [(r["recipe"], r["seed"]) for r in rows] == [("base", 3), ("ema", 3)]
    for r in rows:
        assert 0 <= r["test_at_best_val"] <= 1 and 0 <= r["best_val"] <= 1
    runs, summary = out.split("\n\n| recipe | n |")  # the per-run table, then the summary
    table = [line for line in runs.splitlines() if line.startswith("| ")]
    assert table[0].startswith("| recipe | seed | status | best val acc | test acc at best val")
    assert len(table) == 1 + 2 and table[1].startswith("| base | 3 | completed |")
    per_recipe = [line for line in summary.splitlines() if line.startswith("| ")]  # no header
    assert [line.split(" | ")[:2] for line in per_recipe] == [["| base", "1"], ["| ema", "1"]]
    assert "| not tested (n < 2) |" in per_recipe[1]
    assert (tmp_path / "r" / "time_to_accuracy.png").stat().st_size > 10_000
    ema = json.loads((tmp_path / "r" / "ema" / "seed3" / "config.json").read_text())
    assert ema["ema"] == 0.9 and ema["seed"] == 3


def test_recipe_rounds_interleave_and_alternate_the_order():
    assert _recipe_script().rounds(["a", "b", "c"], [0, 1, 2]) == [
        *((0, "a"), (0, "b"), (0, "c")),
        *((1, "c"), (1, "b"), (1, "a")),
        *((2, "a"), (2, "b"), (2, "c")),
    ]


def test_recipe_time_to_target_is_the_first_validation_row_at_or_above_it():
    recipe = _recipe_script()
    rows = [
        {"split": "val", "accuracy": 0.5, "time_s": 1.0},
        {"split": "test", "accuracy": 0.95, "time_s": 1.0},  # the test split reaches nothing
        {"split": "val", "accuracy": 0.9, "time_s": 2.5},
        {"split": "val", "accuracy": 0.95, "time_s": 4.0},
    ]
    assert recipe.time_to(rows, 0.9) == 2.5
    assert recipe.time_to(rows, 0.96) is None


@pytest.mark.parametrize(
    "argv, said",
    [
        (["cnn", "--recipe", "noequals"], "expected NAME=KEYS"),
        (["cnn", "--recipe", "a=--ema"], "expected --key value pairs"),
        (["cnn", "--recipe", "a=", "--recipe", "a=--ema 0.9"], "same NAME"),
        (["cnn", "--recipe", "a=", "--seeds", "0,0"], "distinct integers"),
        (["cnn", "--recipe", "a=--seed 3"], "--seeds"),
        (["cnn", "--recipe", "a=", "--target", "1.5"], "(0, 1]"),
        (["cnn"], "at least one --recipe"),
    ],
)
def test_recipe_benchmark_refuses_bad_arguments_in_one_line(tmp_path, capsys, argv, said):
    assert _recipe_script().main([*argv, "--out", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err
    assert said in err and len(err.strip().splitlines()) == 1, err
    assert not (tmp_path / "r").exists()


@pytest.mark.slow
def test_recipe_benchmark_quick_smoke(tmp_path):
    proc = subprocess.run(
        [sys.executable, str(SCRIPT.with_name("recipe.py")), "--quick", "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr
    assert "| base | 0 |" in proc.stdout and "| ema+linear | 0 |" in proc.stdout
    assert (tmp_path / "time_to_accuracy.png").is_file()


def test_recipe_summary_gives_mean_sd_and_welch_against_the_first_recipe():
    summary = _recipe_script().summary

    def row(recipe, seed, test, time):
        return {
            "recipe": recipe,
            "seed": seed,
            "best_val": test + 0.01,
            "test_at_best_val": test,
            "time_to_target_s": time,
            "wall_time_s": 10.0,
        }

    rows = [
        row("base", 0, 0.90, 50.0), row("base", 1, 0.91, None), row("base", 2, 0.92, 70.0),
        row("tuned", 0, 0.95, 20.0), row("tuned", 1, 0.951, 21.0), row("tuned", 2, 0.952, 22.0),
        row("same", 0, 0.90, None), row("same", 1, 0.91, None), row("same", 2, 0.92, None),
        row("one", 0, 0.99, 5.0),
    ]  # fmt: skip
    lines = summary(rows, ["base", "tuned", "same", "one"], 0.9).splitlines()
    assert lines[2] == (
        "| base | 3 | 0.9200 ± 0.0100 | 0.9100 ± 0.0100 | — | 60.0 ± 14.1 | 2 of 3 | 10.0 ± 0.0 |"
    )
    assert lines[3].startswith(
        "| tuned | 3 | 0.9610 ± 0.0010 | 0.9510 ± 0.0010 | +4.10 points: holds"
    )
    assert "| 21.0 ± 1.0 | 3 of 3 |" in lines[3]
    assert "| +0.00 points: cannot tell, p = 1 | — | 0 of 3 |" in lines[4]
    assert "| 0.9900 | not tested (n < 2) | 5.0 | 1 of 1 |" in lines[5]


def _script(name: str):
    import importlib.util

    spec = importlib.util.spec_from_file_location(name, SCRIPT.with_name(f"{name}.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_datasets_benchmark_trains_both_budgets_beside_the_peer_and_prints_the_table(
    tmp_path, capsys
):
    datasets = _script("datasets")
    argv = ["--quick", "--experiments", "mlp-images,rnn-images", "--out", str(tmp_path)]
    assert datasets.main(argv) == 0
    out = capsys.readouterr().out
    rows = [line for line in out.splitlines() if line.startswith("| scikit-learn's 8×8 digits")]
    assert [row.split(" | ")[1] for row in rows] == ["mlp-images", "rnn-images"]
    for row in rows:
        cells = row.split(" | ")
        planned, *ran = cells[5].replace(",", "").replace("(", "").replace(")", "").split()
        assert int(planned) >= 600  # the automatic budget makes --min_updates updates
        assert all(int(n) <= int(planned) for n in ran[0].split("–")) if ran else True
        assert cells[7] == "not tested (n < 2)"  # one seed: no verdict against the passes
        assert 0 < float(cells[9]) <= 100  # MLPClassifier's test accuracy, in %
        assert cells[10] == "not tested (n < 2)"  # nor against the peer
    fashion = [line for line in out.splitlines() if line.endswith(" | 1 |")]
    assert len(fashion) == 3  # Fashion-MNIST keeps its passes in all three: k = 1
    for way in ("passes", "auto"):
        assert (tmp_path / "digits" / "mlp-images" / way / "seed0" / "summary.json").is_file()
    assert datasets.main(argv) == 0  # again: the finished runs are read, not trained
    again = capsys.readouterr().out
    assert again.count("read digits") == 4 and "trained digits" not in again
    assert [line for line in again.splitlines() if line in rows] == rows  # the same table


def test_datasets_benchmark_refuses_an_unknown_data_set_in_one_line(capsys):
    assert _script("datasets").main(["--datasets", "imagenet"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--datasets imagenet" in err


def test_recipe_figure_title_holds_only_the_keys_every_run_trained_with(tmp_path, monkeypatch):
    """A recipe that sets a key of --keys (here --epochs) trained otherwise: the title leaves
    that key out instead of naming the value that run did not use."""
    recipe = _recipe_script()
    titles = []
    draw = recipe.plots.time_to_accuracy
    monkeypatch.setattr(
        recipe.plots, "time_to_accuracy", lambda *a, title: titles.append(title) or draw(*a)
    )
    keys = "--dataset digits --dnn_hidden_units 16 --epochs 1 --train_samples 200"
    argv = ["mlp-images", "--recipe", "base=", "--recipe", "two=--epochs 2", "--keys", keys]
    assert recipe.main([*argv, "--seeds", "0", "--target", "0.2", "--out", str(tmp_path)]) == 0
    assert titles == ["mlp-images --dataset digits --dnn_hidden_units 16 --train_samples 200"]
    config = json.loads((tmp_path / "two" / "seed0" / "config.json").read_text())
    assert config["epochs"] == 2
