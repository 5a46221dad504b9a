"""SIGKILL at any moment, then --resume: every experiment ends bit-identical to a run that was
never stopped.

For each experiment a tiny run A goes uninterrupted. Beside it the same command into B is
killed with SIGKILL (no handler runs, nothing is flushed) at a kill point, resumed with
--resume, killed again, and finally resumed to the end. Kill points are found by watching
B's files, not the clock: after the n-th checkpoint; the moment a checkpoint's temporary
file appears (the kill lands while it is written, or just after the rename); a random
moment after a checkpoint; and, in the slow tier, while the figures are drawn (once
summary.json is there). Right after each kill what B holds must read and agree with A: its
metrics rows (a cut-short last line dropped) are a prefix of A's and its checkpoint loads.
At the end, metrics.jsonl equals A's row by row (every field but time_s, floats exactly), as
do summary.json's status, final and best, the whole last checkpoint (learner, RNG, loop
state but its clocks), best.pt (the chosen weights), the TensorBoard scalars and the
figures' names.

Every process runs `classicnets train ...` with cli.main. The default tier forks them from a
server that has imported classicnets once (tests/forkserver.py): a fresh interpreter spends
6-15 s importing on a busy 2-core machine, and this module would take minutes. The slow tier
(-m slow) starts each as `python3 -m classicnets`, with twice as long runs and more kills.
A and B are each pinned to one core: both then run one intra-op thread, and neither stalls
the other. The tally (kill points tried, identical) is printed at the end of the module.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import torch

from classicnets.records import RunDir
from tests.conftest import read_json
from tests.forkserver import ForkServer
from tests.test_runs import scalars, without_time

# Each run lasts 1-3 s on one core, with an evaluation (and a checkpoint) every ~0.1-0.3 s:
# room for kills between and during checkpoints. (experiment, keys, the key that sets the
# run's length and its value); the slow tier runs them twice as long, for more kill points.
SPECS: dict[str, tuple[str, list[str], tuple[str, int]]] = {
    "mlp-toy-numpy": (
        "mlp-toy",
        ["--impl", "numpy", "--eval_freq", "2", "--batch_size", "1"],
        # ~25 ms an epoch: a random kill point can take half the run, and the named points
        # after it need checkpoints left to land on
        ("--epochs", 60),
    ),
    "mlp-toy-torch": (
        "mlp-toy",
        ["--impl", "torch", "--eval_freq", "1", "--batch_size", "1"],
        ("--epochs", 10),
    ),
    # dropout, batch norm, augmentation, AdamW, a cosine schedule and early stopping: every
    # state a resume must bring back (torch's RNG, running statistics, optimizer moments,
    # schedule step, evaluations since the best)
    "mlp-images": (
        "mlp-images",
        [
            *("--dataset", "digits", "--dnn_hidden_units", "64", "--augment", "true"),
            *("--batch_size", "32", "--patience", "6"),
        ],
        ("--epochs", 16),
    ),
    "cnn": (
        "cnn",
        [
            *("--dataset", "digits", "--width", "0.0625", "--train_samples", "300"),
            *("--augment", "true", "--optimizer", "sgd", "--momentum", "0.9"),
            *("--lr_schedule", "cosine", "--batch_size", "32"),
        ],
        ("--epochs", 8),
    ),
    "rnn-palindrome": (
        "rnn-palindrome",
        [
            *("--cell", "lstm", "--input_length", "5", "--num_hidden", "16"),
            *("--batch_size", "32", "--eval_freq", "20"),
        ],
        ("--train_steps", 300),
    ),
    "rnn-images": (
        "rnn-images",
        [
            *("--dataset", "digits", "--cell", "gru", "--num_hidden", "32"),
            *("--train_samples", "600", "--batch_size", "64"),
        ],
        ("--epochs", 10),
    ),
}


@dataclass
class Watch:
    """What a running process has done to its run directory since the watch began."""

    run: Path
    started: float = field(default_factory=time.monotonic)
    checkpoints: int = 0  # checkpoints written (each one is a new file, renamed into place)
    _seen: tuple[int, int] | None = None

    def __post_init__(self) -> None:
        self._seen = self._identity()

    def _identity(self) -> tuple[int, int] | None:
        try:
            stat = (self.run / "checkpoint.pt").stat()
        except FileNotFoundError:
            return None
        return stat.st_ino, stat.st_mtime_ns

    def poll(self) -> None:
        identity = self._identity()
        if identity is not None and identity != self._seen:
            self._seen = identity
            self.checkpoints += 1

    def writing_checkpoint(self) -> bool:
        return any(self.run.glob(".checkpoint.pt.*.tmp"))


Trigger = Callable[[Watch], bool]


def after_checkpoints(n: int) -> tuple[str, Trigger]:
    return f"after checkpoint {n}", lambda w: w.checkpoints >= n


def while_checkpointing(n: int) -> tuple[str, Trigger]:
    return (
        f"while writing checkpoint {n + 1}",
        lambda w: w.checkpoints >= n and w.writing_checkpoint(),
    )


def at_random(n: int, rng: random.Random) -> tuple[str, Trigger]:
    delay = rng.uniform(0.0, 0.8)
    since: dict[str, float] = {}

    def trigger(w: Watch) -> bool:
        if w.checkpoints < n:
            return False
        since.setdefault("t", time.monotonic())
        return time.monotonic() - since["t"] >= delay

    return f"{delay:.2f} s after checkpoint {n}", trigger


# Kill points that must be hit: a run that ends before one fails the test.
NAMED = ("while writing", "while drawing")


def while_drawing_figures() -> tuple[str, Trigger]:
    return "while drawing figures", lambda w: (w.run / "summary.json").exists()


@dataclass
class Kill:
    point: str
    landed: bool  # False: the run ended before the kill point came
    rows: list[dict] = field(default_factory=list)  # B's rows right after the kill
    step: int | None = None  # the step of B's checkpoint right after the kill
    cut_short: bool = False  # metrics.jsonl's last line had no newline
    mid_write: bool = False  # a checkpoint's temporary file was left behind


class Subprocesses:
    """`python3 -m classicnets ARGV`, each a fresh interpreter: what the slow tier runs."""

    class Child:
        def __init__(self, process: subprocess.Popen, log: Path):
            self.process, self.log = process, log

        @property
        def pid(self) -> int:
            return self.process.pid

        def poll(self) -> int | None:
            return self.process.poll()

        def kill(self) -> None:
            self.process.send_signal(signal.SIGKILL)

        def wait(self) -> int:
            return self.process.wait()

        def output(self) -> str:
            return self.log.read_text()

    def start(self, argv: list[str], cpu: int, log: Path) -> Child:
        with open(log, "ab") as out:
            process = subprocess.Popen(
                [sys.executable, "-m", "classicnets", *argv],
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=out,
                preexec_fn=lambda: os.sched_setaffinity(0, {cpu}),
            )
        return self.Child(process, log)


@pytest.fixture(scope="module")
def forks():
    server = ForkServer()
    yield server
    server.close()


def command(experiment: str, keys: list[str], out: Path, resume: bool) -> list[str]:
    return [
        *("train", experiment, *keys, "--out", str(out), "--quiet", "--device", "cpu"),
        *(["--resume"] if resume else []),
    ]


def _stopped(pid: int) -> bool:
    """SIGSTOP `pid` and wait until it is stopped (or gone): a signal to another process
    lands later, and the point must be checked while nothing moves."""
    os.kill(pid, signal.SIGSTOP)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            return False
        if state in "TtZX":
            return state in "Tt"
        time.sleep(0.0002)
    raise AssertionError(f"process {pid} did not stop within 5 s")


def kill_at(child, run: Path, point: tuple[str, Trigger]) -> Kill:
    """SIGKILL `child` at the point; what the run directory then holds. When the trigger
    fires the child is stopped first and the point checked again: it is killed only if the
    point still holds (a checkpoint still being written, say), else let go to try again at
    the next chance. So a kill that lands, lands at its point."""
    name, trigger = point
    watch = Watch(run)
    while child.poll() is None:
        watch.poll()
        if trigger(watch):
            if not _stopped(child.pid):
                break  # it ended meanwhile
            if trigger(watch):
                child.kill()
                break
            os.kill(child.pid, signal.SIGCONT)
        time.sleep(0.001)
    code = child.wait()
    if code != -signal.SIGKILL:
        assert code == 0, child.output()
        assert not name.startswith(NAMED), f"the run ended before the kill point {name!r}"
        return Kill(name, landed=False)
    record = RunDir(run)
    metrics = record.file("metrics.jsonl")
    text = metrics.read_bytes() if metrics.exists() else b""
    kill = Kill(
        name,
        landed=True,
        rows=record.metrics(),  # must read, whatever the kill cut
        step=record.load_checkpoint()["loop"]["step"],  # and the checkpoint must load
        cut_short=bool(text) and not text.endswith(b"\n"),
        mid_write=any(run.glob(".*.tmp")),
    )
    if name.startswith("while writing"):
        assert kill.mid_write, f"{name}: the kill missed the write"
    return kill


def assert_same(a, b, where: str = "checkpoint") -> None:
    """Nested checkpoint contents equal to the bit: tensors, numbers, containers."""
    if isinstance(a, torch.Tensor):
        assert isinstance(b, torch.Tensor) and torch.equal(a, b), where
    elif isinstance(a, dict):
        assert a.keys() == b.keys(), where
        for key in a:
            assert_same(a[key], b[key], f"{where}/{key}")
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b)):
            assert_same(x, y, f"{where}/{i}")
    else:
        assert a == b, where


def final_state(run: Path) -> dict:
    """The last checkpoint without its clocks: learner, RNG and loop state."""
    checkpoint = RunDir(run).load_checkpoint()
    for clock in ("wall_time_s", "train_time_s"):
        del checkpoint["loop"][clock]
    return checkpoint


def kill_and_resume(
    launch, tmp_path: Path, name: str, points: list[tuple[str, Trigger]], scale: int = 1
) -> list[Kill]:
    """Run A whole and B through the kill points; check B against A; return the kills."""
    experiment, keys, (length_key, length) = SPECS[name]
    keys = [*keys, length_key, str(length * scale)]
    a, b, log = tmp_path / "A", tmp_path / "B", tmp_path / "log"
    cpus = sorted(os.sched_getaffinity(0))
    whole = launch.start(command(experiment, keys, a, resume=False), cpus[0], log)
    kills = []
    for i, point in enumerate(points):
        child = launch.start(command(experiment, keys, b, i > 0), cpus[-1], log)
        kills.append(kill_at(child, b, point))
        if not kills[-1].landed:  # B finished: later points have nothing left to kill
            break
    last = launch.start(command(experiment, keys, b, resume=True), cpus[-1], log)
    assert last.wait() == 0, last.output()
    assert whole.wait() == 0, whole.output()

    rows_a = without_time(RunDir(a).metrics())
    for kill in kills:
        if kill.landed:  # what B held after the kill is what A logged, up to the cut
            assert without_time(kill.rows) == rows_a[: len(kill.rows)], kill.point
            assert kill.step in {r["step"] for r in rows_a}, kill.point
    assert without_time(RunDir(b).metrics()) == rows_a
    summary_a, summary_b = read_json(a / "summary.json"), read_json(b / "summary.json")
    for key in ("status", "final", "best", "steps", "epochs"):
        assert summary_b[key] == summary_a[key], key
    assert_same(final_state(a), final_state(b))
    # the chosen model too (runs without a validation split choose none)
    assert (a / "best.pt").exists() == (b / "best.pt").exists()
    if (a / "best.pt").exists():
        assert_same(RunDir(a).load_best(), RunDir(b).load_best(), "best.pt")
    assert scalars(b) == scalars(a)  # the resumed segments replace what the killed ones logged
    assert sorted(p.name for p in (b / "figures").iterdir()) == sorted(
        p.name for p in (a / "figures").iterdir()
    )
    assert not list(b.rglob("*.tmp"))
    return kills


@pytest.fixture(scope="module")
def tally(request: pytest.FixtureRequest):
    """Kill points per experiment: (landed, ended identical); printed when the module ends."""
    counts: dict[str, list[Kill]] = {}
    yield counts
    plugins = request.config.pluginmanager
    reporter, capture = plugins.get_plugin("terminalreporter"), plugins.get_plugin("capturemanager")
    if reporter is None or not counts:
        return
    landed = [k for kills in counts.values() for k in kills if k.landed]
    lines = [""]
    for name, kills in counts.items():
        hit = [k for k in kills if k.landed]
        lines.append(
            f"kill points {name}: {len(hit)} tried, {len(hit)} identical "
            f"({sum(k.mid_write for k in hit)} mid-checkpoint-write, "
            f"{sum(k.cut_short for k in hit)} with a cut-short metrics line)"
        )
    lines.append(
        f"kill points: {len(landed)} across {len(counts)} experiments, {len(landed)} identical"
    )
    with capture.global_and_fixture_disabled():  # shown without -s
        for line in lines:
            reporter.write_line(line)


def record(tally: dict[str, list[Kill]], name: str, kills: list[Kill]) -> None:
    """Only a run that ended identical reaches here: each kill that landed counts as one."""
    assert any(k.landed for k in kills), f"{name}: no kill landed before the run ended"
    tally[name] = tally.get(name, []) + kills


@pytest.mark.parametrize("name", list(SPECS))
def test_sigkill_then_resume_is_bit_identical(forks, tmp_path, tally, name):
    # Two kill points per experiment, the kinds spread over the experiments: one after the
    # 2nd checkpoint; then, in the resumed run, one while a checkpoint is being written or
    # at a random moment.
    index = list(SPECS).index(name)
    rng = random.Random(index)
    second = while_checkpointing(1) if index % 2 == 0 else at_random(1, rng)
    kills = kill_and_resume(forks, tmp_path, name, [after_checkpoints(2), second])
    record(tally, name, kills)


@pytest.mark.slow
@pytest.mark.parametrize("name", list(SPECS))
def test_many_sigkills_then_resume_is_bit_identical(tmp_path, tally, name):
    rng = random.Random(f"slow-{name}")
    points = [  # the named ones (a write, the figures) where the run surely has them left
        while_checkpointing(1),
        after_checkpoints(2),
        while_checkpointing(1),
        at_random(1, rng),
        at_random(2, rng),
        while_drawing_figures(),
    ]
    record(tally, name, kill_and_resume(Subprocesses(), tmp_path, name, points, scale=2))
