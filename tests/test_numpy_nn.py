"""The NumPy MLP's hand-written backward passes, proved twice: finite differences and PyTorch.

Shapes: B = batch, D = features in, H = features out, K = classes. Everything is float64.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from classicnets.models.mlp import TorchMLP
from classicnets.numpy_nn import (
    MLP,
    SGD,
    CrossEntropy,
    Linear,
    ReLU,
    SoftMax,
    init_linear_layers,
    one_hot,
)

EPS = 1e-6  # central-difference step: truncation error ~EPS**2, rounding error ~1e-16 / EPS
TOL = 1e-6  # largest relative error accepted between the analytic and numerical gradients


def numerical_grad(f, x: np.ndarray, eps: float = EPS) -> np.ndarray:
    """dL/dx of the scalar L = f() by central differences, perturbing x in place entry by entry.

    x may be a view into a larger array (an MLP parameter): f() must read x, not a copy.
    """
    grad = np.zeros_like(x)
    for idx in np.ndindex(x.shape):
        original = x[idx]
        x[idx] = original + eps
        f_plus = f()
        x[idx] = original - eps
        f_minus = f()
        x[idx] = original
        grad[idx] = (f_plus - f_minus) / (2 * eps)
    return grad


def rel_error(analytic: np.ndarray, numeric: np.ndarray) -> float:
    """||a - n|| / max(1e-8, ||a|| + ||n||).

    Norm-based rather than the elementwise max of |a - n| / (|a| + |n|): an entry whose true
    value is ~0 (a unit that barely fires, a class with P ~ 0) holds only the ~1e-10 rounding
    noise of the difference quotient, so its elementwise ratio can be ~1 for a correct backward.
    The norm ratio measures the error on the scale of the whole gradient and still catches one
    wrong entry (test_gradient_check_can_fail). The floor makes two all-zero gradients (a dead
    ReLU layer) agree instead of dividing 0 by 0.
    """
    diff = np.linalg.norm(analytic - numeric)
    return float(diff / max(1e-8, np.linalg.norm(analytic) + np.linalg.norm(numeric)))


def random_targets(rng: np.random.Generator, B: int, K: int) -> np.ndarray:  # -> (B, K) one-hot
    return one_hot(rng.integers(0, K, size=B), K)


# --- Finite differences, module by module: L = <dout, Y> for a random upstream dout = dL/dY ---


@pytest.mark.parametrize("B, D, H", [(1, 3, 4), (5, 4, 3)])
def test_linear_gradients(B, D, H):
    rng = np.random.default_rng(0)
    W, b = rng.normal(size=(D, H)), rng.normal(size=(1, H))  # (D, H), (1, H)
    X, dout = rng.normal(size=(B, D)), rng.normal(size=(B, H))  # (B, D), (B, H)
    linear = Linear(W, b)
    linear.forward(X)
    dX = linear.backward(dout)  # also fills linear.grads; forward alone never touches them

    def loss():
        return np.sum(dout * linear.forward(X))

    assert rel_error(linear.grads["weight"], numerical_grad(loss, W)) < TOL
    assert rel_error(linear.grads["bias"], numerical_grad(loss, b)) < TOL
    assert rel_error(dX, numerical_grad(loss, X)) < TOL
    no_dX = Linear(W, b, input_grad=False)  # the first layer: dX is never needed
    no_dX.forward(X)
    assert no_dX.backward(dout) is None


@pytest.mark.parametrize("B, H", [(1, 4), (5, 3)])
def test_relu_gradient(B, H):
    rng = np.random.default_rng(1)
    # |X| in [0.1, 1], far more than EPS from 0: the difference quotient never crosses the kink.
    X = rng.uniform(0.1, 1.0, size=(B, H)) * rng.choice([-1.0, 1.0], size=(B, H))
    dout = rng.normal(size=(B, H))
    relu = ReLU()
    relu.forward(X)
    dX = relu.backward(dout)
    assert rel_error(dX, numerical_grad(lambda: np.sum(dout * relu.forward(X)), X)) < TOL


@pytest.mark.parametrize("B, K", [(1, 4), (5, 3)])
def test_softmax_gradient(B, K):
    rng = np.random.default_rng(2)
    X, dout = 2 * rng.normal(size=(B, K)), rng.normal(size=(B, K))  # logits, dL/dP
    softmax = SoftMax()
    softmax.forward(X)
    dX = softmax.backward(dout)
    assert rel_error(dX, numerical_grad(lambda: np.sum(dout * softmax.forward(X)), X)) < TOL


@pytest.mark.parametrize("B, K", [(1, 4), (5, 3)])
def test_cross_entropy_gradient(B, K):
    rng = np.random.default_rng(3)
    P = SoftMax().forward(rng.normal(size=(B, K)))  # (B, K) probabilities, none near 0
    T = random_targets(rng, B, K)
    ce = CrossEntropy()
    ce.forward(P, T)
    dP = ce.backward()
    assert rel_error(dP, numerical_grad(lambda: ce.forward(P, T), P)) < TOL


@pytest.mark.parametrize("hidden", [(), (20,), (7, 5)])
@pytest.mark.parametrize("B", [1, 6])
def test_mlp_gradients(hidden, B):
    D, K = 3, 4
    rng = np.random.default_rng(B)
    mlp = MLP(init_linear_layers((D, *hidden, K), seed=len(hidden)))
    X, T = rng.normal(size=(B, D)), random_targets(rng, B, K)  # (B, D), (B, K)
    mlp.forward(X)
    mlp.backward(T)
    ce = CrossEntropy()

    def loss():
        return ce.forward(mlp.forward(X), T)

    # Every entry of every parameter: each is a view into flat_params, perturbed in place.
    for i, linear in enumerate(mlp.linears):
        for name, param in linear.params.items():
            error = rel_error(linear.grads[name], numerical_grad(loss, param))
            assert error < TOL, f"linears.{i}.{name}: relative error {error:.2e}"


@pytest.mark.parametrize("B, K", [(1, 2), (6, 5)])
def test_fused_backward_matches_two_step(B, K):
    rng = np.random.default_rng(4)
    softmax, ce = SoftMax(), CrossEntropy()
    P = softmax.forward(3 * rng.normal(size=(B, K)))  # (B, K)
    T = random_targets(rng, B, K)
    ce.forward(P, T)
    two_step = softmax.backward(ce.backward())  # dL/dlogits through dL/dP
    np.testing.assert_allclose(CrossEntropy.fused_backward(P, T), two_step, rtol=0, atol=1e-12)


# --- Parity with PyTorch autograd on random shapes ---


def random_sizes(rng: np.random.Generator) -> tuple[int, ...]:
    """(D, *hidden, K): D in 1..6, 1 to 3 hidden layers of widths 1..16, K in 2..5."""
    hidden = rng.integers(1, 17, size=rng.integers(1, 4))
    return (int(rng.integers(1, 7)), *map(int, hidden), int(rng.integers(2, 6)))


def torch_layout_grads(mlp: MLP) -> dict[str, np.ndarray]:
    """The MLP's gradients under TorchMLP's parameter names, in (out, in) layout."""
    grads = {}
    for i, linear in enumerate(mlp.linears):
        grads[f"linears.{i}.weight"] = linear.grads["weight"].T  # (in, out) -> (out, in)
        grads[f"linears.{i}.bias"] = linear.grads["bias"][0]  # (1, out) -> (out,)
    return grads


@pytest.mark.parametrize("seed", range(12))
def test_parity_with_torch(seed):
    rng = np.random.default_rng(seed)
    sizes = random_sizes(rng)
    B, K = int(rng.integers(1, 10)), sizes[-1]
    layers = init_linear_layers(sizes, seed)
    mlp = MLP(layers)
    torch_mlp = TorchMLP(sizes).double().copy_from(layers)
    X, y = rng.normal(size=(B, sizes[0])), rng.integers(0, K, size=B)  # (B, D), (B,)

    loss = CrossEntropy().forward(mlp.forward(X), one_hot(y, K))
    mlp.backward(one_hot(y, K))
    torch_loss = F.cross_entropy(torch_mlp(torch.from_numpy(X)), torch.from_numpy(y))
    torch_loss.backward()
    assert loss == pytest.approx(torch_loss.item(), rel=0, abs=1e-10), sizes

    grads = torch_layout_grads(mlp)
    assert set(grads) == {name for name, _ in torch_mlp.named_parameters()}
    for name, param in torch_mlp.named_parameters():
        grad = param.grad.numpy()
        np.testing.assert_allclose(grads[name], grad, rtol=0, atol=1e-10, err_msg=name)

    SGD(mlp.flat_params, mlp.flat_grads, learning_rate=0.1).step()
    torch.optim.SGD(torch_mlp.parameters(), lr=0.1).step()
    state = mlp.state_dict()
    for name, value in torch_mlp.state_dict().items():
        np.testing.assert_allclose(state[name], value.numpy(), rtol=0, atol=1e-10, err_msg=name)


# --- state_dict and SGD ---


def test_state_dict_round_trip():
    sizes = (3, 7, 5, 4)  # (D, *hidden, K)
    layers = init_linear_layers(sizes, seed=0)
    mlp = MLP(layers)
    state = mlp.state_dict()
    assert list(state) == [f"linears.{i}.{p}" for i in range(3) for p in ("weight", "bias")]
    for i, (W, b) in enumerate(layers):  # torch layout in, torch layout out
        np.testing.assert_array_equal(state[f"linears.{i}.weight"], W)
        np.testing.assert_array_equal(state[f"linears.{i}.bias"], b)

    other = MLP(init_linear_layers(sizes, seed=1))
    other.load_state_dict({name: value.copy() for name, value in state.items()})
    np.testing.assert_array_equal(other.flat_params, mlp.flat_params)
    X = np.random.default_rng(5).normal(size=(4, 3))  # (B, D)
    np.testing.assert_array_equal(other.forward(X), mlp.forward(X))

    # A TorchMLP's own state_dict loads too (float32 -> float64 is exact).
    torch_state = {name: t.numpy() for name, t in TorchMLP(sizes).state_dict().items()}
    other.load_state_dict(torch_state)
    for name, value in other.state_dict().items():
        np.testing.assert_array_equal(value, torch_state[name])

    # The arrays are live views: writing one writes the parameter, and the MLP's inputs are copies.
    state["linears.2.bias"][1] = 42.0
    assert mlp.linears[2].b[0, 1] == 42.0 and layers[2][1][1] != 42.0


def test_sgd_step_is_minus_lr_times_grad():
    rng = np.random.default_rng(6)
    mlp = MLP(init_linear_layers((3, 7, 4), seed=0))
    mlp.forward(rng.normal(size=(5, 3)))
    mlp.backward(random_targets(rng, 5, 4))
    assert np.count_nonzero(mlp.flat_grads) > mlp.flat_grads.size // 2  # a step that moves
    lr = 0.1
    flat_before = mlp.flat_params.copy()
    W_before = [linear.W.copy() for linear in mlp.linears]
    SGD(mlp.flat_params, mlp.flat_grads, lr).step()
    np.testing.assert_array_equal(mlp.flat_params, flat_before - lr * mlp.flat_grads)
    # ... and each Linear sees it, so its arrays really are views of flat_params/flat_grads.
    for linear, W in zip(mlp.linears, W_before):
        np.testing.assert_array_equal(linear.W, W - lr * linear.grads["weight"])


# --- The checks can fail ---


class DiagonalSoftMax(SoftMax):
    """A classic slip: only the diagonal of the softmax Jacobian, dX = P * dout."""

    def backward(self, dout):
        return self.P * dout


def test_gradient_check_can_fail():
    rng = np.random.default_rng(7)
    X, dout = rng.normal(size=(5, 4)), rng.normal(size=(5, 4))  # (B, K)

    # One entry of a correct dX off by 1e-3 (the whole gradient has norm ~1): caught.
    softmax = SoftMax()
    softmax.forward(X)
    dX = softmax.backward(dout)
    numeric = numerical_grad(lambda: np.sum(dout * softmax.forward(X)), X)
    assert rel_error(dX, numeric) < TOL
    dX[2, 1] += 1e-3
    assert rel_error(dX, numeric) > 100 * TOL

    # A wrong backward pass: caught by a wide margin.
    wrong = DiagonalSoftMax()
    wrong.forward(X)
    assert rel_error(wrong.backward(dout), numeric) > 1e-2
