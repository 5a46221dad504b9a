"""The four modules of the NumPy MLP, forward and backward written by hand.

Each module's forward(X) keeps what its backward needs; backward(dout) takes dL/d(output),
writes the gradients of the module's parameters into `grads` (arrays allocated once and filled
in place, never rebuilt per step) and returns dL/d(input). Shapes: B = batch, D = features in,
H = features out, K = classes.

Written for speed at batch size 1 as much as for clarity: per-sample SGD calls these about a
hundred thousand times a run, so every NumPy call counts (see benchmarks/mlp_toy.py).
"""

from __future__ import annotations

import numpy as np


class Module:
    """A layer: `params` and `grads` are dicts of arrays with the same keys (empty if none)."""

    params: dict[str, np.ndarray]
    grads: dict[str, np.ndarray]

    def forward(self, X: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def backward(self, dout: np.ndarray) -> np.ndarray | None:
        raise NotImplementedError


class Linear(Module):
    """Y = X W + b, with W of shape (D, H) and b of shape (1, H).

    The (in, out) layout of the course's NumPy code (and of numpy-ml) keeps both matmuls on
    contiguous arrays, and the (1, H) bias adds without broadcasting at batch size 1: together
    about 3 µs a step less than torch's (out, in) layout here. MLP.state_dict converts to and
    from torch's layout. The arrays may be views into larger flat vectors (the MLP keeps all
    parameters in one, so the SGD step is one fused update); they are written in place, never
    replaced.
    """

    def __init__(
        self,
        weight: np.ndarray,
        bias: np.ndarray,
        grad_weight: np.ndarray | None = None,
        grad_bias: np.ndarray | None = None,
        input_grad: bool = True,
    ):
        self.W, self.b = weight, bias  # (D, H), (1, H)
        self.dW = np.zeros_like(weight) if grad_weight is None else grad_weight
        self.db = np.zeros_like(bias) if grad_bias is None else grad_bias
        self.params = {"weight": self.W, "bias": self.b}
        self.grads = {"weight": self.dW, "bias": self.db}
        # The first layer's dL/dX is never used; skipping it saves a matmul per step.
        self.input_grad = input_grad

    def forward(self, X: np.ndarray) -> np.ndarray:  # (B, D) -> (B, H)
        self.X = X
        return X @ self.W + self.b

    def backward(self, dout: np.ndarray) -> np.ndarray | None:  # (B, H) -> (B, D)
        np.matmul(self.X.T, dout, out=self.dW)  # dW = X^T dout: (D, B) @ (B, H)
        np.add.reduce(dout, axis=0, keepdims=True, out=self.db)  # db = batch sum of dout
        return dout @ self.W.T if self.input_grad else None  # dX = dout W^T: (B, H) @ (H, D)


class ReLU(Module):
    """Y = max(X, 0); the gradient passes where the output is positive."""

    def __init__(self):
        self.params, self.grads = {}, {}

    def forward(self, X: np.ndarray) -> np.ndarray:  # (B, H) -> (B, H)
        self.Y = np.maximum(X, 0.0)
        return self.Y

    def backward(self, dout: np.ndarray) -> np.ndarray:  # (B, H) -> (B, H)
        return dout * np.greater(self.Y, 0.0)


class SoftMax(Module):
    """P = exp(X) / sum(exp(X)) along the class axis, computed with the max subtracted."""

    def __init__(self):
        self.params, self.grads = {}, {}

    def forward(self, X: np.ndarray) -> np.ndarray:  # (B, K) logits -> (B, K) probabilities
        # ufunc.reduce rather than X.max()/E.sum(): same result, ~1 µs less Python each.
        E = np.exp(X - np.maximum.reduce(X, axis=1, keepdims=True))
        self.P = E / np.add.reduce(E, axis=1, keepdims=True)
        return self.P

    def backward(self, dout: np.ndarray) -> np.ndarray:  # (B, K) -> (B, K)
        # The softmax Jacobian is diag(P) - P P^T, so dX = P * (dout - <dout, P>) row by row.
        P = self.P
        return P * (dout - (dout * P).sum(axis=1, keepdims=True))


class CrossEntropy(Module):
    """L = -mean over the batch of sum_k T_k log P_k, for one-hot targets T and probabilities P.

    `fused_backward` gives dL/d(logits) for SoftMax followed by CrossEntropy in one step,
    (P - T) / B: the same number as SoftMax.backward(CrossEntropy.backward()), without the
    division by P that makes the two-step form slow and unstable when P is tiny.
    """

    def __init__(self):
        self.params, self.grads = {}, {}

    def forward(self, P: np.ndarray, T: np.ndarray) -> float:  # (B, K), (B, K) -> scalar
        self.P, self.T = P, T
        # log(0) would be -inf: clip at the smallest positive float, as large as the loss can be.
        return float(-(T * np.log(np.maximum(P, np.finfo(P.dtype).tiny))).sum() / len(P))

    def backward(self, dout: float = 1.0) -> np.ndarray:  # -> (B, K) dL/dP
        return -dout * self.T / (self.P * len(self.P))

    @staticmethod
    def fused_backward(P: np.ndarray, T: np.ndarray) -> np.ndarray:  # (B, K) -> (B, K) dL/dlogits
        dZ = P - T
        dZ *= 1.0 / len(P)
        return dZ


def one_hot(y: np.ndarray, num_classes: int, dtype=np.float64) -> np.ndarray:
    """Integer labels (B,) -> one-hot rows (B, K)."""
    T = np.zeros((len(y), num_classes), dtype=dtype)
    T[np.arange(len(y)), y] = 1
    return T
