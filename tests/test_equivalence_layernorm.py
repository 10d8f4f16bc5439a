"""Equivalence suite, layernorm family: forward and backward, every compiled backend vs the
NumPy reference, float32 and float64 (harness: ``tests/_equivalence.py``; tolerances:
``tests/_tolerances.py``; the normalization's error scales: ``_equivalence.norm_scales``).

Sizes are drawn to cross the OpenMP thresholds (N*C >= 65536 elements: row chunks on threads).
"""

from __future__ import annotations

import numpy as np
import pytest
from _equivalence import BACKEND, C_ONLY, DT, MODS, SETTINGS, norm_scales, norm_shapes, rand, randn
from _tolerances import close
from hypothesis import given
from hypothesis import strategies as st

from gradcore.backends import reference as ref

K = "compiled_normalization"


def ln_run(mod, x, gamma, beta, dy, eps=1e-5, dg0=0.5, db0=-1.0):
    N, C = x.shape
    dt = x.dtype
    y, mean, istd = np.empty_like(x), np.empty(N, dt), np.empty(N, dt)
    mod.layernorm_forward(x, gamma, beta, eps, y, mean, istd)
    dx = np.empty_like(x)
    dg = np.broadcast_to(np.asarray(dg0, dt), (C,)).copy()
    db = np.broadcast_to(np.asarray(db0, dt), (C,)).copy()
    mod.layernorm_backward(dy, x, gamma, mean, istd, dx, dg, db)
    return {"y": y, "mean": mean, "inv_std": istd, "dx": dx, "dgamma": dg, "dbeta": db}


def check_ln(got, want, x, gamma, beta, dy, dg0=0.5, db0=-1.0):
    s = norm_scales(x, gamma, beta, want["mean"], want["inv_std"], dy, axis=1)
    s["dgamma"] = s["dgamma"] + np.abs(dg0)
    s["dbeta"] = s["dbeta"] + np.abs(db0)
    for k in want:
        assert got[k].dtype == want[k].dtype, k
        close(got[k], want[k], K, scale=s[k], err_msg=k)


@BACKEND
@DT
@SETTINGS
@given(n=st.integers(0, 6), c=st.integers(1, 7), data=st.data())
def test_layernorm(name, dt, n, c, data):
    x = randn(data, (n, c), dt, lo=-2, hi=2)
    gamma, beta = randn(data, (c,), dt, lo=0, hi=0), randn(data, (c,), dt)
    dy = randn(data, (n, c), dt)
    dg0, db0 = randn(data, (c,), dt), randn(data, (c,), dt)
    got = ln_run(MODS[name], x, gamma, beta, dy, dg0=dg0, db0=db0)
    want = ln_run(ref, x, gamma, beta, dy, dg0=dg0, db0=db0)
    check_ln(got, want, x, gamma, beta, dy, dg0, db0)


@BACKEND
@DT
@given(shape=norm_shapes(min_n=0))
def test_layernorm_large_and_offset(name, dt, shape):
    """Sizes across the threading threshold, data offset by 0, 3 or 100 (centering)."""
    N, C, seed, loc = shape
    rng = np.random.default_rng(seed)
    x = rand(rng, (N, C), dt, 2.0, loc)
    gamma, beta = rand(rng, C, dt), rand(rng, C, dt)
    dy = rand(rng, (N, C), dt)
    got = ln_run(MODS[name], x, gamma, beta, dy)
    want = ln_run(ref, x, gamma, beta, dy)
    check_ln(got, want, x, gamma, beta, dy)


# ------------------------------------------------------------------------- c: input handling


@C_ONLY
def test_c_layernorm_bad_inputs_raise():
    cln = MODS["c"]
    x = np.ones((4, 3), np.float32)
    g = np.ones(3, np.float32)
    with pytest.raises(ValueError, match=r"mean.*(\(3,\).*\(4,\)|\(4,\).*\(3,\))"):
        cln.layernorm_forward(
            x, g, g, 1e-5, np.empty_like(x), np.empty(3, np.float32), np.empty(4, np.float32)
        )
    with pytest.raises(ValueError, match="at least one feature"):
        cln.layernorm_forward(
            np.ones((4, 0)), np.ones(0), np.ones(0), 1e-5, np.ones((4, 0)), np.empty(4), np.empty(4)
        )
    with pytest.raises(TypeError, match="float32"):
        cln.layernorm_backward(x, x, g, np.zeros(4, np.float32), np.ones(4, np.float32),
                               np.empty((4, 3)), g.copy(), g.copy())  # fmt: skip
