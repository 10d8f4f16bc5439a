"""Equivalence suite, dense family: activations and dense, every compiled backend vs the NumPy
reference, float32 and float64 (harness: ``tests/_equivalence.py``; tolerances and the
elementwise rule: ``tests/_tolerances.py``).

Scales (``close(..., scale=)``): an activation's forward is judged at ``|x act'(x)|``, the
change of ``y`` when ``x`` (or an intermediate of its size) is rounded, i.e. ``act``'s
condition number times ``|y|``. gelu's tail ``0.5 x erfc(-x/√2)`` has condition ~x^2: the
float32 reference and the c kernels (float32 ``erfc`` of the float32 ``-x/√2``) are off by
~x^2 ulp there, 1.2e-5 relative at x = -13, where numba (float64 ``erfc``, one rounding) is
exact; a ``max|y|``-scaled check never saw the difference. The derivative is judged at
``|dy|`` (silu' and gelu' cross zero, and near that zero a one-ulp difference of their two
O(1) terms is a large relative error of a tiny result). Products from a GEMM are
judged against the size of what was summed, ``|A| @ |B|`` (a summation-order-independent
bound), because NumPy and the kernels call different BLAS builds.
"""

from __future__ import annotations

import numpy as np
import pytest
from _equivalence import BACKEND, C_ONLY, DT, MODS, SETTINGS, rand, randn, read_only, value_scales
from _tolerances import close, gemm_scale
from hypothesis import given
from hypothesis import strategies as st

from gradcore.backends import ACTIVATIONS, Workspace
from gradcore.backends import reference as ref
from gradcore.testing import strategies as gst

K = "compiled"


def act_scale(x, act):
    """``|x act'(x)|`` (the reference's derivative; 0 where it is not finite, e.g. at inf)."""
    d = np.empty_like(x)
    with np.errstate(all="ignore"):
        ref.act_backward(np.ones_like(x), x, _fwd(x, act), act, d)
        s = np.abs(x.astype(np.float64) * d)
    return np.where(np.isfinite(s), s, 0.0)


def _fwd(x, act):
    y = np.empty_like(x)
    with np.errstate(all="ignore"):
        ref.act_forward(x, act, y)
    return y


# ------------------------------------------------------------------------- activations


@BACKEND
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
    close(y_be, y_ref, K, scale=act_scale(x, act))
    dx_ref, dx_be = np.empty_like(x), np.empty_like(x)
    ref.act_backward(dy, x, y_ref, act, dx_ref)
    be.act_backward(dy, x, y_ref, act, dx_be)
    close(dx_be, dx_ref, K, scale=np.abs(dy))
    # in place: y may be x, dx may be dy
    xi, dyi = x.copy(), dy.copy()
    be.act_forward(xi, act, xi)
    close(xi, y_ref, K, scale=act_scale(x, act))
    be.act_backward(dyi, x, y_ref, act, dyi)
    close(dyi, dx_ref, K, scale=np.abs(dy))


@BACKEND
@DT
@given(
    shape=st.lists(st.integers(0, 7), min_size=0, max_size=3).map(tuple),
    scale=value_scales,
    act=st.sampled_from(ACTIVATIONS),
    seed=st.integers(0, 2**32 - 1),
    inplace=st.booleans(),
)
def test_activations_over_value_scales(name, dt, shape, scale, act, seed, inplace):
    """Values of scale 1e-3 .. 300 (tails, saturation), outputs pre-filled with NaN."""
    be = MODS[name]
    rng = np.random.default_rng(seed)
    x = rand(rng, shape, dt, scale)
    dy = rand(rng, shape, dt)
    y_ref = np.empty_like(x)
    ref.act_forward(x, act, y_ref)
    if inplace:
        y = x.copy()
        be.act_forward(y, act, y)
    else:
        y = np.full_like(x, np.nan)
        be.act_forward(x, act, y)
    close(y, y_ref, K, scale=act_scale(x, act))
    dx_ref = np.empty_like(x)
    ref.act_backward(dy, x, y_ref, act, dx_ref)
    if inplace:
        dx = dy.copy()
        be.act_backward(dx, x, y_ref, act, dx)
    else:
        dx = np.full_like(x, np.nan)
        be.act_backward(dy, x, y_ref, act, dx)
    close(dx, dx_ref, K, scale=np.abs(dy))


SPECIAL = [0.0, -0.0, 1e-30, -1e-30, 0.5, -0.5, 20.0, -20.0, 50.0, -50.0, 1e4, -1e4]


@BACKEND
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
    close(y_be, y_ref, K, scale=act_scale(x, act))
    close(dx_be, dx_ref, K)


@BACKEND
@DT
@pytest.mark.parametrize("act", ACTIVATIONS)
def test_activations_specials_and_large_arrays(name, dt, act, rng):
    """NaN, +-inf, +-0 and kinks exactly as the reference; 200k elements use the threads."""
    be = MODS[name]
    specials = np.array(
        [np.nan, np.inf, -np.inf, 0.0, -0.0, 1e-30, -1e-30, 88.0, -88.0, 700.0, -700.0, 1e4, -1e4],
        dt,
    )
    x = np.concatenate([specials, rand(rng, 200_000, dt, 5.0)])
    dy = np.concatenate([np.ones(specials.size, dt), rand(rng, 200_000, dt)])
    y, y_ref = np.empty_like(x), np.empty_like(x)
    with np.errstate(all="ignore"):  # the reference may warn on inf arithmetic
        ref.act_forward(x, act, y_ref)
    be.act_forward(x, act, y)
    close(y, y_ref, K, scale=act_scale(x, act))
    dx, dx_ref = np.empty_like(x), np.empty_like(x)  # both backends get the same y
    with np.errstate(all="ignore"):
        ref.act_backward(dy, x, y_ref, act, dx_ref)
    be.act_backward(dy, x, y_ref, act, dx)
    close(dx, dx_ref, K, scale=np.abs(dy))


# ------------------------------------------------------------------------- dense


def _check_dense(be, dt, x, W, b, act, dy, dW0, db0, ws, with_dx):
    """Forward and backward of ``be`` vs the reference, every element at its GEMM scale."""
    N, I = x.shape
    O = W.shape[1]
    z_ref, y_ref = np.empty((N, O), dt), np.empty((N, O), dt)
    ref.dense_forward(x, W, b, act, z_ref, y_ref)
    z, y = np.full((N, O), np.nan, dt), np.full((N, O), np.nan, dt)
    be.dense_forward(x, W, b, act, z, y)
    zb = gemm_scale(x, W) + np.abs(b)
    close(z, z_ref, K, scale=zb)
    # y = act(z): the z difference passes through act' <= 1.13 (gelu)
    close(y, y_ref, K, scale=1.2 * zb + act_scale(z_ref, act))

    # backward: both backends get the reference's z, y (so a z that lands on the other side
    # of a relu kink cannot flip a derivative)
    dW_ref, db_ref = dW0.copy(), db0.copy()
    dx_ref = np.empty((N, I), dt) if with_dx else None
    ref.dense_backward(dy, x, W, z_ref, y_ref, act, dx_ref, dW_ref, db_ref)
    dW, db = dW0.copy(), db0.copy()
    dx = np.full((N, I), np.nan, dt) if with_dx else None
    be.dense_backward(dy, x, W, z_ref, y_ref, act, dx, dW, db, ws=ws)
    dz_ref = np.empty((N, O), dt)
    ref.act_backward(dy, z_ref, y_ref, act, dz_ref)
    dzb = np.abs(dz_ref) + np.abs(dy)  # dz differs elementwise by <= rtol |dy| (see header)
    close(dW, dW_ref, K, scale=gemm_scale(x.T, dzb) + np.abs(dW0))
    close(db, db_ref, K, scale=dzb.sum(axis=0) + np.abs(db0))
    if with_dx:
        close(dx, dx_ref, K, scale=gemm_scale(dzb, W.T))
    return z, y


@BACKEND
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
    _check_dense(MODS[name], dt, x, W, b, act, dy, dW0, db0, Workspace() if use_ws else None,
                 with_dx)  # fmt: skip


@st.composite
def dense_case(draw, dtype):
    N = draw(st.sampled_from([0, 1, 2, 3, 5, 8]))
    I = draw(st.sampled_from([0, 1, 2, 4, 7]))
    O = draw(st.sampled_from([1, 2, 3, 6, 17]))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    scale = draw(st.sampled_from([1e-2, 1.0, 10.0]))
    x = rand(rng, (N, I), dtype, scale)
    W = rand(rng, (I, O), dtype, 1.0 / np.sqrt(max(I, 1)))
    b = rand(rng, (O,), dtype, 0.1)
    return x, W, b, rng


def _dense_grads_in(rng, x, W, dt):
    N, O = x.shape[0], W.shape[1]
    return rand(rng, (N, O), dt), rand(rng, W.shape, dt), rand(rng, (O,), dt)


@BACKEND
@DT
@given(
    data=st.data(), act=st.sampled_from(ACTIVATIONS), use_ws=st.booleans(), with_dx=st.booleans()
)
def test_dense_over_value_scales(name, dt, data, act, use_ws, with_dx):
    """Sizes 0..17 (odd widths), inputs of scale 1e-2 .. 10, fan-in-scaled weights."""
    x, W, b, rng = data.draw(dense_case(dt))
    _check_dense(MODS[name], dt, x, W, b, act, *_dense_grads_in(rng, x, W, dt),
                 Workspace() if use_ws else None, with_dx)  # fmt: skip


@BACKEND
@DT
@pytest.mark.parametrize("act", ["linear", "relu", "gelu"])
@pytest.mark.parametrize("shape", [(256, 64, 512), (300, 20, 7), (1, 3, 5000)])
def test_dense_large_shapes_use_threads(name, dt, act, shape, rng):
    """Above the OpenMP thresholds: parallel epilogue rows, column-block backward (the block
    split, ragged last block) and the threaded GEMM."""
    N, I, O = shape
    x, W, b = rand(rng, (N, I), dt), rand(rng, (I, O), dt, 0.2), rand(rng, O, dt)
    _check_dense(MODS[name], dt, x, W, b, act, *_dense_grads_in(rng, x, W, dt), Workspace(),
                 True)  # fmt: skip


@BACKEND
@DT
@pytest.mark.parametrize("act", ACTIVATIONS)
@pytest.mark.parametrize("shape", [(0, 3, 2), (2, 0, 3), (1, 1, 1), (3, 2, 0)])
def test_dense_degenerate_shapes(name, dt, act, shape, rng):
    """Empty batch, zero inputs (z = b, the GEMM with K = 0 must zero z), width 1, no outputs."""
    N, I, O = shape
    x, W, b = rand(rng, (N, I), dt), rand(rng, (I, O), dt), rand(rng, O, dt)
    _check_dense(MODS[name], dt, x, W, b, act, *_dense_grads_in(rng, x, W, dt), None, True)


@BACKEND
@DT
def test_dense_linear_y_is_z(name, dt, rng):
    x, W, b = (rng.standard_normal(s).astype(dt) for s in ((4, 3), (3, 5), (5,)))
    z_r, y_r = np.empty((4, 5), dt), np.empty((4, 5), dt)
    ref.dense_forward(x, W, b, "linear", z_r, y_r)
    z = np.empty((4, 5), dt)
    MODS[name].dense_forward(x, W, b, "linear", z, z)
    close(z, y_r, K, scale=gemm_scale(x, W) + np.abs(b))


@BACKEND
@DT
@pytest.mark.parametrize("act", ACTIVATIONS)
def test_dense_nonfinite_inputs_propagate_like_reference(name, dt, act, rng):
    x, W, b = rand(rng, (5, 4), dt), rand(rng, (4, 3), dt), rand(rng, 3, dt)
    x[1, 2], x[3, 0] = np.nan, np.inf
    got = [np.empty((5, 3), dt) for _ in range(2)]
    want = [np.empty((5, 3), dt) for _ in range(2)]
    with np.errstate(all="ignore"):
        ref.dense_forward(x, W, b, act, *want)
    MODS[name].dense_forward(x, W, b, act, *got)
    for g, w in zip(got, want, strict=True):
        np.testing.assert_array_equal(np.isnan(g), np.isnan(w))
        np.testing.assert_array_equal(np.isinf(g), np.isinf(w))


@BACKEND
def test_read_only_inputs_are_accepted(name, rng):
    be = MODS[name]
    x, W = read_only(rand(rng, (4, 3), np.float64)), read_only(rand(rng, (3, 2), np.float64))
    b = read_only(np.zeros(2))
    z, y = np.empty((4, 2)), np.empty((4, 2))
    be.dense_forward(x, W, b, "tanh", z, y)
    dW, db, dx = np.zeros((3, 2)), np.zeros(2), np.empty((4, 3))
    be.dense_backward(read_only(y), x, W, read_only(z), read_only(y), "tanh", dx, dW, db)
    be.act_forward(x, "relu", np.empty_like(x))
    assert be.softmax_xent(read_only(z), read_only(np.array([0, 1, 0, 1])), None) > 0
    assert be.mse(read_only(z), read_only(y), None) >= 0
    p = np.zeros(5)
    be.adam_step(p, read_only(np.ones(5)), np.zeros(5), np.zeros(5), np.zeros(0), 0.1, 0.9,
                 0.999, 1e-8, 0.0, 1, False, False)  # fmt: skip
    assert (p < 0).all()


# ------------------------------------------------------------------------- c: input handling


@C_ONLY
@DT
def test_c_dense_linear_y_may_be_z_and_workspace_is_reused(dt, rng):
    cb = MODS["c"]
    x, W, b = rand(rng, (4, 3), dt), rand(rng, (3, 5), dt), rand(rng, 5, dt)
    z = np.empty((4, 5), dt)
    cb.dense_forward(x, W, b, "linear", z, z)
    close(z, (x @ W + b).astype(dt), K, scale=gemm_scale(x, W) + np.abs(b))
    ws = Workspace()
    dW, db, dx = np.zeros((3, 5), dt), np.zeros(5, dt), np.empty((4, 3), dt)
    cb.dense_backward(z, x, W, z, z, "linear", dx, dW, db, ws)
    buf = ws.get("dense_dz", (4, 5), dt)
    np.testing.assert_array_equal(buf, z)  # dz = dy * 1 went through the workspace buffer
    cb.dense_backward(z, x, W, z, z, "linear", dx, dW, db, ws)
    assert ws.get("dense_dz", (4, 5), dt).base is buf.base  # reused, not reallocated


def _dense_args(dtype=np.float64):
    x, W, b = np.ones((4, 3), dtype), np.ones((3, 2), dtype), np.ones(2, dtype)
    return x, W, b, np.empty((4, 2), dtype), np.empty((4, 2), dtype)


@C_ONLY
def test_c_dense_bad_inputs_raise_clear_errors():
    cb = MODS["c"]
    x, W, b, z, y = _dense_args()
    with pytest.raises(ValueError, match="unknown activation 'swish'"):
        cb.dense_forward(x, W, b, "swish", z, y)
    with pytest.raises(TypeError, match=r"W .*float64"):
        cb.dense_forward(x, W.astype(np.float32), b, "relu", z, y)
    with pytest.raises(TypeError, match="float32 or float64"):
        cb.dense_forward(x.astype(np.int64), W, b, "relu", z, y)
    with pytest.raises(ValueError, match=r"shape mismatch|W .*shape"):
        cb.dense_forward(x, np.ones((2, 2)), b, "relu", z, y)
    with pytest.raises(ValueError, match=r"z .*shape.*[\[(]4, 2[\])]"):
        cb.dense_forward(x, W, b, "relu", np.empty((2, 4)), y)
    with pytest.raises(ValueError, match="C-contiguous"):
        cb.dense_forward(np.ones((3, 4)).T, W, b, "relu", z, y)
    with pytest.raises(ValueError, match=r"read-only|writeable"):
        cb.dense_forward(x, W, b, "relu", read_only(z), y)
    with pytest.raises(ValueError, match=r"y .*share.* memory with z"):
        cb.dense_forward(x, W, b, "relu", z, z)  # y is z only for linear
    with pytest.raises(ValueError, match=r"share.* memory with x"):
        buf = np.ones(40)
        zz = buf[8:16].reshape(4, 2)  # overlaps the tail of x
        cb.dense_forward(buf[:12].reshape(4, 3), W, b, "linear", zz, zz)
    dW, db, dx = np.zeros((3, 2)), np.zeros(2), np.empty((4, 3))
    with pytest.raises(ValueError, match=r"dW .*share.* memory with db"):
        big = np.zeros(8)
        cb.dense_backward(y, x, W, z, y, "relu", dx, big[:6].reshape(3, 2), big[5:7], None)
    with pytest.raises(ValueError, match=r"dx .*shape.*[\[(]4, 3[\])]"):
        cb.dense_backward(y, x, W, z, y, "relu", np.empty((4, 2)), dW, db)
    with pytest.raises(ValueError, match=r"dense expects|db .*shape"):
        cb.dense_backward(y, x, W, z, y, "relu", dx, dW, np.zeros((2, 1)))


@C_ONLY
def test_c_activation_bad_inputs_raise():
    cb = MODS["c"]
    x = np.ones(6)
    with pytest.raises(ValueError, match="unknown activation"):
        cb.act_forward(x, "softmax", x)
    with pytest.raises(ValueError, match="shape"):
        cb.act_forward(x, "relu", np.empty(5))
    with pytest.raises(ValueError, match="C-contiguous"):
        cb.act_forward(np.ones(12)[::2], "relu", x)
    with pytest.raises(ValueError, match=r"partial|share"):
        buf = np.ones(7)
        cb.act_forward(buf[:6], "relu", buf[1:])
    with pytest.raises(TypeError):
        cb.act_backward(x, x, x.astype(np.float32), "relu", np.empty(6))
    with pytest.raises(TypeError, match=r"numpy\.ndarray"):
        cb.act_forward([1.0, 2.0], "relu", x)


@C_ONLY
def test_c_activation_codes_follow_the_contract_list():
    from gradcore import _kernels

    assert tuple(_kernels.ACTIVATION_CODES) == ACTIVATIONS
    assert list(_kernels.ACTIVATION_CODES.values()) == list(range(len(ACTIVATIONS)))
