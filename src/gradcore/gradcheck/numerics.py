"""The numerics of a gradient check (docs/gradcheck.md, "Method", "Error measure and the floor"
and "Kinks"): the per-tensor step, the CS231n relative error with its noise floor, central
differences with second opinions at ``10 h`` and ``h / 10``, and the kink exclusion. It works on
a *problem* (``gradcheck.targets``): tensors perturbed in place and ``problem.evaluate() -> L``.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .results import TensorCheck

__all__ = ["NOISE_FACTOR", "check_tensor", "fd_step", "rel_error"]

#: Safety factor on the round-off estimate ``u * S / h`` that sets the default ``atol``
#: (docs/gradcheck.md, "Error measure and the floor": round-off inside the forward is larger
#: than that of the last sum alone; measured errors of correct layers stay > 10x below it).
NOISE_FACTOR = 256.0

U = float(np.finfo(np.float64).eps) / 2.0  # float64 unit round-off
_TINY = float(np.finfo(np.float64).tiny)


def fd_step(arr: np.ndarray, eps: float) -> float:
    """The finite-difference step for ``arr``: ``eps * max(rms(arr), 1)``."""
    m = float(np.max(np.abs(arr))) if arr.size else 0.0
    if m <= 1.0:
        return eps
    return eps * max(m * math.sqrt(float(np.mean(np.square(arr / m)))), 1.0)  # no overflow


def rel_error(a: np.ndarray | float, b: np.ndarray | float, floor: float) -> Any:
    """CS231n relative error ``|a-b| / max(|a|+|b|, floor)`` (elementwise)."""
    return np.abs(a - b) / np.maximum(np.abs(a) + np.abs(b), floor)


def _central(problem, t, idx, x0, step):
    """``L(x0 + step)`` and ``L(x0 - step)`` at element ``idx`` of ``t``, restored after."""
    arr = t.array
    xp, xm = x0 + step, x0 - step
    where = f"when {t.name}{list(idx)} = {x0!r} is perturbed by +-{step:.3g}"
    if xp == xm:  # the step is below float64 resolution at x0
        raise ValueError(
            f"gradcheck: eps must give a step that changes {t.name}{list(idx)} = {x0!r} in "
            f"float64, got a step of {step:.3g} that vanishes there; use a larger eps (1e-6)"
        )
    try:
        arr[idx] = xp
        fp = problem.evaluate()
        arr[idx] = xm
        fm = problem.evaluate()
    except FloatingPointError as exc:
        raise FloatingPointError(f"{exc} {where}") from exc
    finally:
        arr[idx] = x0
    if not (math.isfinite(fp) and math.isfinite(fm)):
        raise FloatingPointError(f"L is not finite {where}: L(x+h) = {fp}, L(x-h) = {fm}")
    return fp, fm, xp, xm


def check_tensor(problem, t, f0, eps, rtol, atol, exclude_kinks, max_elements, rng):
    """Compare ``t.analytic`` with central differences of ``problem.evaluate`` at ``h =
    fd_step(t.array, eps)``, element by element (all, or ``max_elements`` drawn from ``rng``);
    ``f0`` is ``L`` at the unperturbed point (for the one-sided slopes of the kink test)."""
    arr, a_full = t.array, t.analytic
    size = arr.size
    h = fd_step(arr, eps)
    tol = atol if atol is not None else NOISE_FACTOR * U * problem.scale / h
    floor = max(tol / rtol, _TINY)
    kink_tol = math.sqrt(eps)

    if max_elements is not None and size > max_elements:
        flat = np.sort(rng.choice(size, size=max_elements, replace=False))
    else:
        flat = np.arange(size)
    n = len(flat)
    analytic = np.empty(n)
    numeric = np.empty(n)
    kink = np.zeros(n, dtype=bool)
    notes: dict[str, str] = {}
    for j, i in enumerate(flat):
        idx = tuple(int(v) for v in np.unravel_index(int(i), arr.shape))
        x0 = float(arr[idx])
        a = float(a_full[idx])
        fp, fm, xp, xm = _central(problem, t, idx, x0, h)
        c = (fp - fm) / (xp - xm)
        r = rel_error(a, c, floor)
        analytic[j], numeric[j] = a, c
        if r <= rtol:
            continue
        if exclude_kinks:
            fwd, bwd = (fp - f0) / (xp - x0), (f0 - fm) / (x0 - xm)
            gap = rel_error(fwd, bwd, floor)
            side = min(rel_error(a, fwd, floor), rel_error(a, bwd, floor))
            if gap > kink_tol and side <= 0.1 * gap:
                kink[j] = True
                continue
            if gap > kink_tol:
                notes.setdefault(
                    "gap",
                    f"at {t.name}{list(idx)} the one-sided slopes {fwd:.6g} and {bwd:.6g} "
                    "disagree more than smooth curvature allows (a kink, curvature on the "
                    "scale of the step, or round-off) and the analytic value matches neither",
                )
        # second opinions: less round-off (10 h), less truncation (h / 10); same floor
        err_h = abs(a - c)
        for step in (10.0 * h, 0.1 * h):
            fp, fm, xp, xm = _central(problem, t, idx, x0, step)
            c2 = (fp - fm) / (xp - xm)
            r2 = rel_error(a, c2, floor)
            if r2 < r:
                numeric[j], r = c2, r2
            if r <= rtol:
                break
            if step > h and abs(a - c2) < 0.3 * err_h:
                notes.setdefault(
                    "noise",
                    f"at {t.name}{list(idx)} the error falls ~1/h with a 10x step: round-off in "
                    "the forward dominates (it loses precision there, e.g. by cancellation), "
                    "not a backward bug; make the forward accurate or pass a larger atol",
                )

    rel = rel_error(analytic, numeric, floor)
    keep = ~kink
    if np.any(keep):
        rel_kept = np.where(keep, rel, -1.0)
        w = int(np.argmax(rel_kept))
        max_rel = float(rel[w])
        worst = tuple(int(v) for v in np.unravel_index(int(flat[w]), arr.shape))
        a_w, n_w = float(analytic[w]), float(numeric[w])
    else:
        max_rel, worst, a_w, n_w = 0.0, None, math.nan, math.nan
    ok = max_rel <= rtol
    if n and not np.any(keep):
        notes = {"kinks": "every checked element was excluded as a kink"}
    elif ok:
        notes = {}
    if not ok and t.raw is not None:
        raw = t.raw.reshape(-1)[flat]
        if np.all(rel_error(raw, numeric, floor)[keep] <= rtol):
            notes = {"+=": "backward overwrites grads instead of accumulating into them (+=)"}
    note = "; ".join(notes.values())
    return TensorCheck(
        name=t.name,
        shape=tuple(arr.shape),
        ok=ok,
        max_rel_error=max_rel,
        worst_index=worst,
        analytic=a_w,
        numeric=n_w,
        checked=n,
        kinks=int(np.count_nonzero(kink)),
        step=h,
        atol=tol,
        note=note,
    )
