"""ClassifierLearner: any classifier nn.Module trained with a torch.optim optimizer.

The learner behind the image MLP, the CNN and the recurrent nets. The data comes from a
source (data/sources.py: images and vectors, or palindromes) that hands over batches
already on the device in the model's layout; the learner adds the optimizer, the schedule,
label smoothing, gradient clipping, and on a GPU bf16 autocast. Under torchrun, distribute()
makes it train data-parallel: each rank steps on its shard of the global batch and evaluates
its shard of each split (train/distributed.py).

Two parts of the small-budget recipe (experiments/keys.py, RECIPE) live here too. With an
average of the weights (`ema` > 0, train/ema.py), `model` is the average: what every
evaluation runs, what state_dict() holds under "model" (and so what a checkpoint, or a
best.pt written from state_dict(), keeps as the model) and what a restored run analyses;
the weights the optimizer updates are `raw`, checkpointed beside it as "trained" with the
average's update count, so a resume continues both to the bit. Without it, `model` and
`raw` are one module and the state is as it always was. With `mirror` (test-time
augmentation), every evaluation averages the logits of the inputs and of their mirror.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from classicnets.data.sources import Source
from classicnets.train import distributed
from classicnets.train.distributed import Ranks
from classicnets.train.ema import WeightAverage
from classicnets.train.optim import OptimSettings, make_optimizer, make_schedule


class ClassifierLearner:
    def __init__(
        self,
        model: nn.Module,
        source: Source,
        keys: OptimSettings,
        device: torch.device,
        total_steps: int,
        memory_format: torch.memory_format = torch.contiguous_format,
        ema: float = 0.0,
        mirror: Callable[[torch.Tensor], torch.Tensor] | None = None,
    ):
        # raw: the weights the optimizer updates; model: what is evaluated (raw, or its average)
        self.raw = model.to(device=device, memory_format=memory_format)
        self.average = WeightAverage(self.raw, ema) if ema > 0 else None
        self.model = self.average.model if self.average else self.raw
        self.mirror = mirror  # inputs (B, ...) -> the same inputs mirrored, for the evaluations
        self.source, self.keys, self.device = source, keys, device
        self.splits = source.splits
        self.optimizer = make_optimizer(self.raw.parameters(), keys)
        self.schedule = make_schedule(self.optimizer, keys, total_steps)
        # bf16 autocast on a GPU (no loss scaling needed, unlike fp16); full precision on CPU,
        # where bf16 matmuls are slower than float32 on most processors.
        self.autocast = torch.autocast(
            device.type, dtype=torch.bfloat16, enabled=device.type == "cuda"
        )
        self.ranks: Ranks | None = None  # set by distribute(): the ranks sharing each batch
        self.trained: nn.Module = self.raw  # what step() runs: raw, or its DDP wrapper

    def distribute(self, ranks: Ranks) -> None:
        """Train data-parallel from here on, one of `ranks`. self.raw stays the plain model
        (now with global batch norm), with the same parameters, so the optimizer, the schedule,
        checkpoints and the analysis code are unchanged."""
        self.trained = distributed.data_parallel(self.raw, ranks, self.device)
        self.raw, self.ranks = self.trained.module, ranks
        if self.average:
            self.average.follow(self.raw)
        else:
            self.model = self.raw

    def epoch_batches(self, seed: int, epoch: int, batch_size: int) -> Iterator:
        if self.ranks is not None:  # every rank its own dropout masks, drawn from (seed, epoch)
            torch.manual_seed(distributed.dropout_seed(seed, epoch, self.ranks.rank))
        return iter(self.source.epoch_batches(seed, epoch, batch_size))

    def step(self, X: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """One update; the batch's training loss (detached: read it only where needed, it
        waits for the device)."""
        self.trained.train()
        if self.ranks is None:
            with self.autocast:
                logits = self.trained(X)  # (B, K)
            loss = F.cross_entropy(logits.float(), y, label_smoothing=self.keys.label_smoothing)
        else:
            B = len(y)
            X, y = distributed.shard(X, self.ranks), distributed.shard(y, self.ranks)
            with self.autocast:
                logits = self.trained(X)  # (B_r, K); B_r may be 0: the rank still all-reduces
            # DDP averages the ranks' gradients: the shard's sum * world_size / B makes that
            # average the gradient of the global batch's mean loss, shards even or not.
            loss = F.cross_entropy(
                logits.float(), y, reduction="sum", label_smoothing=self.keys.label_smoothing
            ) * (self.ranks.world_size / B)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if self.keys.max_norm > 0:
            nn.utils.clip_grad_norm_(self.raw.parameters(), self.keys.max_norm, foreach=True)
        self.optimizer.step()
        if self.schedule is not None:
            self.schedule.step()
        if self.average:
            self.average.update()
        return loss.detach()

    def set_learning_rate(self, value: float) -> None:
        """The rate of the next updates (the range test's; a schedule would reset it)."""
        for group in self.optimizer.param_groups:
            group["lr"] = value

    @property
    def learning_rate(self) -> float:
        """The rate the next update uses: the schedule has stepped after every update."""
        return float(self.optimizer.param_groups[0]["lr"])

    @torch.no_grad()
    def logits(self, X: torch.Tensor) -> torch.Tensor:
        """The evaluated model's logits (B, K); with `mirror`, the mean of the inputs' and
        their mirror's, as airbench's flip test-time augmentation."""
        self.model.eval()
        with self.autocast:
            logits = self.model(X).float()
            if self.mirror is not None:
                logits = (logits + self.model(self.mirror(X)).float()) / 2
        return logits

    def evaluate(self, split: str) -> tuple[float, float]:
        """Mean cross-entropy (no label smoothing) and accuracy over the whole split; data-
        parallel, each rank reads its shard of every batch and the sums are all-reduced."""
        total_loss, correct, n = 0.0, 0, 0
        for X, y in self.source.eval_batches(split):
            if self.ranks is not None:
                X, y = distributed.shard(X, self.ranks), distributed.shard(y, self.ranks)
                if len(y) == 0:
                    continue
            logits = self.logits(X)
            total_loss += F.cross_entropy(logits, y, reduction="sum").item()
            correct += int((logits.argmax(dim=1) == y).sum())
            n += len(y)
        if self.ranks is not None:
            total_loss, correct, n = distributed.all_sum([total_loss, correct, n], self.device)
        return total_loss / n, round(correct) / n

    def state_dict(self) -> dict[str, Any]:
        state = {"model": self.model.state_dict(), "optimizer": self.optimizer.state_dict()}
        if self.schedule is not None:
            state["schedule"] = self.schedule.state_dict()
        if self.average:  # "model" is the average; the optimizer's weights go beside it
            state["trained"] = self.raw.state_dict()
            state["ema_updates"] = self.average.updates
        return _cpu(state)

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if self.average:
            self.raw.load_state_dict(state["trained"])
            self.average.load_state_dict({"model": state["model"], "updates": state["ema_updates"]})
        else:
            self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        if self.schedule is not None:
            self.schedule.load_state_dict(state["schedule"])

    def weights(self) -> dict[str, torch.Tensor]:
        """The model's state dict (parameters and batch-norm statistics), on the CPU."""
        return _cpu(self.model.state_dict())

    def load_weights(self, weights: dict[str, torch.Tensor]) -> None:
        self.model.load_state_dict(weights)


def _cpu(value: Any) -> Any:
    """Tensors in nested dicts and lists copied to the CPU (a checkpoint's contents)."""
    if isinstance(value, torch.Tensor):
        return value.detach().cpu().clone()
    if isinstance(value, dict):
        return {k: _cpu(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_cpu(v) for v in value]
    return value
