"""A run stopped by SIGTERM (a scheduler's stop, `kill`) or Ctrl-C ends cleanly: summary.json
says "interrupted", the checkpoint stays, and --resume reaches the uninterrupted result."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from tests.conftest import read_json, read_jsonl
from tests.test_runs import without_time

KEYS = ["mlp-images", "--dataset", "digits", "--epochs", "20", "--patience", "0", "--quiet"]


def test_sigterm_stops_a_run_as_interrupted_and_resume_finishes_it(tmp_path):
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    command = [sys.executable, "-m", "classicnets", "train", *KEYS]
    stopped = tmp_path / "stopped"
    # the uninterrupted run to compare with, meanwhile (each start imports torch: seconds)
    whole = subprocess.Popen([*command, "--out", str(tmp_path / "whole")], env=env)
    proc = subprocess.Popen(
        [*command, "--out", str(stopped)], env=env, stderr=subprocess.PIPE, text=True
    )
    deadline = time.monotonic() + 120
    while not (stopped / "checkpoint.pt").exists():  # the first evaluation is checkpointed
        assert proc.poll() is None and time.monotonic() < deadline, proc.stderr.read()
        time.sleep(0.01)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    summary = read_json(stopped / "summary.json")
    assert proc.returncode == 1 and "interrupted" in err and "--resume" in err, err
    assert summary["status"] == "interrupted" and summary["epochs"] < 20

    subprocess.run([*command, "--out", str(stopped), "--resume"], env=env, check=True)
    assert whole.wait(timeout=300) == 0
    assert read_json(stopped / "summary.json")["status"] == "completed"
    assert without_time(read_jsonl(stopped / "metrics.jsonl")) == without_time(
        read_jsonl(tmp_path / "whole" / "metrics.jsonl")
    )
