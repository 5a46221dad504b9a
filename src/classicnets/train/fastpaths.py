"""The two places classicnets leans on torch's private API, each with the public way beside
it as the fallback, and tests/test_fastpaths.py holding both to the same results.

  * autograd_grad: the autograd engine called directly, skipping torch.autograd.grad's
    Python argument handling (a third of the toy MLP's per-sample SGD step);
  * wait_until_sole_owner: Tensor._use_count, to wait until gloo has let go of a tensor
    before Python may free it (a hang otherwise, train/distributed.py's all_reduce).

Should a torch release drop or change either entry point, the public path takes over: the
first is probed once, the second checked for.
"""

from __future__ import annotations

import time

import torch


def autograd_grad(private: bool = True):
    """A function (loss, inputs) -> gradients, as torch.autograd.grad computes them.

    torch.autograd.grad spends ~50 µs per call in Python argument handling on this 2-core
    machine before it reaches the autograd engine: a third of a whole per-sample SGD step of
    the toy MLP. The engine itself is called directly when this torch has the entry point that
    torch.autograd.grad uses (tests/test_fastpaths.py checks the results are identical); else,
    or with private=False, the public function.
    """
    public = torch.autograd.grad
    if not private:
        return lambda loss, inputs: public(loss, inputs)
    engine = getattr(getattr(torch.autograd, "Variable", None), "_execution_engine", None)
    if engine is None or not hasattr(engine, "run_backward"):
        return lambda loss, inputs: public(loss, inputs)

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
        return lambda loss, inputs: public(loss, inputs)
    return grad


def wait_until_sole_owner(X: torch.Tensor, private: bool = True, timeout_s: float = 10.0) -> None:
    """Return once X's storage has no owner but Python's (gloo's worker thread drops its
    reference when it frees the finished work: microseconds).

    Private path: Tensor._use_count, polled with the GIL released. Public fallback (a torch
    without it, or private=False): a short sleep, after which gloo's work is done in practice;
    it cannot prove it, which is why the private path is preferred where it exists.
    """
    use_count = getattr(X, "_use_count", None) if private else None
    if use_count is None:
        time.sleep(0.001)
        return
    deadline = time.monotonic() + timeout_s
    while use_count() > 1 and time.monotonic() < deadline:
        time.sleep(0)
