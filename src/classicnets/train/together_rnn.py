"""S recurrent classifiers of one configuration trained at once through torch.func.vmap.

The seeds' parameters are stacked along a leading axis (W_hh (S, G, H), ...); one step is a
forward vmapped over them (torch.func.functional_call on each seed's slice), autograd's
backward through the batched ops it recorded, then each seed's gradient clipped by its own
global norm and RMSprop applied to the stacked tensors (elementwise, so each seed's update is
the one torch.optim.RMSprop makes on its own). The model runs the cell's own equations
(RNNClassifier.forward_with_states, the autograd reference of models/rnn.py), not the
written-out bptt.py path, whose in-place buffers vmap cannot batch: the two agree to rounding
(tests/test_rnn.py), which is what separates a stacked run from the separate ones
(tests/test_together.py).

Made from the ClassifierLearners of the S separate runs (rnn-palindrome's build, seed by
seed): their initial weights, their optimizer's settings, their sources (each seed's own
held-out sets; each step's batch from each seed's own stream). Shapes: S seeds, B batch,
T time, F input features, K classes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import fields

import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call, vmap

from classicnets.errors import UsageError
from classicnets.models.rnn import RNNClassifier
from classicnets.train.classifier import ClassifierLearner

Batch = tuple[torch.Tensor, torch.Tensor]  # (S, B, T, F) inputs, (S, B) labels


class _Logits(nn.Module):
    """The classifier's logits through its cell's equations: a forward vmap can batch."""

    def __init__(self, model: RNNClassifier):
        super().__init__()
        self.model = model

    def forward(self, X: torch.Tensor) -> torch.Tensor:  # (B, T, F) -> (B, K)
        X = X.to(self.model.head.weight.dtype)  # as RNNClassifier.forward: the weights' dtype
        return self.model.forward_with_states(X)[0]


def _refuse(learners: Sequence[ClassifierLearner]) -> str | None:
    """Why these learners cannot train together (what the stacked step does not implement)."""
    first = learners[0]
    for ln in learners:
        if not isinstance(ln.raw, RNNClassifier) or ln.raw.impl != "explicit":
            return "the model must be an explicit RNNClassifier (--impl explicit)"
        if not isinstance(ln.optimizer, torch.optim.RMSprop):
            return "the optimizer must be rmsprop"
        group = ln.optimizer.param_groups[0]
        if group["centered"] or group["maximize"]:
            return "RMSprop must be neither centered nor maximizing"
        if ln.schedule is not None or ln.average is not None or ln.mirror is not None:
            return "no learning-rate schedule, weight average (--ema) or --tta"
        if ln.ranks is not None or ln.device.type != "cpu":
            return "on the CPU, not data-parallel (a GPU's runs step in bf16 autocast)"
        if _but_seed(ln.keys) != _but_seed(first.keys):
            return "the seeds must share every key but the seed"
    return None


def _but_seed(keys: object) -> dict:
    """A config's keys (a frozen dataclass, config.define) without its seed."""
    return {f.name: getattr(keys, f.name) for f in fields(keys) if f.name != "seed"}


class StackedRNNLearner:
    """A StackedLearner (train/together.py) of S explicit recurrent classifiers."""

    def __init__(self, learners: Sequence[ClassifierLearner], seeds: Sequence[int]):
        if len(learners) != len(seeds) or not learners:
            raise ValueError("StackedRNNLearner: one learner per seed, at least one")
        problem = _refuse(learners)
        if problem:
            raise UsageError(f"training seeds together: {problem}")
        first = learners[0]
        self.seeds, self.splits = tuple(seeds), first.splits
        self.sources = [ln.source for ln in learners]
        self.net = _Logits(first.raw)  # its own weights are never read: functional_call's are
        named = [dict(_Logits(ln.raw).named_parameters()) for ln in learners]
        # name -> (S, ...) in the model's parameter order (the order clipping sums the norms in)
        self.params = {
            name: torch.stack([p[name].detach() for p in named]).requires_grad_()
            for name in named[0]
        }
        group = first.optimizer.param_groups[0]
        self.lr, self.alpha, self.eps = group["lr"], group["alpha"], group["eps"]
        self.momentum, self.weight_decay = group["momentum"], group["weight_decay"]
        self.max_norm = first.keys.max_norm
        self.label_smoothing = first.keys.label_smoothing
        zeros = [torch.zeros_like(p) for p in self.params.values()]
        self.square_avgs = zeros  # RMSprop's state, per parameter and seed
        self.buffers = [torch.zeros_like(p) for p in zeros] if self.momentum > 0 else []
        self._logits = vmap(lambda params, X: functional_call(self.net, params, (X,)))
        self._eval = {  # split -> [(X (S, b, T, F), y (S, b))], the sources' chunks stacked
            split: [
                _stack(chunks) for chunks in zip(*(s.eval_batches(split) for s in self.sources))
            ]
            for split in self.splits
        }

    def _gradients(self, X: torch.Tensor, y: torch.Tensor) -> list[torch.Tensor]:
        """Every seed's gradients (S, ...) of its own training loss, the mean cross-entropy of
        its float32 logits as ClassifierLearner.step computes it. vmap batches the forward;
        plain autograd runs the backward through the batched ops it recorded (measured 2x
        faster than vmap(grad(loss)) at 16 units). The seeds' losses are summed: each seed's
        parameters reach only its own, so each gets its own gradient, scaled by exactly 1."""
        params = list(self.params.values())
        with torch.enable_grad():
            logits = self._logits(self.params, X).float()  # (S, B, K)
            loss = sum(
                F.cross_entropy(logits[s], y[s], label_smoothing=self.label_smoothing)
                for s in range(len(self.seeds))
            )
            return list(torch.autograd.grad(loss, params))

    def epoch_batches(self, epoch: int, batch_size: int) -> list[Batch]:
        """Each seed's batches of `epoch` (a step, for palindromes) from its own source."""
        per_seed = [
            s.epoch_batches(seed, epoch, batch_size) for s, seed in zip(self.sources, self.seeds)
        ]
        return [_stack(batches) for batches in zip(*per_seed)]

    @torch.no_grad()
    def step(self, X: torch.Tensor, y: torch.Tensor) -> None:  # X (S, B, T, F), y (S, B)
        params = list(self.params.values())
        grads = self._gradients(X, y)
        if self.max_norm > 0:  # clip_grad_norm_ per seed: the global norm of its gradients
            norms = torch.stack([g.flatten(1).norm(dim=1) for g in grads], dim=1)  # (S, P)
            total = torch.linalg.vector_norm(norms, dim=1)  # (S,)
            scale = torch.clamp(self.max_norm / (total + 1e-6), max=1.0)
            for g in grads:
                g.mul_(scale.view(-1, *[1] * (g.dim() - 1)))
        # torch.optim.RMSprop's multi-tensor update (neither centered nor maximizing)
        if self.weight_decay != 0:
            grads = torch._foreach_add(grads, params, alpha=self.weight_decay)
        torch._foreach_mul_(self.square_avgs, self.alpha)
        torch._foreach_addcmul_(self.square_avgs, grads, grads, value=1 - self.alpha)
        avg = torch._foreach_sqrt(self.square_avgs)
        torch._foreach_add_(avg, self.eps)
        if self.momentum > 0:
            torch._foreach_mul_(self.buffers, self.momentum)
            torch._foreach_addcdiv_(self.buffers, grads, avg)
            torch._foreach_add_(params, self.buffers, alpha=-self.lr)
        else:
            torch._foreach_addcdiv_(params, grads, avg, value=-self.lr)

    @torch.no_grad()
    def evaluate(self, split: str) -> list[tuple[float, float]]:
        """Each seed's mean cross-entropy and accuracy, summed chunk by chunk in float32 as
        ClassifierLearner.evaluate sums them."""
        S = len(self.seeds)
        total, correct, n = [0.0] * S, [0] * S, 0
        for X, y in self._eval[split]:
            logits = self._logits(self.params, X).float()  # (S, b, K)
            for s in range(S):
                total[s] += F.cross_entropy(logits[s], y[s], reduction="sum").item()
                correct[s] += int((logits[s].argmax(dim=1) == y[s]).sum())
            n += y.shape[1]
        return [(total[s] / n, round(correct[s]) / n) for s in range(S)]

    def weights(self, index: int) -> dict[str, torch.Tensor]:
        """A copy of seed seeds[index]'s parameters, named as in its model's state dict."""
        prefix = len("model.")
        return {name[prefix:]: p[index].detach().clone() for name, p in self.params.items()}


def _stack(batches: Sequence[Batch]) -> Batch:
    """One batch per seed -> the stacked batch; the seeds' batches must have one shape."""
    return torch.stack([X for X, _ in batches]), torch.stack([y for _, y in batches])
