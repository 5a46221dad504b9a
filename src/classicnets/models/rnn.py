"""Recurrent classifiers: a vanilla RNN, an LSTM and a GRU written out, beside torch's fused
nn.RNN, nn.LSTM and nn.GRU.

Layout: an explicit cell keeps the four tensors torch keeps, in torch's shapes and gate order:
W_hx (G, F) = weight_ih_l0, W_hh (G, H) = weight_hh_l0, b_hx = bias_ih_l0, b_hh = bias_hh_l0,
where G stacks blocks of H rows: one (rnn), four (lstm: i, f, g, o) or three (gru: r, z, n).
So both implementations compute the same function of the same numbers, `copy_weights` is a
renaming, and with the same seed both start from identical weights.

Two ways through time, one set of equations:
  * `Cell.forward(gx, state)` is one step of the cell's equations in autograd ops, given
    gx = W_hx x_t + b_hx; `Cell.states(X)` loops it, so that every h_t is a node of the graph
    (the gradient flow over time is measured on these).
  * `Cell.last_state(X)` is the training path: the loop does only the recurrent product and
    the gates (in place, into buffers), the input's share is one matrix product for all T
    steps (rnn, gru) or joins the recurrent one ([h_t-1, x_t, 1] times [W_hh, W_hx, b]^T,
    lstm), and the backward pass through time is written out as well (the `*ThroughTime`
    functions of bptt.py), so each weight gradient is one matrix product over all steps, not
    T small ones summed by autograd. benchmarks/rnn.py times it against the fused modules.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from classicnets.errors import UsageError
from classicnets.models.bptt import (
    GRUThroughTime,
    LSTMThroughTime,
    RNNThroughTime,
    Workspace,
)


class Cell(nn.Module):
    """What the three cells share: torch's parameters, h_0 = 0, and the two loops over time."""

    blocks: int  # blocks of H rows in W_hx and W_hh
    through_time: type[torch.autograd.Function]

    def __init__(self, input_dim: int, num_hidden: int):
        super().__init__()
        G = self.blocks * num_hidden
        self.W_hx = nn.Parameter(torch.empty(G, input_dim))  # (G, F)  torch's weight_ih_l0
        self.W_hh = nn.Parameter(torch.empty(G, num_hidden))  # (G, H)  weight_hh_l0
        self.b_hx = nn.Parameter(torch.zeros(G))  # bias_ih_l0
        self.b_hh = nn.Parameter(torch.zeros(G))  # bias_hh_l0
        self.workspace = Workspace()

    def zero_state(self, X: torch.Tensor):
        return X.new_zeros(X.shape[0], self.W_hh.shape[1])  # h_0 = 0 (B, H)

    def states(self, X: torch.Tensor) -> list[torch.Tensor]:
        """h_1 .. h_T (B, H) for X (B, T, F), every one a node of the autograd graph."""
        gx = F.linear(X, self.W_hx, self.b_hx)  # (B, T, G): every step's input share, at once
        state, hs = self.zero_state(X), []
        for gx_t in gx.unbind(1):
            state = self(gx_t, state)
            hs.append(state[0] if isinstance(state, tuple) else state)
        return hs

    def last_state(self, X: torch.Tensor) -> torch.Tensor:
        """h_T (B, H) for X (B, T, F), by the written-out forward and backward through time."""
        X = X.transpose(0, 1)  # (T, B, F)
        keep = torch.is_grad_enabled() and any(t.requires_grad for t in (X, *self.parameters()))
        biases = self.biases()
        return self.through_time.apply(X, self.W_hx, self.W_hh, *biases, self.workspace, keep)

    def biases(self) -> tuple[torch.Tensor, ...]:
        return (self.b_hx + self.b_hh,)  # they only ever appear summed


class VanillaRNN(Cell):
    """h_t = tanh(W_hx x_t + b_hx + W_hh h_t-1 + b_hh) (the course's b_h is b_hx + b_hh)."""

    blocks, through_time = 1, RNNThroughTime

    def forward(self, gx: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
        return torch.tanh(gx + F.linear(h, self.W_hh, self.b_hh))  # gx = W_hx x_t + b_hx


class LSTM(Cell):
    """Gates i, f, o = sigmoid(.), candidate g = tanh(.) of W_hx x_t + b_hx + W_hh h_t-1 + b_hh;
    c_t = f c_t-1 + i g, h_t = o tanh(c_t); c_0 = 0."""

    blocks, through_time = 4, LSTMThroughTime

    def zero_state(self, X):
        return super().zero_state(X), super().zero_state(X)  # (h_0, c_0)

    def forward(self, gx, state):
        h, c = state
        i, f, g, o = (gx + F.linear(h, self.W_hh, self.b_hh)).chunk(4, 1)  # (B, H) each
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        return torch.sigmoid(o) * torch.tanh(c), c


class GRU(Cell):
    """r, z = sigmoid(W_hx x_t + b_hx + W_hh h_t-1 + b_hh) (their blocks),
    n = tanh(W_in x_t + b_in + r (W_hn h_t-1 + b_hn)), h_t = (1 - z) n + z h_t-1."""

    blocks, through_time = 3, GRUThroughTime

    def biases(self):
        return self.b_hx, self.b_hh  # b_hn sits inside r (W_hn h + b_hn): they stay apart

    def forward(self, gx, h):
        xr, xz, xn = gx.chunk(3, 1)
        hr, hz, hn = F.linear(h, self.W_hh, self.b_hh).chunk(3, 1)
        r, z = torch.sigmoid(xr + hr), torch.sigmoid(xz + hz)
        n = torch.tanh(xn + r * hn)
        return (1 - z) * n + z * h


CELLS = {"rnn": (VanillaRNN, nn.RNN), "lstm": (LSTM, nn.LSTM), "gru": (GRU, nn.GRU)}
INITS = ("normal", "orthogonal", "identity")
EXPLICIT_NAMES = ("W_hx", "W_hh", "b_hx", "b_hh")
FUSED_NAMES = ("weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0")


def _choice(name: str, value: str, options) -> None:
    if value not in options:
        raise UsageError(f"RNNClassifier: {name} {value!r}: expected one of {', '.join(options)}")


class RNNClassifier(nn.Module):
    """Logits p = W_ph h_T + b_p from the last hidden state of a recurrent cell.

    cell: rnn | lstm | gru; impl: explicit (the cells above) | fused (torch.nn.RNN/LSTM/GRU,
    batch_first). Input (B, T, F) floats, output (B, K) logits.
    """

    def __init__(
        self,
        cell: str = "rnn",
        impl: str = "explicit",
        input_dim: int = 10,
        num_hidden: int = 128,
        num_classes: int = 10,
        init: str = "normal",
    ):
        super().__init__()
        _choice("cell", cell, CELLS)
        _choice("impl", impl, ("explicit", "fused"))
        _choice("init", init, INITS)
        self.cell, self.impl, self.input_dim = cell, impl, input_dim
        explicit, fused = CELLS[cell]
        with torch.random.fork_rng(devices=[]):  # torch's own initial draws leave no trace:
            if impl == "explicit":  # init_weights alone draws, alike for both impls
                self.rnn = explicit(input_dim, num_hidden)
            else:
                self.rnn = fused(input_dim, num_hidden, batch_first=True)
            self.head = nn.Linear(num_hidden, num_classes)  # W_ph, b_p
        init_weights(self, init)

    def recurrent_weights(self) -> tuple[nn.Parameter, ...]:
        """(W_hx, W_hh, b_hx, b_hh) of either implementation: the same shapes, the same order."""
        names = EXPLICIT_NAMES if self.impl == "explicit" else FUSED_NAMES
        return tuple(getattr(self.rnn, name) for name in names)

    def _check(self, X: torch.Tensor) -> None:
        if X.dim() != 3 or X.shape[1] == 0 or X.shape[2] != self.input_dim:
            raise UsageError(
                f"RNNClassifier: input of shape {tuple(X.shape)}: expected (batch, time >= 1, "
                f"{self.input_dim}) with input_dim {self.input_dim}; encode each step to match"
            )

    def forward(self, X: torch.Tensor) -> torch.Tensor:  # (B, T, F) -> (B, K)
        self._check(X)
        if self.impl == "fused":
            return self.head(self.rnn(X)[0][:, -1])
        # written for one precision: under autocast (bf16 on a GPU) the loop runs in the
        # weights' own dtype, the readout as autocast says
        with torch.autocast(X.device.type, enabled=False):
            h = self.rnn.last_state(X.to(self.head.weight.dtype))  # (B, H)
        return self.head(h)

    def forward_with_states(self, X: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """(logits (B, K), [h_1 .. h_T] each (B, H)), every h_t in the graph, so that
        autograd.grad(loss, states) gives dL/dh_t through all later steps. The fused module is
        stepped one time step at a time, each step fed the very h_t that is returned."""
        self._check(X)
        if self.impl == "explicit":
            hs = self.rnn.states(X)
        else:
            hs, state = [], None
            for x_t in X.split(1, dim=1):  # (B, 1, F)
                out, state = self.rnn(x_t, state)
                hs.append(out[:, 0])
                h = hs[-1].unsqueeze(0)  # (1, B, H)
                state = (h, state[1]) if isinstance(state, tuple) else h
        return self.head(hs[-1]), hs


@torch.no_grad()
def init_weights(model: RNNClassifier, init: str = "normal") -> None:
    """The same draws for both implementations, so one seed gives one set of weights.

    normal: every weight matrix N(0, 1/fan_in) (LeCun): the pre-activations start with about
    the variance of the inputs, and each H x H block of W_hh has spectral radius about 1, so
    the signal neither explodes nor dies at once (the slopes of tanh and the gates, below 1,
    still make the gradient fade over time: measured at T = 50, |dL/dh_1| / |dL/dh_T| is
    ~1e-4 for the vanilla RNN). A tiny std such as 1e-2 would give radius ~0.1 and kill the
    gradient within a few steps.
    orthogonal: each H x H block of W_hh orthogonal (Saxe et al. 2014), the rest as normal.
    identity: each H x H block of W_hh the identity (IRNN, Le et al. 2015), the rest as normal.
    The vanilla cell keeps tanh here: the cell stays the same cell for every init, so a
    comparison isolates the init. (Le et al. pair the identity with ReLU, which makes
    h_t = h_t-1 + W_hx x_t exactly at the start; with tanh it holds while |h| is small.)
    Biases zero, except the LSTM forget gate's b_hx = 1 (Gers et al. 2000; Jozefowicz et al.
    2015) and its counterpart in the GRU, the update gate's b_hx = 1: h_t = (1 - z) n + z h_t-1,
    so z starts near 0.73 instead of 0.5 and the cell starts out remembering rather than
    forgetting. Measured at T = 30 with the default budget (5,000 steps): the GRU stayed at
    chance (0.090 test accuracy at the best validation step) with a zero bias and reaches
    0.999 with it (seed 42; README).
    """
    W_hx, W_hh, b_hx, b_hh = model.recurrent_weights()
    H = W_hh.shape[1]
    for W in (W_hx, W_hh, model.head.weight):
        W.normal_(0.0, W.shape[1] ** -0.5)  # (out, in): fan_in = columns
    for block in W_hh.split(H):  # (H, H) views
        if init == "orthogonal":
            nn.init.orthogonal_(block)
        elif init == "identity":
            block.copy_(torch.eye(H))
    for b in (b_hx, b_hh, model.head.bias):
        b.zero_()
    if model.cell == "lstm":
        b_hx[H : 2 * H] = 1.0  # forget gate (torch's order i, f, g, o)
    if model.cell == "gru":
        b_hx[H : 2 * H] = 1.0  # update gate z (torch's order r, z, n)


@torch.no_grad()
def copy_weights(src: RNNClassifier, dst: RNNClassifier) -> RNNClassifier:
    """Give dst the weights of src, across implementations; returns dst."""
    a, b = ([m.cell] + [tuple(p.shape) for p in m.state_dict().values()] for m in (src, dst))
    if a != b:
        raise UsageError(
            f"copy_weights: {a} into {b}: the models must have the same cell, input_dim, "
            "num_hidden and num_classes"
        )
    for a, b in zip(src.recurrent_weights(), dst.recurrent_weights()):
        b.copy_(a)
    dst.head.load_state_dict(src.head.state_dict())
    return dst
