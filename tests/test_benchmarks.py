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
    for cell in ("nn.RNN", "nn.LSTM", "nn.GRU", "matrix-multiply bound"):
        assert cell in stdout


def test_cnn_benchmark_quick_measures_ours_bare_and_dataloader(tmp_path):
    result, stdout = _quick("cnn", tmp_path)
    assert result["matmul_gflops"] > 0
    (row,) = result["results"]
    assert set(row["images_per_s"]) == {"ours", "bare", "dataloader"}
    assert all(v > 0 and math.isfinite(v) for v in row["images_per_s"].values())
    assert row["gflops"] > 0
    assert "ours/bare" in stdout and "GFLOP/s" in stdout


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
    assert {r["benchmark"] for r in rows} == {"mlp_toy", "cnn", "rnn", "sweep_workers"}
    peers = {(r["benchmark"], r["peer"]) for r in rows}
    for peer in ("nn.RNN", "nn.LSTM", "nn.GRU", "matrix-multiply bound"):
        assert ("rnn", peer) in peers
    assert ("mlp_toy", "scikit-learn MLPClassifier float64") in peers
    assert ("sweep_workers", "1 worker") in peers
    assert len([r for r in rows if r["benchmark"] == "cnn"]) == 2  # bare and DataLoader
    assert len(rows) == 11
    for r in rows:
        for key in ("thing_median", "peer_median", "ratio"):
            assert math.isfinite(r[key]) and r[key] > 0, r
        assert r["rounds"] == 2, r
    assert result["peak_gflops"] > 0

    lines = proc.stdout.splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("| benchmark |"))
    body = lines[header + 2 : header + 2 + len(rows)]
    assert all(line.count("|") == 8 and "×" in line for line in body), body
    assert "GFLOP/s" in next(line for line in lines if "matmul peak" in line)
