"""ClassifierLearner: any classifier nn.Module trained with a torch.optim optimizer.

The learner behind the image MLP, the CNN and the recurrent nets. The data comes from a
source (data/pipeline.py's TensorSource, or the palindrome stream) that hands over batches
already on the device in the model's layout; the learner adds the optimizer, the schedule,
label smoothing, gradient clipping, and on a GPU bf16 autocast.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any, Protocol

import torch
import torch.nn.functional as F
from torch import nn

from classicnets.train.optim import OptimKeys, make_optimizer, make_schedule


class Source(Protocol):
    splits: tuple[str, ...]

    def epoch_batches(
        self, seed: int, epoch: int, batch_size: int
    ) -> Iterable[tuple[torch.Tensor, torch.Tensor]]: ...

    def eval_batches(self, split: str) -> Iterable[tuple[torch.Tensor, torch.Tensor]]: ...


class ClassifierLearner:
    def __init__(
        self,
        model: nn.Module,
        source: Source,
        keys: OptimKeys,
        device: torch.device,
        total_steps: int,
        memory_format: torch.memory_format = torch.contiguous_format,
    ):
        self.model = model.to(device=device, memory_format=memory_format)
        self.source, self.keys, self.device = source, keys, device
        self.splits = source.splits
        self.optimizer = make_optimizer(self.model.parameters(), keys)
        self.schedule = make_schedule(self.optimizer, keys, total_steps)
        # bf16 autocast on a GPU (no loss scaling needed, unlike fp16); full precision on CPU,
        # where bf16 matmuls are slower than float32 on most processors.
        self.autocast = torch.autocast(
            device.type, dtype=torch.bfloat16, enabled=device.type == "cuda"
        )

    def epoch_batches(self, seed: int, epoch: int, batch_size: int) -> Iterator:
        return iter(self.source.epoch_batches(seed, epoch, batch_size))

    def step(self, X: torch.Tensor, y: torch.Tensor) -> None:
        self.model.train()
        with self.autocast:
            logits = self.model(X)  # (B, K)
        loss = F.cross_entropy(logits.float(), y, label_smoothing=self.keys.label_smoothing)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if self.keys.max_norm > 0:
            nn.utils.clip_grad_norm_(self.model.parameters(), self.keys.max_norm, foreach=True)
        self.optimizer.step()
        if self.schedule is not None:
            self.schedule.step()

    @torch.no_grad()
    def logits(self, X: torch.Tensor) -> torch.Tensor:
        self.model.eval()
        with self.autocast:
            return self.model(X).float()

    def evaluate(self, split: str) -> tuple[float, float]:
        """Mean cross-entropy (no label smoothing) and accuracy over the whole split."""
        total_loss, correct, n = 0.0, 0, 0
        for X, y in self.source.eval_batches(split):
            logits = self.logits(X)
            total_loss += F.cross_entropy(logits, y, reduction="sum").item()
            correct += int((logits.argmax(dim=1) == y).sum())
            n += len(y)
        return total_loss / n, correct / n

    def state_dict(self) -> dict[str, Any]:
        def cpu(value: Any) -> Any:
            if isinstance(value, torch.Tensor):
                return value.detach().cpu().clone()
            if isinstance(value, dict):
                return {k: cpu(v) for k, v in value.items()}
            if isinstance(value, list):
                return [cpu(v) for v in value]
            return value

        state = {"model": self.model.state_dict(), "optimizer": self.optimizer.state_dict()}
        if self.schedule is not None:
            state["schedule"] = self.schedule.state_dict()
        return cpu(state)

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        if self.schedule is not None:
            self.schedule.load_state_dict(state["schedule"])
