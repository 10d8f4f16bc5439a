"""Layer cases: Dense, BatchNorm and LSTM forward+backward, one MLP training step, and the
per-call overhead of a tiny Dense forward.

gradcore runs through its layers (``gc.nn``) with the backend made active before the timed
loop (``gc.set_backend``), torch through ``torch.nn`` modules with autograd. Dense and LSTM
also get a *GEMM-only* time: just the matrix products an implementation cannot avoid, at the
same shapes, through gradcore's GEMM path (``gradcore._kernels.gemm``, else NumPy ``@``).
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

import gradcore as gc

from .grid import Case, CaseSpec, Ctx, gemm_fn, make_mlp, make_torch_mlp
from .timing import Impl

__all__ = ["layer_cases"]


def _gc_fwd_bwd(layer, x, dy):
    def fn():
        layer.forward(x)
        layer.backward(dy)

    return fn


def _torch_fwd_bwd(torch, module, x_np, dy_np):
    x = torch.from_numpy(x_np.copy()).requires_grad_(True)
    dy = torch.from_numpy(dy_np.copy())

    def fn():
        x.grad = None
        out = module(x)
        if isinstance(out, tuple):  # nn.LSTM -> (output, (h, c))
            out = out[0]
        out.backward(dy)

    return fn


def _gc_impls(ctx: Ctx, make_layer, x, dy, what: str, more: str = "") -> list[Impl]:
    """One forward + backward ``Impl`` per backend, each on a fresh ``make_layer()``; the note
    reads ``"{what} forward + backward{more}"``."""
    note = f"{what} forward + backward{more}"
    return [
        Impl(b, "backend", _gc_fwd_bwd(make_layer(), x, dy), backend=b, note=note)
        for b in ctx.backends
    ]


def _torch_impl(torch, module, x, dy, what: str) -> Impl:
    """torch's forward + backward of ``module`` (autograd), noted "{what} forward + backward"."""
    return Impl(
        "torch", "torch", _torch_fwd_bwd(torch, module, x, dy), note=f"{what} forward + backward"
    )


def _dense_case(ctx: Ctx, N: int, W: int, act: str, wide: bool) -> Case:
    x = ctx.randn((N, W), 1)
    dy = ctx.randn((N, W), 2)
    impls = _gc_impls(
        ctx, lambda: gc.nn.Dense(W, W, act, dtype=ctx.dtype, seed=0), x, dy, "gc.nn.Dense"
    )
    gemm, provider = gemm_fn()
    Wm = ctx.randn((W, W), 3)
    z = np.empty((N, W), ctx.dtype)
    dW = np.zeros((W, W), ctx.dtype)
    dx = np.empty((N, W), ctx.dtype)

    def gemms():
        gemm(x, Wm, z)  # z = x W
        gemm(x, dy, dW, transa=True, beta=1.0)  # dW += x^T dz
        gemm(dy, Wm, dx, transb=True)  # dx = dz W^T

    impls.append(Impl("gemm", "gemm", gemms, note=f"3 GEMMs via {provider}"))
    torch = ctx.torch
    if torch is not None:
        act_mod = {"relu": torch.nn.ReLU(), "sigmoid": torch.nn.Sigmoid()}.get(act)
        mods = [torch.nn.Linear(W, W)] + ([act_mod] if act_mod is not None else [])
        net = torch.nn.Sequential(*mods).to(ctx.torch_dtype)
        impls.append(_torch_impl(torch, net, x, dy, f"nn.Linear + {act}"))
    return Case(
        name=f"dense N={N} W={W} {act}",
        family="dense",
        group="dense",
        params={"N": N, "in": W, "out": W, "act": act, "dtype": ctx.dtype.name},
        impls=impls,
        roles=("wide",) if wide else (),
        torch_note="nn.Linear + activation, autograd",
        note=f"GEMM-only: x@W, x^T@dz, dz@W^T via {provider}",
    )


def _batchnorm_case(ctx: Ctx, N: int, C: int) -> Case:
    x = ctx.randn((N, C), 1)
    dy = ctx.randn((N, C), 2)
    impls = _gc_impls(
        ctx, lambda: gc.nn.BatchNorm(C, dtype=ctx.dtype), x, dy, "gc.nn.BatchNorm train"
    )
    torch = ctx.torch
    if torch is not None:
        bn = torch.nn.BatchNorm1d(C).to(ctx.torch_dtype).train()
        impls.append(_torch_impl(torch, bn, x, dy, "nn.BatchNorm1d train"))
    return Case(
        name=f"batchnorm {N}x{C}",
        family="batchnorm",
        group="batchnorm",
        params={"N": N, "C": C, "dtype": ctx.dtype.name},
        impls=impls,
        roles=("bn",),
        torch_note="nn.BatchNorm1d, autograd",
    )


def _lstm_gemms(ctx: Ctx, T: int, B: int, D: int, H: int):
    """The GEMMs of an LSTM forward+backward at minimum FLOPs (time-major scratch so every
    per-step operand is contiguous): forward X Wx (one GEMM over all steps) and T x
    h_{t-1} Wh; backward T x dA_t Wh^T, dWh += Hprev^T dA, dWx += X^T dA, dX = dA Wx^T."""
    gemm, provider = gemm_fn()
    dt = ctx.dtype
    X = ctx.randn((T * B, D), 11)
    Wx = ctx.randn((D, 4 * H), 12, 0.1)
    Wh = ctx.randn((H, 4 * H), 13, 0.1)
    Hprev = ctx.randn((T, B, H), 14)
    A = np.empty((T, B, 4 * H), dt)
    dA = ctx.randn((T, B, 4 * H), 15)
    dH = np.empty((T, B, H), dt)
    dWx = np.zeros((D, 4 * H), dt)
    dWh = np.zeros((H, 4 * H), dt)
    dX = np.empty((T * B, D), dt)
    A2, dA2, H2 = A.reshape(T * B, 4 * H), dA.reshape(T * B, 4 * H), Hprev.reshape(T * B, H)

    def fn():
        gemm(X, Wx, A2)
        for t in range(T):
            gemm(Hprev[t], Wh, A[t], beta=1.0)
        for t in range(T - 1, -1, -1):
            gemm(dA[t], Wh, dH[t], transb=True)
        gemm(H2, dA2, dWh, transa=True, beta=1.0)
        gemm(X, dA2, dWx, transa=True, beta=1.0)
        gemm(dA2, Wx, dX, transb=True)

    return fn, provider


def _lstm_case(ctx: Ctx, T: int, B: int, D: int, H: int, role: str) -> Case:
    x = ctx.randn((B, T, D), 1)
    dy = ctx.randn((B, T, H), 2)
    impls = _gc_impls(
        ctx,
        lambda: gc.nn.LSTM(D, H, dtype=ctx.dtype, seed=0),
        x,
        dy,
        "gc.nn.LSTM",
        " (return_sequences)",
    )
    gemms, provider = _lstm_gemms(ctx, T, B, D, H)
    impls.append(Impl("gemm", "gemm", gemms, note=f"{2 * T + 4} GEMMs via {provider}"))
    torch = ctx.torch
    if torch is not None:
        lstm = torch.nn.LSTM(D, H, batch_first=True).to(ctx.torch_dtype)
        impls.append(_torch_impl(torch, lstm, x, dy, "nn.LSTM(batch_first=True)"))
    return Case(
        name=f"lstm T={T} B={B} D={D} H={H}",
        family="lstm",
        group="lstm",
        params={"T": T, "B": B, "D": D, "H": H, "dtype": ctx.dtype.name},
        impls=impls,
        roles=(role,),
        torch_note="nn.LSTM batch_first, autograd",
        note=f"GEMM-only: {2 * T + 4} GEMMs via {provider}",
    )


def mlp_step_gc(ctx: Ctx, seed_salt: int = 0):
    """One training step of the MLP: zero_grad, forward, loss, backward, clip 1.0, Adam."""
    dims, N = ctx.grid.mlp_dims, ctx.grid.mlp_batch
    model = make_mlp(dims, ctx.dtype, seed=ctx.seed)
    arena = model.parameters()
    opt = gc.optim.Adam(arena, lr=1e-3)
    loss = gc.losses.SoftmaxCrossEntropy()
    xb = ctx.randn((N, dims[0]), 40 + seed_salt)
    yb = ctx.rng(41 + seed_salt).integers(0, dims[-1], N).astype(np.int64)

    def step():
        model.zero_grad()
        loss.forward(model.forward(xb), yb)
        model.backward(loss.backward(), input_grad=False)  # torch: X needs no grad
        gc.clip_grad_norm(arena, 1.0)
        opt.step()

    return step, model


def _mlp_step_case(ctx: Ctx) -> Case:
    dims, N = ctx.grid.mlp_dims, ctx.grid.mlp_batch
    impls = []
    model = None
    for b in ctx.backends:
        step, model = mlp_step_gc(ctx)
        impls.append(Impl(b, "backend", step, backend=b, note="gc MLP training step"))
    torch = ctx.torch
    if torch is not None:
        net = make_torch_mlp(torch, dims, ctx.torch_dtype, gc_model=model)
        opt = torch.optim.Adam(net.parameters(), lr=1e-3, fused=True)
        params = list(net.parameters())
        xb = torch.from_numpy(ctx.randn((N, dims[0]), 40))
        yb = torch.from_numpy(ctx.rng(41).integers(0, dims[-1], N).astype(np.int64))
        F = torch.nn.functional
        clip = torch.nn.utils.clip_grad_norm_

        def tstep():
            opt.zero_grad()
            F.cross_entropy(net(xb), yb).backward()
            clip(params, 1.0, foreach=True)
            opt.step()

        impls.append(
            Impl("torch", "torch", tstep, note="zero_grad, fwd, CE, bwd, clip, fused Adam")
        )
    return Case(
        name=f"mlp_step B={N}",
        family="mlp_step",
        group="mlp_step",
        params={"dims": list(dims), "batch": N, "dtype": ctx.dtype.name},
        impls=impls,
        roles=("mlp_step",),
        torch_note="fused Adam, foreach clip_grad_norm_",
        note="zero_grad, forward, softmax CE, backward, clip_grad_norm 1.0, Adam",
    )


def _overhead_dense_case(ctx: Ctx) -> Case:
    x = ctx.randn((1, 4), 1)
    impls = []
    for b in ctx.backends:
        layer = gc.nn.Dense(4, 4, "relu", dtype=ctx.dtype, seed=0)
        impls.append(
            Impl(
                b,
                "backend",
                lambda la=layer: la.forward(x),
                backend=b,
                note="gc.nn.Dense(4, 4).forward(x[1,4])",
            )
        )
    torch = ctx.torch
    if torch is not None:
        lin = torch.nn.Sequential(torch.nn.Linear(4, 4), torch.nn.ReLU()).to(ctx.torch_dtype)
        xt = torch.from_numpy(x.copy())
        impls.append(Impl("torch", "torch", lambda: lin(xt), note="Linear(4,4)+ReLU forward"))
    return Case(
        name="overhead dense 1x4x4",
        family="overhead_dense",
        group="overhead",
        params={"N": 1, "in": 4, "out": 4, "dtype": ctx.dtype.name},
        impls=impls,
        torch_note="Linear+ReLU forward (autograd on)",
        note="per-call overhead of a tiny layer call",
    )


def layer_cases(ctx: Ctx) -> Iterator[CaseSpec]:
    g = ctx.grid
    widest = max(w for _, w in g.dense)
    for N, W in g.dense:
        for act in g.dense_acts:
            yield CaseSpec(
                f"dense N={N} W={W} {act}",
                "dense",
                lambda N=N, W=W, a=act: _dense_case(ctx, N, W, a, W == widest),
            )
    for N, C in g.batchnorm:
        yield CaseSpec(
            f"batchnorm {N}x{C}", "batchnorm", lambda N=N, C=C: _batchnorm_case(ctx, N, C)
        )
    for T, B, D, H, role in g.lstm:
        yield CaseSpec(
            f"lstm T={T} B={B} D={D} H={H}",
            "lstm",
            lambda T=T, B=B, D=D, H=H, r=role: _lstm_case(ctx, T, B, D, H, r),
        )
    yield CaseSpec(f"mlp_step B={g.mlp_batch}", "mlp_step", lambda: _mlp_step_case(ctx))
    yield CaseSpec("overhead dense 1x4x4", "overhead_dense", lambda: _overhead_dense_case(ctx))
