"""The NumPy MLP: Linear -> ReLU -> ... -> Linear -> SoftMax, trained with CrossEntropy and SGD."""

from __future__ import annotations

import numpy as np

from classicnets.numpy_nn.modules import CrossEntropy, Linear, Module, ReLU, SoftMax


class MLP:
    """A multi-layer perceptron built from the hand-written modules.

    All weights and biases are views into one flat vector `flat_params`, and all gradients
    views into `flat_grads`: each Linear reads and writes its own slice, and the SGD step is
    one in-place update of the whole vector instead of one per tensor.
    """

    def __init__(self, layers: list[tuple[np.ndarray, np.ndarray]], dtype=np.float64):
        """`layers`: (W, b) pairs in torch's layout, W (out, in) and b (out,), e.g. from
        init_linear_layers; they are copied (transposed to Linear's (in, out) layout)."""
        self.dtype = np.dtype(dtype)
        total = sum(W.size + b.size for W, b in layers)
        self.flat_params = np.empty(total, dtype=self.dtype)
        self.flat_grads = np.zeros(total, dtype=self.dtype)
        self.modules: list[Module] = []
        offset = 0
        for i, (W, b) in enumerate(layers):
            views = []
            for array in (W.T, b.reshape(1, -1)):  # (in, out) and (1, out)
                view = self.flat_params[offset : offset + array.size].reshape(array.shape)
                view[...] = array
                grad = self.flat_grads[offset : offset + array.size].reshape(array.shape)
                views += [view, grad]
                offset += array.size
            W_view, dW_view, b_view, db_view = views
            if i > 0:
                self.modules.append(ReLU())
            self.modules.append(Linear(W_view, b_view, dW_view, db_view, input_grad=i > 0))
        self.softmax = SoftMax()
        self.loss = CrossEntropy()

    @property
    def linears(self) -> list[Linear]:
        return [m for m in self.modules if isinstance(m, Linear)]

    def logits(self, X: np.ndarray) -> np.ndarray:  # (B, D) -> (B, K)
        for module in self.modules:
            X = module.forward(X)
        return X

    def forward(self, X: np.ndarray) -> np.ndarray:  # (B, D) -> (B, K) class probabilities
        return self.softmax.forward(self.logits(X))

    def backward(self, T: np.ndarray) -> None:
        """Fill every gradient, after forward(X), for one-hot targets T (B, K)."""
        dout = self.loss.fused_backward(self.softmax.P, T)
        for module in reversed(self.modules):
            dout = module.backward(dout)

    def state_dict(self) -> dict[str, np.ndarray]:
        """Parameters by name, in the names and (out, in) layout of models.mlp.TorchMLP.

        The arrays are views of the live parameters (transposed/reshaped), not copies.
        """
        state = {}
        for i, linear in enumerate(self.linears):
            state[f"linears.{i}.weight"] = linear.W.T  # (out, in)
            state[f"linears.{i}.bias"] = linear.b[0]  # (out,)
        return state

    def load_state_dict(self, state: dict[str, np.ndarray]) -> None:
        for name, view in self.state_dict().items():
            view[...] = np.asarray(state[name], dtype=self.dtype)


class SGD:
    """Plain stochastic gradient descent, p <- p - lr * dL/dp, as torch.optim.SGD without momentum.

    Works on the flat vectors, so a step is two NumPy calls whatever the depth of the MLP, and
    allocates nothing.
    """

    def __init__(self, params: np.ndarray, grads: np.ndarray, learning_rate: float):
        self.params, self.grads, self.learning_rate = params, grads, learning_rate
        self._update = np.empty_like(params)

    def step(self) -> None:
        np.multiply(self.grads, self.learning_rate, out=self._update)
        np.subtract(self.params, self._update, out=self.params)
