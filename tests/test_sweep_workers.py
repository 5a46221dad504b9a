"""Sweeps on Optuna: worker processes sharing a study in SQLite or PostgreSQL, trials that
crash, diverge or are killed, running again, and --search."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from dataclasses import replace
from pathlib import Path

import optuna
import pytest

from classicnets.experiments import EXPERIMENTS
from tests.conftest import read_json, read_jsonl

TOY = ["--epochs", "3", "--eval_freq", "1", "--batch_size", "16", "--quiet"]
TRIALS = [f"{d}-{i}" for d in ("moons", "circles", "classification") for i in ("numpy", "torch")]
POSTGRES = os.environ.get(
    "CLASSICNETS_TEST_POSTGRES", "postgresql://classicnets:classicnets@localhost/classicnets"
)


def _study(out: Path, name: str = "mlp-toy-compare:batch_size=16,epochs=3,eval_freq=1"):
    return optuna.load_study(study_name=name, storage=f"sqlite:///{out / 'sweep.db'}")


def _rows(metrics: Path) -> list[dict]:
    return [{k: v for k, v in r.items() if k != "time_s"} for r in read_jsonl(metrics)]


def _check_complete_sweep(out: Path, study) -> None:
    """Every trial ran once, into its own directory, and the record says so."""
    record = read_json(out / "sweep.json")
    assert [t["trial"] for t in record["trials"]] == TRIALS
    assert all(t["status"] == "completed" and t["epochs"] == 3 for t in record["trials"])
    complete = [t for t in study.trials if t.state.name == "COMPLETE"]
    assert sorted(t.params["trial"] for t in complete) == sorted(TRIALS)  # each once
    # Two workers that both saw one trial left and asked at once: the loser records a pruned
    # "duplicate" (its lock was taken) and trains nothing. Nothing else is allowed.
    for t in study.trials:
        assert t.state.name == "COMPLETE" or (
            t.state.name == "PRUNED" and t.user_attrs["status"] == "duplicate"
        ), (t.state, t.user_attrs)
    for name in TRIALS:
        assert len(read_jsonl(out / name / "metrics.jsonl")) == 3 * 4  # train+val+test at 0..3
    assert (out / "figures" / "curves.png").is_file()


def test_two_workers_on_sqlite_share_the_trials_and_the_cores(cli):
    code, out, err = cli("sweep", "mlp-toy-compare", *TOY, "--workers", "2", "--out", "s")
    assert code == 0, err
    sweep = cli.cwd / "s"
    _check_complete_sweep(sweep, _study(sweep))
    record = read_json(sweep / "sweep.json")
    cores = len(os.sched_getaffinity(0))
    assert record["workers"] == 2 and record["threads_per_worker"] == max(1, cores // 2)
    assert record["storage"] == f"sqlite:///{sweep.resolve() / 'sweep.db'}"
    # each trial ran with its share of the cores (mlp-toy asks for one thread anyway)
    assert {read_json(sweep / n / "config.json")["threads"] for n in TRIALS} == {1}
    assert "6 trials: 6 completed" in out

    # Running it again keeps every finished trial: nothing is trained again.
    before = {n: (sweep / n / "metrics.jsonl").stat().st_mtime_ns for n in TRIALS}
    asked = len(_study(sweep).trials)
    code, _, err = cli("sweep", "mlp-toy-compare", *TOY, "--workers", "2", "--out", "s")
    assert code == 0, err
    assert {n: (sweep / n / "metrics.jsonl").stat().st_mtime_ns for n in TRIALS} == before
    assert len(_study(sweep).trials) == asked  # no worker even started


@pytest.fixture
def postgres_url():
    """A throwaway database on the PostgreSQL server that .ci/run starts (dropped after)."""
    psycopg = pytest.importorskip("psycopg")
    try:
        conn = psycopg.connect(POSTGRES, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as error:
        pytest.skip(f"no PostgreSQL server answers at {POSTGRES.split('@')[-1]}: {error}")
    name = f"classicnets_test_{uuid.uuid4().hex[:12]}"
    conn.execute(f"CREATE DATABASE {name}")
    try:
        yield POSTGRES.rsplit("/", 1)[0] + f"/{name}"
    finally:
        conn.execute(f"DROP DATABASE {name} WITH (FORCE)")
        conn.close()


def test_two_workers_share_one_study_in_postgresql(cli, postgres_url):
    code, _, err = cli(
        "sweep", "mlp-toy-compare", *TOY, "--workers", "2", "--storage", postgres_url, "--out", "s"
    )
    assert code == 0, err
    sweep = cli.cwd / "s"
    study = optuna.load_study(
        study_name="mlp-toy-compare:batch_size=16,epochs=3,eval_freq=1",
        storage=postgres_url.replace("postgresql://", "postgresql+psycopg://"),
    )
    _check_complete_sweep(sweep, study)
    asked = len(study.trials)
    assert not (sweep / "sweep.db").exists()
    record = read_json(sweep / "sweep.json")
    assert ":***@" in record["storage"] and "classicnets:classicnets@" not in record["storage"]

    # A second machine joining the finished study (here: another --out) finds nothing left to
    # run, and still writes the table of every trial, from what the workers stored.
    code, out, err = cli(
        "sweep", "mlp-toy-compare", *TOY, "--storage", postgres_url, "--out", "other"
    )
    assert code == 0, err
    record = read_json(cli.cwd / "other" / "sweep.json")
    assert [t["trial"] for t in record["trials"]] == TRIALS
    assert all(t["status"] == "completed" for t in record["trials"])
    assert "ran on other machines" in out
    assert len(study.trials) == asked  # nothing asked for, nothing run


def test_a_crashed_and_a_diverged_trial_are_recorded_and_a_rerun_resumes_the_crash(
    cli, monkeypatch
):
    """circles crashes (its build raises), moons diverges (learning rate 1e4): the sweep goes
    on. Run again, circles is asked for again and finishes; the others are kept."""
    toy = EXPERIMENTS["mlp-toy"]

    def crashing_build(cfg, device):
        if cfg.dataset == "circles":
            raise RuntimeError("simulated crash")
        return toy.build(cfg, device)

    monkeypatch.setitem(EXPERIMENTS, "mlp-toy", replace(toy, build=crashing_build))
    args = ("sweep", "mlp-toy-compare", "--epochs", "3", "--batch_size", "16", "--quiet")
    code, out, err = cli(*args, "--learning_rate", "1e4", "--out", "s")
    assert code == 0, err
    sweep = cli.cwd / "s"
    record = read_json(sweep / "sweep.json")
    status = {t["trial"]: t["status"] for t in record["trials"]}
    assert status["circles-numpy"] == status["circles-torch"] == "failed"
    assert "simulated crash" in record["trials"][2]["error"]
    assert status["moons-numpy"] == status["moons-torch"] == "diverged"
    assert "circles-numpy" in out and "failed: RuntimeError: simulated crash" in out
    assert (sweep / "figures" / "curves.png").is_file()  # from the trials that finished

    monkeypatch.setitem(EXPERIMENTS, "mlp-toy", toy)
    kept = (sweep / "moons-numpy" / "metrics.jsonl").stat().st_mtime_ns
    code, out, err = cli(*args, "--learning_rate", "1e4", "--out", "s")
    assert code == 0, err
    assert "2 unfinished trial(s) asked for again" in out
    status = {t["trial"]: t["status"] for t in read_json(sweep / "sweep.json")["trials"]}
    assert status["circles-numpy"] != "failed" and status["circles-torch"] != "failed"
    assert (sweep / "moons-numpy" / "metrics.jsonl").stat().st_mtime_ns == kept


def _cli(*args: str, cwd: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "classicnets", *args],
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its own process group: the kill takes its workers too
    )


def test_a_sweep_killed_mid_trial_resumes_to_the_uninterrupted_result(tmp_path):
    """SIGKILL to the sweep and its two workers while trials are training; running it again
    finds the dead workers' trials (their locks are free), resumes them from their checkpoints,
    and every trial ends with the metrics of an uninterrupted sweep."""
    args = ["sweep", "mlp-toy-compare", "--epochs", "40", "--eval_freq", "10", "--quiet"]
    args += ["--batch_size", "8"]
    reference = _cli(*args, "--out", "ref", cwd=tmp_path)
    killed = _cli(*args, "--workers", "2", "--out", "s", cwd=tmp_path)
    checkpoints = lambda: list((tmp_path / "s").glob("*/checkpoint.pt"))  # noqa: E731
    deadline = time.monotonic() + 120
    while len(checkpoints()) < 2 and time.monotonic() < deadline and killed.poll() is None:
        time.sleep(0.05)
    assert killed.poll() is None, killed.communicate()
    os.killpg(killed.pid, signal.SIGKILL)
    killed.wait()
    unfinished = [p.parent.name for p in checkpoints() if not (p.parent / "summary.json").exists()]
    assert unfinished, "the kill came after the trials had finished: nothing was tested"

    again = _cli(*args, "--workers", "2", "--out", "s", cwd=tmp_path)
    out, err = again.communicate(timeout=300)
    assert again.returncode == 0, err
    assert reference.wait(timeout=300) == 0
    for name in TRIALS:
        assert _rows(tmp_path / "s" / name / "metrics.jsonl") == _rows(
            tmp_path / "ref" / name / "metrics.jsonl"
        ), name
    study = _study(tmp_path / "s", "mlp-toy-compare:batch_size=8,epochs=40,eval_freq=10")
    assert sorted(t.params["trial"] for t in study.trials if t.state.name == "COMPLETE") == sorted(
        TRIALS
    )


def test_search_draws_trials_by_tpe_and_a_larger_n_adds_more(cli):
    keys = ["--dataset", "digits", "--width", "0.125", "--train_samples", "300"]
    keys += ["--test_samples", "200", "--epochs", "1", "--batch_size", "64", "--quiet"]
    code, out, err = cli("sweep", "cnn-optimizers", *keys, "--search", "3", "--out", "s")
    assert code == 0, err
    sweep = cli.cwd / "s"
    record = read_json(sweep / "sweep.json")
    assert record["search"] == 3
    assert [t["trial"] for t in record["trials"]] == [f"search-{i:04d}" for i in range(3)]
    for t in record["trials"]:
        assert t["keys"]["optimizer"] in ("adam", "sgd", "adagrad")
        assert 1e-5 <= t["keys"]["learning_rate"] <= 1e-1
        assert t["keys"]["width"] == 0.125
        assert t["best"]["val"]["accuracy"] is not None
    assert {p.name for p in (sweep / "figures").iterdir()} >= {"search.png", "table.md"}

    code, out, err = cli("sweep", "cnn-optimizers", *keys, "--search", "4", "--out", "s")
    assert code == 0, err
    assert len(read_json(sweep / "sweep.json")["trials"]) == 4
    assert out.count("search-") == 1  # only the new trial ran


@pytest.mark.parametrize(
    "args, message",
    [
        (["--workers", "0"], "--workers 0: expected 1 or more"),
        (["--storage", "bogus://x"], "--storage bogus://x: cannot open it"),
        (
            ["--storage", "postgresql://u:secret@127.0.0.1:9/db"],
            "--storage postgresql+psycopg://u:***@127.0.0.1:9/db: cannot open it",
        ),
        (["--search", "2"], "unrecognized arguments: --search 2"),
    ],
)
def test_bad_scaling_flags_are_refused_in_one_line(cli, args, message):
    code, _, err = cli("sweep", "mlp-toy-compare", *TOY, *args, "--out", "s")
    assert code == 2
    assert message in err and len(err.strip().splitlines()) == 1
    assert "secret" not in err
    assert not (cli.cwd / "s").exists()  # refused before anything was written


def test_search_needs_a_validation_split(cli):
    code, _, err = cli(
        "sweep", "cnn-optimizers", "--dataset", "digits", "--val_size", "0", "--search", "2"
    )
    assert code == 2 and "--val_size 0: --search scores trials on the validation split" in err
    assert not (cli.cwd / "runs").exists()


def test_the_queue_lock_wraps_the_method_optuna_takes_enqueued_trials_through():
    """workers._queued_study overrides a private Optuna method: an Optuna whose ask no longer
    goes through it would take retries without the lock, as before the fix."""
    import inspect

    import optuna

    assert "self._pop_waiting_trial_id()" in inspect.getsource(optuna.Study.ask)
