"""Machines people have: --device auto's order (CUDA, Apple's MPS, CPU), a machine without
fcntl (Windows), and PostgreSQL as an extra that a missing driver names in one line."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from classicnets.errors import UsageError
from classicnets.runner.devices import resolve_device
from classicnets.runner.sweep.study import open_storage

SRC = Path(__file__).resolve().parents[1] / "src"


@pytest.mark.parametrize(
    ("cuda", "mps", "picked"),
    [(True, True, "cuda"), (False, True, "mps"), (False, False, "cpu"), (True, False, "cuda")],
)
def test_auto_takes_cuda_then_mps_then_cpu(monkeypatch, cuda, mps, picked):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: cuda)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: mps)
    assert resolve_device("auto").type == picked


def test_mps_asked_for_where_there_is_none_is_one_line(monkeypatch):
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    with pytest.raises(UsageError, match=r"--device mps: .* use --device cpu"):
        resolve_device("mps")


def test_without_fcntl_the_package_imports_and_trains(tmp_path):
    out = tmp_path / "run"
    code = (
        "import sys; sys.modules['fcntl'] = None\n"
        "import classicnets\n"
        "from classicnets.cli import main\n"
        f"sys.exit(main(['train', 'mlp-toy', '--epochs', '3', '--eval_freq', '1', "
        f"'--n_samples', '200', '--out', {str(out)!r}, '--quiet', '--device', 'cpu']))\n"
    )
    env = {**os.environ, "PYTHONPATH": str(SRC), "OMP_NUM_THREADS": "1"}
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert rows, "no metrics written"
    assert not (out / ".lock").exists()  # the O_EXCL lock is removed on leaving


def test_postgresql_without_psycopg_names_the_extra_and_masks_the_password(monkeypatch):
    monkeypatch.setitem(sys.modules, "psycopg", None)
    url = "postgresql+psycopg://alice:s3cret-pw@db.example/optuna"
    with pytest.raises(UsageError) as caught:
        open_storage(url)
    message = str(caught.value)
    assert "pip install 'classicnets[postgres]'" in message
    assert "s3cret-pw" not in message and "\n" not in message
