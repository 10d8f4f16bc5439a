"""Compiled backends == the NumPy reference, op by op (backend x dtype).

Backend-generic: every available backend other than ``numpy`` is checked against
``gradcore.backends.reference`` on hypothesis-drawn shapes and values, with dtype-keyed
tolerances, plus bad-input errors (same exception type as the reference), read-only and
non-contiguous inputs, and a float64 finite-difference spot check per layer run on the backend.
When no compiled backend is available the whole module is skipped (the only skip here).

Tolerances (``close``): ``rtol`` per dtype and ``atol = rtol * max|expected|`` plus the dtype's
smallest normal (errors near zero are judged against the array's scale, since cancellation --
``x - mean``, ``softmax - onehot`` -- makes a tiny element's relative error meaningless;
GEMM/sum results use the scale of their terms, see test_dense and test_lstm). float64: 1e-12,
i.e. a few thousand ulp of headroom for summation-order differences (BLAS blocking, sequential
vs pairwise sums). float32: 2e-5 (~170 ulp): compiled kernels evaluate exp/tanh/erfc in float64
and round once where the reference rounds float32 intermediates (a few ulp per element),
amplified by the cancellations above. Optimizer steps are elementwise with the same operation
order and must agree to 2 ulp per step (``OPT_TOL``).
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import gradcore as gc
from gradcore.backends import ACTIVATIONS, Workspace
from gradcore.backends import reference as ref
from gradcore.testing import strategies as gst

BACKENDS = [b for b in gc.available_backends() if b != "numpy"]
if not BACKENDS:
    pytest.skip("no compiled backend (numba, c) is available", allow_module_level=True)


def _module(name):
    with gc.use_backend(name) as mod:
        return mod


MODS = {name: _module(name) for name in BACKENDS}
DTYPES = [np.float32, np.float64]
RTOL = {np.dtype(np.float32): 2e-5, np.dtype(np.float64): 1e-12}
OPT_TOL = {np.dtype(np.float32): 2.5e-7, np.dtype(np.float64): 5e-16}  # ~2 ulp relative

pytestmark = pytest.mark.parametrize("name", BACKENDS)
DT = pytest.mark.parametrize("dt", DTYPES, ids=["f32", "f64"])
SETTINGS = settings(max_examples=25, deadline=None)


def close(actual, expected, dt, factor=1.0, equal_nan=False, scale=None):
    """assert_allclose with rtol = RTOL[dt] * factor and atol = rtol * scale, where scale is
    max|finite expected| unless given (a result computed by cancellation from larger terms
    needs the terms' scale)."""
    actual, expected = np.asarray(actual), np.asarray(expected)
    assert actual.shape == expected.shape and actual.dtype == expected.dtype
    rtol = RTOL[np.dtype(dt)] * factor
    if scale is None:
        fin = np.abs(expected[np.isfinite(expected)]) if expected.size else np.zeros(0)
        scale = float(fin.max()) if fin.size else 0.0
    # + the smallest normal number: in the subnormal range rounding differs legitimately
    # (float32 gelu of -14: the reference's float32 erfc underflows to -0, float64-then-round
    # keeps a subnormal -2.8e-45).
    atol = rtol * scale + float(np.finfo(dt).tiny)
    np.testing.assert_allclose(actual, expected, rtol=rtol, atol=atol, equal_nan=equal_nan)


def _norm_dx_scale(gamma, inv_std, dy):
    """BN/LN ``dx = gamma inv_std / N (N dy - sum dy - xhat sum(dy xhat))`` cancels (to ~1e-7 of
    its terms at N = 2): compare at the size of the terms, ~3 |gamma| inv_std |dy|, not of the
    result. Every implementation, the reference included, rounds at that scale."""
    if dy.size == 0:
        return None
    return 3.0 * float(np.max(np.abs(gamma)) * np.max(inv_std) * np.max(np.abs(dy)))


def randn(data, shape, dt, lo=-2, hi=1):
    return data.draw(gst.arrays(shape, min_exponent=lo, max_exponent=hi, dtype=dt))


def both(fn_name, name, make_args):
    """Run op ``fn_name`` on the reference and on backend ``name`` with fresh copies of the same
    arguments; return (reference args, backend args, reference result, backend result)."""
    a_ref, a_be = make_args(), make_args()
    r_ref = getattr(ref, fn_name)(*a_ref)
    r_be = getattr(MODS[name], fn_name)(*a_be)
    return a_ref, a_be, r_ref, r_be


# ------------------------------------------------------------------------- activations


@DT
@SETTINGS
@given(act=gst.activations(), shape=gst.shapes(max_dims=3), data=st.data())
def test_activations(name, dt, act, shape, data):
    x = randn(data, shape, dt, lo=-2, hi=2)
    dy = randn(data, shape, dt)
    be = MODS[name]
    y_ref, y_be = np.empty_like(x), np.empty_like(x)
    ref.act_forward(x, act, y_ref)
    be.act_forward(x, act, y_be)
    close(y_be, y_ref, dt)
    dx_ref, dx_be = np.empty_like(x), np.empty_like(x)
    ref.act_backward(dy, x, y_ref, act, dx_ref)
    be.act_backward(dy, x, y_ref, act, dx_be)
    close(dx_be, dx_ref, dt)
    # in place: y may be x, dx may be dy
    xi, dyi = x.copy(), dy.copy()
    be.act_forward(xi, act, xi)
    close(xi, y_ref, dt)
    be.act_backward(dyi, x, y_ref, act, dyi)
    close(dyi, dx_ref, dt)


SPECIAL = [0.0, -0.0, 1e-30, -1e-30, 0.5, -0.5, 20.0, -20.0, 50.0, -50.0, 1e4, -1e4]


@DT
@pytest.mark.parametrize("act", ACTIVATIONS)
def test_activations_kinks_tails_and_non_finite(name, dt, act):
    x = np.array([*SPECIAL, np.inf, -np.inf, np.nan], dt)
    dy = np.linspace(-1.5, 2.0, x.size).astype(dt)
    be = MODS[name]
    y_ref, y_be = np.empty_like(x), np.empty_like(x)
    dx_ref, dx_be = np.empty_like(x), np.empty_like(x)
    with np.errstate(all="ignore"):  # the reference warns on inf * 0; compiled code cannot
        ref.act_forward(x, act, y_ref)
        ref.act_backward(dy, x, y_ref, act, dx_ref)
    be.act_forward(x, act, y_be)
    be.act_backward(dy, x, y_ref, act, dx_be)
    # elementwise relative comparison: the tails must keep their relative precision
    for got, want in ((y_be, y_ref), (dx_be, dx_ref)):
        np.testing.assert_allclose(
            got, want, rtol=RTOL[np.dtype(dt)], atol=float(np.finfo(dt).tiny), equal_nan=True
        )


# ------------------------------------------------------------------------- dense


@DT
@SETTINGS
@given(
    act=gst.activations(),
    dims=gst.shapes(3, min_side=0, max_side=6),
    with_dx=st.booleans(),
    use_ws=st.booleans(),
    data=st.data(),
)
def test_dense(name, dt, act, dims, with_dx, use_ws, data):
    N, I, O = dims
    x, W, b = randn(data, (N, I), dt), randn(data, (I, O), dt), randn(data, (O,), dt)
    dy = randn(data, (N, O), dt)
    dW0, db0 = randn(data, (I, O), dt), randn(data, (O,), dt)
    be = MODS[name]
    z_r, y_r, z_b, y_b = (np.empty((N, O), dt) for _ in range(4))
    ref.dense_forward(x, W, b, act, z_r, y_r)
    be.dense_forward(x, W, b, act, z_b, y_b)
    close(z_b, z_r, dt)
    close(y_b, y_r, dt)
    outs = []
    for mod in (ref, be):
        dx = np.empty((N, I), dt) if with_dx else None
        dW, db = dW0.copy(), db0.copy()
        ws = Workspace() if use_ws else None
        mod.dense_backward(dy, x, W, z_r, y_r, act, dx, dW, db, ws=ws)
        outs.append((dx, dW, db))
    # dW = x^T dz, db = sum dz, dx = dz W^T may cancel to far below their terms: judge them on
    # the terms' scale (|dy| |act'| <= 1.2 |dy|, times |x| or |W|) or their own, if larger.
    amax = [float(np.abs(a).max()) if a.size else 0.0 for a in (dy, x, W)]
    terms = 1.2 * amax[0] * max(1.0, amax[1], amax[2])
    for got, want in zip(outs[1], outs[0], strict=True):
        if want is not None:
            own = float(np.abs(want).max()) if want.size else 0.0
            close(got, want, dt, scale=max(own, terms))


@DT
def test_dense_linear_y_is_z(name, dt, rng):
    x, W, b = (rng.standard_normal(s).astype(dt) for s in ((4, 3), (3, 5), (5,)))
    z_r, y_r = np.empty((4, 5), dt), np.empty((4, 5), dt)
    ref.dense_forward(x, W, b, "linear", z_r, y_r)
    z = np.empty((4, 5), dt)
    MODS[name].dense_forward(x, W, b, "linear", z, z)
    close(z, y_r, dt)


# ------------------------------------------------------------------------- batchnorm / layernorm


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

    def train_args():
        return (x, gamma, beta, rm0.copy(), rv0.copy(), momentum, eps, np.empty((n, c), dt),
                np.empty(c, dt), np.empty(c, dt))  # fmt: skip

    a_r, a_b, _, _ = both("batchnorm_forward_train", name, train_args)
    for k in (3, 4, 7, 8, 9):  # running_mean, running_var, y, mean, inv_std
        close(a_b[k], a_r[k], dt)
    mean, inv_std = a_r[8], a_r[9]

    def eval_args():
        return (x, gamma, beta, rm0, rv0, eps, np.empty((n, c), dt))

    a_r, a_b, _, _ = both("batchnorm_forward_eval", name, eval_args)
    close(a_b[6], a_r[6], dt)

    dg0, db0 = randn(data, (c,), dt), randn(data, (c,), dt)

    def bwd_args():
        return (dy, x, gamma, mean, inv_std, np.empty((n, c), dt), dg0.copy(), db0.copy())

    a_r, a_b, _, _ = both("batchnorm_backward", name, bwd_args)
    close(a_b[5], a_r[5], dt, scale=_norm_dx_scale(gamma, inv_std, dy))
    for k in (6, 7):
        close(a_b[k], a_r[k], dt)


@DT
@SETTINGS
@given(n=st.integers(0, 6), c=st.integers(1, 7), data=st.data())
def test_layernorm(name, dt, n, c, data):
    x = randn(data, (n, c), dt, lo=-2, hi=2)
    gamma, beta = randn(data, (c,), dt, lo=0, hi=0), randn(data, (c,), dt)
    dy = randn(data, (n, c), dt)

    def fwd_args():
        return (x, gamma, beta, 1e-5, np.empty((n, c), dt), np.empty(n, dt), np.empty(n, dt))

    a_r, a_b, _, _ = both("layernorm_forward", name, fwd_args)
    for k in (4, 5, 6):
        close(a_b[k], a_r[k], dt)
    mean, inv_std = a_r[5], a_r[6]
    dg0, db0 = randn(data, (c,), dt), randn(data, (c,), dt)

    def bwd_args():
        return (dy, x, gamma, mean, inv_std, np.empty((n, c), dt), dg0.copy(), db0.copy())

    a_r, a_b, _, _ = both("layernorm_backward", name, bwd_args)
    close(a_b[5], a_r[5], dt, scale=_norm_dx_scale(gamma, inv_std, dy))
    for k in (6, 7):
        close(a_b[k], a_r[k], dt)


# ------------------------------------------------------------------------- lstm


@DT
@SETTINGS
@given(
    dims=st.tuples(st.integers(0, 4), st.integers(1, 6), st.integers(0, 5), st.integers(1, 5)),
    final=st.booleans(),
    data=st.data(),
)
def test_lstm(name, dt, dims, final, data):
    N, T, D, H = dims
    x = randn(data, (N, T, D), dt, lo=-1, hi=0)
    Wx = randn(data, (D, 4 * H), dt, lo=-1, hi=0)
    Wh = randn(data, (H, 4 * H), dt, lo=-1, hi=-1) * dt(5)  # spectral size ~0.5-1
    b = randn(data, (4 * H,), dt, lo=-1, hi=0)
    h0, c0 = randn(data, (N, H), dt), randn(data, (N, H), dt)
    dhs = randn(data, (N, T, H), dt)
    dhT = randn(data, (N, H), dt) if final else None
    dcT = randn(data, (N, H), dt) if final else None

    def fwd_args():
        return (x, Wx, Wh, b, h0, c0, np.empty((N, T, H), dt), np.empty((N, T, H), dt),
                np.empty((N, T, 4 * H), dt))  # fmt: skip

    a_r, a_b, _, _ = both("lstm_forward", name, fwd_args)
    # float32: T steps of recurrence compound the per-step rounding differences
    for k in (6, 7, 8):
        close(a_b[k], a_r[k], dt, factor=T)
    hs, cs, gates = a_r[6], a_r[7], a_r[8]
    dWx0, dWh0, db0 = randn(data, Wx.shape, dt), randn(data, Wh.shape, dt), randn(data, b.shape, dt)

    def bwd_args():
        return (dhs, dhT, dcT, x, Wx, Wh, h0, c0, hs, cs, gates, np.empty((N, T, D), dt),
                dWx0.copy(), dWh0.copy(), db0.copy(), np.empty((N, H), dt), np.empty((N, H), dt),
                np.empty(T), np.empty(T))  # fmt: skip

    a_r, a_b, _, _ = both("lstm_backward", name, bwd_args)
    # dx, dWx, dWh, db, dh0, dc0 are GEMMs / sums of the gate gradients and can come out much
    # smaller than their terms by cancellation (saturated gates); judge them on one common
    # scale, that of the incoming gradient and the largest of them. The norms (sums of squares,
    # no cancellation) on their own scale.
    grads = [dhs, *(a_r[k] for k in range(11, 17))]
    scale = max((float(np.abs(a).max()) for a in grads if a.size), default=0.0)
    for k in range(11, 18):  # dx, dWx, dWh, db, dh0, dc0, dh_norm
        close(a_b[k], a_r[k], dt, factor=T, scale=scale if k < 17 else None)
    # dc_norm: dL/dc_t gets dL/dh_t o (1 - tanh(c)^2), which cancels when |c| is large (float32:
    # 1 - tanh(7)^2 ~ 3.6e-6 from terms of 1): judge it on the scale of dh_norm, its source
    dc_scale = max(float(np.max(a_r[17], initial=0.0)), float(np.max(a_r[18], initial=0.0)))
    close(a_b[18], a_r[18], dt, factor=T, scale=dc_scale)


@DT
def test_lstm_norms_float64_with_float32_data(name, dt, rng):
    """dh_norm/dc_norm are float64 whatever the data dtype; with ws the result is the same."""
    N, T, D, H = 3, 5, 2, 4
    x = rng.standard_normal((N, T, D)).astype(dt)
    Wx = (0.4 * rng.standard_normal((D, 4 * H))).astype(dt)
    Wh = (0.3 * rng.standard_normal((H, 4 * H))).astype(dt)
    b = np.zeros(4 * H, dt)
    h0 = np.zeros((N, H), dt)
    res = []
    for mod in (ref, MODS[name]):
        hs, cs, g = np.empty((N, T, H), dt), np.empty((N, T, H), dt), np.empty((N, T, 4 * H), dt)
        mod.lstm_forward(x, Wx, Wh, b, h0, h0, hs, cs, g, ws=Workspace())
        outs = [np.empty((N, T, D), dt), np.zeros_like(Wx), np.zeros_like(Wh), np.zeros_like(b),
                np.empty((N, H), dt), np.empty((N, H), dt), np.empty(T), np.empty(T)]  # fmt: skip
        mod.lstm_backward(np.ones_like(hs), None, None, x, Wx, Wh, h0, h0, hs, cs, g, *outs,
                          ws=Workspace())  # fmt: skip
        res.append(outs)
    for got, want in zip(res[1], res[0], strict=True):
        close(got, want, dt, factor=T)


# ------------------------------------------------------------------------- losses


@DT
@SETTINGS
@given(n=st.integers(1, 6), k=st.integers(1, 6), grad=st.booleans(), data=st.data())
def test_softmax_xent(name, dt, n, k, grad, data):
    logits = randn(data, (n, k), dt, lo=-1, hi=2)
    labels = data.draw(gst.labels(n, k))

    def args():
        return (logits, labels, np.empty((n, k), dt) if grad else None)

    a_r, a_b, l_r, l_b = both("softmax_xent", name, args)
    assert isinstance(l_b, float)
    close(l_b, l_r, dt)
    if grad:
        # dlogits = (softmax - onehot) / N cancels at the label (p ~ 1 - 2e-7 gave an error of
        # one ulp of 1/N, 6e-10 relative): judge it at the terms' scale 1/N.
        close(a_b[2], a_r[2], dt, scale=1.0 / n)


@DT
@SETTINGS
@given(
    op=st.sampled_from(["mse", "bce_with_logits"]),
    shape=gst.shapes(min_dims=1, max_dims=3),
    grad=st.booleans(),
    data=st.data(),
)
def test_elementwise_losses(name, dt, op, shape, grad, data):
    pred = randn(data, shape, dt, lo=-1, hi=2)
    if op == "mse":
        target = randn(data, shape, dt)
    else:
        target = np.random.default_rng(data.draw(gst.seeds())).uniform(size=shape).astype(dt)

    def args():
        return (pred, target, np.empty(shape, dt) if grad else None)

    a_r, a_b, l_r, l_b = both(op, name, args)
    assert isinstance(l_b, float)
    close(l_b, l_r, dt)
    if grad:
        close(a_b[2], a_r[2], dt)


# ------------------------------------------------------------------------- norms / clip


def _flat_with_segments(data, dt, nonfinite):
    sizes = data.draw(st.lists(st.integers(0, 9), min_size=0, max_size=6))
    offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
    flat = randn(data, (int(offsets[-1]),), dt, lo=-3, hi=3)
    if nonfinite and flat.size:
        k = data.draw(st.integers(1, min(3, flat.size)))
        idx = data.draw(st.lists(st.integers(0, flat.size - 1), min_size=k, max_size=k))
        vals = data.draw(st.lists(st.sampled_from([np.inf, -np.inf, np.nan]), min_size=k,
                                  max_size=k))  # fmt: skip
        flat[idx] = vals
    return flat, offsets


@DT
@SETTINGS
@given(op=st.sampled_from(["segment_sumsq", "segment_absmax"]), nonfinite=st.booleans(),
       data=st.data())  # fmt: skip
def test_segment_reductions(name, dt, op, nonfinite, data):
    flat, offsets = _flat_with_segments(data, dt, nonfinite)
    S = offsets.size - 1

    def args():
        return (flat, offsets, np.full(S, -1.0), np.full(S, -1, np.int64))

    a_r, a_b, _, _ = both(op, name, args)
    np.testing.assert_array_equal(a_b[3], a_r[3])  # non-finite counts exactly
    np.testing.assert_allclose(a_b[2], a_r[2], rtol=1e-12, atol=0, equal_nan=True)


@DT
@pytest.mark.parametrize("op", ["segment_sumsq", "segment_absmax"])
def test_segment_reductions_large(name, dt, op, rng):
    """Segments longer than any parallel threshold, mixed with empty and small ones."""
    sizes = [0, 70_000, 3, 0, 200_001, 1]
    offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
    flat = rng.standard_normal(int(offsets[-1])).astype(dt)
    flat[100] = np.inf
    flat[70_010] = np.nan
    flat[200_000] = -np.inf
    S = len(sizes)

    def args():
        return (flat, offsets, np.empty(S), np.empty(S, np.int64))

    a_r, a_b, _, _ = both(op, name, args)
    np.testing.assert_array_equal(a_b[3], a_r[3])
    np.testing.assert_allclose(a_b[2], a_r[2], rtol=1e-12, atol=0, equal_nan=True)


@DT
@SETTINGS
@given(
    n=st.sampled_from([0, 1, 7, 100, 70_000]),
    alpha=st.sampled_from([0.0, 0.3, 1.0, -2.5, 1e-7, 0.123456789]),
    clip=st.sampled_from([0.0, 0.5, 1.0, 3.0, np.inf]),
    data=st.data(),
)
def test_scale_and_clip_value(name, dt, n, alpha, clip, data):
    flat = randn(data, (n,), dt, lo=-1, hi=1)
    if n:
        flat[data.draw(st.integers(0, n - 1))] = data.draw(st.sampled_from([np.inf, -np.inf,
                                                                            np.nan]))  # fmt: skip
    for op, arg in (("scale_", alpha), ("clip_value_", clip)):
        a_r, a_b = flat.copy(), flat.copy()
        with np.errstate(all="ignore"):
            getattr(ref, op)(a_r, arg)
        getattr(MODS[name], op)(a_b, arg)
        np.testing.assert_array_equal(a_b, a_r)  # one rounding per element: bitwise


# ------------------------------------------------------------------------- optimizers

OPTIMIZERS = [
    ("sgd", dict(lr=0.1, momentum=0.0, dampening=0.0, nesterov=False, weight_decay=0.0)),
    ("sgd", dict(lr=0.05, momentum=0.9, dampening=0.0, nesterov=False, weight_decay=0.0)),
    ("sgd", dict(lr=0.05, momentum=0.9, dampening=0.0, nesterov=True, weight_decay=1e-2)),
    ("sgd", dict(lr=0.05, momentum=0.8, dampening=0.3, nesterov=False, weight_decay=1e-3)),
    ("rmsprop", dict(lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0.0, momentum=0.0,
                     centered=False)),
    ("rmsprop", dict(lr=1e-2, alpha=0.9, eps=1e-6, weight_decay=1e-2, momentum=0.9,
                     centered=True)),
    ("rmsprop", dict(lr=1e-2, alpha=0.3, eps=1e-8, weight_decay=0.0, momentum=0.0,
                     centered=True)),  # lerp weight 0.7 >= 0.5: the other lerp branch
    ("adagrad", dict(lr=1e-2, lr_decay=0.0, weight_decay=0.0, eps=1e-10, init=0.0)),
    ("adagrad", dict(lr=0.1, lr_decay=0.05, weight_decay=1e-2, eps=1e-10, init=0.1)),
    ("adam", dict(lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.0, amsgrad=False,
                  decoupled=False)),
    ("adam", dict(lr=1e-2, beta1=0.9, beta2=0.99, eps=1e-8, weight_decay=1e-2, amsgrad=True,
                  decoupled=False)),
    ("adam", dict(lr=1e-2, beta1=0.3, beta2=0.999, eps=1e-8, weight_decay=1e-2, amsgrad=True,
                  decoupled=True)),  # AdamW, beta1 0.3: lerp weight 0.7
    ("adam", dict(lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.1, amsgrad=False,
                  decoupled=True)),
]  # fmt: skip


def _init_state(kind, cfg, p):
    z = np.zeros_like(p)
    if kind == "sgd":
        return [z.copy() if cfg["momentum"] else np.empty(0, p.dtype)]
    if kind == "rmsprop":
        e = np.empty(0, p.dtype)
        return [z.copy(), z.copy() if cfg["centered"] else e, z.copy() if cfg["momentum"] else e]
    if kind == "adagrad":
        return [np.full_like(p, cfg["init"])]
    return [z.copy(), z.copy(), z.copy() if cfg["amsgrad"] else np.empty(0, p.dtype)]


def _step(mod, kind, cfg, p, g, state, step):
    c = dict(cfg)
    if kind == "sgd":
        mod.sgd_step(p, g, state[0], c["lr"], c["momentum"], c["dampening"], c["nesterov"],
                     c["weight_decay"], step == 1)  # fmt: skip
    elif kind == "rmsprop":
        mod.rmsprop_step(p, g, *state, c["lr"], c["alpha"], c["eps"], c["weight_decay"],
                         c["momentum"], c["centered"])  # fmt: skip
    elif kind == "adagrad":
        mod.adagrad_step(p, g, state[0], c["lr"], c["lr_decay"], c["weight_decay"], c["eps"],
                         step)  # fmt: skip
    else:
        mod.adam_step(p, g, *state, c["lr"], c["beta1"], c["beta2"], c["eps"],
                      c["weight_decay"], step, c["amsgrad"], c["decoupled"])  # fmt: skip


def _run_sequence(name, dt, kind, cfg, p0, grads):
    be = MODS[name]
    p_r, p_b = p0.copy(), p0.copy()
    s_r, s_b = _init_state(kind, cfg, p0), _init_state(kind, cfg, p0)
    tol = OPT_TOL[np.dtype(dt)]
    for step, g in enumerate(grads, start=1):
        g_before = g.copy()
        _step(ref, kind, cfg, p_r, g, s_r, step)
        _step(be, kind, cfg, p_b, g, s_b, step)
        np.testing.assert_array_equal(g, g_before)  # g is read only
        for got, want in zip([p_b, *s_b], [p_r, *s_r], strict=True):
            # per step the error is a couple of ulp at most; it accumulates over steps
            np.testing.assert_allclose(got, want, rtol=tol * step, atol=0, equal_nan=True)


@DT
@pytest.mark.parametrize("kind,cfg", OPTIMIZERS, ids=[f"{k}{i}" for i, (k, _) in
                                                      enumerate(OPTIMIZERS)])  # fmt: skip
@SETTINGS
@given(n=st.integers(0, 40), data=st.data())
def test_optimizer_sequence(name, dt, kind, cfg, n, data):
    """Five steps on the same problem; step 3 has an all-zero gradient."""
    p0 = randn(data, (n,), dt, lo=-1, hi=1)
    grads = [randn(data, (n,), dt, lo=-3, hi=1) for _ in range(5)]
    grads[2] = np.zeros(n, dt)
    _run_sequence(name, dt, kind, cfg, p0, grads)


@DT
@pytest.mark.parametrize("kind,cfg", OPTIMIZERS, ids=[f"{k}{i}" for i, (k, _) in
                                                      enumerate(OPTIMIZERS)])  # fmt: skip
def test_optimizer_zero_size_and_large(name, dt, kind, cfg, rng):
    """A zero-size parameter, and one large enough for any parallel path."""
    _run_sequence(name, dt, kind, cfg, np.empty(0, dt), [np.empty(0, dt)] * 2)
    n = 100_003
    p0 = rng.standard_normal(n).astype(dt)
    grads = [rng.standard_normal(n).astype(dt) for _ in range(3)]
    grads[1][:] = 0
    _run_sequence(name, dt, kind, cfg, p0, grads)


@DT
@pytest.mark.parametrize("kind,cfg", OPTIMIZERS, ids=[f"{k}{i}" for i, (k, _) in
                                                      enumerate(OPTIMIZERS)])  # fmt: skip
def test_optimizer_frozen_segment_untouched(name, dt, kind, cfg, rng):
    """The arena steps only trainable runs (views of the flat buffers); a frozen run between
    them keeps its parameters and state bit for bit, the others match the reference."""
    n, runs = 30, [(0, 10), (20, 30)]
    p0 = rng.standard_normal(n).astype(dt)
    flats = {}
    for mod in (ref, MODS[name]):
        p, state = p0.copy(), _init_state(kind, cfg, p0)
        for step in (1, 2, 3):
            g = np.full(n, 0.5, dt) * step
            for a, b in runs:
                _step(mod, kind, cfg, p[a:b], g[a:b], [s[a:b] if s.size else s for s in state],
                      step)  # fmt: skip
        flats[mod] = (p, state)
    p_b, s_b = flats[MODS[name]]
    p_r, s_r = flats[ref]
    np.testing.assert_array_equal(p_b[10:20], p0[10:20])
    for got, want in zip([p_b, *s_b], [p_r, *s_r], strict=True):
        np.testing.assert_allclose(got, want, rtol=3 * OPT_TOL[np.dtype(dt)], atol=0)


@DT
def test_optimizer_non_finite_gradients_propagate(name, dt):
    g = np.array([np.inf, -np.inf, np.nan, 1.0], dt)
    for kind, cfg in OPTIMIZERS:
        with np.errstate(all="ignore"):
            _run_sequence(name, dt, kind, cfg, np.ones(4, dt), [g, g])


@DT
def test_division_by_zero_gives_ieee_results_not_errors(name, dt):
    """eps = 0 meets a zero denominator: inf/NaN as in the reference (and torch), no exception."""
    zero = np.zeros(3, dt)
    for kind, cfg in (
        ("rmsprop", dict(OPTIMIZERS[4][1], eps=0.0)),
        ("adagrad", dict(OPTIMIZERS[7][1], eps=0.0)),
        ("adam", dict(OPTIMIZERS[9][1], eps=0.0)),
    ):
        with np.errstate(all="ignore"):
            _run_sequence(name, dt, kind, cfg, np.ones(3, dt), [zero, zero])
    x = np.ones((3, 2), dt)  # constant columns / rows: variance 0

    def bn_args():
        return (x, np.ones(2, dt), np.zeros(2, dt), np.zeros(2, dt), np.ones(2, dt), 0.1, 0.0,
                np.empty((3, 2), dt), np.empty(2, dt), np.empty(2, dt))  # fmt: skip

    def ln_args():
        return (x, np.ones(2, dt), np.zeros(2, dt), 0.0, np.empty((3, 2), dt), np.empty(3, dt),
                np.empty(3, dt))  # fmt: skip

    for op, make in (("batchnorm_forward_train", bn_args), ("layernorm_forward", ln_args)):
        with np.errstate(all="ignore"):
            a_r, a_b, _, _ = both(op, name, make)
        for got, want in zip(a_b, a_r, strict=True):
            if isinstance(want, np.ndarray):
                np.testing.assert_array_equal(got, want)  # NaN == NaN here


# ------------------------------------------------------------------------- layouts


#: backends that reject non-contiguous arrays with a clear ValueError instead of copying them
#: (allowed by the contract; documented in the backend's docstring)
REJECTS_NONCONTIGUOUS = {"c"}


def _readonly_noncontig_run(mod, x, big, W, b, g, p, m, dt):
    z, y = np.empty((4, 3), dt), np.empty((4, 3), dt)
    mod.dense_forward(x, W, b, "tanh", z, y)
    dx, dW, db = np.empty((4, 5), dt), np.zeros((5, 3), dt), np.zeros(3, dt)
    mod.dense_backward(np.ones_like(y), x, W, z, y, "tanh", dx, dW, db)
    ya = np.empty(big.shape[::-1], dt).T if not big.flags.c_contiguous else np.empty_like(big)
    mod.act_forward(big, "gelu", ya)
    v = np.zeros(p.shape, dt)
    mod.adam_step(p, g, m, v, np.empty(0, dt), 1e-2, 0.9, 0.999, 1e-8, 0.0, 1, False, False)
    return z, y, dx, dW, db, ya, p


@DT
def test_read_only_and_non_contiguous_inputs(name, dt, rng):
    be = MODS[name]
    big = rng.standard_normal((8, 10)).astype(dt)
    W = np.ascontiguousarray(rng.standard_normal((5, 3)).astype(dt))
    b = rng.standard_normal(3).astype(dt)
    g = rng.standard_normal((8, 5)).astype(dt)
    for a in (W, b, g, big):
        a.flags.writeable = False
    # read-only inputs: accepted by every backend, same results
    x = np.ascontiguousarray(big[::2, ::2])
    x.flags.writeable = False
    outs = [
        _readonly_noncontig_run(mod, x, big, W, b, g, big.copy()[:, ::2].copy(),
                                np.zeros((8, 5), dt), dt)
        for mod in (ref, be)
    ]  # fmt: skip
    for got, want in zip(outs[1], outs[0], strict=True):
        close(got, want, dt)
    # non-contiguous inputs, outputs and state: copied/strided (same results) or rejected
    x = big[::2, ::2]
    bigT = np.ascontiguousarray(big.T).T  # non-contiguous view of the same values
    args = lambda: (x, bigT, W, b, g, big.copy()[:, ::2], np.zeros((8, 10), dt)[:, 1::2], dt)  # noqa: E731
    want = _readonly_noncontig_run(ref, *args())
    if name in REJECTS_NONCONTIGUOUS:
        with pytest.raises(ValueError, match="contiguous"):
            _readonly_noncontig_run(be, *args())
        return
    got = _readonly_noncontig_run(be, *args())
    for gg, ww in zip(got[:-1], want[:-1], strict=True):
        close(gg, ww, dt)
    np.testing.assert_allclose(got[-1], want[-1], rtol=OPT_TOL[np.dtype(dt)], atol=0)


# ------------------------------------------------------------------------- bad inputs


def _bad_cases(dt):
    other = np.float64 if dt == np.float32 else np.float32
    f = np.zeros((3, 4), dt)
    v4 = np.zeros(4, dt)
    v3 = np.zeros(3, dt)
    i64 = np.zeros((3, 4), np.int64)
    ro = np.zeros((3, 4), dt)
    ro.flags.writeable = False
    offs = np.array([0, 2, 4], np.int64)
    s2, n2 = np.zeros(2), np.zeros(2, np.int64)
    e = np.empty(0, dt)
    W = np.zeros((4, 5), dt)
    b5 = np.zeros(5, dt)
    return {
        "act_forward int x": ("act_forward", (i64, "relu", f.copy())),
        "act_forward unknown act": ("act_forward", (f, "swish", f.copy())),
        "dense_forward W wrong in-dim": (
            "dense_forward", (f, np.zeros((3, 5), dt), b5, "relu", np.empty((3, 5), dt),
                              np.empty((3, 5), dt))),
        "dense_forward b wrong": (
            "dense_forward", (f, W, v3, "relu", np.empty((3, 5), dt), np.empty((3, 5), dt))),
        "dense_forward 1-d x": (
            "dense_forward", (v4, W, b5, "relu", np.empty((1, 5), dt), np.empty((1, 5), dt))),
        "batchnorm N=1": (
            "batchnorm_forward_train", (np.zeros((1, 4), dt), v4, v4, v4.copy(), v4.copy(), 0.1,
                                        1e-5, np.empty((1, 4), dt), v4.copy(), v4.copy())),
        "batchnorm 3-d x": (
            "batchnorm_forward_eval", (np.zeros((2, 3, 4), dt), v4, v4, v4, v4, 1e-5,
                                       np.empty((2, 3, 4), dt))),
        "layernorm 1-d x": ("layernorm_forward", (v4, v4, v4, 1e-5, v4.copy(), v4.copy(),
                                                  v4.copy())),
        "layernorm C=0": ("layernorm_forward", (np.zeros((2, 0), dt), e, e, 1e-5,
                                                np.zeros((2, 0), dt), np.zeros(2, dt),
                                                np.zeros(2, dt))),
        "lstm x other dtype": (
            "lstm_forward", (np.zeros((2, 3, 4), other), np.zeros((4, 8), dt),
                             np.zeros((2, 8), dt), np.zeros(8, dt), np.zeros((2, 2), dt),
                             np.zeros((2, 2), dt), np.empty((2, 3, 2), dt),
                             np.empty((2, 3, 2), dt), np.empty((2, 3, 8), dt))),
        "lstm Wx wrong shape": (
            "lstm_forward", (np.zeros((2, 3, 4), dt), np.zeros((3, 8), dt),
                             np.zeros((2, 8), dt), np.zeros(8, dt), np.zeros((2, 2), dt),
                             np.zeros((2, 2), dt), np.empty((2, 3, 2), dt),
                             np.empty((2, 3, 2), dt), np.empty((2, 3, 8), dt))),
        "lstm T=0": (
            "lstm_forward", (np.zeros((2, 0, 4), dt), np.zeros((4, 8), dt),
                             np.zeros((2, 8), dt), np.zeros(8, dt), np.zeros((2, 2), dt),
                             np.zeros((2, 2), dt), np.empty((2, 0, 2), dt),
                             np.empty((2, 0, 2), dt), np.empty((2, 0, 8), dt))),
        "lstm read-only hs": (
            "lstm_forward", (np.zeros((1, 3, 4), dt), np.zeros((4, 4), dt),
                             np.zeros((1, 4), dt), np.zeros(4, dt), np.zeros((1, 1), dt),
                             np.zeros((1, 1), dt), ro[:1, :3, None], np.empty((1, 3, 1), dt),
                             np.empty((1, 3, 4), dt))),
        "xent float labels": ("softmax_xent", (f, np.zeros(3), None)),
        "xent label out of range": ("softmax_xent", (f, np.array([0, 4, 1]), None)),
        "xent empty batch": ("softmax_xent", (np.zeros((0, 4), dt), np.zeros(0, np.int64),
                                              None)),
        "mse shape mismatch": ("mse", (f, np.zeros((4, 3), dt), None)),
        "mse empty": ("mse", (np.zeros(0, dt), np.zeros(0, dt), None)),
        "bce int logits": ("bce_with_logits", (i64, i64, None)),
        "sumsq bad offsets end": ("segment_sumsq", (v4, np.array([0, 2, 3], np.int64), s2,
                                                    n2)),
        "sumsq decreasing offsets": ("segment_sumsq", (v4, np.array([0, 3, 2, 4], np.int64),
                                                       np.zeros(3), np.zeros(3, np.int64))),
        "sumsq int32 offsets": ("segment_sumsq", (v4, offs.astype(np.int32), s2, n2)),
        "absmax wrong out dtype": ("segment_absmax", (v4, offs, s2.astype(dt)
                                                      if dt == np.float32 else s2[:1], n2)),
        "absmax 2-d flat": ("segment_absmax", (f, offs, s2, n2)),
        "scale_ read-only": ("scale_", (ro.reshape(-1), 2.0)),
        "scale_ int": ("scale_", (np.zeros(4, np.int64), 2.0)),
        "clip_value_ negative": ("clip_value_", (v4.copy(), -1.0)),
        "clip_value_ nan": ("clip_value_", (v4.copy(), np.nan)),
        "sgd g other dtype": ("sgd_step", (v4.copy(), v4.astype(other), v4.copy(), 0.1, 0.9,
                                           0.0, False, 0.0, True)),
        "sgd nesterov without momentum": ("sgd_step", (v4.copy(), v4, e, 0.1, 0.0, 0.0, True,
                                                       0.0, True)),
        "sgd buf wrong shape": ("sgd_step", (v4.copy(), v4, v3.copy(), 0.1, 0.9, 0.0, False,
                                             0.0, True)),
        "rmsprop centered without grad_avg": ("rmsprop_step", (v4.copy(), v4, v4.copy(), e, e,
                                                               0.1, 0.99, 1e-8, 0.0, 0.0,
                                                               True)),
        "adagrad step 0": ("adagrad_step", (v4.copy(), v4, v4.copy(), 0.1, 0.0, 0.0, 1e-10,
                                            0)),
        "adam int p": ("adam_step", (np.zeros(4, np.int64), v4, v4.copy(), v4.copy(), e, 1e-3,
                                     0.9, 0.999, 1e-8, 0.0, 1, False, False)),
        "adam amsgrad without vmax": ("adam_step", (v4.copy(), v4, v4.copy(), v4.copy(), e,
                                                    1e-3, 0.9, 0.999, 1e-8, 0.0, 1, True,
                                                    False)),
        "adam read-only p": ("adam_step", (ro[0], v4, v4.copy(), v4.copy(), e, 1e-3, 0.9,
                                           0.999, 1e-8, 0.0, 1, False, False)),
        "adam bool step": ("adam_step", (v4.copy(), v4, v4.copy(), v4.copy(), e, 1e-3, 0.9,
                                         0.999, 1e-8, 0.0, True, False, False)),
    }  # fmt: skip


@DT
@pytest.mark.parametrize("case", sorted(_bad_cases(np.float32)))
def test_bad_inputs_raise_like_the_reference(name, dt, case):
    op, args = _bad_cases(dt)[case]
    with pytest.raises((TypeError, ValueError)) as want:
        getattr(ref, op)(*args)
    op, args = _bad_cases(dt)[case]
    with pytest.raises(want.type):
        getattr(MODS[name], op)(*args)


@DT
def test_mixed_dtypes_raise_or_match(name, dt, rng):
    """Arrays of another dtype than x: a clear error or the reference's answer, never a crash."""
    other = np.float64 if dt == np.float32 else np.float32
    x = rng.standard_normal((3, 4)).astype(dt)
    W, b = rng.standard_normal((4, 2)).astype(other), np.zeros(2, dt)
    with pytest.raises(TypeError):
        MODS[name].dense_forward(x, W, b, "relu", np.empty((3, 2), dt), np.empty((3, 2), dt))
    with pytest.raises(TypeError):
        MODS[name].act_forward(x, "relu", np.empty((3, 4), other))


# ------------------------------------------------------------------------- finite differences


def _fd(layer_or_loss, inputs, **kw):
    res = gc.gradcheck(layer_or_loss, inputs, **kw)
    assert res.ok, res.report()


def test_gradcheck_layers_on_backend(name, rng):
    """Finite differences (float64) through every layer, with the kernels of ``name``."""
    r = rng.standard_normal
    with gc.use_backend(name):
        for act in ACTIVATIONS:
            layer = gc.nn.Dense(4, 3, act, init="xavier_normal", dtype=np.float64, seed=1)
            assert layer.backend is MODS[name]
            layer.params["b"][:] = 0.3 * r(3)
            _fd(layer, r((5, 4)))
            _fd(gc.nn.Activation(act, dtype=np.float64), r((3, 4)))
        for training in (True, False):
            bn = gc.nn.BatchNorm(4, dtype=np.float64)
            bn.params["gamma"][:] = 1.0 + r(4)
            bn.params["beta"][:] = r(4)
            bn.buffers["running_var"][:] = 0.5 + np.abs(r(4))
            _fd(bn, r((6, 4)) + 0.5, training=training)
        ln = gc.nn.LayerNorm(5, dtype=np.float64)
        ln.params["gamma"][:] = 1.0 + r(5)
        ln.params["beta"][:] = r(5)
        _fd(ln, r((4, 5)))
        for seq in (True, False):
            lstm = gc.nn.LSTM(3, 4, return_sequences=seq, dtype=np.float64, seed=2)
            lstm.params["b"][:] += 0.3 * r(16)
            extra = {"h0": 0.5 * r((2, 4)), "c0": r((2, 4))}
            _fd(lstm, r((2, 5, 3)), extra_inputs=extra)
        logits = r((4, 3))
        _fd(gc.losses.SoftmaxCrossEntropy(), (logits, rng.integers(0, 3, 4)))
        _fd(gc.losses.MSE(), (logits, r((4, 3))))
        _fd(gc.losses.BCEWithLogits(), (logits, rng.uniform(size=(4, 3))))
