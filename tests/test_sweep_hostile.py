"""A sweep against input it did not write: a study changed by something else (a shared
database) that names run directories outside the sweep, storage URLs whose passwords must
never be printed or written, and a grid continued after a Ctrl-C."""

from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace

import optuna
import pytest
from optuna.trial import TrialState, create_trial

from classicnets.errors import UsageError
from classicnets.experiments import EXPERIMENTS
from classicnets.runner.sweep import study as studies
from classicnets.runner.sweep.plan import Plan
from tests.conftest import read_json

TRIALS = [f"{d}-{i}" for d in ("moons", "circles", "classification") for i in ("numpy", "torch")]
KEYS = ["--epochs", "1", "--eval_freq", "1", "--n_samples", "40", "--batch_size", "0", "--quiet"]
STUDY = "mlp-toy-compare:batch_size=0,epochs=1,eval_freq=1,n_samples=40"
SWEEP = ["sweep", "mlp-toy-compare", *KEYS, "--out", "S"]


def _study(out: Path) -> optuna.Study:
    return optuna.load_study(study_name=STUDY, storage=f"sqlite:///{out / 'sweep.db'}")


def _files(root: Path) -> dict[Path, bytes]:
    return {p: p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def _runs(out: Path) -> dict[Path, bytes]:
    """Every file of a sweep directory but its study (SQLite's, which Optuna may touch)."""
    return {p: data for p, data in _files(out).items() if not p.name.startswith("sweep.db")}


@pytest.fixture(scope="module")
def finished_sweep(tmp_path_factory) -> Path:
    """The tiny grid, run to its end once (a few seconds); tests take copies of it."""
    from classicnets.cli import main

    out = tmp_path_factory.mktemp("sweep") / "S"
    assert main([*SWEEP[:-1], str(out)]) == 0
    return out


def _refusal(out: Path, number: int, name: str) -> str:
    return (
        f"classicnets: error: study {STUDY} in sqlite:///{out.resolve() / 'sweep.db'}: trial "
        f"{number} names the run directory {name!r}, which this sweep does not make; the study "
        "was changed by something else: use another --storage (or --out)\n"
    )


# --- a. a study that names run directories outside the sweep ---
@pytest.mark.parametrize("where", ["relative", "absolute"])
def test_a_tampered_study_naming_a_directory_outside_the_sweep_is_refused(
    cli, finished_sweep, where
):
    out = cli.cwd / "S"
    shutil.copytree(finished_sweep, out)
    victim = cli.cwd / "victim"
    victim.mkdir()
    (victim / "keep.txt").write_text("mine")
    name = "../victim" if where == "relative" else str(victim)
    study = _study(out)
    study.add_trial(create_trial(state=TrialState.FAIL, user_attrs={"dir": name}))
    number = study.trials[-1].number
    assert number == len(TRIALS)
    before = _runs(out)

    code, _, err = cli(*SWEEP)
    assert code == 2
    assert err == _refusal(out, number, name)
    assert (victim / "keep.txt").read_text() == "mine"  # not resumed into, not removed
    assert sorted(p.name for p in victim.iterdir()) == ["keep.txt"]
    locks = sorted(cli.cwd.rglob("*.lock"))
    held = [".queue.lock", *(f"{t}.lock" for t in TRIALS)]  # the sweep's own: none for victim
    assert locks == sorted(out / ".locks" / name for name in held)
    assert _runs(out) == before  # sweep.json, its figures and the runs: all as they were


def test_a_tampered_study_naming_a_directory_that_is_not_text_is_refused(cli, finished_sweep):
    out = cli.cwd / "S"
    shutil.copytree(finished_sweep, out)
    _study(out).add_trial(create_trial(state=TrialState.FAIL, user_attrs={"dir": ["x"]}))
    code, _, err = cli(*SWEEP)
    assert code == 2
    assert err == _refusal(out, len(TRIALS), "['x']")


def test_an_untampered_copy_of_the_sweep_runs_again_and_trains_nothing(cli, finished_sweep):
    """The control for the test above: the copy itself is a sweep that continues."""
    out = cli.cwd / "S"
    shutil.copytree(finished_sweep, out)
    metrics = {t: (out / t / "metrics.jsonl").read_bytes() for t in TRIALS}
    code, printed, err = cli(*SWEEP)
    assert code == 0, err
    assert "6 trials: 6 completed" in printed
    assert {t: (out / t / "metrics.jsonl").read_bytes() for t in TRIALS} == metrics
    assert len(_study(out).trials) == len(TRIALS)


def _trial(number: int = 3, **user_attrs) -> SimpleNamespace:
    params = user_attrs.pop("params", {})
    return SimpleNamespace(user_attrs=user_attrs, params=params, number=number)


SEARCH = Plan(
    "cnn-optimizers", "cnn-optimizers-search", "sqlite:////s/sweep.db", "/s", (), search=2
)
GRID = Plan(
    "mlp-toy-compare",
    STUDY,
    "sqlite:////s/sweep.db",
    "/s",
    tuple((t, "mlp-toy", {}) for t in TRIALS),
)


def test_trial_dir_takes_the_directories_the_plan_makes():
    assert studies.trial_dir(SEARCH, _trial(dir="search-0001")) == "search-0001"
    assert studies.trial_dir(SEARCH, _trial(dir="search-12345")) == "search-12345"
    assert studies.trial_dir(GRID, _trial(dir="moons-numpy")) == "moons-numpy"
    assert studies.trial_dir(GRID, _trial(params={"trial": "circles-torch"})) == "circles-torch"
    assert studies.trial_dir(SEARCH, _trial()) is None  # asked for, never got to a directory
    assert studies.trial_dir(GRID, _trial()) is None


@pytest.mark.parametrize(
    "plan, name",
    [
        (SEARCH, "../x"),
        (SEARCH, "/etc"),
        (SEARCH, "search-1/../../x"),
        (SEARCH, "search-0001/../../x"),
        (SEARCH, "search-0001\n"),
        (SEARCH, "search-01"),
        (SEARCH, "moons-numpy"),  # a grid's name in a search
        (GRID, "../x"),
        (GRID, "/etc"),
        (GRID, "search-0001"),  # a search's name in a grid
        (GRID, "moons-numpy/../../x"),
    ],
)
def test_trial_dir_refuses_any_other_directory(plan, name):
    with pytest.raises(UsageError) as caught:
        studies.trial_dir(plan, _trial(7, dir=name))
    shown = name if name.isprintable() else ascii(name)
    assert str(caught.value) == (
        f"study {plan.study} in sqlite:////s/sweep.db: trial 7 names the run directory "
        f"{shown!r}, which this sweep does not make; the study was changed by something else: "
        "use another --storage (or --out)"
    )


def test_trial_dir_refuses_a_grid_directory_named_by_params_alone():
    with pytest.raises(UsageError, match=r"trial 3 names the run directory '\.\./x'"):
        studies.trial_dir(GRID, _trial(params={"trial": "../x"}))


@pytest.mark.parametrize(
    "plan, value",
    [
        (SEARCH, 5),
        (SEARCH, ["search-0001"]),
        (SEARCH, {"a": 1}),
        (GRID, 5),
        (GRID, ["moons-numpy"]),
        (GRID, {"a": 1}),
    ],
)
def test_trial_dir_refuses_a_directory_that_is_not_text(plan, value):
    with pytest.raises(UsageError, match=r"^study .*: trial 3 names the run directory "):
        studies.trial_dir(plan, _trial(dir=value))


# --- b. passwords never printed, never written ---
# (URL, the password in it, the URL as messages show it)
URLS = [
    (
        "postgresql://u:s3cr%t@127.0.0.1:notaport/db",
        "s3cr%t",
        "postgresql+psycopg://u:***@127.0.0.1:notaport/db",
    ),
    ("postgresql://u:s3cr@t@[::1/db", "s3cr@t", "postgresql+psycopg://u:***@[::1/db"),
    (
        "postgresql://u:pa:ss/wd@127.0.0.1:1/db",
        "pa:ss/wd",
        "postgresql+psycopg://u:***@127.0.0.1:1/db",
    ),
    ("postgres://u:hunter2@@host/db", "hunter2", "postgresql+psycopg://u:***@host/db"),
    ("mysql://u:hunter2@localhost/db", "hunter2", "mysql://u:***@localhost/db"),
    ("notaurl-u:hunter2@x", "hunter2", "***@x"),
]
CANNOT_OPEN = (
    "); pass sqlite:///FILE or postgresql://USER:PASSWORD@HOST/DATABASE of a running server\n"
)


def _no_secret_anywhere(root: Path, out: str, err: str, secret: str) -> None:
    assert secret not in out and secret not in err
    for path, data in _files(root).items():
        assert secret.encode() not in data, path


@pytest.mark.parametrize("url, password, shown", URLS, ids=[u for u, _, _ in URLS])
def test_a_storage_that_cannot_be_opened_is_refused_without_its_password(cli, url, password, shown):
    code, out, err = cli("sweep", "mlp-toy-compare", "--storage", url, "--out", "S", "--quiet")
    assert code == 2  # bad input: one line, never a traceback
    assert len(err.splitlines()) == 1 and "Traceback" not in err
    assert err.startswith(f"classicnets: error: --storage {shown}: cannot open it (")
    assert err.endswith(CANNOT_OPEN)
    _no_secret_anywhere(cli.cwd, out, err, password)
    assert not (cli.cwd / "S").exists()  # refused before anything was written


def test_the_tail_of_a_password_holding_an_at_sign_is_not_printed(cli):
    url = "postgresql://u:abc@hunter2@127.0.0.1:1/db"
    code, out, err = cli("sweep", "mlp-toy-compare", "--storage", url, "--out", "S", "--quiet")
    assert code == 2
    assert err.startswith(
        "classicnets: error: --storage postgresql+psycopg://u:***@127.0.0.1:1/db: cannot open it ("
    )
    _no_secret_anywhere(cli.cwd, out, err, "hunter2")


@pytest.mark.parametrize("url, password, shown", URLS, ids=[u for u, _, _ in URLS])
def test_shown_url_masks_the_password_and_keeps_the_user(url, password, shown):
    assert studies.shown_url(url) == shown.replace(
        "postgresql+psycopg://", url.split("://")[0] + "://"
    )
    assert password not in studies.shown_url(url)
    assert password not in studies.shown_url(studies.storage_url(url, Path("S")))
    assert studies.shown_url(studies.storage_url(url, Path("S"))) == shown
    if "://" in url:
        assert "://u:***@" in studies.shown_url(url)  # the user is kept, the password masked
    # a library's message that quotes the URL is scrubbed too
    said = studies.scrub(f"cannot connect to {url}: refused", url)
    assert said == f"cannot connect to {studies.shown_url(url)}: refused"


def test_scrub_masks_the_password_where_a_message_quotes_it_alone():
    url = "postgresql://u:s3cr:et@127.0.0.1:1/db"
    assert studies.scrub("password 's3cr:et' refused", url) == "password '***' refused"


def test_scrub_masks_the_tail_of_a_password_that_a_library_took_for_the_host():
    url = "postgresql://u:abc@hunter2@127.0.0.1:1/db"
    said = studies.scrub("failed to resolve host 'hunter2@127.0.0.1'", url)
    assert "hunter2" not in said


def test_shown_url_leaves_a_url_without_a_password_as_it_is():
    assert studies.shown_url("sqlite:////tmp/s/sweep.db") == "sqlite:////tmp/s/sweep.db"
    assert studies.shown_url("postgresql://u@host/db") == "postgresql://u@host/db"
    assert studies.shown_url("postgresql://host/db") == "postgresql://host/db"
    assert studies.shown_url("sqlite:///a\nb") == ascii("sqlite:///a\nb")  # one line


# --- c. a grid continued after a Ctrl-C ---
def test_a_grid_interrupted_with_one_point_left_finishes_when_run_again(cli, monkeypatch):
    """Ctrl-C during the fifth of six grid trials: the study holds four completed trials, one
    failed ("interrupted") and one grid point never asked for. Run again, the interrupted
    trial is enqueued by name (no grid_id) and runs first; Optuna's GridSampler.after_trial,
    seeing one point left, looked up the trial's grid_id and raised KeyError 'grid_id' (the
    sweep crashed with a traceback) before study.sampler's Grid skipped it for such retries."""
    toy = EXPERIMENTS["mlp-toy"]
    builds = []

    def interrupted_on_the_fifth(cfg, device):
        builds.append(cfg.dataset)
        if len(builds) == 5:
            raise KeyboardInterrupt  # what Ctrl-C raises in the worker
        return toy.build(cfg, device)

    monkeypatch.setitem(EXPERIMENTS, "mlp-toy", replace(toy, build=interrupted_on_the_fifth))
    code, _, err = cli(*SWEEP)
    assert code == 1
    assert err == "classicnets: interrupted; continue with --resume (sweeps: run them again)\n"
    out = cli.cwd / "S"
    trials = _study(out).trials
    states = [(t.state, t.user_attrs.get("status")) for t in trials]
    assert states == [(TrialState.COMPLETE, "completed")] * 4 + [(TrialState.FAIL, "interrupted")]
    assert "grid_id" in trials[-1].system_attrs
    interrupted = trials[-1].user_attrs["dir"]
    assert not (out / interrupted / "summary.json").exists()  # it must run again
    never_asked = set(TRIALS) - {t.user_attrs["dir"] for t in trials}
    assert len(never_asked) == 1

    monkeypatch.setitem(EXPERIMENTS, "mlp-toy", toy)
    code, printed, err = cli(*SWEEP)
    assert code == 0, err
    assert "1 unfinished trial(s) asked for again" in printed
    record = read_json(out / "sweep.json")
    assert [t["trial"] for t in record["trials"]] == TRIALS
    assert all(t["status"] == "completed" for t in record["trials"]), record["trials"]
    for name in TRIALS:
        assert read_json(out / name / "summary.json")["status"] == "completed"
    complete = [t.params["trial"] for t in _study(out).trials if t.state == TrialState.COMPLETE]
    assert sorted(complete) == sorted(TRIALS)  # each once: the retry, then the last point
    assert "6 trials: 6 completed" in printed


# --- d. a search trial whose run directory is on another machine ---
DIGITS_CNN = ["--dataset", "digits", "--width", "0.125", "--train_samples", "200"]
DIGITS_CNN += ["--test_samples", "100", "--epochs", "1", "--batch_size", "64", "--quiet"]


def test_a_search_trial_run_elsewhere_is_read_from_the_study_checked(cli):
    """Its row gets its keys from the drawn values (checked as flags are) and its result
    from the summary its worker stored (checked against summary.json's schema); a tampered
    stored summary is one line naming the study and the trial, and sweep.json is kept."""
    import sqlite3

    args = ["sweep", "cnn-optimizers", *DIGITS_CNN, "--search", "1", "--out", "s"]
    code, _, err = cli(*args)
    assert code == 0, err
    out = cli.cwd / "s"
    here = read_json(out / "sweep.json")["trials"][0]
    shutil.move(out / "search-0000", cli.cwd / "elsewhere")  # as if trained on another machine

    code, printed, err = cli(*args)
    assert code == 0, err
    row = read_json(out / "sweep.json")["trials"][0]
    assert row["keys"] == here["keys"] and row["best"] == here["best"]

    db = sqlite3.connect(out / "sweep.db")
    with db:
        db.execute(
            "UPDATE trial_user_attributes SET value_json = ? WHERE key = 'summary'",
            ('{"status": "completed", "epochs": "x"}',),
        )
    db.close()
    before = (out / "sweep.json").read_bytes()
    code, _, err = cli(*args)
    assert code == 2 and err.count("\n") == 1, err
    assert "trial 0" in err and "epochs" in err
    assert (out / "sweep.json").read_bytes() == before
