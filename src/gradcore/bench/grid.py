"""The benchmark grid: sizes (full and ``--quick``), the case records, shared builders.

A *case* is one cell of kernel x size (x dtype): a list of implementations to time (one per
gradcore backend, PyTorch variants, the GEMM-only reference) on identical inputs, plus what
the roofline and the targets need (bytes moved per call, roles).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

import gradcore as gc
from gradcore.nn.base import Layer

from .timing import Impl

__all__ = [
    "FULL",
    "QUICK",
    "Case",
    "CaseSpec",
    "Ctx",
    "Grid",
    "fmt_n",
    "gemm_fn",
    "make_flat_arena",
    "make_mlp",
    "make_torch_mlp",
]


@dataclass(frozen=True)
class Grid:
    """Sizes of every case family (see ``bench/README.md``)."""

    opt_sizes: tuple[int, ...]
    clip_sizes: tuple[int, ...]
    clip_tensors: int
    mlp_dims: tuple[int, ...]
    mlp_batch: int
    dense: tuple[tuple[int, int], ...]  # (batch, width)
    dense_acts: tuple[str, ...]
    batchnorm: tuple[tuple[int, int], ...]  # (N, C)
    lstm: tuple[tuple[int, int, int, int, str], ...]  # (T, B, D, H, role)
    triad_dram: bool  # also measure a triad beyond the last-level cache
    memory_steps: int


FULL = Grid(
    opt_sizes=(10**5, 10**6, 10**7),
    clip_sizes=(10**6, 10**7),
    clip_tensors=20,
    mlp_dims=(784, 256, 256, 256, 10),
    mlp_batch=128,
    dense=((256, 256), (256, 1024)),
    dense_acts=("relu", "sigmoid"),
    batchnorm=((256, 1024), (4096, 256)),
    lstm=((50, 32, 32, 128, "h128"), (50, 32, 32, 256, "h256"), (200, 16, 32, 64, "long")),
    triad_dram=True,
    memory_steps=20,
)

QUICK = Grid(
    opt_sizes=(10**4, 10**5),
    clip_sizes=(10**5,),
    clip_tensors=20,
    mlp_dims=(784, 256, 256, 256, 10),
    mlp_batch=32,
    dense=((32, 64), (32, 128)),
    dense_acts=("relu",),
    batchnorm=((64, 128),),
    lstm=((5, 4, 8, 16, "h128"), (10, 4, 8, 8, "long")),
    triad_dram=False,
    memory_steps=3,
)


def fmt_n(n: int) -> str:
    """10**7 -> '1e7'; other numbers unchanged."""
    if n >= 1000:
        e = len(str(n)) - 1
        if 10**e == n:
            return f"1e{e}"
    return str(n)


@dataclass
class Case:
    name: str  # e.g. "adam_op P=1e7"
    family: str  # e.g. "adam_op"
    group: str  # optimizer | clip | dense | batchnorm | lstm | mlp_step | overhead
    params: dict
    impls: list[Impl]
    bytes_per_call: int | None = None  # STREAM convention: each array read/written once
    roles: tuple[str, ...] = ()
    torch_note: str = ""  # which torch variant the "torch" column is
    note: str = ""


@dataclass
class CaseSpec:
    """A case before its arrays exist: ``build()`` allocates (so one case lives at a time)."""

    name: str
    family: str
    build: Callable[[], Case]


@dataclass
class Ctx:
    """What every builder needs: dtype, the gradcore backends, torch (or None), the grid."""

    dtype: np.dtype
    backends: list[str]
    torch: object | None
    grid: Grid
    seed: int = 0

    @property
    def torch_dtype(self):
        t = self.torch
        return t.float32 if self.dtype == np.float32 else t.float64

    def rng(self, salt: int = 0) -> np.random.Generator:
        return np.random.default_rng(self.seed + salt)

    def randn(self, shape, salt: int = 0, scale: float = 1.0) -> np.ndarray:
        return (self.rng(salt).standard_normal(shape) * scale).astype(self.dtype)

    def backend_module(self, name: str):
        with gc.use_backend(name) as mod:
            return mod


class _Flat(Layer):
    """A parameter holder for arena-backed benchmarks: tensors of the given sizes."""

    def __init__(self, sizes, dtype) -> None:
        super().__init__(dtype)
        for i, n in enumerate(sizes):
            self._add_param(f"t{i}", np.zeros(int(n), self.dtype))


def make_flat_arena(sizes, ctx: Ctx, salt: int = 0):
    """An arena of tensors of ``sizes`` with random data and gradients."""
    arena = _Flat(sizes, ctx.dtype).parameters()
    arena.data[:] = ctx.randn(arena.size, salt)
    arena.grad[:] = ctx.randn(arena.size, salt + 1)
    return arena


def split_sizes(total: int, parts: int) -> list[int]:
    """``parts`` tensor sizes of varied magnitude (proportional to 1..parts) summing to total."""
    w = np.arange(1, parts + 1, dtype=np.float64)
    sizes = np.floor(total * w / w.sum()).astype(np.int64)
    sizes[-1] += total - int(sizes.sum())
    return [int(s) for s in sizes]


def make_mlp(dims, dtype, seed: int = 0):
    """``Dense(d0,d1,relu) ... Dense(d_{k-1}, d_k, linear)``: the MLP of the step cases."""
    layers = []
    for i in range(len(dims) - 1):
        act = "linear" if i == len(dims) - 2 else "relu"
        layers.append(gc.nn.Dense(dims[i], dims[i + 1], act, dtype=dtype, seed=seed + i))
    return gc.nn.Sequential(layers)


def make_torch_mlp(torch, dims, dtype, gc_model=None):
    """The same MLP in torch (weights copied from ``gc_model`` when given: W = weight.T)."""
    mods = []
    for i in range(len(dims) - 1):
        mods.append(torch.nn.Linear(dims[i], dims[i + 1]))
        if i < len(dims) - 2:
            mods.append(torch.nn.ReLU())
    net = torch.nn.Sequential(*mods).to(dtype)
    if gc_model is not None:
        lins = [m for m in net if isinstance(m, torch.nn.Linear)]
        with torch.no_grad():
            for lin, dense in zip(lins, gc_model.layers, strict=True):
                lin.weight.copy_(torch.from_numpy(np.ascontiguousarray(dense.params["W"].T)))
                lin.bias.copy_(torch.from_numpy(dense.params["b"]))
    return net


def gemm_fn():
    """``(gemm(A, B, C, transa, transb, beta), provider)``: gradcore's GEMM path
    (``gradcore._kernels.gemm``) when importable, else NumPy's ``matmul(out=)`` (which has no
    ``beta``: a ``beta=1`` product is timed as ``beta=0``, the same FLOPs)."""
    try:
        from gradcore import _kernels
    except ImportError:
        _kernels = None
    if _kernels is not None and hasattr(_kernels, "gemm"):
        k = _kernels.gemm

        def gemm(A, B, C, transa=False, transb=False, beta=0.0):
            k(A, B, C, transa, transb, 1.0, beta)

        return gemm, f"gradcore._kernels.gemm ({getattr(_kernels, 'GEMM_PROVIDER', '?')})"

    def gemm_np(A, B, C, transa=False, transb=False, beta=0.0):
        np.matmul(A.T if transa else A, B.T if transb else B, out=C)

    return gemm_np, "numpy matmul(out=) (gradcore._kernels not importable)"
