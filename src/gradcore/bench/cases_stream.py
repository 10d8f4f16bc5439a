"""Streaming cases: optimizer steps, global-norm clipping, the per-call overhead of a tiny op.

Each reads and writes whole flat buffers once, so it is measured in GB/s too and set against
the STREAM-style triad (``triad.py``). Bytes per call follow the STREAM convention (every
array read or written once counts its size once; write-allocate traffic is not counted):
Adam reads p, g, m, v and writes p, m, v (7 words per parameter), AdaGrad reads p, g, sum and
writes p, sum (5 words), clipping reads g for the norms then reads and writes g to scale it
(3 words).
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

import gradcore as gc

from .grid import Case, CaseSpec, Ctx, fmt_n, make_flat_arena, make_mlp, make_torch_mlp, split_sizes
from .timing import Impl

__all__ = ["stream_cases"]

LR = {"adam": 1e-3, "adagrad": 1e-2}
WORDS = {"adam": 7, "adagrad": 5}


def _op_impl(ctx: Ctx, name: str, opt: str, P: int) -> Impl:
    """The backend's ``adam_step``/``adagrad_step`` on flat buffers (no gc.optim layer)."""
    mod = ctx.backend_module(name)
    p = ctx.randn(P, 1)
    g = ctx.randn(P, 2)
    state = {"step": 0}
    if opt == "adam":
        m = np.zeros(P, ctx.dtype)
        v = np.zeros(P, ctx.dtype)
        vmax = np.empty(0, ctx.dtype)

        def fn():
            state["step"] += 1
            mod.adam_step(
                p, g, m, v, vmax, LR["adam"], 0.9, 0.999, 1e-8, 0.0, state["step"], False, False
            )
    else:
        s = np.zeros(P, ctx.dtype)

        def fn():
            state["step"] += 1
            mod.adagrad_step(p, g, s, LR["adagrad"], 0.0, 0.0, 1e-10, state["step"])

    return Impl(name, "backend", fn, note=f"backend op {opt}_step on flat [P] buffers")


def _gc_optim(arena, opt: str):
    if opt == "adam":
        return gc.optim.Adam(arena, lr=LR["adam"])
    return gc.optim.AdaGrad(arena, lr=LR["adagrad"])


def _arena_impl(ctx: Ctx, name: str, opt: str, sizes) -> Impl:
    arena = make_flat_arena(sizes, ctx, salt=3)
    o = _gc_optim(arena, opt)
    return Impl(name, "backend", o.step, backend=name, note=f"gc.optim.{type(o).__name__}.step")


def _torch_params(ctx: Ctx, sizes, salt: int):
    torch = ctx.torch
    params = []
    for i, n in enumerate(sizes):
        p = torch.nn.Parameter(torch.from_numpy(ctx.randn(n, salt + 2 * i)))
        p.grad = torch.from_numpy(ctx.randn(n, salt + 2 * i + 1))
        params.append(p)
    return params


def _torch_opt_impls(ctx: Ctx, opt: str, make_params) -> tuple[list[Impl], str]:
    """torch optimizers over the parameter list ``make_params()`` (a fresh copy each)."""
    torch = ctx.torch
    if torch is None:
        return [], ""
    impls: list[Impl] = []
    if opt == "adam":
        variants = [("torch", {"fused": True}), ("torch-foreach", {"foreach": True})]
        cls, note = torch.optim.Adam, "fused Adam (torch-foreach: foreach Adam)"
    else:
        variants = [("torch", {"foreach": True}), ("torch-fused", {"fused": True})]
        cls, note = torch.optim.Adagrad, "foreach Adagrad (torch-fused: fused Adagrad)"
    for label, kw in variants:
        try:
            o = cls(make_params(), lr=LR[opt], **kw)
        except (RuntimeError, ValueError, TypeError):  # variant not supported by this torch
            continue
        impls.append(Impl(label, "torch", o.step, note=f"torch.optim.{cls.__name__}({kw})"))
    return impls, note


def _opt_case(ctx: Ctx, opt: str, P: int, large: bool, through_optim: bool) -> Case:
    family = f"{opt}_{'optim' if through_optim else 'op'}"
    if through_optim:
        sizes = split_sizes(P, 8)
        impls = [_arena_impl(ctx, b, opt, sizes) for b in ctx.backends]
        note = "gc.optim over an arena of 8 tensors; torch over 8 tensors"
    else:
        sizes = [P]
        impls = [_op_impl(ctx, b, opt, P) for b in ctx.backends]
        note = "backend op on flat buffers; torch over one tensor of P"
    timpls, tnote = _torch_opt_impls(ctx, opt, lambda: _torch_params(ctx, sizes, 10))
    return Case(
        name=f"{family} P={fmt_n(P)}",
        family=family,
        group="optimizer",
        params={"P": P, "tensors": len(sizes), "dtype": ctx.dtype.name},
        impls=impls + timpls,
        bytes_per_call=WORDS[opt] * ctx.dtype.itemsize * P,
        roles=("large",) if large else ("small",),
        torch_note=tnote,
        note=note,
    )


def _mlp_opt_case(ctx: Ctx, opt: str) -> Case:
    dims = ctx.grid.mlp_dims
    impls = []
    P = 0
    for b in ctx.backends:
        model = make_mlp(dims, ctx.dtype, seed=ctx.seed)
        arena = model.parameters()
        arena.grad[:] = ctx.randn(arena.size, 5)
        P = arena.size
        o = _gc_optim(arena, opt)
        impls.append(Impl(b, "backend", o.step, backend=b, note="gc.optim on the MLP arena"))

    def torch_params():
        net = make_torch_mlp(ctx.torch, dims, ctx.torch_dtype)
        ps = list(net.parameters())
        for i, p in enumerate(ps):
            p.grad = ctx.torch.from_numpy(ctx.randn(tuple(p.shape), 20 + i))
        return ps

    timpls, tnote = _torch_opt_impls(ctx, opt, torch_params)
    return Case(
        name=f"{opt}_mlp P={P}",
        family=f"{opt}_mlp",
        group="optimizer",
        params={
            "P": P,
            "tensors": 2 * (len(dims) - 1),
            "dims": list(dims),
            "dtype": ctx.dtype.name,
        },
        impls=impls + timpls,
        bytes_per_call=WORDS[opt] * ctx.dtype.itemsize * P,
        roles=("mlp",),
        torch_note=tnote,
        note="optimizer step over the MLP's parameters (gc: one arena; torch: 8 tensors)",
    )


def _clip_case(ctx: Ctx, P: int) -> Case:
    S = ctx.grid.clip_tensors
    sizes = split_sizes(P, S)
    impls = []
    for b in ctx.backends:
        arena = make_flat_arena(sizes, ctx, salt=7)
        impls.append(
            Impl(
                b,
                "backend",
                lambda a=arena: gc.clip_grad_norm(a, 1.0),
                backend=b,
                note="gc.clip_grad_norm(arena, 1.0)",
            )
        )
    torch = ctx.torch
    tnote = ""
    if torch is not None:
        params = _torch_params(ctx, sizes, 30)
        clip = torch.nn.utils.clip_grad_norm_
        impls.append(
            Impl(
                "torch",
                "torch",
                lambda: clip(params, 1.0, foreach=True),
                note="torch.nn.utils.clip_grad_norm_(params, 1.0, foreach=True)",
            )
        )
        tnote = "clip_grad_norm_ foreach"
    return Case(
        name=f"clip P={fmt_n(P)} S={S}",
        family="clip",
        group="clip",
        params={"P": P, "tensors": S, "dtype": ctx.dtype.name},
        impls=impls,
        bytes_per_call=3 * ctx.dtype.itemsize * P,
        roles=("clip",),
        torch_note=tnote,
        note=f"global 2-norm clipping over {S} tensors (norms pass + scale pass)",
    )


def _overhead_scale_case(ctx: Ctx) -> Case:
    impls = []
    for b in ctx.backends:
        mod = ctx.backend_module(b)
        a = np.ones(8, ctx.dtype)
        impls.append(Impl(b, "backend", lambda m=mod, a=a: m.scale_(a, 1.0), note="be.scale_(x8)"))
    if ctx.torch is not None:
        t = ctx.torch.ones(8, dtype=ctx.torch_dtype)
        impls.append(Impl("torch", "torch", lambda: t.mul_(1.0), note="t.mul_(1.0) on 8"))
    return Case(
        name="overhead scale_ n=8",
        family="overhead_scale",
        group="overhead",
        params={"n": 8, "dtype": ctx.dtype.name},
        impls=impls,
        torch_note="Tensor.mul_",
        note="per-call overhead of a tiny kernel call",
    )


def stream_cases(ctx: Ctx) -> Iterator[CaseSpec]:
    g = ctx.grid
    for opt in ("adam", "adagrad"):
        for through in (False, True):
            for P in g.opt_sizes:
                large = P == max(g.opt_sizes)
                fam = f"{opt}_{'optim' if through else 'op'}"
                yield CaseSpec(
                    f"{fam} P={fmt_n(P)}",
                    fam,
                    lambda o=opt, P=P, lg=large, t=through: _opt_case(ctx, o, P, lg, t),
                )
        yield CaseSpec(f"{opt}_mlp", f"{opt}_mlp", lambda o=opt: _mlp_opt_case(ctx, o))
    for P in g.clip_sizes:
        yield CaseSpec(f"clip P={fmt_n(P)}", "clip", lambda P=P: _clip_case(ctx, P))
    yield CaseSpec("overhead scale_ n=8", "overhead_scale", lambda: _overhead_scale_case(ctx))
