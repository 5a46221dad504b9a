"""A sweep's life among other processes: its workers end with it, however it ends (SIGKILL
too); it is never done early while trials still run in another process; and --workers is
bounded by the trials left and the cores."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState, create_trial

from classicnets.records import chosen_accuracy
from tests.conftest import read_json

TRIALS = [f"{d}-{i}" for d in ("moons", "circles", "classification") for i in ("numpy", "torch")]
KEYS = ["--epochs", "1", "--eval_freq", "1", "--n_samples", "40", "--batch_size", "0", "--quiet"]
STUDY = "mlp-toy-compare:batch_size=0,epochs=1,eval_freq=1,n_samples=40"
SWEEP = ["sweep", "mlp-toy-compare", *KEYS, "--out", "S"]
STILL_RUNNING = (
    "  1 trial still running in another process; run the command again when they finish\n"
)


# --- processes: /proc, or psutil where it is installed ---
def _children() -> dict[int, list[int]]:
    try:
        import psutil
    except ImportError:
        psutil = None
    tree: dict[int, list[int]] = {}
    if psutil is not None:
        for p in psutil.process_iter(["pid", "ppid"]):
            tree.setdefault(p.info["ppid"], []).append(p.info["pid"])
        return tree
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            tree.setdefault(ppid, []).append(int(entry.name))
    return tree


def _descendants(pid: int) -> set[int]:
    tree, found, todo = _children(), set(), [pid]
    while todo:
        for child in tree.get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def _alive(pid: int) -> bool:
    """Running, not a zombie (an orphan's zombie waits for a PID 1 that may never reap it)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state not in ("Z", "X")


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads processes in /proc")
def test_a_sweep_killed_by_sigkill_takes_its_forkserver_and_workers_with_it(tmp_path):
    """SIGKILL runs no handler in the sweep, so nothing it does can stop its workers: they
    must see it die. Before, its forkserver exited, and the two workers trained on, orphans,
    through the whole grid."""
    command = [sys.executable, "-m", "classicnets", "sweep", "mlp-toy-compare", "--workers", "2"]
    command += ["--epochs", "3000", "--out", "S", "--quiet"]  # a trial: a minute; killed first
    sweep = subprocess.Popen(
        command,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its group: whatever it leaves behind is killed at the end
    )
    try:
        training = lambda: list((tmp_path / "S").glob("*/metrics.jsonl"))  # noqa: E731
        deadline = time.monotonic() + 180
        while len(training()) < 2:  # both workers train
            assert sweep.poll() is None, sweep.communicate()
            assert time.monotonic() < deadline, "the workers never started training"
            time.sleep(0.1)
        family = _descendants(sweep.pid)
        assert sum("forkserver" in _cmdline(p) for p in family) >= 3, [
            _cmdline(p) for p in family
        ]  # the forkserver and two workers it forked
        sweep.kill()
        sweep.wait()
        deadline = time.monotonic() + 10
        while any(_alive(p) for p in family) and time.monotonic() < deadline:
            time.sleep(0.1)
        left = {p: _cmdline(p) for p in family if _alive(p)}
        assert not left, f"still running after the sweep was killed: {left}"
        # They ended as SIGTERM ends a run: interrupted, and resumable from a checkpoint.
        ran = [m.parent for m in training()]
        assert {read_json(r / "summary.json")["status"] for r in ran} == {"interrupted"}
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(sweep.pid, signal.SIGKILL)
        sweep.wait()


# --- never done early ---
def _study(out: Path) -> optuna.Study:
    return optuna.load_study(study_name=STUDY, storage=f"sqlite:///{out / 'sweep.db'}")


HOLD = """
import fcntl, os, sys
os.makedirs(os.path.dirname(sys.argv[1]), exist_ok=True)
fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT, 0o666)
fcntl.flock(fd, fcntl.LOCK_EX)
print("held", flush=True)
sys.stdin.read()
"""


def test_a_sweep_whose_trial_another_process_holds_is_not_done(cli, monkeypatch):
    """Another process holds moons-numpy's trial lock (another sweep into the same --out,
    training it): the sweep runs the five others, and says the sixth still runs elsewhere,
    rather than "5 trials: 5 completed". Run again once it is let go, it finishes the sweep."""
    monkeypatch.setattr("classicnets.runner.sweep.run.cpu_cores", lambda: 16)
    out = cli.cwd / "S"
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(out / ".locks" / "moons-numpy.lock")],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline() == "held\n"
        code, printed, err = cli(*SWEEP)
    finally:
        holder.stdin.close()
        holder.wait(timeout=30)
    assert code == 0, err
    assert STILL_RUNNING in printed
    assert "\n5 of 6 trials finished (5 completed); " in printed
    assert "5 trials: 5 completed" not in printed
    record = read_json(out / "sweep.json")
    assert record["complete"] is False and record["planned"] == 6
    assert sorted(t["trial"] for t in record["trials"]) == sorted(set(TRIALS) - {"moons-numpy"})
    assert not (out / "moons-numpy").exists()  # no one trained into it from here

    code, printed, err = cli(*SWEEP, "--workers", "4")
    assert code == 0, err
    assert "  1 unfinished trial(s) asked for again\n" in printed
    assert "  --workers 4: 1 trial left and 16 cores: using 1\n" in printed
    assert "6 trials: 6 completed" in printed and "still running" not in printed
    record = read_json(out / "sweep.json")
    assert record["complete"] is True and record["workers"] == 1
    assert [t["trial"] for t in record["trials"]] == TRIALS


def test_a_trial_running_on_another_machine_keeps_the_sweep_unfinished(cli):
    """A shared study: another machine's worker runs a trial (RUNNING, with a fresh
    heartbeat); this machine runs the rest and does not call the sweep complete."""
    out = cli.cwd / "S"
    code, _, err = cli("sweep", "mlp-toy-compare", *KEYS, "--workers", "0", "--out", "S")
    assert code == 2 and not out.exists()
    out.mkdir()
    study = optuna.create_study(
        study_name=STUDY, storage=f"sqlite:///{out / 'sweep.db'}", direction="maximize"
    )
    study.set_user_attr(
        "identity",
        {
            "sweep": "mlp-toy-compare",
            "overrides": {"epochs": "1", "eval_freq": "1", "n_samples": "40", "batch_size": "0"},
            "search_space": None,
        },
    )
    # Trial 0, as the other machine's GridSampler made it: the first trials take the grid
    # point of their number (its order is shuffled, with a fixed seed).
    (name,) = optuna.samplers.GridSampler({"trial": TRIALS})._all_grids[0]
    study.add_trial(
        create_trial(
            state=TrialState.RUNNING,
            params={"trial": name},
            distributions={"trial": optuna.distributions.CategoricalDistribution(TRIALS)},
            user_attrs={"dir": name, "host": "node7"},
            system_attrs={"grid_id": 0, "search_space": {"trial": TRIALS}},
        )
    )
    storage = optuna.storages.RDBStorage(f"sqlite:///{out / 'sweep.db'}", heartbeat_interval=30)
    storage.record_heartbeat(study.trials[-1]._trial_id)

    code, printed, err = cli(*SWEEP)
    assert code == 0, err
    assert STILL_RUNNING in printed and "\n5 of 6 trials finished (5 completed); " in printed
    record = read_json(out / "sweep.json")
    assert record["complete"] is False and name not in [t["trial"] for t in record["trials"]]
    assert not (out / name).exists()


# --- --workers ---
@pytest.mark.parametrize("workers", ["30", "100000"])
def test_workers_are_capped_at_the_trials_left_and_the_cores(cli, monkeypatch, workers):
    monkeypatch.setattr("classicnets.runner.sweep.run.cpu_cores", lambda: 2)
    code, printed, err = cli(*SWEEP, "--workers", workers)
    assert code == 0, err
    lines = printed.splitlines()
    assert lines[:2] == [
        "sweep mlp-toy-compare: 6 runs into S/ on 2 workers",
        f"  --workers {workers}: 6 trials left and 2 cores: using 2",
    ]
    record = read_json(cli.cwd / "S" / "sweep.json")
    assert record["workers"] == 2 and record["threads_per_worker"] == 1
    assert record["complete"] is True and "6 trials: 6 completed" in printed

    # Nothing left: nothing started, and nothing to say about workers.
    asked = len(_study(cli.cwd / "S").trials)  # 6, and a pruned duplicate where two raced
    code, printed, err = cli(*SWEEP, "--workers", workers)
    assert code == 0, err
    assert "--workers" not in printed and len(_study(cli.cwd / "S").trials) == asked


WATCHER = """
import os, sys, time
if sys.argv[2] == "polling":
    del os.pidfd_open  # as on a system without pidfds
from classicnets import robust
robust.stop_on_sigterm()
robust.end_with(int(sys.argv[1]))
try:  # "watching" inside the try: the test may kill the watched process as soon as it reads it
    print("watching", flush=True)
    time.sleep(60)
except KeyboardInterrupt:  # what SIGTERM raises
    print("ended", flush=True)
"""


@pytest.mark.parametrize("how", ["pidfd", "polling"])
def test_a_process_ends_when_the_one_it_watches_is_killed(how):
    watched = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    watcher = subprocess.Popen(
        [sys.executable, "-c", WATCHER, str(watched.pid), how],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert watcher.stdout.readline() == "watching\n"
        watched.kill()
        watched.wait()
        out, err = watcher.communicate(timeout=30)
        assert (out, watcher.returncode) == ("ended\n", 0), err
    finally:
        watched.kill()
        watcher.kill()


def test_a_trial_killed_after_its_run_finished_is_completed_not_failed(cli):
    """The worker recorded its trial finished (status and summary.json) and was killed before
    Optuna was told: the trial stays RUNNING. Run again, the sweep completes it with the value
    of its own summary.json (validation chose) instead of failing it, and trains it no more."""
    code, _, err = cli(*SWEEP)  # a finished sweep, to take one finished run directory from
    assert code == 0, err
    out = cli.cwd / "S2"
    out.mkdir()
    grids = optuna.samplers.GridSampler({"trial": TRIALS})._all_grids
    grid_id, name = 0, grids[0][0]
    shutil.copytree(cli.cwd / "S" / name, out / name)
    summary = read_json(out / name / "summary.json")
    study = optuna.create_study(
        study_name=STUDY, storage=f"sqlite:///{out / 'sweep.db'}", direction="maximize"
    )
    study.set_user_attr("identity", optuna.load_study(
        study_name=STUDY, storage=f"sqlite:///{cli.cwd / 'S' / 'sweep.db'}"
    ).user_attrs["identity"])  # fmt: skip
    study.add_trial(
        create_trial(
            state=TrialState.RUNNING,
            params={"trial": name},
            distributions={"trial": optuna.distributions.CategoricalDistribution(TRIALS)},
            user_attrs={"dir": name, "host": socket.gethostname(), "status": summary["status"]},
            system_attrs={"grid_id": grid_id, "search_space": {"trial": TRIALS}},
        )
    )
    before = (out / name / "metrics.jsonl").stat().st_mtime_ns

    code, printed, err = cli("sweep", "mlp-toy-compare", *KEYS, "--out", "S2")
    assert code == 0, err
    assert "6 trials: 6 completed" in printed
    study = optuna.load_study(study_name=STUDY, storage=f"sqlite:///{out / 'sweep.db'}")
    complete = {t.params["trial"]: t.value for t in study.trials if t.state == TrialState.COMPLETE}
    assert sorted(complete) == sorted(TRIALS)
    assert complete[name] == chosen_accuracy(summary)
    assert (out / name / "metrics.jsonl").stat().st_mtime_ns == before  # not trained again
