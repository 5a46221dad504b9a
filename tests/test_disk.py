"""Disks that fail a run: full mid-run, outputs that cannot be written, a row cut short.

The full disk is a real one: a small tmpfs mounted for the test and filled with a ballast
file to the byte, so that the run's next checkpoint (or its first figure) does not fit;
then the ballast is deleted and --resume finishes the run. Unwritable outputs are a
read-only tmpfs, a path under a regular file, /proc, and (as the unprivileged user nobody)
a directory without write permission: root ignores permission bits, so chmod alone proves
nothing here. Mounting needs root and CAP_SYS_ADMIN: where it is refused, those tests skip
and say so.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from unittest import mock

import pytest

from classicnets.errors import UsageError
from classicnets.records import RunDir, atomic_write
from tests.conftest import read_json, read_jsonl
from tests.test_runs import crash_after_epoch, scalars, without_time

PAGE = 4096  # tmpfs allocates whole pages
FULL_AT = {
    # An MLP whose checkpoint (weights and AdamW's two moments, ~0.5 MB) dwarfs the rest of
    # what the run writes, a page or two each: a disk sized in checkpoints fills where meant.
    "checkpoint": [
        *("mlp-images", "--dataset", "digits", "--dnn_hidden_units", "512"),
        *("--train_samples", "300", "--epochs", "3", "--batch_size", "50", "--patience", "0"),
    ],
    # A toy MLP whose checkpoint (3 pages) is much smaller than its figures (> 10 pages).
    "figures": ["mlp-toy", "--epochs", "4", "--batch_size", "8"],
}


@pytest.fixture
def tmpfs(tmp_path):
    """mount(path, options) -> path: a tmpfs mounted there for the test, unmounted after."""
    mounted: list[Path] = []

    def mount(path: Path, options: str) -> Path:
        path.mkdir(parents=True, exist_ok=True)
        done = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(path)],
            capture_output=True,
            text=True,
        )
        if done.returncode != 0:
            pytest.skip(f"cannot mount a tmpfs here (needs root): {done.stderr.strip()}")
        mounted.append(path)
        return path

    yield mount
    for path in reversed(mounted):
        subprocess.run(["umount", "-l", str(path)], check=False)


def pages(path: Path) -> int:
    return -(-path.stat().st_size // PAGE) * PAGE


def fill(disk: Path, leave: int) -> Path:
    """A ballast file that leaves `leave` bytes free on `disk`."""
    stat = os.statvfs(disk)
    ballast = disk / "ballast"
    with open(ballast, "wb", buffering=0) as f:
        f.write(b"\0" * (stat.f_bavail * stat.f_frsize - leave))
    return ballast


@pytest.mark.parametrize("full_at", list(FULL_AT))
def test_a_full_disk_fails_the_run_in_one_line_and_resume_finishes_it(cli, tmpfs, full_at):
    keys = [*FULL_AT[full_at], "--eval_freq", "1", "--quiet"]
    assert cli("train", *keys, "--out", "whole")[0] == 0
    whole = cli.cwd / "whole"
    checkpoint = pages(whole / "checkpoint.pt")
    records = sum(pages(p) for p in whole.rglob("*") if p.is_file() and p.suffix != ".png")
    records -= checkpoint  # config, metrics, summary and TensorBoard events: a few pages
    # A checkpoint is written beside the last one before it replaces it. "checkpoint": room
    # for one and half another. "figures": room for the whole run (two checkpoints
    # at each save) and a page, so that after the run a checkpoint and a page are left, not
    # enough for curves.png.
    spare = checkpoint // 2 if full_at == "checkpoint" else checkpoint + PAGE
    disk = tmpfs(cli.cwd / "disk", "size=4m")
    ballast = fill(disk, records + checkpoint + spare)
    run = disk / "run"

    code, out, err = cli("train", *keys, "--out", str(run))
    assert code == 1 and err.count("\n") == 1 and "Traceback" not in err, err
    failed = "checkpoint.pt" if full_at == "checkpoint" else "figures/curves.png"
    assert f"disk full (No space left on device) writing '{run / failed}'" in err, err
    assert "free some space, then continue with the same command and --resume" in err
    summary = read_json(run / "summary.json")
    if full_at == "checkpoint":  # the previous checkpoint is whole and the failure recorded
        assert summary["status"] == "failed" and "No space left" in summary["error"]
        # epoch 0's checkpoint holds no AdamW moments yet (made at the first step): it is
        # epoch 2's, beside epoch 1's, that does not fit
        assert RunDir(run).load_checkpoint()["loop"]["epoch"] == 1
    else:
        assert summary["status"] == "completed"
    assert not list(run.rglob("*.tmp"))  # temporaries removed, their space given back
    assert read_jsonl(run / "metrics.jsonl")  # every line whole

    ballast.unlink()  # space again
    code, _, err = cli("train", *keys, "--out", str(run), "--resume")
    assert code == 0, err
    assert without_time(read_jsonl(run / "metrics.jsonl")) == without_time(
        read_jsonl(whole / "metrics.jsonl")
    )
    done, expected = read_json(run / "summary.json"), read_json(whole / "summary.json")
    for key in ("status", "final", "best", "steps"):
        assert done[key] == expected[key], key
    assert scalars(run) == scalars(whole)
    figures = sorted(p.name for p in (whole / "figures").iterdir())
    assert sorted(p.name for p in (run / "figures").iterdir()) == figures


def test_a_disk_full_before_the_first_checkpoint_says_to_start_again(cli, tmpfs):
    keys = [*FULL_AT["checkpoint"], "--eval_freq", "1", "--quiet"]
    disk = tmpfs(cli.cwd / "disk", "size=4m")
    fill(disk, 8 * PAGE)  # config, events, metrics and a summary fit; no checkpoint (40 pages)
    run = disk / "run"
    code, _, err = cli("train", *keys, "--out", str(run))
    assert code == 1 and err.count("\n") == 1, err
    advice = f"free some space, then delete '{run}' and run it again"
    assert f"writing '{run / 'checkpoint.pt'}'; {advice}" in err, err
    assert read_json(run / "summary.json")["status"] == "failed"
    assert not (run / "checkpoint.pt").exists() and not list(run.rglob("*.tmp"))


# TensorBoard's writer thread ends on the error it hands over (the CLI keeps that quiet).
@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
def test_a_full_disk_keeps_every_record_whole(tmp_path, tmpfs):
    """Single writes, on a disk with no page left."""
    disk = tmpfs(tmp_path / "disk", "size=64k")
    run = RunDir(disk / "run")
    run.path.mkdir()
    run.append_metrics([{"step": 0, "epoch": 0, "split": "train", "loss": 1.0}])
    atomic_write(run.file("summary.json"), "old")
    fill(disk, leave=0)
    before = run.file("metrics.jsonl").read_bytes()  # a page with room left in it

    with pytest.raises(OSError) as error:  # takes what fits in the page: then cut back
        run.append_metrics([{"step": 1, "split": "train", "loss": i / 7} for i in range(300)])
    assert error.value.errno == errno.ENOSPC
    assert error.value.filename == str(run.file("metrics.jsonl"))
    assert run.file("metrics.jsonl").read_bytes() == before
    with pytest.raises(OSError) as error:
        run.save_checkpoint({"weights": bytes(100_000)})
    assert error.value.errno == errno.ENOSPC and "checkpoint.pt" in error.value.filename
    with pytest.raises(OSError) as error:
        atomic_write(run.file("summary.json"), "new" * 10_000)
    assert error.value.filename == str(run.file("summary.json"))
    assert run.file("summary.json").read_text() == "old"
    with pytest.raises(OSError) as error:  # raised in TensorBoard's writer thread
        run.tensorboard().add_scalar("train/loss", 1.0, 0)
    assert error.value.errno == errno.ENOSPC and error.value.filename.endswith("tb")
    assert sorted(p.name for p in run.path.iterdir()) == ["metrics.jsonl", "summary.json", "tb"]


def test_an_exceeded_quota_is_reported_as_a_full_disk(cli):
    # tmpfs here has no quotas, and root ignores them: EDQUOT is raised where metrics are
    # written, to check the one path both errors take.
    keys = ["--epochs", "4", "--eval_freq", "1", "--quiet"]
    assert cli("train", "mlp-toy", *keys, "--out", "whole")[0] == 0
    append = RunDir.append_metrics

    def over_quota(self, rows):
        if rows[0]["epoch"] == 2:
            path = str(self.file("metrics.jsonl"))
            raise OSError(errno.EDQUOT, os.strerror(errno.EDQUOT), path)
        append(self, rows)

    with mock.patch.object(RunDir, "append_metrics", over_quota):
        code, _, err = cli("train", "mlp-toy", *keys, "--out", "run")
    assert code == 1 and err.count("\n") == 1, err
    assert "disk full (Disk quota exceeded) writing" in err and "metrics.jsonl" in err
    assert read_json(cli.cwd / "run" / "summary.json")["status"] == "failed"
    assert cli("train", "mlp-toy", *keys, "--out", "run", "--resume")[0] == 0
    assert without_time(read_jsonl(cli.cwd / "run" / "metrics.jsonl")) == without_time(
        read_jsonl(cli.cwd / "whole" / "metrics.jsonl")
    )


def test_a_last_metrics_line_cut_short_is_not_read_and_resume_drops_it(cli):
    keys = ["--epochs", "6", "--eval_freq", "2", "--batch_size", "4", "--quiet"]
    assert cli("train", "mlp-toy", *keys, "--out", "whole")[0] == 0
    with crash_after_epoch(2):
        assert cli("train", "mlp-toy", *keys, "--out", "cut")[0] == 1
    cut = RunDir(cli.cwd / "cut")
    rows = cut.metrics()
    with open(cut.file("metrics.jsonl"), "a") as f:  # a kill in the middle of a row
        f.write('{"step": 999, "epoch": 4, "split": "tr')
    assert cut.metrics() == rows
    from classicnets.experiments import EXPERIMENTS

    assert EXPERIMENTS["mlp-toy"].figures(cut)  # the plots read it as it is
    assert cli("train", "mlp-toy", *keys, "--out", "cut", "--resume")[0] == 0
    text = cut.file("metrics.jsonl").read_text()
    # (the fragment's step: "999" alone also turns up inside a logged loss or time)
    assert '"step": 999' not in text and text.endswith("\n")
    assert without_time(cut.metrics()) == without_time(RunDir(cli.cwd / "whole").metrics())

    # A damaged line that is not the last is not a kill's doing: an error, never skipped.
    lines = text.splitlines(keepends=True)
    cut.file("metrics.jsonl").write_text("".join([*lines[:2], "{oops\n", *lines[2:]]))
    with pytest.raises(UsageError, match=r"metrics.jsonl: line 3 is not a JSON object"):
        cut.metrics()


def one_line_refusal(cli, *argv: str) -> str:
    code, out, err = cli(*argv)
    assert code == 2 and err.count("\n") == 1 and not out, (code, out, err)
    return err


OUT_COMMANDS = [  # every command that writes, with its output at {out}
    ("train", "mlp-toy", "--dataset", "npz:absent.npz", "--out", "{out}"),
    ("sweep", "mlp-toy-compare", "--dataset", "npz:absent.npz", "--out", "{out}"),
    ("run", "--out", "{out}"),
    ("lr-find", "mlp-images", "--dataset", "npz:absent.npz", "--out", "{out}"),
    ("report", "--out", "{out}/report.html"),
]


def refuse_everywhere(cli, out: Path) -> list[str]:
    """Each command into `out`, refused before it reads any data (absent.npz would be the
    error otherwise) or writes anything."""
    errors = [one_line_refusal(cli, *(a.format(out=out) for a in argv)) for argv in OUT_COMMANDS]
    assert not any("absent.npz" in e for e in errors), errors
    assert not (cli.cwd / "runs").exists() and not (cli.cwd / "report.html").exists()
    return errors


def test_an_unwritable_out_is_refused_before_anything_runs(cli, tmpfs):
    # A read-only file system: even root cannot write there.
    readonly = tmpfs(cli.cwd / "readonly", "ro,size=64k")
    for err in refuse_everywhere(cli, readonly / "x"):
        assert f"cannot write in '{readonly}' (Read-only file system)" in err, err
        assert "choose a directory you can write to" in err
    # A path under a regular file, and /proc (no new files there, for anyone).
    (cli.cwd / "a-file").write_text("")
    for err in refuse_everywhere(cli, cli.cwd / "a-file" / "x"):
        assert f"'{cli.cwd / 'a-file'}' is a file, not a directory" in err, err
    for err in refuse_everywhere(cli, Path("/proc/classicnets")):
        assert "cannot write in '/proc'" in err, err
    assert sorted(p.name for p in cli.cwd.iterdir()) == ["a-file", "readonly"]


def test_analyze_into_a_read_only_run_is_refused(cli, tmpfs):
    disk = tmpfs(cli.cwd / "disk", "size=8m")
    keys = ["--input_length", "3", "--train_steps", "4", "--eval_freq", "2", "--quiet"]
    assert cli("train", "rnn-palindrome", *keys, "--out", str(disk / "run"))[0] == 0
    shutil.rmtree(disk / "run" / "figures")
    subprocess.run(["mount", "-o", "remount,ro", str(disk)], check=True)
    err = one_line_refusal(cli, "analyze", str(disk / "run"))
    assert f"RUN_DIR/figures '{disk / 'run' / 'figures'}': cannot write in '{disk / 'run'}'" in err
    assert not (disk / "run" / "figures").exists()


@contextlib.contextmanager
def as_nobody():
    """Within: this process acts as the unprivileged user nobody (effective ids only)."""
    os.setegid(65534)
    os.seteuid(65534)
    try:
        yield
    finally:
        os.seteuid(0)
        os.setegid(0)


def test_a_directory_without_write_permission_is_refused_for_a_user(cli):
    if os.geteuid() != 0:
        pytest.skip("runs as root, to act as another user: chmod is the same check for one")
    # pytest's temporary directories are root's alone (0700): nobody could not even look
    # in, so this one is made where anyone may.
    shared = Path(tempfile.mkdtemp())
    try:
        shared.chmod(0o755)
        locked = shared / "locked"
        locked.mkdir(mode=0o555)
        with as_nobody():
            err = one_line_refusal(cli, "train", "mlp-toy", "--out", str(locked / "run"))
            report = one_line_refusal(cli, "report", "--out", str(locked / "r.html"))
        assert f"cannot write in '{locked}' (Permission denied)" in err, err
        assert "Permission denied" in report
        assert not any(locked.iterdir())
    finally:
        shutil.rmtree(shared)
