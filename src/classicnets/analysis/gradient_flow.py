"""Gradient flow over time: how strongly the loss still reaches back to each hidden state.

For a batch, ||dL/dh_t|| for t = 1..T, taken through the recurrence (the derivative of the
loss at the last step with respect to the state at step t, via every later step). A vanilla
RNN's curve falls towards t = 1: its early states barely move the loss, so it cannot learn to
remember the first digit (Bengio et al. 1994; Pascanu et al. 2013). The LSTM's and GRU's
additive state updates keep the curve flatter.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from classicnets.models.rnn import RNNClassifier
from classicnets.plots import COLOR, save_figure, subplots


def gradient_norms(model: RNNClassifier, X: torch.Tensor, y: torch.Tensor) -> np.ndarray:
    """(T,) float64: the mean over the batch of ||dl_b/dh_t||, l_b the cross-entropy of sample
    b and h_t its hidden state at step t (1..T).

    Per-sample norms, averaged, rather than the norm of the batch-mean loss's gradient: the
    samples do not interact, so this is the gradient one sequence sees, whatever the batch
    size (the batch-mean loss would scale every value by 1/B).
    """
    was_training = model.training
    model.eval()
    try:
        with torch.enable_grad():
            logits, states = model.forward_with_states(X)  # (B, K), T x (B, H)
            loss = F.cross_entropy(logits.float(), y, reduction="sum")  # sum of the l_b
            grads = torch.autograd.grad(loss, states)  # T x (B, H): dl_b/dh_t, row b
    finally:
        model.train(was_training)
    norms = torch.stack([g.double().norm(dim=1).mean() for g in grads])  # (T,)
    return norms.cpu().numpy()


def plot_gradient_flow(curves: dict[str, np.ndarray], path: Path, title: str) -> Path:
    """||dL/dh_t|| against t, log scale, a line per curve; returns path.

    A label names its cell first ("lstm", "gru (trained)", "rnn (untrained)"): the cell picks
    the colour (plots.COLOR, the report's colours: rnn red, lstm purple, gru green), and a
    label containing "untrained" is drawn dashed, any other solid.
    """
    fig, ax = subplots(figsize=(7, 4.2))
    for label, norms in curves.items():
        norms = np.asarray(norms, dtype=float)
        t = np.arange(1, len(norms) + 1)
        cell = label.split()[0].lower() if label.split() else ""
        ax.plot(
            t,
            np.where(norms > 0, norms, np.nan),  # a zero has no place on a log axis
            color=COLOR.get(cell),
            linestyle="--" if "untrained" in label.lower() else "-",
            marker="o" if len(norms) <= 30 else None,
            markersize=3,
            label=label,
        )
    ax.set_yscale("log")
    ax.set_xlabel("time step t")
    ax.set_ylabel(r"$\|\partial L / \partial h_t\|$ (mean over the batch)")
    ax.set_title(title)
    ax.grid(True, which="both", alpha=0.3)
    if curves:
        ax.legend()
    return save_figure(fig, Path(path))
