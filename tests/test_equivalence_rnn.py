"""Equivalence suite, rnn family (the plain tanh RNN): the forward and backward kernels (with the
per-step gradient norm), every compiled backend vs the NumPy reference, float32 and float64
(harness: ``tests/_equivalence.py``; tolerances: ``tests/_tolerances.py``), the SimpleRNN layer
on every backend vs the layer on the reference, and the kernels against finite differences
(``gc.gradcheck``). The reference's own checks (gradcheck of the reference kernels, an
independent formula, the layer's states and checkpoints) are in ``tests/test_rnn.py``.

Scales (:func:`rnn_scales`), as the LSTM's (``tests/test_equivalence_lstm.py``): the recurrence
compounds rounding over the T steps (``compiled_recurrent`` is per step, ``factor=T``). A
forward element ``h_t = tanh(a_t)`` is judged at the size of its step's pre-activation sums,
``|x_t| @ |Wx| + |h_{t-1}| @ |Wh| + |b|`` (its batch row; tanh' <= 1 carries an error of a_t
into h_t at most unchanged). A gradient is a GEMM / sum of the pre-activation gradients
``da = dh (1 - h²)``, which can come out much smaller than its terms (saturated steps: 1 - h²
changes by a large relative amount with one ulp of h, gc_tanh vs NumPy's tanh): it is judged
at the size of its terms, the incoming gradient times the magnitudes it is multiplied with.
Sizes are drawn to cross the OpenMP threshold of the time loop (N*T*H >= 32768: batch split
over threads).
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
    rand,
    read_only,
    recurrent_shapes,
    threaded_and_serial,
)
from _fd import assert_gradcheck
from _tolerances import close
from hypothesis import given
from hypothesis import strategies as st

import gradcore as gc
from gradcore import nn
from gradcore.backends import Workspace
from gradcore.backends import reference as ref

K = "compiled_recurrent"
GRADS = ("dx", "dWx", "dWh", "db", "dh0")


def rnn_inputs(rng, N, T, D, H, dt, wscale=1.0):
    return {
        "x": rand(rng, (N, T, D), dt),
        "Wx": rand(rng, (D, H), dt, wscale / max(D, 1) ** 0.5),
        "Wh": rand(rng, (H, H), dt, 0.9 * wscale / H**0.5),
        "b": rand(rng, H, dt, 0.5),
        "h0": rand(rng, (N, H), dt, 0.5),
    }


def rnn_run(mod, p, dhs, dhT, ws=None, acc=1.0):
    """Forward then backward of ``mod``; every output by name (gradients accumulate onto
    ``acc``)."""
    x, Wx, Wh, b, h0 = (p[k] for k in ("x", "Wx", "Wh", "b", "h0"))
    N, T, _ = x.shape
    H = Wh.shape[0]
    hs = np.empty((N, T, H), x.dtype)
    mod.rnn_forward(x, Wx, Wh, b, h0, hs, ws=ws)
    dx, dh0 = np.empty_like(x), np.empty_like(h0)
    dWx, dWh, db = np.full_like(Wx, acc), np.full_like(Wh, acc), np.full_like(b, acc)
    dh_norm = np.empty(T)
    mod.rnn_backward(dhs, dhT, x, Wx, Wh, h0, hs, dx, dWx, dWh, db, dh0, dh_norm, ws=ws)
    return {"hs": hs, "dx": dx, "dWx": dWx, "dWh": dWh, "db": db, "dh0": dh0, "dh_norm": dh_norm}


def rnn_scales(p, want, dhs, dhT, acc=1.0):
    """The error scale of every output (see the module docstring), from the inputs and the
    reference's states."""
    f = lambda a: np.abs(np.asarray(a, np.float64))  # noqa: E731
    x, Wx, Wh, b, h0 = (f(p[k]) for k in ("x", "Wx", "Wh", "b", "h0"))
    N, T, _ = x.shape
    H = Wh.shape[0]
    hs = f(want["hs"])
    h_prev = np.concatenate([h0[:, None], hs[:, :-1]], axis=1)
    # pre-activation sums of every step, per batch row (max over the H units)
    row = (x @ Wx + h_prev @ Wh + b).max(axis=2, initial=0.0)[..., None]
    # the incoming gradient: every dL/dh_t is a sum of the given ones through tanh' <= 1 and
    # Wh (per step; the factor T covers the steps)
    G = float(f(dhs).max(initial=0.0))
    G += float(f(dhT).max(initial=0.0)) if dhT is not None else 0.0
    G *= 1.0 + float(Wh.sum(axis=1).max(initial=0.0))  # dh_{t-1} = da_t Wh^T
    acc = abs(acc)
    return {
        "hs": row,
        "dx": G * Wx.sum(axis=1),  # (D,), broadcast over (N, T, D)
        "dWx": G * x.sum(axis=(0, 1))[:, None] + acc,
        "dWh": G * h_prev.sum(axis=(0, 1))[:, None] + acc,
        "db": G * N * T + acc,
        "dh0": G * Wh.sum(axis=1)[None, :],
        "dh_norm": G * np.sqrt(N * H) + np.zeros(T),
    }


def check_rnn(got, want, p, dhs, dhT, acc=1.0, keys=None, scales=None):
    T = p["x"].shape[1]
    s = scales or rnn_scales(p, want, dhs, dhT, acc)
    dt = p["x"].dtype
    for k in keys or want:
        assert got[k].dtype == want[k].dtype, k
        # dh_norm is float64 whatever the data dtype; it carries the data's rounding
        close(got[k], want[k], K, dt, scale=s[k], factor=T, err_msg=k)


@BACKEND
@DT
@SETTINGS
@given(
    dims=st.tuples(st.integers(0, 6), st.integers(1, 12), st.integers(0, 6), st.integers(1, 9)),
    with_dhT=st.booleans(),
    with_ws=st.booleans(),
    acc=st.sampled_from([0.0, 1.0, -0.5]),
    seed=st.integers(0, 2**31),
)
def test_rnn(name, dt, dims, with_dhT, with_ws, acc, seed):
    N, T, D, H = dims
    rng = np.random.default_rng(seed)
    p = rnn_inputs(rng, N, T, D, H, dt)
    dhs = rand(rng, (N, T, H), dt)
    dhT = rand(rng, (N, H), dt) if with_dhT else None
    got = rnn_run(MODS[name], p, dhs, dhT, ws=Workspace() if with_ws else None, acc=acc)
    want = rnn_run(ref, p, dhs, dhT, acc=acc)
    check_rnn(got, want, p, dhs, dhT, acc)


@st.composite
def rnn_shapes(draw):
    N, T, D, H = draw(recurrent_shapes(min_d=0))  # D = 0 too (as test_c_rnn drew)
    return N, T, D, H, draw(st.integers(0, 2**31)), draw(st.booleans())


@BACKEND
@DT
@given(shape=rnn_shapes())
def test_rnn_large_and_threaded(name, dt, shape):
    N, T, D, H, seed, with_dhT = shape
    rng = np.random.default_rng(seed)
    p = rnn_inputs(rng, N, T, D, H, dt)
    dhs = rand(rng, (N, T, H), dt)
    dhT = rand(rng, (N, H), dt) if with_dhT else None
    got = rnn_run(MODS[name], p, dhs, dhT, ws=Workspace() if seed % 2 else None)
    want = rnn_run(ref, p, dhs, dhT)
    check_rnn(got, want, p, dhs, dhT)


@BACKEND
@DT
def test_rnn_workspace_reuse_and_edge_sizes(name, dt, rng):
    ws = Workspace()
    for N, T, D, H in [(1, 1, 1, 1), (3, 5, 2, 4), (2, 1, 3, 1), (2, 3, 0, 2), (3, 5, 2, 4)]:
        p = rnn_inputs(rng, N, T, D, H, dt)
        dhs = rand(rng, (N, T, H), dt)
        got = rnn_run(MODS[name], p, dhs, None, ws=ws)
        want = rnn_run(ref, p, dhs, None)
        check_rnn(got, want, p, dhs, None)
    if name == "c":
        assert ws.nbytes > 0  # the c kernels keep their scratch in the workspace


@BACKEND
def test_rnn_zero_batch(name):
    p = rnn_inputs(np.random.default_rng(0), 0, 3, 2, 4, np.dtype(np.float64))
    out = rnn_run(MODS[name], p, np.zeros((0, 3, 4)), None, acc=2.0)
    assert (out["dWx"] == 2).all() and (out["dWh"] == 2).all() and (out["db"] == 2).all()
    assert (out["dh_norm"] == 0).all()


@BACKEND
def test_rnn_finite_differences_through_the_backend(name):
    """gc.gradcheck of the kernels as a function of (x, Wx, Wh, b, h0) with the output
    (hs, h_T): the backward gets dhs and dhT (float64)."""
    be = MODS[name]
    rng = np.random.default_rng(1234)
    N, T, D, H = 2, 4, 3, 3
    p = rnn_inputs(rng, N, T, D, H, np.dtype(np.float64))

    def fn(x, Wx, Wh, b, h0):
        hs = np.empty((N, T, H))
        be.rnn_forward(x, Wx, Wh, b, h0, hs)
        y = np.concatenate([hs.ravel(), hs[:, -1].ravel()])

        def vjp(P):
            k = N * T * H
            dhs, dhT = P[:k].reshape(N, T, H), P[k:].reshape(N, H)
            out = rnn_run(be, dict(x=x, Wx=Wx, Wh=Wh, b=b, h0=h0), dhs, dhT, acc=0.0)
            return tuple(out[k] for k in GRADS)

        return y, vjp

    assert_gradcheck(fn, tuple(p[k] for k in ("x", "Wx", "Wh", "b", "h0")))


@BACKEND
def test_rnn_norm_is_the_total_gradient(name):
    """With T = 1: dL/dh_0 (the norm's step 0) is dhs[:, 0] + dhT."""
    rng = np.random.default_rng(5)
    N, T, D, H = 3, 1, 2, 4
    p = rnn_inputs(rng, N, T, D, H, np.dtype(np.float64))
    dhs, dhT = rand(rng, (N, T, H), np.float64), rand(rng, (N, H), np.float64)
    out = rnn_run(MODS[name], p, dhs, dhT)
    np.testing.assert_allclose(out["dh_norm"][0], np.linalg.norm(dhs[:, 0] + dhT), rtol=1e-14)


@BACKEND
def test_rnn_read_only_inputs_accepted(name):
    rng = np.random.default_rng(3)
    p = {k: read_only(v) for k, v in rnn_inputs(rng, 2, 3, 2, 2, np.dtype(np.float64)).items()}
    dhs = read_only(np.ones((2, 3, 2)))
    want = rnn_run(ref, p, dhs, None)
    got = rnn_run(MODS[name], p, dhs, None)
    check_rnn(got, want, p, dhs, None)


@BACKEND
@DT
def test_rnn_saturated_matches_reference(name, dt, rng):
    """Pre-activations of +-100 and more saturate tanh (no overflow): h within ulps of +-1,
    tanh' = 1 - h² (~1e-6 .. 0) judged at the gradient's terms (rnn_scales), not its own size."""
    p = rnn_inputs(rng, 3, 4, 3, 5, dt)
    p["Wx"] = (p["Wx"] * 200).astype(dt)
    dhs = rand(rng, (3, 4, 5), dt)
    got = rnn_run(MODS[name], p, dhs, None)
    want = rnn_run(ref, p, dhs, None)
    for k in want:
        assert np.isfinite(got[k]).all(), k
    check_rnn(got, want, p, dhs, None)


@BACKEND
@DT
def test_rnn_nonfinite_inputs_propagate_like_reference(name, dt, rng):
    """+-inf pre-activations saturate tanh, NaN propagates; no crash, same as the reference."""
    p = rnn_inputs(rng, 3, 4, 1, 3, dt)
    p["x"][0, 1, 0] = np.inf
    p["x"][1, 2, 0] = -np.inf
    p["x"][2, 0, 0] = np.nan
    dhs = rand(rng, (3, 4, 3), dt)
    with np.errstate(invalid="ignore", over="ignore"):
        want = rnn_run(ref, p, dhs, None)
    got = rnn_run(MODS[name], p, dhs, None)
    keys = ("hs", "dh_norm", "dh0")
    for k in keys:
        np.testing.assert_array_equal(np.isnan(got[k]), np.isnan(want[k]), err_msg=k)
    # the finite elements, at the scales of the finite inputs (non-finite ones as 0) plus 1: a
    # state saturated by an infinite input is bounded by 1
    fin = {k: np.where(np.isfinite(want[k]), want[k], 0) for k in want}
    q = dict(p, x=np.where(np.isfinite(p["x"]), p["x"], 0))
    s = rnn_scales(q, fin, dhs, None)
    T = p["x"].shape[1]
    for k in keys:
        ok = np.isfinite(want[k])
        sk = np.broadcast_to(s[k] + (k == "hs"), ok.shape)[ok]
        close(got[k][ok], want[k][ok], K, dt, scale=sk, factor=T, err_msg=k)


# ------------------------------------------------------------------------- the layer


@BACKEND
@DT
@pytest.mark.parametrize("seq", [True, False], ids=["sequences", "last"])
def test_simple_rnn_layer_matches_reference_backend(name, dt, seq, rng):
    """gc.nn.SimpleRNN on the backend vs on the reference: output, dx, dh0, the gradient through
    time and the parameter gradients, at the kernels' scales."""
    dt = np.dtype(dt)
    x = rng.standard_normal((5, 9, 3)).astype(dt)
    h0 = (0.5 * rng.standard_normal((5, 4))).astype(dt)
    results = []
    for backend in ("numpy", name):
        with gc.use_backend(backend):
            layer = nn.SimpleRNN(3, 4, return_sequences=seq, dtype=dt, seed=7)
            y = layer.forward(x, h0=h0)
            dx = layer.backward(np.ones_like(y))
            out = {"hs": layer.hs.copy(), "dx": dx, "dh0": layer.extra_input_grads["h0"],
                   "dh_norm": layer.grad_norms_through_time[0],
                   **{f"d{k}": g.copy() for k, g in layer.grads.items()}}  # fmt: skip
            results.append((out, y, {k: v.copy() for k, v in layer.params.items()}))
    (want, y_want, params), (got, y_got, _) = results
    p = dict(params, x=x, h0=h0)
    dhs = np.ones_like(want["hs"])
    if not seq:
        dhs[:, :-1] = 0
    s = rnn_scales(p, want, dhs, None, acc=0.0)
    check_rnn(got, want, p, dhs, None, scales=s)
    T = x.shape[1]
    close(y_got, y_want, K, dt, scale=s["hs"] if seq else s["hs"][:, -1], factor=T, err_msg="y")


# ------------------------------------------------------------------------- c: input handling


@C_ONLY
def test_c_rnn_bad_inputs_raise():
    """The binding rejects non-contiguous arrays, mixed dtypes, wrong shapes and outputs
    overlapping an input they would corrupt; the valid call still works after the failures."""
    crnn = MODS["c"]
    rng = np.random.default_rng(4)
    N, T, D, H = 2, 3, 4, 5
    p = rnn_inputs(rng, N, T, D, H, np.dtype(np.float64))
    x, Wx, Wh, b, h0 = (p[k] for k in ("x", "Wx", "Wh", "b", "h0"))
    hs = np.empty((N, T, H))
    with pytest.raises(ValueError, match="rnn_forward: x must be C-contiguous"):
        crnn.rnn_forward(np.asfortranarray(x), Wx, Wh, b, h0, hs)
    with pytest.raises(ValueError, match="rnn_forward: Wh must be C-contiguous"):
        crnn.rnn_forward(x, Wx, np.asfortranarray(Wh), b, h0, hs)
    with pytest.raises(ValueError, match="rnn_forward: hs must be C-contiguous"):
        crnn.rnn_forward(x, Wx, Wh, b, h0, np.empty((T, N, H)).transpose(1, 0, 2))
    with pytest.raises(TypeError, match=r"rnn_forward: b .*float32"):
        crnn.rnn_forward(x, Wx, Wh, b.astype(np.float32), h0, hs)
    with pytest.raises(TypeError, match="rnn_forward: x"):
        crnn.rnn_forward(x.astype(np.float16), Wx, Wh, b, h0, hs)
    with pytest.raises(TypeError, match=r"rnn_forward: x must be a numpy\.ndarray"):
        crnn.rnn_forward(x.tolist(), Wx, Wh, b, h0, hs)
    # an output overlapping an input it would corrupt: hs over x (same shape when D == H)
    x5 = np.ascontiguousarray(np.concatenate([x, x[..., :1]], axis=2))  # D = H = 5
    with pytest.raises(ValueError, match=r"hs.*(shares|share) memory with x"):
        crnn.rnn_forward(x5, np.eye(5), Wh, b, h0, x5)
    crnn.rnn_forward(x, Wx, Wh, b, h0, hs)
    out = [np.empty_like(x), np.zeros_like(Wx), np.zeros_like(Wh), np.zeros_like(b),
           np.empty_like(h0), np.empty(T)]  # fmt: skip
    args = [np.ones_like(hs), None, x, Wx, Wh, h0, hs, *out]

    def bad(i, value, exc, pattern):
        a = list(args)
        a[i] = value
        with pytest.raises(exc, match=pattern):
            crnn.rnn_backward(*a)

    bad(11, h0, ValueError, r"dh0.*(shares|share) memory with h0")
    bad(11, np.empty((H, N)).T, ValueError, "dh0 must be C-contiguous")
    bad(7, np.empty((N, T, D + 1)), ValueError, r"dx (has|must have) shape")
    bad(10, Wh[0], ValueError, r"db.*(shares|share) memory with Wh")
    bad(0, np.asfortranarray(np.ones((N, T, H))), ValueError, "dhs must be C-contiguous")
    bad(1, np.ones((N, H), np.float32), TypeError, "rnn_backward: dhT")
    crnn.rnn_backward(*args)  # the valid call still works after the failures


@C_ONLY
@DT
def test_c_threaded_and_serial_paths_agree_and_are_deterministic(dt, rng):
    """Above the threshold the batch is split over threads; one thread (one chunk) must give
    the same results up to summation order, and a repeated call the same bits."""
    p = rnn_inputs(rng, 40, 20, 5, 64, dt)
    dhs = rand(rng, (40, 20, 64), dt)
    runs = threaded_and_serial(lambda: rnn_run(MODS["c"], p, dhs, None))
    check_rnn(runs[0], runs[1], p, dhs, None)
    again = rnn_run(MODS["c"], p, dhs, None)
    for k in runs[0]:
        np.testing.assert_array_equal(again[k], runs[0][k], err_msg=k)
