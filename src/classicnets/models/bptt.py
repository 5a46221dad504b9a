"""The recurrent cells' training path, written out: the forward and the backward pass
through time of the vanilla RNN, the LSTM and the GRU as autograd Functions.

Every weight gradient is one matrix product over all steps, not T small ones summed by
autograd; the loops do only what must be sequential (the recurrent product and the gates),
in place, into buffers a `Workspace` keeps between steps, through per-step views it keeps
with them (each Python-level slice costs about a microsecond, a few hundred of them a step).
  * rnn, gru: the input projection of all T steps is one product before the loop.
  * lstm: each step is one product of the row [h_t-1, x_t, 1] with [W_hh, W_hx, b]^T, h_t
    written into the next step's row: no (T, B, 4H) projection to write and read back, and
    the three weight gradients are one product.
models/rnn.py holds the cells' equations (the reference these functions are tested against)
and uses these for training.
"""

from __future__ import annotations

import torch

# autograd's own derivative kernels, writing into a given tensor: g * y * (1 - y), g * (1 - y^2)
sigmoid_backward = torch.ops.aten.sigmoid_backward.grad_input
tanh_backward = torch.ops.aten.tanh_backward.grad_input


class Workspace:
    """The (T, B, G)-sized buffers of the loops, kept from one step to the next: a fresh one
    costs a page fault per 4 KiB at its first write (measured: ~1,300 faults, ~1 ms, a step of
    benchmarks/rnn.py's LSTM). A forward that builds a graph takes its buffers out, its
    backward gives them back; a forward without a graph gives them back at once. So two
    forwards before a backward get separate buffers, and a buffer reused under a retained graph
    fails that graph's next backward loudly (autograd's in-place check), never quietly."""

    def __init__(self):
        self.free: dict[str, torch.Tensor] = {}
        self.views: dict[tuple, tuple[torch.Tensor, list]] = {}

    def take(self, like: torch.Tensor, **shapes: tuple[int, ...]) -> list[torch.Tensor]:
        buffers = []
        for name, shape in shapes.items():
            buf = self.free.pop(name, None)
            fits = buf is not None and buf.shape == shape
            if not (fits and buf.dtype == like.dtype and buf.device == like.device):
                buf = like.new_empty(shape)
            buffers.append(buf)
        return buffers

    def give(self, **buffers: torch.Tensor) -> None:
        self.free.update(buffers)

    def steps(self, name: str, buf: torch.Tensor, *columns: tuple[int, int]) -> list[tuple]:
        """For each (a, b) in columns, the T views buf[t, ..., a:b] of the kept buffer `name`
        (without columns: the T views buf[t]). Each view costs about a microsecond to make,
        a few hundred a step, so they are made once per buffer and kept with it."""
        key = (name, columns)
        kept = self.views.get(key)
        if kept is None or kept[0] is not buf:
            parts = [buf[..., a:b] for a, b in columns] if columns else [buf]
            kept = self.views[key] = (buf, [part.unbind(0) for part in parts])
        return kept[1]


def _keep(ctx, ws: Workspace, keep: bool, saved: tuple, **buffers: torch.Tensor) -> None:
    """Save the weights and the forward's buffers for backward, or give the buffers back."""
    if keep:
        ctx.ws = ws
        ctx.save_for_backward(*saved, *buffers.values())
    else:
        ws.give(**buffers)


def _project(ws: Workspace, X: torch.Tensor, W: torch.Tensor, b: torch.Tensor):
    """W x_t + b for every step at once: [x_t, 1] @ [W, b]^T, one product (a ones column rather
    than addmm's bias, which costs a second pass over the (T, B, G) result; [W, b]^T made
    contiguous: measured 2x faster a product than the transposed view)."""
    T, B, F_ = X.shape  # (T, B, F), time-major
    X1, Z = ws.take(X, X1=(T * B, F_ + 1), Z=(T, B, W.shape[0]))
    X1[:, :F_].view(T, B, F_).copy_(X)  # (X time-major as a view: one copy, not two)
    X1[:, F_].fill_(1.0)
    WbT = torch.cat([W, b[:, None]], 1).t().contiguous()  # (F+1, G)
    torch.mm(X1, WbT, out=Z.view(T * B, W.shape[0]))  # B may be 0
    return X1, Z  # (T*B, F+1), (T, B, G)


def _project_backward(ctx, X1: torch.Tensor, W: torch.Tensor, dG: torch.Tensor):
    """dL/dX, dL/dW, dL/db of _project, given dG = dL/d(W x_t + b) (T, B, G)."""
    T, B, G = dG.shape
    dG = dG.flatten(0, 1)  # (T*B, G), a view even of a column slice
    dWb = torch.mm(X1.t(), dG)  # (F+1, G): the weight and bias gradients in one product
    dX = torch.mm(dG, W).view(T, B, W.shape[1]) if ctx.needs_input_grad[0] else None
    return dX, dWb[:-1].t(), dWb[-1]


def _product_over_time(dG: torch.Tensor, Hs: torch.Tensor) -> torch.Tensor:
    """dL/dW_hh = sum_t dG_t^T h_{t-1}: (T-1, B, G), (T-1, B, H) -> (G, H). For G = 3H as the
    transpose of sum_t h_{t-1}^T dG_t: a product ~10% faster, more than autograd's copy of the
    transpose costs; for G = H either way round is as fast, and this one needs no copy."""
    dG, Hs = dG.flatten(0, 1), Hs.flatten(0, 1)
    if dG.shape[1] > Hs.shape[1]:
        return torch.mm(Hs.t(), dG).t()
    return torch.mm(dG.t(), Hs)


class RNNThroughTime(torch.autograd.Function):
    @staticmethod
    def forward(ctx, X, W_hx, W_hh, b, ws, keep):  # X (T, B, F), b = b_hx + b_hh -> h_T (B, H)
        X1, Hs = _project(ws, X, W_hx, b)  # (T, B, H): pre-activations, then h_t in place
        W, (hs,) = W_hh.t().contiguous(), ws.steps("Z", Hs)  # (a contiguous W_hh^T: faster)
        hs[0].tanh_()
        for t in range(1, len(hs)):
            hs[t].addmm_(hs[t - 1], W).tanh_()  # h_t = tanh(W_hx x_t + b + W_hh h_t-1)
        _keep(ctx, ws, keep, (W_hx, W_hh), X1=X1, Z=Hs)
        return Hs[-1].clone()

    @staticmethod
    def backward(ctx, dh):  # dh = dL/dh_T (B, H)
        W_hx, W_hh, X1, Hs = ctx.saved_tensors
        dZ, dh_ = ctx.ws.take(Hs, dZ=Hs.shape, dh=dh.shape)  # dL/d(pre-activation), every step
        ((hs,), (dz,)) = ctx.ws.steps("Z", Hs), ctx.ws.steps("dZ", dZ)
        for t in range(len(hs) - 1, -1, -1):
            tanh_backward(dh, hs[t], grad_input=dz[t])
            if t:
                dh = torch.mm(dz[t], W_hh, out=dh_)  # dL/dh_{t-1}
        dX, dW_hx, db = _project_backward(ctx, X1, W_hx, dZ)
        dW_hh = _product_over_time(dZ[1:], Hs[:-1])
        ctx.ws.give(X1=X1, Z=Hs, dZ=dZ, dh=dh_)
        return dX, dW_hx, dW_hh, db, None, None


def LSTM_BLOCKS(H: int) -> list[tuple[int, int]]:
    return [(k * H, (k + 1) * H) for k in range(4)]  # torch's gate blocks i, f, g, o


class LSTMThroughTime(torch.autograd.Function):
    @staticmethod
    def forward(ctx, X, W_hx, W_hh, b, ws, keep):  # X (T, B, F), b = b_hx + b_hh -> h_T
        T, B, F_ = X.shape
        H = W_hh.shape[1]
        K = H + F_ + 1
        # V[t] = [h_t-1, x_t, 1] (B, K), W^T = [W_hh, W_hx, b]^T (K, 4H): step t's gates V[t] W^T
        V, WT, A, C, TC = ws.take(
            X, V=(T + 1, B, K), WT=(K, 4 * H), A=(T, B, 4 * H), C=(T + 1, B, H), TC=(T, B, H)
        )
        V[0, :, :H].zero_()  # h_0 = 0
        V[:T, :, H:-1].copy_(X)
        V[:T, :, -1].fill_(1.0)
        C[0].zero_()  # c_0 = 0
        WT[:H].copy_(W_hh.t())  # contiguous: a faster product than the transposed view
        WT[H:-1].copy_(W_hx.t())
        WT[-1].copy_(b)
        v, h = ws.steps("V", V, (0, K), (0, H))  # h[t + 1] = h_t, a view into row t + 1
        (c,), (tc,) = ws.steps("C", C), ws.steps("TC", TC)
        a, i_f, i, f, g, o = ws.steps("A", A, (0, 4 * H), (0, 2 * H), *LSTM_BLOCKS(H))
        for t in range(T):
            if t:
                torch.mm(v[t], WT, out=a[t])  # (B, 4H) pre-activations
            else:  # h_0 = 0: x_1's and the bias's part alone
                torch.mm(v[0][:, H:], WT[H:], out=a[0])
            i_f[t].sigmoid_()  # i and f, side by side
            g[t].tanh_()
            o[t].sigmoid_()
            torch.mul(i[t], g[t], out=c[t + 1])
            c[t + 1].addcmul_(f[t], c[t])  # c_t = f c_t-1 + i g
            torch.mul(o[t], torch.tanh(c[t + 1], out=tc[t]), out=h[t + 1])  # h_t = o tanh(c_t)
        _keep(ctx, ws, keep, (W_hx, W_hh), V=V, WT=WT, A=A, C=C, TC=TC)
        return h[T].clone()

    @staticmethod
    def backward(ctx, dh_T):
        W_hx, W_hh, V, WT, A, C, TC = ctx.saved_tensors
        T, B, G = A.shape
        H = G // 4
        dG, dc, dh, tmp = ctx.ws.take(A, dZ=A.shape, dc=dh_T.shape, dh=dh_T.shape, tmp=dh_T.shape)
        dh.copy_(dh_T)
        _, i_f, i, f, g, o = ctx.ws.steps("A", A, (0, 4 * H), (0, 2 * H), *LSTM_BLOCKS(H))
        dG_, di_f, di, df, dg, do = ctx.ws.steps("dZ", dG, (0, 4 * H), (0, 2 * H), *LSTM_BLOCKS(H))
        (c,), (tc,) = ctx.ws.steps("C", C), ctx.ws.steps("TC", TC)
        for t in range(T - 1, -1, -1):
            # dc_t = dh_t o (1 - tanh^2 c_t) + dc_t+1 f_t+1
            tanh_backward(torch.mul(dh, o[t], out=tmp), tc[t], grad_input=tmp)
            if t == T - 1:
                dc.copy_(tmp)
            else:
                torch.addcmul(tmp, dc, f[t + 1], out=dc)
            torch.mul(dc, g[t], out=di[t])
            torch.mul(dc, c[t], out=df[t])
            torch.mul(dc, i[t], out=dg[t])
            torch.mul(dh, tc[t], out=do[t])
            sigmoid_backward(di_f[t], i_f[t], grad_input=di_f[t])  # i and f at once
            tanh_backward(dg[t], g[t], grad_input=dg[t])
            sigmoid_backward(do[t], o[t], grad_input=do[t])
            if t:
                torch.mm(dG_[t], W_hh, out=dh)  # dL/dh_t-1
        # dL/d[W_hh, W_hx, b]^T = sum_t V[t]^T dG_t: one product for all three (this way round
        # measured ~15% faster than dG^T V)
        dWT = torch.mm(V[:T].flatten(0, 1).t(), dG.flatten(0, 1))  # (K, 4H)
        dX = torch.mm(dG.flatten(0, 1), W_hx).view(T, B, -1) if ctx.needs_input_grad[0] else None
        ctx.ws.give(V=V, WT=WT, A=A, C=C, TC=TC, dZ=dG, dc=dc, dh=dh, tmp=tmp)
        return dX, dWT[H:-1].t(), dWT[:H].t(), dWT[-1], None, None


class GRUThroughTime(torch.autograd.Function):
    @staticmethod
    def forward(ctx, X, W_hx, W_hh, b_hx, b_hh, ws, keep):  # X (T, B, F) -> h_T (B, H)
        X1, Gx = _project(ws, X, W_hx, b_hx)  # (T, B, 3H): x's part of r, z, n; then r, z, n
        T, B, H = Gx.shape[0], Gx.shape[1], W_hh.shape[1]
        Hs, Gh = ws.take(Gx, Hs=(T + 1, B, H), Gh=Gx.shape)  # h_t; W_hh h_t-1 + b_hh
        Hs[0].zero_()  # h_0 = 0
        W = W_hh.t().contiguous()  # (H, 3H): a faster product than the transposed view
        (h,) = ws.steps("Hs", Hs)
        gh, gh_rz, gh_n = ws.steps("Gh", Gh, (0, 3 * H), (0, 2 * H), (2 * H, 3 * H))
        rz, r, z, n = ws.steps("Z", Gx, (0, 2 * H), (0, H), (H, 2 * H), (2 * H, 3 * H))
        for t in range(T):
            if t:
                torch.addmm(b_hh, h[t], W, out=gh[t])
            else:
                gh[t].copy_(b_hh.expand(B, -1))
            rz[t].add_(gh_rz[t]).sigmoid_()  # r, z
            n[t].addcmul_(r[t], gh_n[t]).tanh_()  # n = tanh(W_in x + b_in + r (W_hn h + b_hn))
            torch.lerp(n[t], h[t], z[t], out=h[t + 1])  # h_t = (1 - z) n + z h_t-1
        _keep(ctx, ws, keep, (W_hx, W_hh), X1=X1, Z=Gx, Hs=Hs, Gh=Gh)
        return Hs[-1].clone()

    @staticmethod
    def backward(ctx, dh):
        W_hx, W_hh, X1, Gx, Hs, Gh = ctx.saved_tensors
        H = W_hh.shape[1]
        dGh, dN = ctx.ws.take(Gh, dZ=Gh.shape, dN=(len(Gx), *dh.shape))  # dN: dL/d(n's input)
        _, r, z, n = ctx.ws.steps("Z", Gx, (0, 2 * H), (0, H), (H, 2 * H), (2 * H, 3 * H))
        _, _, ghn = ctx.ws.steps("Gh", Gh, (0, 3 * H), (0, 2 * H), (2 * H, 3 * H))
        dgh, dr, dz, dhn = ctx.ws.steps("dZ", dGh, (0, 3 * H), (0, H), (H, 2 * H), (2 * H, 3 * H))
        ((h,), (dn,)) = ctx.ws.steps("Hs", Hs), ctx.ws.steps("dN", dN)
        for t in range(len(Gx) - 1, -1, -1):
            tanh_backward(torch.addcmul(dh, dh, z[t], value=-1), n[t], grad_input=dn[t])
            sigmoid_backward(dh * (h[t] - n[t]), z[t], grad_input=dz[t])
            sigmoid_backward(dn[t] * ghn[t], r[t], grad_input=dr[t])
            torch.mul(dn[t], r[t], out=dhn[t])  # dL/d(W_hn h + b_hn)
            if t:
                dh = torch.addmm(dh * z[t], dgh[t], W_hh)  # dL/dh_t-1
        # r and z see x and h alike: dL/d(W_hx x + b_hx) = [dr, dz, dN]
        dX, dWz, dbz = _project_backward(ctx, X1, W_hx[: 2 * H], dGh[..., : 2 * H])
        dXn, dWn, dbn = _project_backward(ctx, X1, W_hx[2 * H :], dN)
        dX = None if dX is None else dX + dXn
        dW_hh, db_hh = _product_over_time(dGh[1:], Hs[1:-1]), dGh.sum((0, 1))
        ctx.ws.give(X1=X1, Z=Gx, Hs=Hs, Gh=Gh, dZ=dGh, dN=dN)
        return dX, torch.cat([dWz, dWn]), dW_hh, torch.cat([dbz, dbn]), db_hh, None, None
