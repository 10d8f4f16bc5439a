"""The test suite's numerical tolerances, one table with the reason for every entry, and the one
``close()`` that applies them.

The rule (``close``): an element passes when

    |got - want| <= rtol * (|want| + scale) + tiny(dtype)

elementwise, where ``rtol = TOLERANCES[kind, dtype].rtol * factor`` and ``scale`` is the
magnitude the rounding error of *that element* scales with: the size of the terms that were
summed or subtracted to make it, computed from the operation's **inputs** -- ``|a| @ |b|`` for a
GEMM-like sum (:func:`gemm_scale`), ``|dy|`` for a derivative that is a difference of O(1)
terms times ``dy``, ``sum |terms|`` for a reduction. ``scale`` is 0 (a pure relative test) for
results computed without cancellation. It is never the output's maximum: with
``atol = rtol * max|want|`` (the rule this replaces) a small element of a wide-ranged array was
barely checked; here every element is judged at its own scale. ``tiny`` (the dtype's smallest
normal number) covers the subnormal range, where two libms legitimately round differently
(float32 gelu(-14): the reference's float32 erfc underflows to -0, float64-then-round keeps a
subnormal -2.8e-45). Non-finite values must match exactly (NaN where NaN, inf where inf).

Every table entry is at most the tightest value that passed before this table existed for its
kind (the old per-file constants are named in the reason), and ``observed`` records the largest
``|got - want| / (|want| + scale)`` measured across the suites with ``GRADCORE_TOL_LOG`` set
(see :func:`report_observed`; one run of the suites with the ``dev`` hypothesis profile, c and
numba built, torch 2.13): the headroom is ``rtol / observed``. Kinds ending in ``recurrent``
are per time step (``factor=T``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

F32, F64 = np.dtype(np.float32), np.dtype(np.float64)


@dataclass(frozen=True)
class Tol:
    rtol: float
    observed: float  # max |got - want| / (|want| + scale) measured over the suites
    reason: str


TOLERANCES: dict[tuple[str, np.dtype], Tol] = {
    # ---- compiled backend (c, numba) vs the NumPy reference, same inputs ---------------------
    ("compiled", F32): Tol(
        1e-6,
        observed=5.2e-7,
        reason="elementwise kernels (activations, dense epilogue, loss gradients, BN/LN) "
        "evaluate exp/tanh/erfc in float64 and round once; the reference rounds float32 "
        "intermediates (a few ulp, 1 ulp = 6e-8); gc_fastmath's exp/log are within 2 ulp. "
        "Was 1e-6 in test_c_dense_loss_optim (2e-5 and 1e-5 elsewhere, on a max|want| scale).",
    ),
    ("compiled", F64): Tol(
        1e-13,
        observed=1.2e-15,
        reason="summation order only (BLAS blocking, sequential vs pairwise sums): a few "
        "thousand ulp of headroom. Was 1e-12 (test_equivalence, test_c_bn_ln_lstm) and 1e-13 "
        "(test_c_dense_loss_optim).",
    ),
    ("compiled_normalization", F32): Tol(
        2.5e-7,
        observed=1.0e-15,
        reason="BatchNorm/LayerNorm: every backend computes the statistics and the outputs in "
        "float64 and rounds once to float32, so the results differ by at most the one final "
        "rounding (1 ulp = 6e-8; bitwise in every measured case). Was 1e-5 (test_c_bn_ln_lstm) "
        "and 2e-5 (test_equivalence), on a max|want| scale.",
    ),
    ("compiled_normalization", F64): Tol(
        1e-12,
        observed=3.1e-15,
        reason="summation order of the float64 statistics, judged at the centering's scale "
        "(|x| + max|x|) inv_std (_equivalence.norm_scales). Was 1e-12.",
    ),
    ("compiled_recurrent", F32): Tol(
        1e-6,
        observed=9.1e-8,
        reason="per time step (multiply by T): the LSTM and RNN recurrences compound the "
        "per-step rounding differences and the GEMMs' summation order (OpenBLAS vs NumPy's "
        "BLAS) over the steps (the RNN's 9.1e-8, test_equivalence_rnn; the LSTM's 8.9e-8). "
        "Was 3e-5 for T <= 12 (test_c_bn_ln_lstm, test_c_rnn) and 2e-5 * T (test_equivalence).",
    ),
    ("compiled_recurrent", F64): Tol(
        1e-14,
        observed=1.3e-16,
        reason="per time step (multiply by T); summation order only. Was 1e-12 (T <= 12) and "
        "1e-12 * T.",
    ),
    ("compiled_reduction", F32): Tol(
        1e-12,
        observed=5.5e-16,
        reason="segment sums of squares / abs-max and the monitor's stats accumulate in float64 "
        "whatever the data dtype: only the summation order (chunked partials vs NumPy's "
        "pairwise sum, over up to 3e5 terms) differs; signed sums at the scale sum|x|. Was "
        "1e-12 (test_equivalence, test_stats_kernels; 1e-13 for the 1000-element adapter check).",
    ),
    ("compiled_reduction", F64): Tol(
        1e-12,
        observed=2.0e-15,
        reason="as float32: float64 accumulation, summation order only. Was 1e-12.",
    ),
    ("compiled_optimizer", F32): Tol(
        0.0,
        observed=0.0,
        reason="optimizer steps are elementwise with the reference's operation order and "
        "roundings, so bitwise (c: bitwise before; numba: was 2.5e-7 = 2 ulp per step).",
    ),
    ("compiled_optimizer", F64): Tol(
        0.0,
        observed=0.0,
        reason="bitwise, as float32 (numba: was 5e-16 = 2 ulp per step).",
    ),
    # ---- the reference against itself in another dtype -------------------------------------
    ("float32_vs_float64", F32): Tol(
        2e-5,
        observed=8.0e-8,
        reason="the reference's float32 activations/dense vs its float64 result on the same "
        "(float32-representable) inputs: ~170 float32 ulp for rounding accumulated over short "
        "sums (the math runs in float32). Was 2e-5 (test_ref_activations_dense).",
    ),
    ("float32_vs_float64_rounded_once", F32): Tol(
        1e-6,
        observed=5.6e-8,
        reason="the reference's float32 losses/BN/LN vs float64: they compute in float64 and "
        "round once when writing (~8 float32 ulp of room). Was 1e-6 (test_ref_loss, "
        "test_ref_norm_layers).",
    ),
    # ---- the reference against PyTorch (the oracle) ----------------------------------------
    ("torch_optimizer", F64): Tol(
        1e-12,
        observed=1.0e-14,
        reason="12 optimizer steps of the reference kernels vs torch.optim, values O(0.01..3) "
        "(scale 1e-2: atol 1e-14); the contract's ~1e-12. Was 1e-12 (test_torch_oracle_kernels_b).",
    ),
    ("torch_optimizer", F32): Tol(
        2e-5,
        observed=1.1e-6,
        reason="torch's vectorized CPU loops use fused multiply-adds (add with alpha, addcmul, "
        "lerp) that NumPy cannot reproduce: a few ulp per step, drifting over 12 steps (scale "
        "0.05: atol 1e-6, ~8 ulp at 1). Was 2e-5 / 1e-6 (test_torch_oracle_kernels_b).",
    ),
    ("torch", F64): Tol(
        1e-10,
        observed=3.0e-12,
        reason="independent float64 implementations (other formulas, other summation order, "
        "other libm): the README's documented 1e-10.",
    ),
    # ---- analytic backward vs central finite differences (gc.gradcheck) --------------------
    ("finite_differences", F64): Tol(
        1e-6,
        observed=6.4e-9,
        reason="gc.gradcheck's CS231n relative error; central differences at eps = 1e-6 are "
        "accurate to ~1e-9 (truncation ~h^2, round-off ~u S / h under gradcheck's floor).",
    ),
}


def tol(kind: str, dtype) -> float:
    """``TOLERANCES[kind, dtype].rtol`` (a KeyError names the missing entry)."""
    return TOLERANCES[kind, np.dtype(dtype)].rtol


def gemm_scale(a, b) -> np.ndarray:
    """``|a| @ |b|`` in float64: the magnitude of the terms summed into each element of
    ``a @ b``, which bounds its rounding error independently of the summation order."""
    return np.abs(np.asarray(a, np.float64)) @ np.abs(np.asarray(b, np.float64))


_OBSERVED: dict[tuple[str, str], float] = {}


def close(got, want, kind: str, dtype=None, *, scale=0.0, factor: float = 1.0, err_msg=""):
    """Assert ``|got - want| <= rtol * (|want| + scale) + tiny`` for every element.

    ``rtol = TOLERANCES[kind, dtype].rtol * factor``; ``dtype`` defaults to ``want``'s (pass it
    for float64 results of float32 data, e.g. the LSTM's norms). ``scale`` (a scalar or an
    array broadcastable to ``want``): the magnitude of the terms each element was computed
    from, taken from the operation's inputs (see the module docstring; :func:`gemm_scale`).
    Shapes and dtypes must agree; NaN must be NaN and inf the same inf."""
    got, want = np.asarray(got), np.asarray(want)
    assert got.shape == want.shape, f"{err_msg}: shape {got.shape} != {want.shape}"
    assert got.dtype == want.dtype, f"{err_msg}: dtype {got.dtype} != {want.dtype}"
    dt = np.dtype(dtype) if dtype is not None else want.dtype
    rtol = TOLERANCES[kind, dt].rtol * factor
    nan_w, nan_g = np.isnan(want), np.isnan(got)
    bad_nan = nan_w != nan_g
    assert not bad_nan.any(), f"{err_msg}: NaN mismatch at {np.argwhere(bad_nan)[:5].tolist()}"
    inf_w = np.isinf(want)
    assert np.array_equal(got[inf_w], want[inf_w]) and not np.isinf(got[~inf_w]).any(), (
        f"{err_msg}: inf mismatch"
    )
    fin = np.isfinite(want)
    g = got[fin].astype(np.float64)
    w = want[fin].astype(np.float64)
    s = np.broadcast_to(np.asarray(scale, np.float64), want.shape)[fin]
    err = np.abs(g - w)
    bound = rtol * (np.abs(w) + s) + float(np.finfo(dt).tiny)
    bad = err > bound
    if _LOG and w.size:
        denom = np.abs(w) + s  # (elements in the subnormal range, judged by tiny, left out)
        big = denom * max(rtol, float(np.finfo(dt).eps)) > 1e3 * float(np.finfo(dt).tiny)
        r = err[big] / denom[big]
        record(kind, dt, float(r.max(initial=0.0)) / factor)
    if bad.any():
        i = np.flatnonzero(bad)[:5]
        raise AssertionError(
            f"{err_msg}: {int(bad.sum())} of {bad.size} elements differ beyond "
            f"rtol {rtol:.3g} (|want| + scale) + tiny [{kind}, {dt}]: got {g[i]}, want {w[i]}, "
            f"scale {s[i]}, |err| {err[i]}, bound {bound[i]}"
        )


_LOG = os.environ.get("GRADCORE_TOL_LOG")


def record(kind: str, dtype, value: float) -> None:
    """Note an observed relative error for ``report_observed`` (only with GRADCORE_TOL_LOG)."""
    if _LOG and np.isfinite(value):
        key = (kind, str(np.dtype(dtype)))
        _OBSERVED[key] = max(_OBSERVED.get(key, 0.0), value)


def assert_f32_close(name, a32, a64, natural, kind="float32_vs_float64"):
    """A float32 result of the reference vs its float64 result on the same inputs:
    ``close`` at ``natural``, the size the quantity has before saturation or cancellation
    (e.g. ``|dy|`` for a derivative bounded by ~1), with the table's ``kind``."""
    assert a32.dtype == np.float32, name
    assert np.all(np.isfinite(a32)), f"{name}: non-finite float32 values"
    close(a32.astype(np.float64), np.asarray(a64, np.float64), kind, F32, scale=natural,
          err_msg=name)  # fmt: skip


def report_observed() -> dict[tuple[str, str], float]:
    """The largest ``|got - want| / (|want| + scale)`` (divided by ``factor``) seen per
    (kind, dtype) in this process; recorded only when ``GRADCORE_TOL_LOG`` is set (conftest
    writes it to that file at the end of the session)."""
    return dict(_OBSERVED)
