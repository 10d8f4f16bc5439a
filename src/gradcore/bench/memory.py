"""Memory check: does a warm training step allocate new NumPy arrays on a backend?

For each backend, the MLP training step of the ``mlp_step`` case runs a few warm-up steps,
then ``tracemalloc`` (which sees NumPy's array buffers: NumPy reports them to it) records
``steps`` more. Reported per backend:

- ``net_bytes``: traced memory after the steps minus before (growth that stays: a leak or a
  cache that keeps growing);
- ``peak_bytes``: the highest traced memory during the steps minus before (what one step
  allocates transiently: temporaries and per-call output arrays; ~0 for a step that
  allocates nothing).

The NumPy reference allocates temporaries by design; that is expected and reported.
torch's allocator is invisible to ``tracemalloc``, so torch is not measured here.
"""

from __future__ import annotations

import gc as _pygc
import tracemalloc

import gradcore as gc

from .cases_layers import mlp_step_gc
from .grid import Ctx

__all__ = ["memory_check"]


def memory_check(ctx: Ctx, warmup: int = 3, errors: list | None = None) -> list[dict]:
    """One row per backend (see the module docstring); a backend whose step raises is
    recorded in ``errors`` (if given) and skipped."""
    out = []
    steps = ctx.grid.memory_steps
    for b in ctx.backends:
        try:
            row = _check_one(ctx, b, steps, warmup)
        except Exception as exc:
            if errors is None:
                raise
            errors.append(
                {
                    "case": "memory check",
                    "dtype": ctx.dtype.name,
                    "impl": b,
                    "error": f"{type(exc).__name__}: {exc}",
                }
            )
            continue
        out.append(row)
    return out


def _check_one(ctx: Ctx, b: str, steps: int, warmup: int) -> dict:
    step, _ = mlp_step_gc(ctx)
    with gc.use_backend(b):
        was_tracing = tracemalloc.is_tracing()
        if not was_tracing:
            tracemalloc.start()
        try:
            # warm up while tracing, so that the arrays a step keeps (layer caches) are
            # traced in the baseline too: otherwise replacing them reads as growth
            for _ in range(max(warmup, 1)):
                step()
            _pygc.collect()
            tracemalloc.reset_peak()
            before, _ = tracemalloc.get_traced_memory()
            for _ in range(steps):
                step()
            after, peak = tracemalloc.get_traced_memory()
        finally:
            if not was_tracing:
                tracemalloc.stop()
    return {
        "backend": b,
        "steps": steps,
        "net_bytes": int(after - before),
        "peak_bytes": int(peak - before),
    }
