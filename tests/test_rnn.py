"""The recurrent nets: explicit against fused (forward and every gradient, float32 and float64,
random shapes), the hand-written backward through time against autograd's, the inits, the
buffers kept between steps, the gradient flow over time, and a short training run."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from classicnets.analysis.gradient_flow import gradient_norms, plot_gradient_flow
from classicnets.data.palindrome import encode, held_out, palindrome_batch
from classicnets.errors import UsageError
from classicnets.models.rnn import RNNClassifier, copy_weights

CELLS = ("rnn", "lstm", "gru")
SHAPES = [(1, 1, 1, 1), (3, 7, 4, 5), (8, 12, 10, 16), (5, 25, 3, 9)]  # (B, T, F, H)
TOLERANCE = {torch.float32: 1e-5, torch.float64: 1e-10}


def pair(cell: str, F_: int, H: int, K: int, dtype: torch.dtype, init: str = "normal"):
    """An explicit and a fused model with the same weights."""
    torch.manual_seed(0)
    explicit = RNNClassifier(cell, "explicit", F_, H, K, init).to(dtype)
    fused = RNNClassifier(cell, "fused", F_, H, K, init).to(dtype)
    return explicit, copy_weights(explicit, fused)


def logits_and_grads(model: RNNClassifier, X, y, with_states: bool = False):
    """Logits and dL/d(X, W_hx, W_hh, b_hx, b_hh, W_ph, b_p), in that order."""
    X = X.detach().requires_grad_()
    logits = model.forward_with_states(X)[0] if with_states else model(X)
    params = [X, *model.recurrent_weights(), model.head.weight, model.head.bias]
    return [logits, *torch.autograd.grad(F.cross_entropy(logits, y), params)]


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=["float32", "float64"])
@pytest.mark.parametrize("cell", CELLS)
def test_explicit_equals_fused_forward_and_every_gradient(cell, dtype):
    tol = TOLERANCE[dtype]
    for B, T, F_, H in SHAPES:
        explicit, fused = pair(cell, F_, H, 4, dtype)
        gen = torch.Generator().manual_seed(B * T)
        X = torch.randn(B, T, F_, generator=gen, dtype=dtype)
        y = torch.randint(0, 4, (B,), generator=gen)
        want = logits_and_grads(fused, X, y)
        for with_states in (False, True):  # the training path, and the step-by-step one
            got = logits_and_grads(explicit, X, y, with_states)
            names = ["logits", "X", "W_hx", "W_hh", "b_hx", "b_hh", "W_ph", "b_p"]
            for name, a, b in zip(names, got, want, strict=True):  # the head's too
                torch.testing.assert_close(
                    a, b, rtol=tol, atol=tol, msg=f"{name} {(B, T, F_, H)} {with_states}"
                )


@pytest.mark.parametrize("cell", CELLS)
def test_fused_states_step_by_step_equal_its_own_sequence(cell):
    _, fused = pair(cell, 3, 6, 2, torch.float64)
    X = torch.randn(4, 9, 3, dtype=torch.float64)
    logits, states = fused.forward_with_states(X)
    torch.testing.assert_close(logits, fused(X), rtol=1e-12, atol=1e-12)
    assert len(states) == 9 and all(h.shape == (4, 6) for h in states)


@pytest.mark.parametrize("cell", CELLS)
def test_explicit_and_fused_train_alike(cell):
    """Ten RMSprop steps in float64 from one seed: the same losses to 1e-10, the same weights."""
    models = []
    for impl in ("explicit", "fused"):
        torch.manual_seed(5)
        models.append(RNNClassifier(cell, impl, 10, 12, 10).double())
    opts = [torch.optim.RMSprop(m.parameters(), lr=1e-2) for m in models]
    for step in range(10):
        digits, targets = palindrome_batch(16, 6, 0, step)
        X, y = torch.from_numpy(encode(digits, 10)).double(), torch.from_numpy(targets)
        losses = []
        for model, opt in zip(models, opts):
            loss = F.cross_entropy(model(X), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(loss.item())
        assert abs(losses[0] - losses[1]) < 1e-10, (step, losses)
    for a, b in zip(*(m.recurrent_weights() for m in models)):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("cell", CELLS)
def test_same_seed_same_weights_in_both_implementations(cell):
    weights = []
    for impl in ("explicit", "fused"):
        torch.manual_seed(3)
        model = RNNClassifier(cell, impl, 10, 16, 10, "orthogonal")
        weights.append([*model.recurrent_weights(), model.head.weight, model.head.bias])
    assert all(torch.equal(a, b) for a, b in zip(*weights))


@pytest.mark.parametrize("impl", ["explicit", "fused"])
@pytest.mark.parametrize("cell", CELLS)
def test_each_init_does_what_it_says(cell, impl):
    H, F_ = 64, 10
    eye = torch.eye(H)
    for init in ("normal", "orthogonal", "identity"):
        torch.manual_seed(0)
        model = RNNClassifier(cell, impl, F_, H, 10, init)
        W_hx, W_hh, b_hx, b_hh = (p.detach() for p in model.recurrent_weights())
        assert abs(W_hx.std().item() * F_**0.5 - 1) < 0.15  # N(0, 1/fan_in)
        for block in W_hh.split(H):  # (H, H) per gate
            if init == "orthogonal":
                torch.testing.assert_close(block @ block.T, eye, atol=1e-5, rtol=0)
            elif init == "identity":
                assert torch.equal(block, eye)
            else:
                assert abs(block.std().item() * H**0.5 - 1) < 0.1
        assert not b_hh.any() and not model.head.bias.any()
        forget = torch.zeros_like(b_hx)
        if cell in ("lstm", "gru"):  # lstm's forget gate (i, f, g, o), gru's update gate (r, z, n)
            forget[H : 2 * H] = 1.0
        assert torch.equal(b_hx, forget)


def test_buffers_kept_between_steps_never_mix_up_two_graphs():
    """Two forwards before one backward, an evaluation in between: gradients as if alone."""
    explicit, fused = pair("lstm", 5, 8, 3, torch.float64)
    X1, X2 = torch.randn(2, 4, 7, 5, dtype=torch.float64)
    y = torch.tensor([0, 2, 1, 1])

    def loss(model):
        first = F.cross_entropy(model(X1), y)
        with torch.no_grad():
            model(X2)  # takes and gives back buffers of its own
        return first + F.cross_entropy(model(X2), y)

    got = torch.autograd.grad(loss(explicit), explicit.recurrent_weights())
    want = torch.autograd.grad(loss(fused), fused.recurrent_weights())
    for a, b in zip(got, want):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-10)


def test_a_buffer_reused_under_a_kept_graph_fails_loudly():
    model = RNNClassifier("gru", "explicit", 3, 5, 2)
    X, y = torch.randn(2, 4, 3), torch.tensor([0, 1])
    loss = F.cross_entropy(model(X), y)
    loss.backward(retain_graph=True)  # gives the buffers back to the next forward ...
    F.cross_entropy(model(X), y).backward()  # ... which reuses them
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        loss.backward()


def test_bad_input_is_a_usage_error():
    with pytest.raises(UsageError, match="cell 'transformer'"):
        RNNClassifier("transformer")
    with pytest.raises(UsageError, match="init 'zeros'"):
        RNNClassifier("rnn", init="zeros")
    model = RNNClassifier("lstm", "explicit", 10, 8, 10)
    for X in (torch.zeros(4, 10), torch.zeros(4, 0, 10), torch.zeros(4, 5, 1)):
        with pytest.raises(UsageError, match="expected \\(batch, time >= 1, 10\\)"):
            model(X)
    with pytest.raises(UsageError, match="same cell"):
        copy_weights(model, RNNClassifier("gru", "fused", 10, 8, 10))


def test_explicit_runs_under_autocast_in_its_own_precision():
    explicit, fused = pair("gru", 4, 6, 3, torch.float32)
    X = torch.randn(2, 5, 4)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        logits = explicit(X)
    torch.testing.assert_close(logits.float(), fused(X), rtol=0.05, atol=0.05)


def test_gradient_norms_vanish_over_time_for_a_vanilla_rnn_and_are_plotted(tmp_path):
    digits, targets = palindrome_batch(64, 40, 0, 0)
    X, y = torch.from_numpy(encode(digits, 10)), torch.from_numpy(targets)
    curves = {}
    for cell in CELLS:
        torch.manual_seed(0)
        model = RNNClassifier(cell, "explicit", 10, 32, 10)
        curves[f"{cell} (untrained)"] = norms = gradient_norms(model, X, y)
        assert norms.shape == (40,) and norms.dtype == np.float64 and np.isfinite(norms).all()
        assert model.training  # left as it was found
    rnn = curves["rnn (untrained)"]
    assert rnn[0] < 0.1 * rnn[-1]  # vanishing: step 1 barely reaches the loss
    torch.manual_seed(0)
    fused = copy_weights(model, RNNClassifier("gru", "fused", 10, 32, 10))
    np.testing.assert_allclose(gradient_norms(fused, X, y), norms, rtol=1e-4)
    curves["gru (trained)"] = norms * 2
    path = plot_gradient_flow(curves, tmp_path / "figures" / "gradient_flow.png", "T = 40")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and path.stat().st_size > 10_000


def test_an_lstm_learns_palindromes_of_ten_digits():
    """Remembering the first of ten digits: chance is 0.1, a few hundred steps reach > 0.9."""
    torch.manual_seed(0)
    model = RNNClassifier("lstm", "explicit", 10, 32, 10)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    digits, targets = held_out(1000, 10, 0, "val")
    X_val, y_val = torch.from_numpy(encode(digits, 10)), torch.from_numpy(targets)
    for step in range(200):
        digits, targets = palindrome_batch(64, 10, 0, step)
        loss = F.cross_entropy(
            model(torch.from_numpy(encode(digits, 10))), torch.from_numpy(targets)
        )
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        accuracy = (model(X_val).argmax(1) == y_val).float().mean().item()
    assert accuracy > 0.9
