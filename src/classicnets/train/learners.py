"""The toy MLPs' learners: a model plus how it takes a step, behind train/loop.py's Learner.

NumpyLearner trains the from-scratch MLP; ToyTorchLearner trains its PyTorch twin with
autograd and plain SGD (every other torch model trains through classifier.py). Both are
lean at batch size 1, where per-call overhead is the whole cost: see benchmarks/mlp_toy.py
for what each choice here is measured against.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from classicnets.data import ArrayData
from classicnets.numpy_nn import MLP, SGD, one_hot
from classicnets.train import fastpaths
from classicnets.train.loop import shuffled_batches


def log_softmax_loss(Z: np.ndarray, y: np.ndarray) -> float:
    """Mean cross-entropy from logits (B, K) via log-sum-exp: finite where softmax saturates,
    and the same formula as torch's cross_entropy, so the two runs report comparable losses."""
    Z = Z - Z.max(axis=1, keepdims=True)
    log_P = Z - np.log(np.exp(Z).sum(axis=1, keepdims=True))
    return float(-log_P[np.arange(len(y)), y].mean())


class NumpyLearner:
    """The NumPy MLP with plain SGD."""

    def __init__(self, model: MLP, data: ArrayData, learning_rate: float):
        self.model, self.data = model, data
        self.splits = data.splits
        dtype = model.dtype
        # One-hot targets made once: the fused softmax-cross-entropy backward is then P - T.
        self.train_data = (
            data.X_train.astype(dtype),
            one_hot(data.y_train, data.num_classes, dtype),
        )
        # What each split's evaluation reads (X cast to the model's dtype, integer labels);
        # train/together.py stacks the seeds' own.
        self.eval_data = {
            "train": (self.train_data[0], data.y_train),
            "test": (data.X_test.astype(dtype), data.y_test),
        }
        if data.X_val is not None:
            self.eval_data["val"] = (data.X_val.astype(dtype), data.y_val)
        self.optimizer = SGD(model.flat_params, model.flat_grads, learning_rate)

    def epoch_batches(self, seed: int, epoch: int, batch_size: int):
        return shuffled_batches(*self.train_data, seed, epoch, batch_size)

    def step(self, X: np.ndarray, T: np.ndarray) -> None:  # X (B, D), T (B, K) one-hot
        self.model.forward(X)
        self.model.backward(T)
        self.optimizer.step()

    @property
    def learning_rate(self) -> float:  # constant: plain SGD has no schedule
        return self.optimizer.learning_rate

    def evaluate(self, split: str) -> tuple[float, float]:
        X, y = self.eval_data[split]
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

    def weights(self) -> dict[str, torch.Tensor]:  # the model is all its state
        return self.state_dict()

    def load_weights(self, weights: dict[str, torch.Tensor]) -> None:
        self.load_state_dict(weights)


class ToyTorchLearner:
    """A PyTorch classifier (returns logits) trained by autograd with plain SGD.

    The step is: cross-entropy of the model's logits, gradients from autograd, then one fused
    multi-tensor update p <- p - lr * g (torch._foreach_add_, the kernel torch.optim.SGD uses
    with foreach=True, without the optimizer's ~100 µs of Python per step). No DataLoader: the
    data sits in tensors on the device, and the loop hands over views of them.
    """

    def __init__(
        self,
        model: nn.Module,
        data: ArrayData,
        learning_rate: float,
        device: torch.device,
        dtype: torch.dtype,
    ):
        self.splits = data.splits
        self.model = model.to(device=device, dtype=dtype)
        self.device, self.dtype, self.learning_rate = device, dtype, learning_rate

        def tensors(X: np.ndarray, y: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
            return (
                torch.as_tensor(X, dtype=dtype, device=device),
                torch.as_tensor(y, dtype=torch.int64, device=device),
            )

        self.train_data = tensors(data.X_train, data.y_train)
        self._eval = {"train": self.train_data, "test": tensors(data.X_test, data.y_test)}
        if data.X_val is not None:
            self._eval["val"] = tensors(data.X_val, data.y_val)
        self.params = tuple(self.model.parameters())
        self._param_data = [p.detach() for p in self.params]  # same storage, outside autograd
        self._grad = fastpaths.autograd_grad()

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

    def weights(self) -> dict[str, torch.Tensor]:  # the model is all its state
        return self.state_dict()

    def load_weights(self, weights: dict[str, torch.Tensor]) -> None:
        self.load_state_dict(weights)
