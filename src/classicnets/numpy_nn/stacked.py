"""S MLPs of one shape trained at once: the NumPy MLP with a leading seed axis on everything.

All seeds' weights are views into one flat vector, tensor by tensor ((S, in, out) for each W,
(S, 1, out) for each b, slice s of each copied from seed s's MLP), so the SGD step is one
update of the whole vector (numpy_nn.SGD, unchanged). A batch is (S, B, D): row s is seed s's
batch, and every product is a batched matmul (S, B, D) @ (S, D, H), so one step of S seeds
costs the NumPy calls of one step of one seed (train/together.py; timed against separate runs
in benchmarks/seeds.py). Shapes as in modules.py, with S = seeds in front.
"""

from __future__ import annotations

import numpy as np

from classicnets.numpy_nn.mlp import MLP
from classicnets.numpy_nn.modules import Linear, Module, ReLU


class StackedLinear(Linear):
    """Y = X W + b per seed: W (S, D, H), b (S, 1, H); forward is Linear's (matmul broadcasts
    over the leading axis), backward the same three products with the seed axis kept."""

    def backward(self, dout: np.ndarray) -> np.ndarray | None:  # (S, B, H) -> (S, B, D)
        np.matmul(self.X.swapaxes(1, 2), dout, out=self.dW)  # (S, D, B) @ (S, B, H)
        np.add.reduce(dout, axis=1, keepdims=True, out=self.db)  # (S, 1, H): batch sums
        return dout @ self.W.swapaxes(1, 2) if self.input_grad else None  # (S, B, H) @ (S, H, D)


class StackedMLP:
    """S copies of one MLP's architecture with their own weights, in one flat vector."""

    def __init__(self, models: list[MLP]):
        """`models`: the seeds' MLPs (their current weights are copied; they are not kept)."""
        if len({tuple(lin.W.shape for lin in m.linears) for m in models}) != 1:
            raise ValueError("StackedMLP: every seed's MLP must have the same layer sizes")
        self.dtype = models[0].dtype
        S, total = len(models), models[0].flat_params.size * len(models)
        # Tensor by tensor, each (S, ...) block contiguous (a contiguous W (S, D, H) makes the
        # batched matmul ~1.6x faster than rows of seeds strided by P would); one vector, so
        # the SGD step is still one update of everything.
        self.flat_params = np.empty(total, dtype=self.dtype)  # (S * P,)
        self.flat_grads = np.zeros(total, dtype=self.dtype)
        self.modules: list[Module] = []
        offset = 0
        for i, linears in enumerate(zip(*(m.linears for m in models))):
            views = []
            for name in ("W", "b"):  # (D, H), (1, H) of every seed
                per_seed = [getattr(linear, name) for linear in linears]
                shape, size = (S, *per_seed[0].shape), S * per_seed[0].size
                for flat in (self.flat_params, self.flat_grads):
                    views.append(flat[offset : offset + size].reshape(shape))
                views[-2][...] = np.stack(per_seed)
                offset += size
            W, dW, b, db = views
            if i > 0:
                self.modules.append(ReLU())
            self.modules.append(StackedLinear(W, b, dW, db, input_grad=i > 0))

    def logits(self, X: np.ndarray) -> np.ndarray:  # (S, B, D) -> (S, B, K)
        for module in self.modules:
            X = module.forward(X)
        return X

    def step_gradients(self, X: np.ndarray, T: np.ndarray) -> None:
        """Fill every seed's gradients for inputs X (S, B, D) and one-hot targets T (S, B, K):
        MLP.forward then MLP.backward, with SoftMax's and CrossEntropy's formulas per seed."""
        Z = self.logits(X)  # (S, B, K)
        E = np.exp(Z - np.maximum.reduce(Z, axis=2, keepdims=True))
        P = E / np.add.reduce(E, axis=2, keepdims=True)  # softmax over the classes
        dout = P - T  # the fused softmax-cross-entropy backward, (P - T) / B
        dout *= 1.0 / X.shape[1]
        for module in reversed(self.modules):
            dout = module.backward(dout)

    def weights(self, seed_index: int) -> dict[str, np.ndarray]:
        """Seed `seed_index`'s parameters in MLP.state_dict's names and (out, in) layout."""
        linears = [m for m in self.modules if isinstance(m, Linear)]
        state = {}
        for i, linear in enumerate(linears):
            state[f"linears.{i}.weight"] = linear.W[seed_index].T  # (out, in)
            state[f"linears.{i}.bias"] = linear.b[seed_index, 0]  # (out,)
        return state
