"""Data-parallel training under torchrun: one run, N processes, one global batch.

`torchrun --nproc_per_node=N -m classicnets train cnn ...` starts N copies of the command and
tells each its place in environment variables (WORLD_SIZE, RANK, LOCAL_RANK, ...). Every rank
builds the same data, the same initial weights and the same global batches, all drawn from
(seed, epoch), and trains on its own shard of each batch:

    global batch (B, ...) --tensor_split--> shard r (B_r, ...), sizes differing by at most 1

Gradients: rank r's loss is its shard's summed loss * world_size / B, and DistributedDataParallel
averages the ranks' gradients, so every update is the one a single process makes on the global
batch's mean loss, whether the shards are even or not, even when a shard is empty.
Batch norm: statistics of the global batch (the ranks' sums all-reduced), so the ranks train
the network one process would train.
Evaluation: each rank evaluates its shard of every split and the sums are all-reduced, so
every rank sees the same numbers and makes the same decisions (divergence, best, stopping).
Rank 0 alone writes the run record; the others write nothing and draw no progress bar.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm
from torch.nn.parallel import DistributedDataParallel

from classicnets.errors import UsageError
from classicnets.seeds import Stream, torch_seed
from classicnets.train import fastpaths


@dataclass(frozen=True)
class Ranks:
    """This process's place among the processes that train one run together."""

    rank: int  # 0 .. world_size-1 across all machines; rank 0 writes the run record
    local_rank: int  # 0 .. local_world_size-1 on this machine; its GPU is cuda:local_rank
    world_size: int  # processes training the run, all machines together
    local_world_size: int  # processes on this machine: they share its CPU cores

    @property
    def lead(self) -> bool:
        return self.rank == 0


def _env_int(environ: Mapping[str, str], name: str, default: int | None = None) -> int:
    text = environ.get(name)
    if text is None and default is not None:
        return default
    try:
        return int(text)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise UsageError(
            f"environment variable {name}={text!r}: expected a whole number; start "
            "data-parallel runs with torchrun, which sets it"
        ) from None


def from_env(environ: Mapping[str, str] = os.environ) -> Ranks | None:
    """The ranks torchrun describes in the environment; None for a single process
    (no torchrun, or WORLD_SIZE 1), which then trains exactly as without this module."""
    world_size = _env_int(environ, "WORLD_SIZE", 1)
    if world_size <= 1:
        return None
    rank = _env_int(environ, "RANK")
    local_rank = _env_int(environ, "LOCAL_RANK")
    local_world_size = _env_int(environ, "LOCAL_WORLD_SIZE", world_size)
    if not (0 <= rank < world_size and 0 <= local_rank < local_world_size):
        raise UsageError(
            f"RANK {rank}, LOCAL_RANK {local_rank} do not fit WORLD_SIZE {world_size}, "
            f"LOCAL_WORLD_SIZE {local_world_size}; start data-parallel runs with torchrun"
        )
    return Ranks(rank, local_rank, world_size, local_world_size)


def refuse(ranks: Ranks | None, what: str, fix: str) -> None:
    """A command that cannot share one run between ranks: a one-line error under torchrun."""
    if ranks is not None:
        raise UsageError(f"{what} cannot run data-parallel (WORLD_SIZE {ranks.world_size}); {fix}")


def rank_device(ranks: Ranks, device: torch.device) -> torch.device:
    """Each rank its own GPU (cuda:LOCAL_RANK); on a CPU the ranks share the device."""
    if device.type != "cuda":
        return device
    if ranks.local_rank >= torch.cuda.device_count():
        raise UsageError(
            f"LOCAL_RANK {ranks.local_rank}: this machine has {torch.cuda.device_count()} GPUs; "
            "start at most that many processes per node (--nproc_per_node)"
        )
    return torch.device("cuda", ranks.local_rank)


@contextmanager
def process_group(ranks: Ranks | None, device: torch.device) -> Iterator[None]:
    """The process group of the run (gloo on a CPU, nccl on GPUs), for the time of the block;
    none for a single process (ranks None).

    Entering waits for every rank: each has made its checks (out dir, keys, data) before rank 0
    writes anything, so no rank finds rank 0's new files and takes them for an earlier run's.
    """
    if ranks is None:
        yield
        return
    if device.type == "cuda":
        torch.cuda.set_device(device)
        dist.init_process_group(
            "nccl", rank=ranks.rank, world_size=ranks.world_size, device_id=device
        )
    else:
        dist.init_process_group("gloo", rank=ranks.rank, world_size=ranks.world_size)
    try:
        barrier()
        yield
    finally:
        dist.destroy_process_group()


def barrier() -> None:
    if dist.is_initialized():
        dist.barrier()


def shard(batch: torch.Tensor, ranks: Ranks) -> torch.Tensor:
    """This rank's rows of a global batch (B, ...) -> (B_r, ...); B_r = 0 where B < ranks."""
    return batch.tensor_split(ranks.world_size)[ranks.rank]


def all_reduce(X: torch.Tensor) -> torch.Tensor:
    """X summed over the ranks, in place; returns once gloo has let go of X.

    gloo's worker thread frees each finished work and with it the work's reference to X. Had
    Python dropped X by then, that free takes the GIL; and if the main thread is freeing the
    process group at that moment (it joins the worker, holding the GIL), both wait forever:
    a hang seen after completed runs. So X's last reference stays Python's: wait, the GIL
    released, until X is ours alone (a few microseconds).
    """
    dist.all_reduce(X)
    if X.device.type == "cpu":
        fastpaths.wait_until_sole_owner(X)
    return X


def all_sum(values: list[float], device: torch.device) -> list[float]:
    """Numbers summed over the ranks, in float64 (nccl reduces on the GPU: tensor there)."""
    return all_reduce(torch.tensor(values, dtype=torch.float64, device=device)).tolist()


def dropout_seed(seed: int, epoch: int, rank: int) -> int:
    """A seed for torch's generator, set by every rank at the start of each epoch: each rank
    its own dropout masks (the same masks on all ranks would drop the same units of every
    shard), and a resumed run draws what an uninterrupted one would: the DROPOUT_RANK stream."""
    return torch_seed(seed, Stream.DROPOUT_RANK, epoch, rank)


class _AllSum(torch.autograd.Function):
    """all_reduce(SUM) that autograd can pass through: every rank's output is the sum, so the
    gradient of the input is the sum of every rank's gradient of its output."""

    @staticmethod
    def forward(ctx, X: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        return all_reduce(X.clone())

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        return all_reduce(grad.clone())


class GlobalBatchNorm(_BatchNorm):
    """nn.BatchNorm1d/2d/3d normalising with the statistics of the global batch.

    torch's SyncBatchNorm does this on GPUs only (it refuses CPU tensors), so on a CPU this
    one does: in training, the per-channel sum, sum of squares and count of every rank's
    shard are all-reduced, in float64, where E[x^2] - E[x]^2 cancels away nothing float32 keeps;
    the running statistics are updated as nn.BatchNorm updates them (unbiased running_var).
    In evaluation it is nn.BatchNorm: the running statistics, no communication.
    """

    def _check_input_dim(self, X: torch.Tensor) -> None:
        if X.dim() < 2:
            raise ValueError(f"expected (B, C, ...) input, got {X.dim()}D")

    def forward(self, X: torch.Tensor) -> torch.Tensor:  # (B, C, *) -> (B, C, *)
        if not self.training:
            return super().forward(X)
        C = X.shape[1]
        dims = [0, *range(2, X.dim())]  # all but the channels
        X64 = X.double()
        local = torch.cat(
            [X64.sum(dims), X64.square().sum(dims), X64.new_tensor([X.numel() // max(C, 1)])]
        )  # (2C + 1,)
        total = _AllSum.apply(local)
        n = total[-1]
        if n.item() <= 1:
            raise ValueError("Expected more than 1 value per channel when training (global batch)")
        mean = total[:C] / n  # (C,)
        var = (total[C : 2 * C] / n - mean.square()).clamp_min(0)  # biased, as BN normalises
        if self.track_running_stats:
            self._update_running_stats(mean.detach(), var.detach() * n / (n - 1))
        scale = torch.rsqrt(var + self.eps)
        if self.affine:
            scale = scale * self.weight
        shift = -mean * scale + (self.bias if self.affine else 0)
        shape = (1, C) + (1,) * (X.dim() - 2)
        return X * scale.to(X.dtype).view(shape) + shift.to(X.dtype).view(shape)

    @torch.no_grad()
    def _update_running_stats(self, mean: torch.Tensor, unbiased_var: torch.Tensor) -> None:
        self.num_batches_tracked.add_(1)
        cumulative = 1.0 / float(self.num_batches_tracked)  # nn.BatchNorm's, for momentum None
        factor = cumulative if self.momentum is None else self.momentum
        self.running_mean.lerp_(mean.to(self.running_mean.dtype), factor)
        self.running_var.lerp_(unbiased_var.to(self.running_var.dtype), factor)


def _global_batchnorm(module: nn.Module) -> nn.Module:
    """`module` with every nn.BatchNormNd replaced by a GlobalBatchNorm that holds the very same
    parameters and buffers (the optimizer's, the checkpoint's keys unchanged)."""
    if isinstance(module, _BatchNorm) and not isinstance(
        module, (GlobalBatchNorm, nn.SyncBatchNorm)
    ):
        bn = GlobalBatchNorm(
            module.num_features, module.eps, module.momentum, module.affine,
            module.track_running_stats,
        )  # fmt: skip
        for name in ("weight", "bias", "running_mean", "running_var", "num_batches_tracked"):
            setattr(bn, name, getattr(module, name))
        return bn.train(module.training)
    for name, child in module.named_children():
        module.add_module(name, _global_batchnorm(child))
    return module


def data_parallel(model: nn.Module, ranks: Ranks, device: torch.device) -> DistributedDataParallel:
    """The model with batch statistics over the global batch, wrapped in DDP.

    Its .module is the plain model (parameters shared: the optimizer's stay valid), whose
    state_dict has no "module." prefix, so checkpoints move between single and DDP runs.
    forward_sync_buffers=False: the running statistics come from all-reduced batch statistics,
    equal on every rank already; a broadcast of them before every forward would only cost time.
    (Evaluation runs the plain model: no collectives but the one all-reduce of its sums.)
    """
    if device.type == "cuda":  # torch's fused kernels; it handles empty shards too
        model = nn.SyncBatchNorm.convert_sync_batchnorm(model)
    else:
        model = _global_batchnorm(model)
    return DistributedDataParallel(
        model,
        device_ids=[device.index] if device.type == "cuda" else None,
        forward_sync_buffers=False,
    )
