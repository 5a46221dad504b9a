"""The recurrent cells' training path, written out: the forward and the backward pass
through time of the vanilla RNN, the LSTM and the GRU as autograd Functions.

The input projection of all T steps is one matrix product before the loop; the loop does
only the recurrent product and the gates, in place, into buffers a `Workspace` keeps between
steps; and the backward pass makes each weight gradient one matrix product over all steps,
not T small ones summed by autograd. models/rnn.py holds the cells' equations (the
reference these functions are tested against) and uses these for training.
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


def _keep(ctx, ws: Workspace, keep: bool, weights: tuple, **buffers: torch.Tensor) -> None:
    """Save the weights and the forward's buffers for backward, or give the buffers back."""
    if keep:
        ctx.ws = ws
        ctx.save_for_backward(*weights, *buffers.values())
    else:
        ws.give(**buffers)


def _project(ws: Workspace, X: torch.Tensor, W: torch.Tensor, b: torch.Tensor):
    """W x_t + b for every step at once: [x_t, 1] @ [W, b]^T, one product (a ones column rather
    than addmm's bias, which costs a second pass over the (T, B, G) result)."""
    T, B, F_ = X.shape  # (T, B, F), time-major
    X1, Z = ws.take(X, X1=(T * B, F_ + 1), Z=(T, B, W.shape[0]))
    X1[:, :F_].copy_(X.reshape(T * B, F_))
    X1[:, F_].fill_(1.0)
    torch.mm(X1, torch.cat([W, b[:, None]], 1).t(), out=Z.view(T * B, W.shape[0]))  # B may be 0
    return X1, Z  # (T*B, F+1), (T, B, G)


def _project_backward(ctx, X1: torch.Tensor, W: torch.Tensor, dG: torch.Tensor):
    """dL/dX, dL/dW, dL/db of _project, given dG = dL/d(W x_t + b) (T, B, G)."""
    T, B, G = dG.shape
    dG = dG.flatten(0, 1)  # (T*B, G), a view even of a column slice
    dWb = torch.mm(X1.t(), dG)  # (F+1, G): the weight and bias gradients in one product
    dX = torch.mm(dG, W).view(T, B, W.shape[1]) if ctx.needs_input_grad[0] else None
    return dX, dWb[:-1].t(), dWb[-1]


def _product_over_time(dG: torch.Tensor, Hs: torch.Tensor) -> torch.Tensor:
    """dL/dW_hh = sum_t dG_t^T h_{t-1}: (T-1, B, G), (T-1, B, H) -> (G, H)."""
    return torch.mm(dG.flatten(0, 1).t(), Hs.flatten(0, 1))


class RNNThroughTime(torch.autograd.Function):
    @staticmethod
    def forward(ctx, X, W_hx, W_hh, b, ws, keep):  # X (T, B, F), b = b_hx + b_hh -> h_T (B, H)
        X1, Hs = _project(ws, X, W_hx, b)  # (T, B, H): pre-activations, then h_t in place
        W, hs = W_hh.t().contiguous(), Hs.unbind(0)  # (a contiguous W_hh^T: a faster product)
        hs[0].tanh_()
        for t in range(1, len(hs)):
            hs[t].addmm_(hs[t - 1], W).tanh_()  # h_t = tanh(W_hx x_t + b + W_hh h_t-1)
        _keep(ctx, ws, keep, (W_hx, W_hh), X1=X1, Z=Hs)
        return Hs[-1].clone()

    @staticmethod
    def backward(ctx, dh):  # dh = dL/dh_T (B, H)
        W_hx, W_hh, X1, Hs = ctx.saved_tensors
        (dZ,) = ctx.ws.take(Hs, dZ=Hs.shape)  # dL/d(pre-activation), every step
        for t in range(len(Hs) - 1, -1, -1):
            tanh_backward(dh, Hs[t], grad_input=dZ[t])
            if t:
                dh = dZ[t] @ W_hh  # dL/dh_{t-1}
        dX, dW_hx, db = _project_backward(ctx, X1, W_hx, dZ)
        dW_hh = _product_over_time(dZ[1:], Hs[:-1])
        ctx.ws.give(X1=X1, Z=Hs, dZ=dZ)
        return dX, dW_hx, dW_hh, db, None, None


class LSTMThroughTime(torch.autograd.Function):
    @staticmethod
    def forward(ctx, X, W_hx, W_hh, b, ws, keep):  # X (T, B, F), b = b_hx + b_hh -> h_T
        X1, A = _project(ws, X, W_hx, b)  # (T, B, 4H): pre-activations, then the gates in place
        T, B, H = A.shape[0], A.shape[1], W_hh.shape[1]
        CH, TC = ws.take(A, CH=(2, T + 1, B, H), TC=(T, B, H))  # c_t, h_t; tanh(c_t)
        C, Hs = CH
        CH[:, 0].zero_()  # c_0 = h_0 = 0
        W = W_hh.t().contiguous()  # (H, 4H): measured ~1.6x faster a product than the view
        for t in range(T):
            if t:
                A[t].addmm_(Hs[t], W)
            i, f, g, o = A[t].chunk(4, 1)
            A[t, :, : 2 * H].sigmoid_()  # i and f, side by side
            g.tanh_()
            o.sigmoid_()
            torch.addcmul(i * g, f, C[t], out=C[t + 1])  # c_t = f c_t-1 + i g
            torch.mul(o, torch.tanh(C[t + 1], out=TC[t]), out=Hs[t + 1])  # h_t = o tanh(c_t)
        _keep(ctx, ws, keep, (W_hx, W_hh), X1=X1, Z=A, CH=CH, TC=TC)
        return Hs[-1].clone()

    @staticmethod
    def backward(ctx, dh):
        W_hx, W_hh, X1, A, CH, TC = ctx.saved_tensors
        (C, Hs), H, dc = CH, W_hh.shape[1], None
        (dG,) = ctx.ws.take(A, dZ=A.shape)
        for t in range(len(A) - 1, -1, -1):
            i, f, g, o = A[t].chunk(4, 1)
            di, df, dg, do = dG[t].chunk(4, 1)
            dc_t = torch.ops.aten.tanh_backward(dh * o, TC[t])  # through h_t = o tanh(c_t) ...
            if dc is not None:
                dc_t += dc  # ... and through c_t+1 = f_t+1 c_t + ...
            torch.mul(dh, TC[t], out=do)
            torch.mul(dc_t, g, out=di)
            torch.mul(dc_t, C[t], out=df)
            torch.mul(dc_t, i, out=dg)
            if_ = slice(0, 2 * H)  # i and f, side by side
            sigmoid_backward(dG[t, :, if_], A[t, :, if_], grad_input=dG[t, :, if_])
            tanh_backward(dg, g, grad_input=dg)
            sigmoid_backward(do, o, grad_input=do)
            if t:
                dc, dh = dc_t * f, dG[t] @ W_hh
        dX, dW_hx, db = _project_backward(ctx, X1, W_hx, dG)
        dW_hh = _product_over_time(dG[1:], Hs[1:-1])
        ctx.ws.give(X1=X1, Z=A, CH=CH, TC=TC, dZ=dG)
        return dX, dW_hx, dW_hh, db, None, None


class GRUThroughTime(torch.autograd.Function):
    @staticmethod
    def forward(ctx, X, W_hx, W_hh, b_hx, b_hh, ws, keep):  # X (T, B, F) -> h_T (B, H)
        X1, Gx = _project(ws, X, W_hx, b_hx)  # (T, B, 3H): x's part of r, z, n; then r, z, n
        T, B, H = Gx.shape[0], Gx.shape[1], W_hh.shape[1]
        Hs, Gh = ws.take(Gx, Hs=(T + 1, B, H), Gh=Gx.shape)  # h_t; W_hh h_t-1 + b_hh
        Hs[0].zero_()  # h_0 = 0
        W = W_hh.t().contiguous()  # (H, 3H): a faster product than the transposed view
        for t in range(T):
            gh = torch.addmm(b_hh, Hs[t], W, out=Gh[t]) if t else Gh[t].copy_(b_hh.expand(B, -1))
            rz, n = Gx[t].split((2 * H, H), 1)
            r, z = rz.add_(gh[:, : 2 * H]).sigmoid_().chunk(2, 1)
            n.addcmul_(r, gh[:, 2 * H :]).tanh_()  # n = tanh(W_in x + b_in + r (W_hn h + b_hn))
            torch.lerp(n, Hs[t], z, out=Hs[t + 1])  # h_t = (1 - z) n + z h_t-1
        _keep(ctx, ws, keep, (W_hx, W_hh), X1=X1, Z=Gx, Hs=Hs, Gh=Gh)
        return Hs[-1].clone()

    @staticmethod
    def backward(ctx, dh):
        W_hx, W_hh, X1, Gx, Hs, Gh = ctx.saved_tensors
        H = W_hh.shape[1]
        dGh, dN = ctx.ws.take(Gh, dZ=Gh.shape, dN=(len(Gx), *dh.shape))  # dN: dL/d(n's input)
        for t in range(len(Gx) - 1, -1, -1):
            r, z, n = Gx[t].chunk(3, 1)
            dr, dz, dhn = dGh[t].chunk(3, 1)
            tanh_backward(torch.addcmul(dh, dh, z, value=-1), n, grad_input=dN[t])
            sigmoid_backward(dh * (Hs[t] - n), z, grad_input=dz)
            sigmoid_backward(dN[t] * Gh[t, :, 2 * H :], r, grad_input=dr)
            torch.mul(dN[t], r, out=dhn)  # dL/d(W_hn h + b_hn)
            if t:
                dh = torch.addmm(dh * z, dGh[t], W_hh)  # dL/dh_t-1
        # r and z see x and h alike: dL/d(W_hx x + b_hx) = [dr, dz, dN]
        dX, dWz, dbz = _project_backward(ctx, X1, W_hx[: 2 * H], dGh[..., : 2 * H])
        dXn, dWn, dbn = _project_backward(ctx, X1, W_hx[2 * H :], dN)
        dX = None if dX is None else dX + dXn
        dW_hh, db_hh = _product_over_time(dGh[1:], Hs[1:-1]), dGh.sum((0, 1))
        ctx.ws.give(X1=X1, Z=Gx, Hs=Hs, Gh=Gh, dZ=dGh, dN=dN)
        return dX, torch.cat([dWz, dWn]), dW_hh, torch.cat([dbz, dbn]), db_hh, None, None
