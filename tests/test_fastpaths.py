"""train/fastpaths.py: each use of torch's private API gives what its public fallback gives.

The gloo case of wait_until_sole_owner (a tensor gloo's worker thread still holds after an
all_reduce) is covered end to end by tests/test_distributed.py; here, a tensor nobody else
holds, and one a view holds until another thread lets go.
"""

from __future__ import annotations

import threading
import time

import pytest
import torch
import torch.nn.functional as F

from classicnets.models import TorchMLP
from classicnets.train.fastpaths import autograd_grad, wait_until_sole_owner


def _loss(model: torch.nn.Module, X: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return F.cross_entropy(model(X), y)


@pytest.mark.parametrize("private", [True, False], ids=["engine", "public"])
def test_autograd_grad_is_exactly_torch_autograd_grad(private):
    torch.manual_seed(0)
    model = TorchMLP((3, 7, 5, 4)).double()
    X = torch.randn(6, 3, dtype=torch.float64, requires_grad=True)
    y = torch.randint(0, 4, (6,))
    grad = autograd_grad() if private else autograd_grad(private=False)
    for inputs in (tuple(model.parameters()), (X, *model.parameters()), (X,)):
        ours = grad(_loss(model, X, y), inputs)
        theirs = torch.autograd.grad(_loss(model, X, y), inputs)
        assert len(ours) == len(theirs) == len(inputs)
        for a, b, p in zip(ours, theirs, inputs, strict=True):
            assert a.dtype == torch.float64 and a.shape == p.shape
            assert torch.equal(a, b)
        assert all(p.grad is None for p in inputs)  # returned, never accumulated into .grad
    # and the same again: the graph is freed after each call, as torch.autograd.grad frees it
    loss = _loss(model, X, y)
    grad(loss, (X,))
    with pytest.raises(RuntimeError):
        grad(loss, (X,))


def test_this_torch_takes_the_engine_path():
    # The fallback is a lambda around torch.autograd.grad; on torch 2.13 the probe succeeds and
    # the direct engine call is what the toy MLP uses (and what the test above compares).
    assert autograd_grad().__name__ == "grad"
    assert autograd_grad(private=False).__name__ == "<lambda>"


@pytest.mark.parametrize("private", [True, False], ids=["use_count", "sleep"])
def test_wait_until_sole_owner_returns_at_once_for_a_tensor_nobody_else_holds(private):
    X = torch.ones(1000)
    started = time.monotonic()
    for _ in range(20):
        wait_until_sole_owner(X, private=private, timeout_s=10.0)
    assert time.monotonic() - started < 2.0  # 20 calls; a wait for the timeout would be 200 s


def test_the_private_path_waits_while_another_owner_holds_the_tensor():
    assert hasattr(torch.Tensor, "_use_count"), "this torch has no Tensor._use_count"
    X = torch.ones(1000)
    held = [X.view(1000)]  # a view keeps X's TensorImpl: a second owner, as gloo's work is
    assert X._use_count() > 1

    def let_go():
        time.sleep(0.2)
        held.clear()

    thread = threading.Thread(target=let_go)
    started = time.monotonic()
    thread.start()
    wait_until_sole_owner(X, private=True, timeout_s=20.0)
    waited = time.monotonic() - started
    thread.join()
    assert 0.2 <= waited < 10.0  # returned once the other owner let go, not before
    assert X._use_count() == 1
