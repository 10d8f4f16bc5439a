"""The compiled C backend (activations, dense, loss, optim, norms adapter) against the NumPy
reference, the definition.

Tolerances are keyed by dtype (``RTOL``). Elementwise results are compared with
``|c - ref| <= rtol |ref| + atol`` where ``atol`` covers (a) subnormal results (the two libms
round differently below ``finfo.tiny``) and (b) for derivatives, ``rtol |dy|``: silu' and
gelu' cross zero, and near that zero a one-ulp difference of their two O(1) terms is a large
relative error of a tiny result. Products from a GEMM are compared against the size of what
was summed, ``rtol (|A| @ |B|)`` (a summation-order-independent bound), because numpy and the
kernels call different OpenBLAS builds. Optimizers and the loss sums need no such slack: the
optimizer kernels reproduce the reference's operation order, so they are compared BITWISE.
"""

from __future__ import annotations

import inspect

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from gradcore.backends import ACTIVATIONS, Workspace
from gradcore.backends import reference as ref

_kernels = pytest.importorskip("gradcore._kernels")
from gradcore.backends import c as cb  # noqa: E402  (after the importorskip)

DTYPES = [np.float32, np.float64]
RTOL = {np.float32: 1e-6, np.float64: 1e-13}


def _tiny(dtype):
    return float(np.finfo(dtype).tiny)


def _close(actual, desired, rtol, atol=0.0):
    """|actual - desired| <= rtol |desired| + atol elementwise; NaN where NaN, inf equal."""
    actual, desired = np.asarray(actual), np.asarray(desired)
    assert actual.shape == desired.shape and actual.dtype == desired.dtype
    np.testing.assert_array_equal(np.isnan(actual), np.isnan(desired))
    fin = np.isfinite(desired)
    np.testing.assert_array_equal(
        actual[~fin & ~np.isnan(desired)], desired[~fin & ~np.isnan(desired)]
    )
    a = actual[fin].astype(np.float64)
    d = desired[fin].astype(np.float64)
    tol = rtol * np.abs(d) + (np.broadcast_to(atol, desired.shape)[fin] if np.ndim(atol) else atol)
    bad = np.abs(a - d) > tol
    assert not bad.any(), (
        f"{bad.sum()} of {bad.size} differ: actual {a[bad][:5]}, desired {d[bad][:5]}, "
        f"tol {np.broadcast_to(tol, a.shape)[bad][:5]}"
    )


def _rand(rng, shape, dtype, scale=1.0):
    return np.array(rng.standard_normal(shape) * scale, dtype=dtype, order="C")  # 0-d stays 0-d


# ============================================================================ the adapter


def test_every_op_has_the_reference_signature():
    ops = [n for n in cb.__all__ if n != "NAME"]
    assert cb.NAME == "c"
    for name in ops:
        got = list(inspect.signature(getattr(cb, name)).parameters)
        want = list(inspect.signature(getattr(ref, name)).parameters)
        assert got == want, name
    # every reference op outside the other engineer's families is here
    theirs = {"batchnorm", "layernorm", "lstm"}
    mine = {n for n in ref.__all__ if n != "NAME" and n.split("_")[0] not in theirs}
    assert mine <= set(ops)


def test_activation_codes_follow_the_contract_list():
    assert tuple(_kernels.ACTIVATION_CODES) == ACTIVATIONS
    assert list(_kernels.ACTIVATION_CODES.values()) == list(range(len(ACTIVATIONS)))


# ============================================================================ activations

shapes_any = st.lists(st.integers(0, 7), min_size=0, max_size=3).map(tuple)
value_scales = st.sampled_from([1e-3, 1e-1, 1.0, 3.0, 30.0, 300.0])


@pytest.mark.parametrize("dtype", DTYPES)
@given(
    shape=shapes_any,
    scale=value_scales,
    act=st.sampled_from(ACTIVATIONS),
    seed=st.integers(0, 2**32 - 1),
    inplace=st.booleans(),
)
def test_activations_match_reference(dtype, shape, scale, act, seed, inplace):
    rng = np.random.default_rng(seed)
    x = _rand(rng, shape, dtype, scale)
    dy = _rand(rng, shape, dtype)
    y_ref = np.empty_like(x)
    ref.act_forward(x, act, y_ref)
    rtol, tiny = RTOL[dtype], _tiny(dtype)
    if inplace:
        y = x.copy()
        cb.act_forward(y, act, y)
    else:
        y = np.full_like(x, np.nan)
        cb.act_forward(x, act, y)
    _close(y, y_ref, rtol, tiny)

    dx_ref = np.empty_like(x)
    ref.act_backward(dy, x, y_ref, act, dx_ref)
    if inplace:
        dx = dy.copy()
        cb.act_backward(dx, x, y_ref, act, dx)
    else:
        dx = np.full_like(x, np.nan)
        cb.act_backward(dy, x, y_ref, act, dx)
    _close(dx, dx_ref, rtol, rtol * np.abs(dy) + tiny)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("act", ACTIVATIONS)
def test_activations_specials_and_large_arrays(dtype, act, rng):
    """NaN, +-inf, +-0 and kinks exactly as the reference; 200k elements use the threads."""
    specials = np.array(
        [np.nan, np.inf, -np.inf, 0.0, -0.0, 1e-30, -1e-30, 88.0, -88.0, 700.0, -700.0, 1e4, -1e4],
        dtype,
    )
    x = np.concatenate([specials, _rand(rng, 200_000, dtype, 5.0)])
    dy = np.concatenate([np.ones(specials.size, dtype), _rand(rng, 200_000, dtype)])
    y, y_ref = np.empty_like(x), np.empty_like(x)
    with np.errstate(all="ignore"):  # the reference may warn on inf arithmetic
        ref.act_forward(x, act, y_ref)
    cb.act_forward(x, act, y)
    rtol, tiny = RTOL[dtype], _tiny(dtype)
    _close(y, y_ref, rtol, tiny)
    y_in = np.where(np.isnan(y_ref), y_ref, y_ref)  # both backends get the same y
    dx, dx_ref = np.empty_like(x), np.empty_like(x)
    with np.errstate(all="ignore"):
        ref.act_backward(dy, x, y_in, act, dx_ref)
    cb.act_backward(dy, x, y_in, act, dx)
    _close(dx, dx_ref, rtol, rtol * np.abs(dy) + tiny)


# ============================================================================ dense


@st.composite
def dense_case(draw, dtype):
    N = draw(st.sampled_from([0, 1, 2, 3, 5, 8]))
    I = draw(st.sampled_from([0, 1, 2, 4, 7]))
    O = draw(st.sampled_from([1, 2, 3, 6, 17]))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    scale = draw(st.sampled_from([1e-2, 1.0, 10.0]))
    x = _rand(rng, (N, I), dtype, scale)
    W = _rand(rng, (I, O), dtype, 1.0 / np.sqrt(max(I, 1)))
    b = _rand(rng, (O,), dtype, 0.1)
    return x, W, b, rng


def _gemm_bound(A, B):
    return np.abs(A.astype(np.float64)) @ np.abs(B.astype(np.float64))


def _check_dense(dtype, x, W, b, act, rng, ws, with_dx):
    N, I = x.shape
    O = W.shape[1]
    rtol = RTOL[dtype]
    z_ref, y_ref = np.empty((N, O), dtype), np.empty((N, O), dtype)
    ref.dense_forward(x, W, b, act, z_ref, y_ref)
    z, y = np.full((N, O), np.nan, dtype), np.full((N, O), np.nan, dtype)
    cb.dense_forward(x, W, b, act, z, y)
    zb = _gemm_bound(x, W) + np.abs(b)
    _close(z, z_ref, rtol, rtol * zb + _tiny(dtype))
    # y = act(z): the z difference passes through act' <= 1.13 (gelu)
    _close(y, y_ref, rtol, 1.2 * rtol * zb + _tiny(dtype))

    # backward: both backends get the reference's z, y (so a z that lands on the other side
    # of a relu kink cannot flip a derivative)
    dy = _rand(rng, (N, O), dtype)
    dW0, db0 = _rand(rng, (I, O), dtype), _rand(rng, (O,), dtype)
    dW_ref, db_ref = dW0.copy(), db0.copy()
    dx_ref = np.empty((N, I), dtype) if with_dx else None
    ref.dense_backward(dy, x, W, z_ref, y_ref, act, dx_ref, dW_ref, db_ref)
    dW, db = dW0.copy(), db0.copy()
    dx = np.full((N, I), np.nan, dtype) if with_dx else None
    cb.dense_backward(dy, x, W, z_ref, y_ref, act, dx, dW, db, ws)
    dz_ref = np.empty((N, O), dtype)
    ref.act_backward(dy, z_ref, y_ref, act, dz_ref)
    dzb = np.abs(dz_ref) + np.abs(dy)  # dz differs elementwise by <= rtol |dy| (see header)
    _close(dW, dW_ref, rtol, rtol * (_gemm_bound(x.T, dzb) + np.abs(dW0)) + _tiny(dtype))
    _close(db, db_ref, rtol, rtol * (dzb.sum(axis=0) + np.abs(db0)) + _tiny(dtype))
    if with_dx:
        _close(dx, dx_ref, rtol, rtol * _gemm_bound(dzb, np.abs(W).T) + _tiny(dtype))
    return z, y


@pytest.mark.parametrize("dtype", DTYPES)
@given(
    data=st.data(), act=st.sampled_from(ACTIVATIONS), use_ws=st.booleans(), with_dx=st.booleans()
)
def test_dense_matches_reference(dtype, data, act, use_ws, with_dx):
    x, W, b, rng = data.draw(dense_case(dtype))
    _check_dense(dtype, x, W, b, act, rng, Workspace() if use_ws else None, with_dx)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("act", ["linear", "relu", "gelu"])
@pytest.mark.parametrize("shape", [(256, 64, 512), (300, 20, 7), (1, 3, 5000)])
def test_dense_large_shapes_use_threads(dtype, act, shape, rng):
    """Above the OpenMP thresholds: parallel epilogue rows, column-block backward (the block
    split, ragged last block) and the threaded GEMM."""
    N, I, O = shape
    x, W, b = _rand(rng, (N, I), dtype), _rand(rng, (I, O), dtype, 0.2), _rand(rng, O, dtype)
    _check_dense(dtype, x, W, b, act, rng, Workspace(), True)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("act", ACTIVATIONS)
@pytest.mark.parametrize("shape", [(0, 3, 2), (2, 0, 3), (1, 1, 1), (3, 2, 0)])
def test_dense_degenerate_shapes(dtype, act, shape, rng):
    """Empty batch, zero inputs (z = b, the GEMM with K = 0 must zero z), width 1, no outputs."""
    N, I, O = shape
    x, W, b = _rand(rng, (N, I), dtype), _rand(rng, (I, O), dtype), _rand(rng, O, dtype)
    _check_dense(dtype, x, W, b, act, rng, None, True)


@pytest.mark.parametrize("dtype", DTYPES)
def test_dense_linear_y_may_be_z_and_workspace_is_reused(dtype, rng):
    x, W, b = _rand(rng, (4, 3), dtype), _rand(rng, (3, 5), dtype), _rand(rng, 5, dtype)
    z = np.empty((4, 5), dtype)
    cb.dense_forward(x, W, b, "linear", z, z)
    _close(z, (x @ W + b).astype(dtype), 1e-5 if dtype == np.float32 else 1e-12, 1e-6)
    ws = Workspace()
    dW, db, dx = np.zeros((3, 5), dtype), np.zeros(5, dtype), np.empty((4, 3), dtype)
    cb.dense_backward(z, x, W, z, z, "linear", dx, dW, db, ws)
    buf = ws.get("dense_dz", (4, 5), dtype)
    np.testing.assert_array_equal(buf, z)  # dz = dy * 1 went through the workspace buffer
    cb.dense_backward(z, x, W, z, z, "linear", dx, dW, db, ws)
    assert ws.get("dense_dz", (4, 5), dtype).base is buf.base  # reused, not reallocated


# ============================================================================ loss


@pytest.mark.parametrize("dtype", DTYPES)
@given(
    N=st.integers(1, 7),
    K=st.integers(1, 7),
    scale=value_scales,
    seed=st.integers(0, 2**32 - 1),
    grad=st.booleans(),
    label_dtype=st.sampled_from([np.int64, np.int32, np.uint8]),
)
def test_softmax_xent_matches_reference(dtype, N, K, scale, seed, grad, label_dtype):
    rng = np.random.default_rng(seed)
    z = _rand(rng, (N, K), dtype, scale)
    labels = rng.integers(0, K, N).astype(label_dtype)
    g_ref = np.empty_like(z) if grad else None
    g = np.full_like(z, np.nan) if grad else None
    want = ref.softmax_xent(z, labels, g_ref)
    got = cb.softmax_xent(z, labels, g)
    assert isinstance(got, float)
    assert got == pytest.approx(want, rel=1e-13, abs=1e-300)  # double math in both
    if grad:
        # softmax = exp(z - max - lse): a rounding of the argument (~ulp(max|z|)) is a relative
        # error of the result, so the relative slack grows with the logits' magnitude
        rtol = RTOL[dtype] + 4 * np.finfo(dtype).eps * float(np.abs(z).max(initial=0.0))
        _close(g, g_ref, rtol, _tiny(dtype) / N)


@pytest.mark.parametrize("op", ["mse", "bce_with_logits"])
@pytest.mark.parametrize("dtype", DTYPES)
@given(
    shape=st.lists(st.integers(1, 6), min_size=0, max_size=3).map(tuple),
    scale=value_scales,
    seed=st.integers(0, 2**32 - 1),
    grad=st.booleans(),
)
def test_mse_bce_match_reference(op, dtype, shape, scale, seed, grad):
    rng = np.random.default_rng(seed)
    p = _rand(rng, shape, dtype, scale)
    t = _rand(rng, shape, dtype) if op == "mse" else np.array(rng.random(shape), dtype=dtype)
    g_ref = np.empty_like(p) if grad else None
    g = np.full_like(p, np.nan) if grad else None
    want = getattr(ref, op)(p, t, g_ref)
    got = getattr(cb, op)(p, t, g)
    assert got == pytest.approx(want, rel=1e-13, abs=1e-300)
    if grad:
        # computed in double and rounded once, like the reference; NumPy's SIMD exp differs
        # from libm's by an ulp, which sigmoid(z) - t can amplify: absolute slack rtol / M
        _close(g, g_ref, RTOL[dtype], RTOL[dtype] / p.size)


@pytest.mark.parametrize("dtype", DTYPES)
def test_losses_large_inputs_use_threads(dtype, rng):
    z = _rand(rng, (3000, 30), dtype, 3.0)
    labels = rng.integers(0, 30, 3000)
    g, g_ref = np.empty_like(z), np.empty_like(z)
    assert cb.softmax_xent(z, labels, g) == pytest.approx(
        ref.softmax_xent(z, labels, g_ref), rel=1e-13
    )
    _close(g, g_ref, RTOL[dtype], _tiny(dtype))
    p, t = _rand(rng, 200_000, dtype), rng.random(200_000).astype(dtype)
    for op in ("mse", "bce_with_logits"):
        g, g_ref = np.empty_like(p), np.empty_like(p)
        got = getattr(cb, op)(p, t, g)
        assert got == pytest.approx(getattr(ref, op)(p, t, g_ref), rel=1e-12)
        _close(g, g_ref, RTOL[dtype], RTOL[dtype] / p.size)


@pytest.mark.parametrize("dtype", DTYPES)
def test_losses_propagate_nan_and_inf_like_reference(dtype):
    z = np.array(
        [[0.0, 1.0, 2.0], [np.nan, 0.0, 1.0], [np.inf, 0.0, 1.0], [-np.inf, 0.0, 1.0]], dtype
    )
    labels = np.array([0, 1, 2, 1])
    g, g_ref = np.empty_like(z), np.empty_like(z)
    with np.errstate(all="ignore"):
        want = ref.softmax_xent(z, labels, g_ref)
    got = cb.softmax_xent(z, labels, g)
    assert np.isnan(got) and np.isnan(want)
    _close(g, g_ref, RTOL[dtype], 0.0)
    p = np.array([0.0, np.nan, np.inf, -np.inf, 1.0], dtype)
    t = np.array([0.5, 0.5, 1.0, 0.0, 1.0], dtype)
    for op in ("mse", "bce_with_logits"):
        g, g_ref = np.empty_like(p), np.empty_like(p)
        with np.errstate(all="ignore"):
            want = getattr(ref, op)(p, t, g_ref)
        got = getattr(cb, op)(p, t, g)
        assert np.isnan(got) == np.isnan(want) and (np.isnan(got) or got == want)
        _close(g, g_ref, 0.0, 0.0)


# ============================================================================ optim


def _optim_variants():
    v = []
    for wd in (0.0, 0.01):
        for mom, damp, nest in (
            (0.0, 0.0, False),
            (0.9, 0.0, False),
            (0.9, 0.1, False),
            (0.9, 0.0, True),
        ):
            v.append(
                (
                    "sgd",
                    {
                        "lr": 0.05,
                        "momentum": mom,
                        "dampening": damp,
                        "nesterov": nest,
                        "weight_decay": wd,
                    },
                )
            )
        for centered in (False, True):
            for mom in (0.0, 0.9):
                v.append(
                    (
                        "rmsprop",
                        {
                            "lr": 1e-2,
                            "alpha": 0.99,
                            "eps": 1e-8,
                            "weight_decay": wd,
                            "momentum": mom,
                            "centered": centered,
                        },
                    )
                )
        for lr_decay, init in ((0.0, 0.0), (0.01, 0.1)):
            v.append(
                (
                    "adagrad",
                    {
                        "lr": 1e-2,
                        "lr_decay": lr_decay,
                        "weight_decay": wd,
                        "eps": 1e-10,
                        "init": init,
                    },
                )
            )
        for ams in (False, True):
            for dec in (False, True):
                v.append(
                    (
                        "adam",
                        {
                            "lr": 1e-3,
                            "beta1": 0.9,
                            "beta2": 0.999,
                            "eps": 1e-8,
                            "weight_decay": wd,
                            "amsgrad": ams,
                            "decoupled": dec,
                        },
                    )
                )
    # lerp's second branch (|1 - beta| >= 0.5) in Adam and centered RMSprop
    v.append(
        (
            "adam",
            {
                "lr": 1e-2,
                "beta1": 0.3,
                "beta2": 0.4,
                "eps": 1e-8,
                "weight_decay": 0.0,
                "amsgrad": True,
                "decoupled": False,
            },
        )
    )
    v.append(
        (
            "rmsprop",
            {
                "lr": 1e-2,
                "alpha": 0.2,
                "eps": 1e-8,
                "weight_decay": 0.0,
                "momentum": 0.0,
                "centered": True,
            },
        )
    )
    return v


def _new_state(kind, hp, n, dtype):
    if kind == "sgd":
        return {"buf": np.zeros(n, dtype)}
    if kind == "rmsprop":
        return {k: np.zeros(n, dtype) for k in ("square_avg", "grad_avg", "mom_buf")}
    if kind == "adagrad":
        return {"state_sum": np.full(n, hp["init"], dtype)}
    return {k: np.zeros(n, dtype) for k in ("m", "v", "vmax")}


def _step(backend, kind, p, g, state, hp, step):
    if kind == "sgd":
        backend.sgd_step(
            p,
            g,
            state["buf"],
            hp["lr"],
            hp["momentum"],
            hp["dampening"],
            hp["nesterov"],
            hp["weight_decay"],
            step == 1,
        )
    elif kind == "rmsprop":
        backend.rmsprop_step(
            p,
            g,
            state["square_avg"],
            state["grad_avg"],
            state["mom_buf"],
            hp["lr"],
            hp["alpha"],
            hp["eps"],
            hp["weight_decay"],
            hp["momentum"],
            hp["centered"],
        )
    elif kind == "adagrad":
        backend.adagrad_step(
            p, g, state["state_sum"], hp["lr"], hp["lr_decay"], hp["weight_decay"], hp["eps"], step
        )
    else:
        backend.adam_step(
            p,
            g,
            state["m"],
            state["v"],
            state["vmax"],
            hp["lr"],
            hp["beta1"],
            hp["beta2"],
            hp["eps"],
            hp["weight_decay"],
            step,
            hp["amsgrad"],
            hp["decoupled"],
        )


def _run_sequence(kind, hp, dtype, n, rng, grads=None, steps=5):
    p0 = _rand(rng, n, dtype)
    if grads is None:
        grads = [_rand(rng, n, dtype) for _ in range(steps)]
        grads[2] = np.zeros(n, dtype)  # an all-zero gradient step in the middle
    runs = []
    for backend in (cb, ref):
        p, state = p0.copy(), _new_state(kind, hp, n, dtype)
        with np.errstate(all="ignore"):
            for k, g in enumerate(grads, start=1):
                g_before = g.copy()
                _step(backend, kind, p, g, state, hp, k)
                np.testing.assert_array_equal(g, g_before)  # g is read only
        runs.append((p, state))
    (p_c, s_c), (p_r, s_r) = runs
    # bitwise: same operation order, same roundings (NaN where NaN)
    np.testing.assert_array_equal(p_c, p_r)
    for key in s_c:
        np.testing.assert_array_equal(s_c[key], s_r[key], err_msg=key)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(("kind", "hp"), _optim_variants())
@pytest.mark.parametrize("n", [0, 1, 37, 200_000])
def test_optimizer_sequences_bitwise_equal_to_reference(kind, hp, dtype, n, rng):
    _run_sequence(kind, hp, dtype, n, rng)


@pytest.mark.parametrize("dtype", DTYPES)
@given(
    data=st.data(),
    seed=st.integers(0, 2**32 - 1),
    lr=st.sampled_from([1e-4, 1e-2, 0.3]),
    scale=value_scales,
)
def test_optimizer_hyperparameters_drawn(dtype, data, seed, lr, scale):
    kind, hp = data.draw(st.sampled_from(_optim_variants()))
    hp = dict(hp, lr=lr)
    rng = np.random.default_rng(seed)
    n = data.draw(st.integers(0, 50))
    grads = [_rand(rng, n, dtype, scale) for _ in range(3)]
    _run_sequence(kind, hp, dtype, n, rng, grads)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(("kind", "hp"), [v for v in _optim_variants() if v[1].get("weight_decay")])
def test_optimizer_nonfinite_gradients_propagate_like_reference(kind, hp, dtype, rng):
    n = 64
    grads = [_rand(rng, n, dtype) for _ in range(4)]
    grads[1][[3, 10, 20]] = [np.nan, np.inf, -np.inf]
    grads[2][[5, 10]] = [np.inf, np.nan]
    _run_sequence(kind, hp, dtype, n, rng, grads)


def test_optimizer_accepts_any_shape_and_float32_hyperparameter_rounding(rng):
    p = _rand(rng, (3, 4), np.float32)
    g = _rand(rng, (3, 4), np.float32)
    m, v, vm = (np.zeros((3, 4), np.float32) for _ in range(3))
    p2, m2, v2 = p.copy(), m.copy(), v.copy()
    cb.adam_step(p, g, m, v, vm, np.float64(1e-3), 0.9, 0.999, 1e-8, 0.0, np.int64(1), False, False)
    ref.adam_step(p2, g, m2, v2, vm, 1e-3, 0.9, 0.999, 1e-8, 0.0, 1, False, False)
    np.testing.assert_array_equal(p, p2)
    assert p.dtype == np.float32


# ============================================================================ norms adapter


@pytest.mark.parametrize("dtype", DTYPES)
def test_norms_adapter_matches_reference(dtype, rng):
    flat = _rand(rng, 1000, dtype)
    flat[[3, 500]] = [np.nan, np.inf]
    off = np.array([0, 0, 10, 400, 1000], np.int64)
    for op in ("segment_sumsq", "segment_absmax"):
        out = [(np.empty(4), np.empty(4, np.int64)) for _ in range(2)]
        getattr(cb, op)(flat, off, *out[0])
        getattr(ref, op)(flat, off, *out[1])
        np.testing.assert_allclose(out[0][0], out[1][0], rtol=1e-13)
        np.testing.assert_array_equal(out[0][1], out[1][1])
    a, b = flat.copy(), flat.copy()
    cb.scale_(a, 0.3)
    ref.scale_(b, 0.3)
    np.testing.assert_array_equal(a, b)
    cb.clip_value_(a, 0.5)
    ref.clip_value_(b, 0.5)
    np.testing.assert_array_equal(a, b)
    for backend in (cb, ref):
        with pytest.raises(ValueError, match="clip must be"):
            backend.clip_value_(a, float("nan"))
        with pytest.raises(TypeError):
            backend.segment_sumsq(flat, off.astype(np.int32), np.empty(4), np.empty(4, np.int64))


# ============================================================================ bad inputs


def _ro(a):
    a = a.copy()
    a.flags.writeable = False
    return a


def test_read_only_inputs_are_accepted(rng):
    x, W, b = (
        _ro(_rand(rng, (4, 3), np.float64)),
        _ro(_rand(rng, (3, 2), np.float64)),
        _ro(np.zeros(2)),
    )
    z, y = np.empty((4, 2)), np.empty((4, 2))
    cb.dense_forward(x, W, b, "tanh", z, y)
    dW, db, dx = np.zeros((3, 2)), np.zeros(2), np.empty((4, 3))
    cb.dense_backward(_ro(y), x, W, _ro(z), _ro(y), "tanh", dx, dW, db)
    cb.act_forward(x, "relu", np.empty_like(x))
    assert cb.softmax_xent(_ro(z), _ro(np.array([0, 1, 0, 1])), None) > 0
    assert cb.mse(_ro(z), _ro(y), None) >= 0
    p = np.zeros(5)
    cb.adam_step(
        p,
        _ro(np.ones(5)),
        np.zeros(5),
        np.zeros(5),
        np.zeros(0),
        0.1,
        0.9,
        0.999,
        1e-8,
        0.0,
        1,
        False,
        False,
    )
    assert (p < 0).all()


def _dense_args(dtype=np.float64):
    x, W, b = np.ones((4, 3), dtype), np.ones((3, 2), dtype), np.ones(2, dtype)
    return x, W, b, np.empty((4, 2), dtype), np.empty((4, 2), dtype)


def test_dense_bad_inputs_raise_clear_errors():
    x, W, b, z, y = _dense_args()
    with pytest.raises(ValueError, match="unknown activation 'swish'"):
        cb.dense_forward(x, W, b, "swish", z, y)
    with pytest.raises(TypeError, match="W must have dtype float64"):
        cb.dense_forward(x, W.astype(np.float32), b, "relu", z, y)
    with pytest.raises(TypeError, match="float32 or float64"):
        cb.dense_forward(x.astype(np.int64), W, b, "relu", z, y)
    with pytest.raises(ValueError, match="shape mismatch"):
        cb.dense_forward(x, np.ones((2, 2)), b, "relu", z, y)
    with pytest.raises(ValueError, match=r"z must have shape \[4, 2\]"):
        cb.dense_forward(x, W, b, "relu", np.empty((2, 4)), y)
    with pytest.raises(ValueError, match="C-contiguous"):
        cb.dense_forward(np.ones((3, 4)).T, W, b, "relu", z, y)
    with pytest.raises(ValueError, match="read-only"):
        cb.dense_forward(x, W, b, "relu", _ro(z), y)
    with pytest.raises(ValueError, match="y must not share memory with z"):
        cb.dense_forward(x, W, b, "relu", z, z)  # y is z only for linear
    with pytest.raises(ValueError, match="must not share memory with x"):
        buf = np.ones(40)
        zz = buf[8:16].reshape(4, 2)  # overlaps the tail of x
        cb.dense_forward(buf[:12].reshape(4, 3), W, b, "linear", zz, zz)
    dW, db, dx = np.zeros((3, 2)), np.zeros(2), np.empty((4, 3))
    with pytest.raises(ValueError, match="dW must not share memory with db"):
        big = np.zeros(8)
        cb.dense_backward(y, x, W, z, y, "relu", dx, big[:6].reshape(3, 2), big[5:7], None)
    with pytest.raises(ValueError, match=r"dx must have shape \[4, 3\]"):
        cb.dense_backward(y, x, W, z, y, "relu", np.empty((4, 2)), dW, db)
    with pytest.raises(ValueError, match="dense expects"):
        cb.dense_backward(y, x, W, z, y, "relu", dx, dW, np.zeros((2, 1)))


def test_activation_bad_inputs_raise():
    x = np.ones(6)
    with pytest.raises(ValueError, match="unknown activation"):
        cb.act_forward(x, "softmax", x)
    with pytest.raises(ValueError, match="shape"):
        cb.act_forward(x, "relu", np.empty(5))
    with pytest.raises(ValueError, match="C-contiguous"):
        cb.act_forward(np.ones(12)[::2], "relu", x)
    with pytest.raises(ValueError, match="partial"):
        buf = np.ones(7)
        cb.act_forward(buf[:6], "relu", buf[1:])
    with pytest.raises(TypeError):
        cb.act_backward(x, x, x.astype(np.float32), "relu", np.empty(6))
    with pytest.raises(TypeError, match=r"numpy\.ndarray"):
        cb.act_forward([1.0, 2.0], "relu", x)


def test_loss_bad_inputs_raise():
    z = np.zeros((3, 4))
    with pytest.raises(ValueError, match=r"labels\[1\] = 4"):
        cb.softmax_xent(z, np.array([0, 4, -1]), None)
    g = np.full_like(z, 7.0)
    with pytest.raises(ValueError, match="out of range"):
        cb.softmax_xent(z, np.array([0, 1, -1]), g)
    assert (g == 7.0).all()  # nothing written on a bad label
    with pytest.raises(TypeError, match="integer"):
        cb.softmax_xent(z, np.zeros(3), None)
    with pytest.raises(ValueError, match="labels must have shape"):
        cb.softmax_xent(z, np.zeros(4, np.int64), None)
    with pytest.raises(ValueError, match="empty batch"):
        cb.softmax_xent(np.zeros((0, 4)), np.zeros(0, np.int64), None)
    with pytest.raises(ValueError, match="must not share memory with logits"):
        cb.softmax_xent(z, np.zeros(3, np.int64), z)
    with pytest.raises(ValueError, match="read-only"):
        cb.softmax_xent(z, np.zeros(3, np.int64), _ro(z))
    with pytest.raises(ValueError, match="same shape"):
        cb.mse(np.zeros(3), np.zeros(4), None)
    with pytest.raises(TypeError, match="target must have dtype float64"):
        cb.mse(np.zeros(3), np.zeros(3, np.float32), None)
    with pytest.raises(ValueError, match="empty"):
        cb.bce_with_logits(np.zeros(0), np.zeros(0), None)
    with pytest.raises(ValueError, match="C-contiguous"):
        cb.bce_with_logits(np.zeros((4, 4))[:, 0], np.zeros(4), None)
    p = np.zeros(3)
    assert cb.mse(p, np.ones(3), p) == 1.0 and (p == -2.0 / 3).all()  # dpred may be pred


def test_optim_bad_inputs_raise():
    p, g = np.zeros(5), np.ones(5)
    with pytest.raises(ValueError, match="nesterov"):
        cb.sgd_step(p, g, np.zeros(5), 0.1, 0.0, 0.0, True, 0.0, True)
    with pytest.raises(ValueError, match="step must be"):
        cb.adam_step(
            p, g, np.zeros(5), np.zeros(5), np.zeros(5), 0.1, 0.9, 0.9, 1e-8, 0, 0, False, False
        )
    with pytest.raises(ValueError, match="step must be"):
        cb.adagrad_step(p, g, np.zeros(5), 0.1, 0, 0, 1e-10, True)
    with pytest.raises(ValueError, match="shape"):
        cb.adagrad_step(p, g, np.zeros(4), 0.1, 0, 0, 1e-10, 1)
    with pytest.raises(TypeError, match="g must have dtype float64"):
        cb.sgd_step(p, g.astype(np.float32), np.zeros(5), 0.1, 0, 0, False, 0, True)
    with pytest.raises(ValueError, match="p is an output"):
        cb.sgd_step(_ro(p), g, np.zeros(5), 0.1, 0, 0, False, 0, True)
    with pytest.raises(ValueError, match="state buf is an output"):
        cb.sgd_step(p, g, _ro(p), 0.1, 0.9, 0, False, 0, True)
    with pytest.raises(ValueError, match="C-contiguous"):
        cb.rmsprop_step(
            p, g, np.zeros(10)[::2], np.zeros(0), np.zeros(0), 0.1, 0.99, 1e-8, 0, 0, False
        )
    with pytest.raises(ValueError, match="must not share memory"):
        cb.adam_step(p, g, p, np.zeros(5), np.zeros(0), 0.1, 0.9, 0.9, 1e-8, 0, 1, False, False)
    with pytest.raises(ValueError, match="must not share memory"):
        m = np.zeros(5)
        cb.adam_step(p, g, m, np.zeros(5), m, 0.1, 0.9, 0.9, 1e-8, 0, 1, True, False)
    with pytest.raises(TypeError):
        cb.adam_step(p.astype(np.int32), g, p, p, p, 0.1, 0.9, 0.9, 1e-8, 0, 1, False, False)
    # unused state buffers are not inspected (empty arrays are fine), as in the reference
    cb.rmsprop_step(p, g, np.zeros(5), np.zeros(0), np.zeros(0), 0.1, 0.99, 1e-8, 0, 0, False)


# ============================================================================ threads


@pytest.fixture
def restore_threads():
    n = _kernels.max_threads()
    yield
    _kernels.set_num_threads(n)


@pytest.mark.parametrize("dtype", DTYPES)
def test_results_do_not_depend_on_the_thread_count(dtype, rng, restore_threads):
    """What the kernels own is bitwise independent of the thread count: the bias gradient
    (column blocks), the activation passes and the optimizers (elementwise chunks).

    The GEMMs are not: gc_gemm's column split hands OpenBLAS blocks of other widths, whose edge
    kernels may sum in another order (float64 z differs by ~1 ulp between 1 and 2 threads)."""
    W = _rand(rng, (64, 700), dtype, 0.1)
    x, z = _rand(rng, (300, 64), dtype), _rand(rng, (300, 700), dtype)
    y = np.empty_like(z)
    ref.act_forward(z, "silu", y)
    dy = _rand(rng, (300, 700), dtype)
    p0, g = _rand(rng, 200_003, dtype), _rand(rng, 200_003, dtype)
    out = []
    for nth in (1, 2):
        _kernels.set_num_threads(nth)
        ya, dxa = np.empty_like(z), np.empty_like(z)
        cb.act_forward(z, "gelu", ya)
        cb.act_backward(dy, z, ya, "gelu", dxa)
        dW, db = np.zeros((64, 700), dtype), np.zeros(700, dtype)
        cb.dense_backward(dy, x, W, z, y, "silu", None, dW, db)
        p, m, v, vm = p0.copy(), np.zeros_like(p0), np.zeros_like(p0), np.zeros_like(p0)
        cb.adam_step(p, g, m, v, vm, 1e-3, 0.9, 0.999, 1e-8, 0.1, 1, True, True)
        out.append((ya, dxa, db, p, m, v, vm))
    for a, c in zip(*out, strict=True):
        np.testing.assert_array_equal(a, c)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("act", ACTIVATIONS)
def test_dense_nonfinite_inputs_propagate_like_reference(dtype, act, rng):
    x, W, b = _rand(rng, (5, 4), dtype), _rand(rng, (4, 3), dtype), _rand(rng, 3, dtype)
    x[1, 2], x[3, 0] = np.nan, np.inf
    got = [np.empty((5, 3), dtype) for _ in range(2)]
    want = [np.empty((5, 3), dtype) for _ in range(2)]
    with np.errstate(all="ignore"):
        ref.dense_forward(x, W, b, act, *want)
    cb.dense_forward(x, W, b, act, *got)
    for g, w in zip(got, want, strict=True):
        np.testing.assert_array_equal(np.isnan(g), np.isnan(w))
        np.testing.assert_array_equal(np.isinf(g), np.isinf(w))
