"""Learners: a model plus how it takes a step, behind the interface train/loop.py expects.

NumpyLearner trains the from-scratch MLP; TorchLearner trains any classifier nn.Module with
autograd. Both are lean at batch size 1, where per-call overhead is the whole cost: see
benchmarks/mlp_toy.py for what each choice here is measured against.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from classicnets.data import ArrayData
from classicnets.numpy_nn import MLP, SGD, one_hot
from classicnets.train.loop import shuffled_batches


def log_softmax_loss(Z: np.ndarray, y: np.ndarray) -> float:
    """Mean cross-entropy from logits (B, K) via log-sum-exp: finite where softmax saturates,
    and the same formula as torch's cross_entropy, so the two runs report comparable losses."""
    Z = Z - Z.max(axis=1, keepdims=True)
    log_P = Z - np.log(np.exp(Z).sum(axis=1, keepdims=True))
    return float(-log_P[np.arange(len(y)), y].mean())


class NumpyLearner:
    """The NumPy MLP with plain SGD."""

    splits = ("train", "test")

    def __init__(self, model: MLP, data: ArrayData, learning_rate: float):
        self.model, self.data = model, data
        dtype = model.dtype
        # One-hot targets made once: the fused softmax-cross-entropy backward is then P - T.
        self.train_data = (
            data.X_train.astype(dtype),
            one_hot(data.y_train, data.num_classes, dtype),
        )
        self._eval = {
            "train": (self.train_data[0], data.y_train),
            "test": (data.X_test.astype(dtype), data.y_test),
        }
        self.optimizer = SGD(model.flat_params, model.flat_grads, learning_rate)

    def epoch_batches(self, seed: int, epoch: int, batch_size: int):
        return shuffled_batches(*self.train_data, seed, epoch, batch_size)

    def step(self, X: np.ndarray, T: np.ndarray) -> None:  # X (B, D), T (B, K) one-hot
        self.model.forward(X)
        self.model.backward(T)
        self.optimizer.step()

    def evaluate(self, split: str) -> tuple[float, float]:
        X, y = self._eval[split]
        Z = self.model.logits(X)
        return log_softmax_loss(Z, y), float((Z.argmax(axis=1) == y).mean())

    def predict_proba(self, X: np.ndarray) -> np.ndarray:  # (N, D) scaled inputs -> (N, K)
        return self.model.forward(X.astype(self.model.dtype))

    def state_dict(self) -> dict[str, torch.Tensor]:
        return {
            k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in self.model.state_dict().items()
        }

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        self.model.load_state_dict({k: v.numpy() for k, v in state.items()})


def _engine_grad():
    """A function (loss, inputs) -> gradients, as torch.autograd.grad computes them.

    torch.autograd.grad spends ~50 µs per call in Python argument handling on this 2-core
    machine before it reaches the autograd engine: a third of a whole per-sample SGD step of
    the toy MLP. The engine itself is called directly when this torch has the entry point that
    torch.autograd.grad uses (tests/test_learners.py checks the results are identical); else
    the public function.
    """
    engine = getattr(getattr(torch.autograd, "Variable", None), "_execution_engine", None)
    if engine is None or not hasattr(engine, "run_backward"):
        return lambda loss, inputs: torch.autograd.grad(loss, inputs)

    def grad(loss: torch.Tensor, inputs: tuple[torch.Tensor, ...]) -> tuple[torch.Tensor, ...]:
        # (outputs, grad_outputs, keep_graph, create_graph, inputs, allow_unreachable,
        #  accumulate_grad): the call torch.autograd.grad makes for a scalar loss.
        return engine.run_backward(
            (loss,), (torch.ones_like(loss),), False, False, inputs, False, False
        )

    try:  # probe once: a torch whose engine takes other arguments gets the public function
        x = torch.ones(1, requires_grad=True)
        grad((x * 2).sum(), (x,))
    except (TypeError, RuntimeError):
        return lambda loss, inputs: torch.autograd.grad(loss, inputs)
    return grad


class TorchLearner:
    """A PyTorch classifier (returns logits) trained by autograd with plain SGD.

    The step is: cross-entropy of the model's logits, gradients from autograd, then one fused
    multi-tensor update p <- p - lr * g (torch._foreach_add_, the kernel torch.optim.SGD uses
    with foreach=True, without the optimizer's ~100 µs of Python per step). No DataLoader: the
    data sits in tensors on the device, and the loop hands over views of them.
    """

    splits = ("train", "test")

    def __init__(
        self,
        model: nn.Module,
        data: ArrayData,
        learning_rate: float,
        device: torch.device,
        dtype: torch.dtype,
    ):
        self.model = model.to(device=device, dtype=dtype)
        self.device, self.dtype, self.learning_rate = device, dtype, learning_rate

        def tensors(X: np.ndarray, y: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
            return (
                torch.as_tensor(X, dtype=dtype, device=device),
                torch.as_tensor(y, dtype=torch.int64, device=device),
            )

        self.train_data = tensors(data.X_train, data.y_train)
        self._eval = {"train": self.train_data, "test": tensors(data.X_test, data.y_test)}
        self.params = tuple(self.model.parameters())
        self._param_data = [p.detach() for p in self.params]  # same storage, outside autograd
        self._grad = _engine_grad()

    def epoch_batches(self, seed: int, epoch: int, batch_size: int):
        return shuffled_batches(*self.train_data, seed, epoch, batch_size)

    def step(self, X: torch.Tensor, y: torch.Tensor) -> None:  # X (B, D), y (B,)
        loss = F.cross_entropy(self.model(X), y)
        grads = self._grad(loss, self.params)
        torch._foreach_add_(self._param_data, grads, alpha=-self.learning_rate)

    @torch.no_grad()
    def evaluate(self, split: str) -> tuple[float, float]:
        X, y = self._eval[split]
        logits = self.model(X)
        loss = F.cross_entropy(logits, y).item()
        accuracy = (logits.argmax(dim=1) == y).double().mean().item()
        return loss, accuracy

    @torch.no_grad()
    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        logits = self.model(torch.as_tensor(X, dtype=self.dtype, device=self.device))
        return torch.softmax(logits, dim=1).cpu().numpy()

    def state_dict(self) -> dict[str, torch.Tensor]:
        return {k: v.detach().cpu().clone() for k, v in self.model.state_dict().items()}

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        self.model.load_state_dict(state)
