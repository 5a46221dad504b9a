"""Data-parallel training under torchrun: two CPU processes (gloo) train the run one process
trains, rank 0 alone writes it, checkpoints move between the two, and what cannot share a run
is refused in one line.

Each torchrun start costs ~10 s on a 2-core machine (the launcher, then two interpreters
importing torch and classicnets), so the one-process runs go in-process and overlap it.
"""

from __future__ import annotations

import copy
import os
import re
import signal
import subprocess
import sys
import time

import pytest
import torch
import torch.distributed as dist
from torch import nn

from classicnets.errors import UsageError
from classicnets.train import distributed
from tests.conftest import read_json, read_jsonl
from tests.test_runs import crash_after_epoch

TORCHRUN = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2"]
TIMEOUT = 240  # s for one torchrun: a hang (ranks waiting on each other) fails, not stalls
TOLERANCE = 1e-5  # |loss, two processes - loss, one process| per metrics row

# Tiny runs on digits with val_size 0.1: --train_samples 301 leaves 271 to train on, so the
# last batch of every epoch is uneven across the two ranks.
PARITY = {
    # VGG in float32 on barely trained, near-uniform outputs is ill-conditioned: at Adam 1e-4
    # or SGD 1e-3, two one-process runs on 1 and 2 threads (the same sums in other orders)
    # already end 2e-5..3e-4 apart after two epochs. SGD at 1e-4 keeps that noise ~3e-7 while
    # the losses still move (mostly by the running statistics), and batch norm on each rank's
    # shard alone ends 1e-4 away. The step is too small to show how the shards are weighted:
    # test_cnn_data_parallel_gradient_weights_uneven_shards_as_one_batch compares the
    # gradient itself (and fails a per-shard mean). Last batch 15 = shards of 8 and 7.
    "cnn": [
        "--dataset", "digits", "--train_samples", "301", "--test_samples", "100",
        "--width", "0.0625", "--batch_size", "64", "--augment", "true",
        "--optimizer", "sgd", "--learning_rate", "1e-4", "--epochs", "2",
    ],
    # Batch 45: the last batch holds 1 image, so rank 1's shard is empty (it must still join
    # the gradient all-reduce: a hang otherwise).
    "rnn-images": [
        "--dataset", "digits", "--train_samples", "301", "--test_samples", "100",
        "--num_hidden", "16", "--batch_size", "45", "--learning_rate", "0.01", "--epochs", "2",
    ],
    # Streaming palindromes: every rank draws the same batch from (seed, step); 33 = 17 + 16.
    "rnn-palindrome": [
        "--input_length", "5", "--num_hidden", "16", "--batch_size", "33", "--eval_size", "101",
        "--train_steps", "60", "--eval_freq", "20",
    ],
}  # fmt: skip
SLOW = {"rnn-palindrome"}  # the image runs cover the same learner: -m slow adds it
# Batch norm on, dropout off: each rank draws its own dropout masks, which no single process
# can draw, so runs with dropout cannot match by design. Last batch 15: shards of 8 and 7.
MLP = [
    "--dataset", "digits", "--train_samples", "301", "--test_samples", "100",
    "--dnn_hidden_units", "64,32", "--batchnorm", "true", "--dropout", "0",
    "--augment", "true", "--batch_size", "32",
]  # fmt: skip
COMMON = ["--quiet", "--device", "cpu"]


def torchrun(cwd, *argv: str) -> subprocess.Popen:
    """`torchrun --nproc_per_node=2 -m classicnets ARGV` in cwd, started (not waited for)."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen(
        [*TORCHRUN, "-m", "classicnets", *argv],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def finish(proc: subprocess.Popen) -> tuple[int, str, str]:
    try:
        out, err = proc.communicate(timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        # SIGTERM: torchrun passes it on, and SIGKILLs the workers that do not stop in 30 s
        # (each runs in its own session: killing torchrun alone would leave them running)
        proc.terminate()
        out, err = proc.communicate(timeout=60)
        pytest.fail(f"torchrun still running after {TIMEOUT} s: {err[-2000:]}")
    return proc.returncode, out, err


def assert_same_run(one: list[dict], two: list[dict]) -> float:
    """Every row of two metrics.jsonl files: the same step, split and accuracy, the loss within
    TOLERANCE; returns the largest loss difference."""
    assert [(r["step"], r["epoch"], r["split"]) for r in two] == [
        (r["step"], r["epoch"], r["split"]) for r in one
    ]
    worst = max(abs(a["loss"] - b["loss"]) for a, b in zip(one, two))
    assert worst < TOLERANCE, f"loss differs by {worst:.2e}"
    assert [r["accuracy"] for r in two] == [r["accuracy"] for r in one]
    return worst


@pytest.mark.parametrize(
    "experiment", [pytest.param(e, marks=[pytest.mark.slow] * (e in SLOW)) for e in PARITY]
)
def test_torchrun_trains_the_run_one_process_trains(cli, experiment):
    keys = [*PARITY[experiment], *COMMON]
    proc = torchrun(cli.cwd, "train", experiment, *keys, "--out", "two")
    assert cli("train", experiment, *keys, "--out", "one")[0] == 0
    code, out, err = finish(proc)
    assert code == 0, err[-3000:]
    one, two = (read_jsonl(cli.cwd / d / "metrics.jsonl") for d in ("one", "two"))
    assert_same_run(one, two)
    train = [r["loss"] for r in one if r["split"] == "train"]
    assert abs(train[-1] - train[0]) > 1e-3  # it trained: a wrong update would show
    # rank 0 alone printed and wrote: one summary line, one TensorBoard event file
    assert out.count("records:") == 1 and out.count(": completed") == 1, out
    assert len(list((cli.cwd / "two" / "tb").glob("events.out.tfevents.*"))) == 1
    config = read_json(cli.cwd / "two" / "config.json")
    assert config["world_size"] == 2 and config["threads"] >= 1
    assert read_json(cli.cwd / "one" / "config.json")["world_size"] == 1
    assert read_json(cli.cwd / "two" / "summary.json")["status"] == "completed"


def test_one_process_checkpoint_resumes_under_torchrun(cli):
    """A run crashed after epoch 1 in one process, resumed by torchrun: epochs 2 and 3 trained
    data-parallel end where the uninterrupted one-process run ends, and the checkpoint keeps
    the plain model's keys (no DDP "module." prefix)."""
    keys = [*MLP, "--epochs", "3", *COMMON]
    with crash_after_epoch(1):
        assert cli("train", "mlp-images", *keys, "--out", "run")[0] == 1
    proc = torchrun(cli.cwd, "train", "mlp-images", *keys, "--out", "run", "--resume")
    assert cli("train", "mlp-images", *keys, "--out", "whole")[0] == 0
    code, _, err = finish(proc)
    assert code == 0, err[-3000:]
    rows = read_jsonl(cli.cwd / "run" / "metrics.jsonl")
    assert_same_run(read_jsonl(cli.cwd / "whole" / "metrics.jsonl"), rows)
    assert read_json(cli.cwd / "run" / "summary.json")["status"] == "completed"
    checkpoint = torch.load(cli.cwd / "run" / "checkpoint.pt", weights_only=True)
    assert checkpoint["loop"]["epoch"] == 3
    assert not any(k.startswith("module.") for k in checkpoint["learner"]["model"])
    # best.pt (rank 0's) holds the plain model's weights of the summary's chosen evaluation
    best = torch.load(cli.cwd / "run" / "best.pt", weights_only=True)
    assert best["step"] == read_json(cli.cwd / "run" / "summary.json")["best"]["val"]["step"]
    assert best["weights"].keys() == checkpoint["learner"]["model"].keys()


@pytest.mark.slow
def test_torchrun_run_stopped_by_sigterm_resumes_in_one_process(cli):
    """torchrun passes SIGTERM to its workers: rank 0 records the run as stopped, and its
    checkpoint resumes in one process to the uninterrupted result."""
    keys = [*MLP, "--epochs", "30", *COMMON]
    proc = torchrun(cli.cwd, "train", "mlp-images", *keys, "--out", "run")
    deadline = time.monotonic() + TIMEOUT
    while not (cli.cwd / "run" / "checkpoint.pt").exists():  # the epoch-0 evaluation's
        assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()[1]
        time.sleep(0.01)
    proc.send_signal(signal.SIGTERM)
    code, _, err = finish(proc)
    summary = read_json(cli.cwd / "run" / "summary.json")
    assert code != 0 and summary["status"] == "interrupted", err[-3000:]
    assert summary["epochs"] < 30
    assert cli("train", "mlp-images", *keys, "--out", "run", "--resume")[0] == 0
    assert cli("train", "mlp-images", *keys, "--out", "whole")[0] == 0
    assert_same_run(
        read_jsonl(cli.cwd / "whole" / "metrics.jsonl"),
        read_jsonl(cli.cwd / "run" / "metrics.jsonl"),
    )


TORCHRUN_ENV = {"WORLD_SIZE": "2", "RANK": "1", "LOCAL_RANK": "1", "LOCAL_WORLD_SIZE": "2"}


@pytest.mark.parametrize(
    "argv",
    [
        ["train", "mlp-toy", "--epochs", "1"],
        ["sweep", "mlp-toy-compare"],
        ["run", "--suite", "quick"],
    ],
)
def test_what_cannot_run_data_parallel_is_refused_in_one_line(cli, monkeypatch, argv):
    """A torchrun worker (its environment, without the 10 s start) refuses what cannot share
    one run between processes: exit 2, one line, nothing written."""
    for key, value in TORCHRUN_ENV.items():
        monkeypatch.setenv(key, value)
    code, out, err = cli(*argv, "--out", "out")
    assert code == 2 and err.count("\n") == 1 and "without torchrun" in err, err
    assert "cannot run data-parallel (WORLD_SIZE 2)" in err and out == ""
    assert not (cli.cwd / "out").exists()


@pytest.mark.slow
def test_torchrun_refuses_mlp_toy(cli):
    """Through torchrun itself: a worker exits 2 with its one line, nothing is written, and
    torchrun exits 1 naming exit code 2. torchrun sends SIGTERM to the other worker as soon as
    the first one fails, so the second line may or may not have been printed by then: one or
    two lines, each the same refusal."""
    code, out, err = finish(torchrun(cli.cwd, "train", "mlp-toy", "--epochs", "1", "--out", "toy"))
    lines = [line for line in err.splitlines() if line.startswith("classicnets: error:")]
    assert 1 <= len(lines) <= 2, err[-3000:]
    assert all("mlp-toy cannot run data-parallel (WORLD_SIZE 2)" in line for line in lines), lines
    assert code != 0 and re.search(r"exitcode\s*:\s*2\b", err) and out == ""
    assert not (cli.cwd / "toy").exists()


def test_ranks_come_from_torchruns_environment():
    assert distributed.from_env({}) is None
    assert distributed.from_env({"WORLD_SIZE": "1", "RANK": "0"}) is None
    env = {"WORLD_SIZE": "4", "RANK": "3", "LOCAL_RANK": "1", "LOCAL_WORLD_SIZE": "2"}
    assert distributed.from_env(env) == distributed.Ranks(3, 1, 4, 2)
    for bad in ({"WORLD_SIZE": "2"}, {"WORLD_SIZE": "2", "RANK": "2", "LOCAL_RANK": "0"}):
        with pytest.raises(UsageError):
            distributed.from_env(bad)


def _batchnorm_rank(rank: int, store: str) -> None:
    """One of two ranks: GlobalBatchNorm on this rank's shard against nn.BatchNorm2d on the
    whole batch, in float64: outputs, gradients, running statistics, evaluation."""
    dist.init_process_group("gloo", init_method=f"file://{store}", rank=rank, world_size=2)
    ranks = distributed.Ranks(rank, rank, 2, 2)
    g = torch.Generator().manual_seed(0)
    for momentum, B in ((0.1, 5), (None, 1)):  # B 1: rank 1's shard is empty
        reference = nn.BatchNorm2d(3, momentum=momentum).double()
        with torch.no_grad():
            reference.weight.uniform_(0.5, 1.5, generator=g)
            reference.bias.normal_(generator=g)
        bn = distributed._global_batchnorm(nn.Sequential(copy.deepcopy(reference)))[0]
        assert isinstance(bn, distributed.GlobalBatchNorm)
        for _ in range(2):  # two steps: running statistics from both
            X = (torch.randn(B, 3, 4, 4, generator=g, dtype=torch.float64) * 3 + 1).requires_grad_()
            dY = torch.randn(B, 3, 4, 4, generator=g, dtype=torch.float64)  # upstream gradient
            reference.zero_grad()
            Y = reference(X)
            (Y * dY).sum().backward()
            X_r = distributed.shard(X.detach(), ranks).requires_grad_()
            bn.zero_grad()
            Y_r = bn(X_r)
            (Y_r * distributed.shard(dY, ranks)).sum().backward()
            torch.testing.assert_close(Y_r, distributed.shard(Y.detach(), ranks))
            torch.testing.assert_close(X_r.grad, distributed.shard(X.grad, ranks))
            for name in ("weight", "bias"):  # each rank's part of the whole batch's gradient
                grad = getattr(bn, name).grad.clone()
                distributed.all_reduce(grad)
                torch.testing.assert_close(grad, getattr(reference, name).grad)
        for name in ("running_mean", "running_var", "num_batches_tracked"):
            torch.testing.assert_close(getattr(bn, name), getattr(reference, name))
        X = torch.randn(4, 3, 4, 4, generator=g, dtype=torch.float64)
        torch.testing.assert_close(bn.eval()(X), reference.eval()(X))
    dist.barrier()
    dist.destroy_process_group()


def test_global_batchnorm_normalises_with_the_whole_batchs_statistics(tmp_path):
    ranks = torch.multiprocessing.spawn(
        _batchnorm_rank, args=(str(tmp_path / "store"),), nprocs=2, join=False
    )
    deadline = time.monotonic() + TIMEOUT
    while not ranks.join(timeout=1):  # raises with a rank's traceback when one fails
        if time.monotonic() > deadline:
            for process in ranks.processes:
                process.kill()
            pytest.fail(f"two ranks of batch norm still running after {TIMEOUT} s: a hang")


def _cnn_gradient_rank(rank: int, store: str, weighting: str) -> None:
    """One of two ranks: the cnn learner's data-parallel gradient of one global batch of 15
    (shards of 8 and 7, global batch norm) against the one-process gradient of the same batch,
    parameter by parameter. `weighting` "mean" swaps in the naive per-shard mean loss, which
    must fail this comparison: the check can see how the shards are weighted."""
    from classicnets import config
    from classicnets.experiments import EXPERIMENTS
    from classicnets.train import classifier

    dist.init_process_group("gloo", init_method=f"file://{store}", rank=rank, world_size=2)
    torch.set_num_threads(1)
    experiment = EXPERIMENTS["cnn"]
    cfg = config.build(
        experiment.config,
        {"dataset": "digits", "train_samples": "61", "test_samples": "20", "width": "0.0625",
         "augment": "false", "max_norm": "0", "optimizer": "sgd", "learning_rate": "0.1"},
    )  # fmt: skip
    built = experiment.build(cfg, torch.device("cpu"))
    reference = copy.deepcopy(built.learner.model)
    X, y = next(built.learner.epoch_batches(cfg.seed, 0, 15))  # (15, 1, H, W), (15,)
    reference.train()
    nn.functional.cross_entropy(reference(X), y).backward()
    if weighting == "mean":  # the bug the shard weighting exists to avoid: each rank's mean
        real = nn.functional.cross_entropy  # (the learner scales the sum by world_size / B)

        def shard_mean(logits, target, reduction="mean", **kw):
            return real(logits, target, **kw) * (15 / 2 if reduction == "sum" else 1)

        classifier.F.cross_entropy = shard_mean  # this spawned process only
    learner = built.learner
    learner.distribute(distributed.Ranks(rank, rank, 2, 2))
    learner.step(X, y)
    worst = max(
        ((p.grad - q.grad).abs().max() / q.grad.abs().max()).item()
        for p, q in zip(learner.model.parameters(), reference.parameters())
    )
    if weighting == "sum":
        assert worst < 1e-4, f"rank {rank}: gradient differs by {worst:.2e} (relative)"
    else:
        assert worst > 1e-3, f"rank {rank}: a per-shard mean went unseen ({worst:.2e})"
    dist.barrier()
    dist.destroy_process_group()


@pytest.mark.slow  # two spawned ranks each load torch and digits: ~30 s a case
@pytest.mark.parametrize("weighting", ["sum", "mean"])
def test_cnn_data_parallel_gradient_weights_uneven_shards_as_one_batch(tmp_path, weighting):
    ranks = torch.multiprocessing.spawn(
        _cnn_gradient_rank, args=(str(tmp_path / "store"), weighting), nprocs=2, join=False
    )
    deadline = time.monotonic() + TIMEOUT
    while not ranks.join(timeout=1):  # raises with a rank's traceback when one fails
        if time.monotonic() > deadline:
            for process in ranks.processes:
                process.kill()
            pytest.fail(f"two ranks of the cnn still running after {TIMEOUT} s: a hang")
