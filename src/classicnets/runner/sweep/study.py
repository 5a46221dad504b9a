"""The Optuna side of a sweep: the storage, the study, its samplers, and reading the trials.

A grid sweep's trials are the points of Optuna's GridSampler (one categorical axis, the trial
names, so a grid may mix experiments: mlp-vs-cnn). `--search N` asks TPE for N trials over
the ranges the sweep declares. The study lives in `--storage`: SQLite in the sweep directory
by default, or a PostgreSQL database that workers on any number of machines share.

What the study says is read as data someone else may have written (a shared database):
a trial's run directory must be one the plan itself names, else it is refused before any
file is touched (`trial_dir`).
"""

from __future__ import annotations

import re
import socket
from pathlib import Path
from typing import Any

from classicnets.errors import UsageError, one_line, shown
from classicnets.records import RunDir, chosen_accuracy
from classicnets.runner.run import FINISHED
from classicnets.runner.sweep.locks import locked
from classicnets.runner.sweep.plan import SEARCH_DIR, Plan

HEARTBEAT_S = 30  # a running trial's worker writes a heartbeat this often ...
GRACE_S = 120  # ... and one silent for this long is taken for dead (its trial: failed)


def storage_url(url: str | None, out: Path) -> str:
    """The storage URL: SQLite in the sweep directory unless given. postgresql:// means
    psycopg 3, the driver classicnets installs (SQLAlchemy would assume psycopg2)."""
    if url is None:
        return f"sqlite:///{out.resolve() / 'sweep.db'}"
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def shown_url(url: str) -> str:
    """The URL with any password masked, as messages and sweep.json show it.

    Masked by hand, before any parser sees it: a URL a parser rejects would otherwise be
    echoed whole. Everything between "scheme://" and the last "@" of the authority is the
    user and password; the password is what follows the user's first ":" (a password may
    hold "@", ":", "/" or "%").
    """
    scheme, sep, rest = url.partition("://")
    at = rest.rfind("@")
    if not sep or at < 0:  # no user part: nothing to hide, unless it is not a URL at all
        return shown(url) if "@" not in url else shown("***" + url[url.rfind("@") :])
    user, colon, _ = rest[:at].partition(":")
    return shown(f"{scheme}://{user}{':***' if colon else ''}@{rest[at + 1 :]}")


def scrub(text: str, url: str) -> str:
    """`text` (a library's message about `url`) with the URL's password masked: the whole
    of it, and each piece of it between "@", ":", "/" and "%" (a parser that splits the URL
    elsewhere than we do takes a piece of the password for the host, and may echo it).
    Pieces of one or two characters are left: masking them would garble every word."""
    text = text.replace(url, shown_url(url))
    password = _password(url)
    pieces = {p for p in (password, *re.split(r"[@:/%]", password)) if len(p) >= 3}
    for piece in sorted(pieces, key=len, reverse=True):
        text = text.replace(piece, "***")
    return text


def open_storage(url: str):
    import warnings

    import optuna

    optuna.logging.set_verbosity(optuna.logging.ERROR)
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
    # SQLite serialises writers: wait for a busy database instead of failing at once.
    engine = {"connect_args": {"timeout": 60}} if url.startswith("sqlite") else {}
    if url.startswith("postgresql+psycopg://"):
        _need_psycopg(url)
    try:
        return optuna.storages.RDBStorage(
            url, engine_kwargs=engine, heartbeat_interval=HEARTBEAT_S, grace_period=GRACE_S
        )
    except Exception as error:
        reason = scrub(one_line(error), url)
        raise UsageError(
            f"--storage {shown_url(url)}: cannot open it ({reason}); pass "
            "sqlite:///FILE or postgresql://USER:PASSWORD@HOST/DATABASE of a running server"
        ) from None


def _need_psycopg(url: str) -> None:
    """PostgreSQL is an extra: without psycopg, one line that names it."""
    try:
        import psycopg  # noqa: F401
    except ImportError:
        raise UsageError(
            f"--storage {shown_url(url)}: PostgreSQL needs the psycopg driver; "
            "pip install 'classicnets[postgres]'"
        ) from None


def _password(url: str) -> str:
    rest = url.partition("://")[2]
    credentials = rest[: rest.rfind("@")] if "@" in rest else ""
    return credentials.partition(":")[2]


def open_study(plan: Plan, identity: dict[str, Any]):
    """The study in the storage, made or continued: one made with other keys is refused."""
    import optuna

    storage = open_storage(plan.storage)
    try:
        study = optuna.create_study(
            study_name=plan.study, storage=storage, direction="maximize", load_if_exists=True
        )
    except Exception as error:
        raise UsageError(
            f"--storage {shown_url(plan.storage)}: cannot make study {plan.study} "
            f"({type(error).__name__}); check that the database accepts writes"
        ) from None
    saved = study.user_attrs.get("identity")
    if isinstance(saved, dict) and "seeds" not in saved:  # made before --seeds: one seed
        saved = {**saved, "seeds": 1}
    if saved is None:
        study.set_user_attr("identity", identity)
    elif saved != identity:
        differing = next(
            (k for k in identity if not isinstance(saved, dict) or saved.get(k) != identity[k]),
            "identity",
        )
        was = saved.get(differing) if isinstance(saved, dict) else saved
        raise UsageError(
            f"study {plan.study} in {shown_url(plan.storage)} was run with {differing} "
            f"{was!r}, not {identity[differing]!r}; use the same keys to continue it, or "
            "another --out (or --storage)"
        )
    return study


def sampler(plan: Plan, worker: int):
    import optuna

    if plan.search:
        # constant_liar: running trials count as bad guesses, so parallel workers spread out;
        # the seed wraps into numpy's range (a --seed of 2**32 - 1 plus a worker's number)
        seed = (plan.seed + worker) % 2**32
        return optuna.samplers.TPESampler(seed=seed, constant_liar=True)

    class Grid(optuna.samplers.GridSampler):
        """GridSampler, which also runs a retry enqueued by name: such a trial has no
        grid_id, on which GridSampler.after_trial raises KeyError when one point is left
        (it only decides when the study may stop; our workers ask `wanted` instead)."""

        def after_trial(self, study, trial, state, values) -> None:  # type: ignore[override]
            if "grid_id" in trial.system_attrs:
                super().after_trial(study, trial, state, values)

    return Grid({"trial": [name for name, _, _ in plan.trials]})


# With --prune: a trial is stopped at an evaluation where its validation accuracy is below
# the median of the finished trials' at the same epoch (Optuna's MedianPruner). Neither rule
# below is a tuning knob to hide: both keep the median meaningful.
PRUNE_WARMUP = 1  # epochs: the evaluation at epoch 0 (the initial weights) never prunes
PRUNE_STARTUP_MAX = 5  # Optuna's default: this many trials finish before any is pruned ...


def prune_startup(search: int) -> int:
    """... or half the search, if smaller: a search of 6 may prune its last 3 trials."""
    return max(1, min(PRUNE_STARTUP_MAX, search // 2))


def pruner(plan: Plan):
    """The study's pruner for this plan's workers (Optuna keeps it outside the storage)."""
    import optuna

    if not plan.prune:
        return optuna.pruners.NopPruner()
    return optuna.pruners.MedianPruner(
        n_startup_trials=prune_startup(plan.search), n_warmup_steps=PRUNE_WARMUP
    )


# --- reading the study ---
def status(trial: Any) -> str | None:
    value = trial.user_attrs.get("status")
    return value if isinstance(value, str) else None


def trial_dir(plan: Plan, trial: Any) -> str | None:
    """The run directory a trial trains into, if the study names one the plan allows:
    a grid point's name, or search-NNNN. None: a trial that never got that far. Anything
    else (a path, "..", another sweep's name) was not written by a worker of this plan."""
    name = trial.user_attrs.get("dir") or trial.params.get("trial")
    if name is None:
        return None
    allowed = isinstance(name, str) and (
        SEARCH_DIR.fullmatch(name) if plan.search else name in {n for n, _, _ in plan.trials}
    )
    if not allowed:
        raise UsageError(
            f"study {plan.study} in {shown_url(plan.storage)}: trial {trial.number} names "
            f"the run directory {shown(str(name))!r}, which this sweep does not make; the "
            "study was changed by something else: use another --storage (or --out)"
        )
    return name


def finished_dirs(plan: Plan, study: Any) -> set[str]:
    trials = study.get_trials(deepcopy=False)
    return {trial_dir(plan, t) for t in trials if status(t) in FINISHED}


def check_dirs(plan: Plan, study: Any) -> None:
    """Refuse a study whose trials name run directories this plan does not make."""
    for t in study.get_trials(deepcopy=False):
        trial_dir(plan, t)


def requeue(plan: Plan, study: Any) -> int:
    """Before workers start: fail the RUNNING trials of dead workers on this machine (their
    lock is free), then ask again for every trial that has not finished and is not running.
    Returns the number asked for again."""
    import optuna
    from optuna.trial import TrialState

    out = Path(plan.out)
    check_dirs(plan, study)
    host = socket.gethostname()
    for t in study.get_trials(deepcopy=False):
        mine = t.state == TrialState.RUNNING and t.user_attrs.get("host") == host
        name = trial_dir(plan, t)
        if mine and (name is None or not locked(out, name)):
            _close_dead(study, t, out / name if name else None)
    optuna.storages.fail_stale_trials(study)  # other machines' dead workers: by heartbeat
    trials = study.get_trials(deepcopy=False)
    done = {trial_dir(plan, t) for t in trials if status(t) in FINISHED}
    busy = {
        trial_dir(plan, t) for t in trials if t.state in (TrialState.RUNNING, TrialState.WAITING)
    }
    again = {}
    for t in trials:
        name = trial_dir(plan, t)
        # A "duplicate" lost its trial to a lock holder that did not finish it (another
        # process, gone since): asked for again too, else the grid point stays "started".
        lost = t.state == TrialState.FAIL or status(t) == "duplicate"
        if lost and name and name not in done | busy:
            again[name] = t  # the latest try of each
    for name, t in again.items():
        # A grid point is asked for again by its name alone. The retry has fixed params and
        # no grid_id: sampler()'s Grid is the GridSampler that copes with that.
        params = {"trial": name} if not plan.search else t.params
        study.enqueue_trial(params, user_attrs={"dir": name})
    return len(again)


def _close_dead(study: Any, trial: Any, run: Path | None) -> None:
    """A dead worker's RUNNING trial. Killed after its worker recorded the run finished but
    before Optuna was told: COMPLETE, with the value read from the run's own summary.json
    (checked against its schema), not from the study. Else FAIL, to be asked for again."""
    from optuna.trial import TrialState

    if status(trial) in FINISHED and run is not None:
        summary = RunDir(run).summary()
        if summary and summary["status"] == "pruned":  # stopped by the pruner: it stays so
            study.tell(trial.number, state=TrialState.PRUNED)
            return
        value = chosen_accuracy(summary) if summary and summary["status"] in FINISHED else None
        if value is not None:
            study.tell(trial.number, value)
            return
    study.tell(trial.number, state=TrialState.FAIL)


def trials_left(plan: Plan, study: Any) -> int:
    """The trials a worker may still start: planned, neither finished nor running."""
    from optuna.trial import TrialState

    trials = study.get_trials(deepcopy=False)
    done = {trial_dir(plan, t) for t in trials if status(t) in FINISHED}
    running = {
        trial_dir(plan, t) or f"#{t.number}" for t in trials if t.state == TrialState.RUNNING
    }
    if plan.search:
        return max(0, plan.search - len((done | running) - {None}))
    return sum(name not in done | running for name, _, _ in plan.trials)


def running_elsewhere(plan: Plan, study: Any) -> list[str]:
    """Once this process's workers are done: the unfinished trials another live process
    trains. On this machine, one whose lock is held; on another, one the study shows
    RUNNING with a fresh heartbeat (a stale one is failed here, as at the start)."""
    import optuna
    from optuna.trial import TrialState

    out = Path(plan.out)
    host = socket.gethostname()
    optuna.storages.fail_stale_trials(study)
    trials = study.get_trials(deepcopy=False)
    done = {trial_dir(plan, t) for t in trials if status(t) in FINISHED}
    names = [trial_dir(plan, t) for t in trials] if plan.search else [n for n, _, _ in plan.trials]
    busy = {n for n in dict.fromkeys(names) if n and n not in done and locked(out, n)}
    for t in trials:
        name = trial_dir(plan, t)
        if t.state == TrialState.RUNNING and name not in done and t.user_attrs.get("host") != host:
            busy.add(name or f"#{t.number}")
    return sorted(busy)


def wanted(plan: Plan, study: Any) -> bool:
    """Is there a trial left for a worker to start?"""
    from optuna.trial import TrialState

    trials = study.get_trials(deepcopy=False)
    if any(t.state == TrialState.WAITING for t in trials):
        return True
    if plan.search:
        counted = [t for t in trials if t.state == TrialState.RUNNING or status(t) in FINISHED]
        return len(counted) < plan.search
    started = {trial_dir(plan, t) for t in trials}
    return any(name not in started for name, _, _ in plan.trials)
