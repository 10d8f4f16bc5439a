"""Equivalence suite, batchnorm family: train/eval forward and backward, every compiled backend
vs the NumPy reference, float32 and float64 (harness: ``tests/_equivalence.py``; tolerances:
``tests/_tolerances.py``; the normalization's error scales: ``_equivalence.norm_scales``).

Sizes are drawn to cross the OpenMP thresholds (N*C >= 65536 elements: row chunks on threads).
"""

from __future__ import annotations

import numpy as np
import pytest
from _equivalence import (
    BACKEND,
    C_ONLY,
    DT,
    MODS,
    SETTINGS,
    both,
    norm_scales,
    norm_shapes,
    rand,
    randn,
    threaded_and_serial,
)
from _tolerances import close
from hypothesis import given
from hypothesis import strategies as st

from gradcore.backends import reference as ref

K = "compiled_normalization"


def bn_run(mod, x, gamma, beta, rm, rv, dy, momentum=0.1, eps=1e-5, steps=1, dg0=0.5, db0=-0.25):
    """Train forward (``steps`` times), backward accumulating onto ``dg0``/``db0``, then the
    eval forward with the updated running stats; every output by name."""
    C = x.shape[1]
    dt = x.dtype
    rm, rv = rm.copy(), rv.copy()
    y, mean, inv_std = np.empty_like(x), np.empty(C, dt), np.empty(C, dt)
    for _ in range(steps):
        mod.batchnorm_forward_train(x, gamma, beta, rm, rv, momentum, eps, y, mean, inv_std)
    dx = np.empty_like(x)
    dgamma = np.broadcast_to(np.asarray(dg0, dt), (C,)).copy()
    dbeta = np.broadcast_to(np.asarray(db0, dt), (C,)).copy()
    mod.batchnorm_backward(dy, x, gamma, mean, inv_std, dx, dgamma, dbeta)
    ye = np.empty_like(x)
    mod.batchnorm_forward_eval(x, gamma, beta, rm, rv, eps, ye)
    return {"y": y, "mean": mean, "inv_std": inv_std, "running_mean": rm, "running_var": rv,
            "dx": dx, "dgamma": dgamma, "dbeta": dbeta, "y_eval": ye}  # fmt: skip


def check_bn(got, want, x, gamma, beta, rm0, rv0, dy, momentum=0.1, eps=1e-5, dg0=0.5, db0=-0.25,
             keys=None):  # fmt: skip
    """Every output of :func:`bn_run` at its own scale (see ``norm_scales``)."""
    s = norm_scales(x, gamma, beta, want["mean"], want["inv_std"], dy, axis=0)
    rv_eval = 1 / np.sqrt(np.abs(want["running_var"]).astype(np.float64) + eps)
    scales = {
        **s,
        "dgamma": s["dgamma"] + np.abs(dg0),
        "dbeta": s["dbeta"] + np.abs(db0),
        "running_mean": (1 - momentum) * np.abs(rm0) + momentum * s["mean"],
        "running_var": (1 - momentum) * np.abs(rv0) + np.abs(want["running_var"]),
        "y_eval": np.abs(gamma) * (np.abs(x) + np.abs(want["running_mean"])) * rv_eval
        + np.abs(beta),
    }
    for k in keys or want:
        assert got[k].dtype == want[k].dtype, k
        close(got[k], want[k], K, scale=scales[k], err_msg=k)


@BACKEND
@DT
@SETTINGS
@given(
    n=st.integers(2, 7),
    c=st.integers(1, 6),
    momentum=st.sampled_from([0.0, 0.1, 0.5, 1.0]),
    eps=st.sampled_from([1e-5, 1e-3]),
    data=st.data(),
)
def test_batchnorm(name, dt, n, c, momentum, eps, data):
    x = randn(data, (n, c), dt, lo=-2, hi=2) + dt(data.draw(st.sampled_from([0.0, 3.0])))
    gamma, beta = randn(data, (c,), dt, lo=0, hi=0), randn(data, (c,), dt)
    rm0 = randn(data, (c,), dt)
    rv0 = np.abs(randn(data, (c,), dt)) + dt(0.5)
    dy = randn(data, (n, c), dt)
    dg0, db0 = randn(data, (c,), dt), randn(data, (c,), dt)
    got = bn_run(MODS[name], x, gamma, beta, rm0, rv0, dy, momentum, eps, dg0=dg0, db0=db0)
    want = bn_run(ref, x, gamma, beta, rm0, rv0, dy, momentum, eps, dg0=dg0, db0=db0)
    check_bn(got, want, x, gamma, beta, rm0, rv0, dy, momentum, eps, dg0, db0)

    # the eval forward with the caller's running stats
    def eval_args():
        return (x, gamma, beta, rm0, rv0, eps, np.empty((n, c), dt))

    a_r, a_b, _, _ = both("batchnorm_forward_eval", name, eval_args)
    scale = np.abs(gamma) * (np.abs(x) + np.abs(rm0)) / np.sqrt(rv0.astype(np.float64) + eps)
    close(a_b[6], a_r[6], K, scale=scale + np.abs(beta))


@BACKEND
@DT
@given(shape=norm_shapes())
def test_batchnorm_large_and_offset(name, dt, shape):
    """Sizes across the threading threshold, data offset by 0, 3 or 100 (centering)."""
    N, C, seed, loc = shape
    rng = np.random.default_rng(seed)
    x = rand(rng, (N, C), dt, 2.0, loc)
    gamma, beta = rand(rng, C, dt), rand(rng, C, dt)
    rm, rv = rand(rng, C, dt), np.abs(rand(rng, C, dt)) + dt(0.5)
    dy = rand(rng, (N, C), dt)
    got = bn_run(MODS[name], x, gamma, beta, rm, rv, dy)
    want = bn_run(ref, x, gamma, beta, rm, rv, dy)
    check_bn(got, want, x, gamma, beta, rm, rv, dy)


@BACKEND
@DT
@pytest.mark.parametrize("shape", [(2, 1), (3, 5), (512, 200), (300, 1)])
def test_batchnorm_running_stats_over_steps(name, dt, shape):
    N, C = shape
    states = {}
    for mod in (MODS[name], ref):
        r = np.random.default_rng(7)
        rm, rv = np.zeros(C, dt), np.ones(C, dt)
        gamma, beta = np.ones(C, dt), np.zeros(C, dt)
        y, mean, istd = np.empty((N, C), dt), np.empty(C, dt), np.empty(C, dt)
        xmax = np.zeros(C)
        for step in range(5):
            x = rand(r, (N, C), dt, 1.0 + step, step)
            mod.batchnorm_forward_train(x, gamma, beta, rm, rv, 0.1, 1e-5, y, mean, istd)
            xmax = np.maximum(xmax, np.abs(x).max(axis=0))
        states[mod] = (rm, rv, y, x, mean, istd)
    rm, rv, y, x, mean, istd = states[ref]
    s = norm_scales(x, np.ones(C), np.zeros(C), mean, istd, np.zeros_like(x), axis=0)
    for got, want, k, scale in zip(states[MODS[name]][:3], (rm, rv, y),
                                   ("running_mean", "running_var", "y"),
                                   (xmax, np.abs(rv), s["y"]), strict=True):  # fmt: skip
        close(got, want, K, scale=scale, err_msg=k)


@BACKEND
@DT
@pytest.mark.parametrize("outlier", [1e2, 1e4, 1e6])
@pytest.mark.parametrize("shape", [(512, 4), (600, 150), (37, 3)])
def test_batchnorm_statistics_robust_to_outlier_rows(name, dt, outlier, shape, rng):
    """An outlier in the first row (or any row) must not cost accuracy in the variance: the
    statistics are judged on the scale of the data, not of the outlier."""
    N, C = shape
    x = rand(rng, (N, C), dt)
    x[0] = outlier
    x[N // 2, 0] = -outlier
    gamma, beta = np.ones(C, dt), np.zeros(C, dt)
    dy = rand(rng, (N, C), dt)
    rm0, rv0 = np.zeros(C, dt), np.ones(C, dt)
    got = bn_run(MODS[name], x, gamma, beta, rm0, rv0, dy)
    want = bn_run(ref, x, gamma, beta, rm0, rv0, dy)
    check_bn(got, want, x, gamma, beta, rm0, rv0, dy,
             keys=("mean", "inv_std", "running_mean", "running_var", "y"))  # fmt: skip


@BACKEND
def test_batchnorm_read_only_inputs_accepted(name):
    rng = np.random.default_rng(3)
    a = bn_args(N=6, C=5)
    a[0] = rng.standard_normal((6, 5))
    for i in (0, 1, 2):
        a[i].flags.writeable = False
    w = [v.copy() if isinstance(v, np.ndarray) else v for v in a]
    rm0, rv0 = a[3].copy(), a[4].copy()
    MODS[name].batchnorm_forward_train(*a)
    ref.batchnorm_forward_train(*w)
    names = ("running_mean", "running_var", "y", "mean", "inv_std")
    got, want = (dict(zip(names, v[3:5] + v[7:], strict=True)) for v in (a, w))
    check_bn(got, want, a[0], a[1], a[2], rm0, rv0, np.zeros((6, 5)), keys=names)


@BACKEND
def test_batchnorm_zero_rows_backward_and_eval(name):
    be = MODS[name]
    x = np.zeros((0, 3))
    dg, db = np.ones(3), np.ones(3)
    be.batchnorm_backward(x, x, np.ones(3), np.zeros(3), np.ones(3), np.empty((0, 3)), dg, db)
    assert (dg == 1).all() and (db == 1).all()
    be.batchnorm_forward_eval(
        x, np.ones(3), np.zeros(3), np.zeros(3), np.ones(3), 1e-5, np.empty((0, 3))
    )


# ------------------------------------------------------------------------- c: input handling


def bn_args(N=4, C=3, dt=np.float64):
    return [np.ones((N, C), dt), np.ones(C, dt), np.zeros(C, dt), np.zeros(C, dt), np.ones(C, dt),
            0.1, 1e-5, np.empty((N, C), dt), np.empty(C, dt), np.empty(C, dt)]  # fmt: skip


@C_ONLY
def test_c_batchnorm_bad_inputs_raise():
    cbn = MODS["c"]
    # content, not phrasing: the argument, the expected and the given (either wording)
    with pytest.raises(ValueError, match="more than 1 value"):
        cbn.batchnorm_forward_train(*bn_args(N=1))
    a = bn_args()
    a[1] = np.ones(3, np.float32)
    with pytest.raises(TypeError, match=r"gamma.*(float32.*float64|float64.*float32)"):
        cbn.batchnorm_forward_train(*a)
    a = bn_args()
    a[2] = np.zeros(4)
    with pytest.raises(ValueError, match=r"beta.*(\(4,\).*\(3,\)|\(3,\).*\(4,\))"):
        cbn.batchnorm_forward_train(*a)
    a = bn_args()
    a[0] = np.ones((4, 6))[:, ::2]
    with pytest.raises(ValueError, match="x must be C-contiguous"):
        cbn.batchnorm_forward_train(*a)
    a = bn_args()
    a[0] = np.ones((4, 3), np.int64)
    with pytest.raises(TypeError, match=r"x .*int64"):
        cbn.batchnorm_forward_train(*a)
    a = bn_args()
    a[7] = a[0]  # y aliases x
    with pytest.raises(ValueError, match=r"y .*share.* memory with x"):
        cbn.batchnorm_forward_train(*a)
    a = bn_args()
    a[3].flags.writeable = False
    with pytest.raises(ValueError, match=r"running_mean .*(output|writeable)"):
        cbn.batchnorm_forward_train(*a)
    a = bn_args()
    a[0] = [[1.0, 2.0], [3.0, 4.0]]
    with pytest.raises(TypeError, match=r"x must be a numpy\.ndarray"):
        cbn.batchnorm_forward_train(*a)
    x = np.ones((4, 3))
    with pytest.raises(ValueError, match=r"dx .*shape"):
        cbn.batchnorm_backward(
            x, x, np.ones(3), np.zeros(3), np.ones(3), np.empty((3, 3)), np.zeros(3), np.zeros(3)
        )
    with pytest.raises(ValueError, match="x must be 2-d"):
        cbn.batchnorm_forward_eval(
            np.ones(3), np.ones(3), np.zeros(3), np.zeros(3), np.ones(3), 1e-5, np.empty(3)
        )


@C_ONLY
@DT
def test_c_threaded_and_serial_paths_agree(dt, rng):
    """Above the thresholds the kernels split rows over threads; the serial path (one thread:
    one chunk) must give the same results up to summation order."""
    x, dy = rand(rng, (600, 150), dt, 3.0, 1.0), rand(rng, (600, 150), dt)
    gamma, beta = rand(rng, 150, dt), rand(rng, 150, dt)
    rm0, rv0 = np.zeros(150, dt), np.ones(150, dt)
    runs = threaded_and_serial(lambda: bn_run(MODS["c"], x, gamma, beta, rm0, rv0, dy))
    check_bn(runs[0], runs[1], x, gamma, beta, rm0, rv0, dy)
