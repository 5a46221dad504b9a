"""One writer per run directory (records/lock.py): a second `classicnets train` into the same
--out, resume or not, is refused in one line naming the first one's pid, and the record holds
each step once. The lock is no file of the run: a fresh --out holding a killed run's .lock
trains, and a finished run leaves none behind."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from dataclasses import replace
from pathlib import Path

import pytest

from classicnets import config
from classicnets.errors import UsageError
from classicnets.experiments import EXPERIMENTS
from classicnets.records import lock
from classicnets.records.lock import LOCK, Held, hold
from classicnets.runner.run import run_experiment, writing
from tests.conftest import read_json, read_jsonl

LONG = ["mlp-toy", "--epochs", "100000", "--n_samples", "200", "--quiet"]  # minutes: stopped


def _train(*args: str, cwd: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "classicnets", "train", *args],
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _wait_for(path: Path, proc: subprocess.Popen, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.05)


def _each_step_once(metrics: Path) -> None:
    rows = read_jsonl(metrics)
    counts = Counter((r["step"], r["split"]) for r in rows)
    assert rows and max(counts.values()) == 1, [k for k, n in counts.items() if n > 1][:5]
    steps = [r["step"] for r in rows if r["split"] == "train"]
    assert steps == sorted(steps)


def _refused(proc: subprocess.Popen, out: str, first: subprocess.Popen) -> None:
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 2, err
    assert err.splitlines() == [
        f"classicnets: error: --out '{out}' is being written by another classicnets process "
        f"(pid {first.pid}); wait for it to finish, or choose another --out"
    ]


def _stop(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGTERM)  # ends as Ctrl-C does: interrupted, resumable
    proc.communicate(timeout=120)
    assert proc.returncode == 1


def test_a_second_writer_of_one_run_directory_is_refused_resume_included(tmp_path):
    first = _train(*LONG, "--out", "D", cwd=tmp_path)
    try:
        _wait_for(tmp_path / "D" / LOCK, first)
        _refused(_train(*LONG, "--out", "D", cwd=tmp_path), "D", first)
        _refused(_train(*LONG, "--out", "D", "--resume", cwd=tmp_path), "D", first)
    finally:
        if first.poll() is None:
            _stop(first)
    assert read_json(tmp_path / "D" / "summary.json")["status"] == "interrupted"
    _each_step_once(tmp_path / "D" / "metrics.jsonl")
    assert not (tmp_path / "D" / LOCK).exists()  # let go, and removed

    # Two resumes at once: the first holds it for the whole of its run.
    first = _train(*LONG, "--out", "D", "--resume", cwd=tmp_path)
    try:
        _wait_for(tmp_path / "D" / LOCK, first)
        _refused(_train(*LONG, "--out", "D", "--resume", cwd=tmp_path), "D", first)
    finally:
        if first.poll() is None:
            _stop(first)
    _each_step_once(tmp_path / "D" / "metrics.jsonl")


TINY = ["train", "mlp-toy", "--epochs", "2", "--eval_freq", "1", "--n_samples", "40", "--quiet"]


def test_a_killed_runs_lock_left_behind_is_no_file_of_the_run(cli):
    """A SIGKILL leaves .lock (the kernel let go of the lock): a new run into that --out is
    not refused as one that 'already holds files', and a resume takes the lock over."""
    out = cli.cwd / "D"
    out.mkdir()
    (out / LOCK).write_text("999999 elsewhere\n")
    code, _, err = cli(*TINY, "--out", "D")
    assert code == 0, err
    assert sorted(p.name for p in out.iterdir()) == sorted(
        ["best.pt", "checkpoint.pt", "config.json", "figures", "metrics.jsonl", "summary.json"]
        + ["tb"]
    )
    (out / LOCK).write_text(f"{os.getpid() + 1_000_000} {os.uname().nodename}\n")
    code, _, err = cli(*TINY, "--out", "D", "--resume")
    assert code == 0, err
    assert not (out / LOCK).exists()


def test_a_run_refused_after_its_lock_leaves_nothing(tmp_path):
    """The lock's directory is made before the data is read; a run refused then (bad data)
    takes it away again, and the parents made for it."""
    toy = EXPERIMENTS["mlp-toy"]

    def bad_data(cfg, device):
        raise UsageError("--dataset: simulated bad data")

    refusing = replace(toy, build=bad_data)
    cfg = config.build(toy.config, {"epochs": "1"})
    with pytest.raises(UsageError, match="simulated bad data"):
        run_experiment(refusing, cfg, tmp_path / "a" / "b" / "run", progress=False)
    assert list(tmp_path.iterdir()) == []
    (tmp_path / "kept").mkdir()  # a directory that was there stays
    with pytest.raises(UsageError, match="simulated bad data"):
        run_experiment(refusing, cfg, tmp_path / "kept", progress=False)
    assert [p.name for p in tmp_path.iterdir()] == ["kept"] and not any(
        (tmp_path / "kept").iterdir()
    )


def test_a_torchrun_rank_other_than_0_takes_no_lock(tmp_path):
    with writing(tmp_path / "run", lead=False):
        assert not (tmp_path / "run").exists()
    with writing(tmp_path / "run", lead=True):
        assert (tmp_path / "run" / LOCK).read_text().split()[0] == str(os.getpid())
    assert not (tmp_path / "run").exists()


# --- records/lock.py itself ---
def test_a_held_lock_names_its_holder_and_is_removed_on_leaving(tmp_path):
    path = tmp_path / LOCK
    with hold(path):
        # flock is per open file: a second open in this process is a second writer
        with pytest.raises(Held) as held, hold(path):
            pass
        assert held.value.holder == f"pid {os.getpid()}"
        assert path.exists()
    assert not path.exists()
    with hold(path, keep=True):
        pass
    assert path.read_bytes() == b""  # kept, and nothing of ours in it
    with hold(path):  # taken again
        pass


def test_a_lock_held_by_another_machine_says_which(tmp_path, monkeypatch):
    path = tmp_path / LOCK
    with hold(path):
        path.write_text("4242 node7\n")  # as a process on node7 would have written it
        with pytest.raises(Held) as held, hold(path):
            pass
    assert held.value.holder == "pid 4242 on node7"


@pytest.mark.parametrize(
    "text, holder",
    [
        (b"12 \x1b[2Jhost\n", "pid 12"),  # a host that is not printable: left out
        (b"\x1b[2J 12\n", "pid unknown"),
        (b"1" * 40 + b"\n", "pid unknown"),
        (b"\xff\xfe\n", "pid unknown"),
        (b"", "pid unknown"),
    ],
)
def test_what_a_lock_file_says_is_read_as_data(text, holder):
    assert lock._described(*lock._parsed(text)) == holder


def test_a_link_or_a_directory_in_place_of_the_lock_is_refused(tmp_path):
    victim = tmp_path / "victim.txt"
    victim.write_text("mine")
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / LOCK).symlink_to(victim)
    with pytest.raises(UsageError) as refused, hold(tmp_path / "run" / LOCK):
        pass
    assert str(refused.value) == (
        f"'{tmp_path / 'run' / LOCK}' is a symbolic link, not the lock file classicnets makes "
        "there; remove it, then run again"
    )
    assert victim.read_text() == "mine"  # not truncated, no pid written into it
    (tmp_path / "dir").mkdir()
    (tmp_path / "dir" / LOCK).mkdir()
    with (
        pytest.raises(UsageError, match="is a directory, not the lock file"),
        hold(tmp_path / "dir" / LOCK),
    ):
        pass
    os.mkfifo(tmp_path / "fifo")
    # a FIFO is opened without blocking, then refused
    with pytest.raises(UsageError, match="not a regular file"), hold(tmp_path / "fifo"):
        pass


def test_without_fcntl_the_lock_is_a_file_made_with_o_excl(tmp_path, monkeypatch):
    monkeypatch.setattr(lock, "_fcntl", lambda: None)
    path = tmp_path / LOCK
    with hold(path):
        assert path.read_text().split()[0] == str(os.getpid())
        with pytest.raises(Held) as held, hold(path):
            pass
        assert held.value.holder == f"pid {os.getpid()}"
    assert not path.exists()
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], text=True,
                          capture_output=True, check=True).stdout.strip()  # fmt: skip
    path.write_text(f"{dead} {os.uname().nodename}\n")  # a killed process's: stale
    with hold(path, keep=True):  # kept is not kept here: the file is the lock
        assert path.read_text().split()[0] == str(os.getpid())
    assert not path.exists()
    path.write_text(f"{dead} node7\n")  # another machine's: never taken for stale
    with pytest.raises(Held, match="on node7"), hold(path):
        pass


def test_alive():
    assert lock.alive(os.getpid())
    done = subprocess.Popen([sys.executable, "-c", "pass"])
    done.wait()
    assert not lock.alive(done.pid)


@pytest.mark.slow  # two interpreters with torch, and a report: ~20 s on an idle 2-core box
def test_the_report_reads_a_run_being_written_without_its_lock(tmp_path):
    """The report takes no lock: while a run trains (its lock held, metrics being appended)
    the report is made, exit 0, and names the run as unfinished rather than leaving it out
    silently; once stopped it is a single run of the report like any other."""
    proc = _train(*LONG, "--out", "runs/a", cwd=tmp_path)
    try:
        _wait_for(tmp_path / "runs" / "a" / "checkpoint.pt", proc)
        assert (tmp_path / "runs" / "a" / LOCK).exists() and proc.poll() is None
        done = subprocess.run(
            [sys.executable, "-m", "classicnets", "report", "runs", "--out", "r.html"],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert done.returncode == 0, done.stderr
        page = (tmp_path / "r.html").read_text()
        assert "Left out, unfinished" in page and "runs/a" in page
        assert proc.poll() is None  # the writer was never disturbed
    finally:
        _stop(proc)
    _each_step_once(tmp_path / "runs" / "a" / "metrics.jsonl")
