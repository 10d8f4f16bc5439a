"""Property tests of the thread API (issue 11, item 7): any argument to set_num_threads gives a
TypeError/ValueError or takes effect (NumPy integers exactly like ints); and no thread count,
fork scale or back-off state changes a kernel's result, including empty and odd shapes."""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import gradcore as gc
from gradcore.threads import MAX_THREADS

K = gc.threads._kernels()
HAVE_OMP = K is not None and K.have_openmp()
FAST = settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)

INT_DTYPES = [np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint16, np.uint32, np.uint64]


@pytest.fixture
def restore():
    n = gc.get_num_threads()
    pol = K.fork_policy() if K is not None else None
    yield
    gc.set_num_threads(n)
    if pol is not None:
        K.fork_policy(adaptive=pol["adaptive"], fork_scale=pol["fork_scale"], backoff=0)


def _numpy_int(draw_value):
    return st.sampled_from(INT_DTYPES).flatmap(
        lambda dt: st.integers(int(np.iinfo(dt).min), int(np.iinfo(dt).max)).map(dt)
    )


anything = st.one_of(
    st.integers(-(2**80), 2**80),
    _numpy_int(None),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([np.float32(2), np.float64(1.0), np.bool_(True), True, False]),
    st.text(max_size=4),
    st.none(),
    st.lists(st.integers(1, 3), max_size=2),
    st.just(np.array(2)),
    st.just(np.array([2])),
    st.just(1 + 0j),
)


@FAST
@given(n=anything)
def test_set_num_threads_takes_it_or_refuses_it(n, restore):
    before = gc.get_num_threads()
    valid = (
        isinstance(n, int | np.integer)
        and not isinstance(n, bool | np.bool_)
        and 1 <= int(n) <= MAX_THREADS
    )
    if valid:
        gc.set_num_threads(n)
        if HAVE_OMP:
            assert gc.get_num_threads() == int(n)
    else:
        with pytest.raises((TypeError, ValueError), match="set_num_threads: n must be"):
            gc.set_num_threads(n)
        assert gc.get_num_threads() == before


@FAST
@given(n=st.integers(1, MAX_THREADS), dt=st.sampled_from(INT_DTYPES))
def test_numpy_integers_act_as_ints(n, dt, restore):
    if n > np.iinfo(dt).max:
        return
    gc.set_num_threads(n)
    plain = gc.get_num_threads()
    gc.set_num_threads(dt(n))
    assert gc.get_num_threads() == plain


# ---- results do not depend on who runs the chunks ---------------------------------------------


def _dense_round(x, W, b, dy, act):
    from gradcore.backends import c as cb

    N, O = x.shape[0], W.shape[1]
    z, y = np.empty((N, O), x.dtype), np.empty((N, O), x.dtype)
    cb.dense_forward(x, W, b, act, z, y)
    dx = np.empty_like(x)
    dW, db = np.zeros_like(W), np.zeros_like(b)
    cb.dense_backward(dy, x, W, z, y, act, dx, dW, db)
    flat = np.concatenate([dW.ravel(), db, dx.ravel()])
    offsets = np.array([0, dW.size, dW.size + db.size, flat.size], np.int64)
    s, nf = np.zeros(3), np.zeros(3, np.int64)
    cb.segment_sumsq(flat, offsets, s, nf)
    return z, y, dx, dW, db, s, nf


@pytest.mark.skipif(not HAVE_OMP, reason="kernels built without OpenMP")
@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    N=st.sampled_from([0, 1, 3, 64, 300]),
    I=st.sampled_from([1, 17, 96]),
    O=st.sampled_from([1, 10, 130, 256]),
    nth=st.integers(1, 4),
    scale=st.sampled_from([1e-6, 0.5, 4.0, 1e9]),
    act=st.sampled_from(["relu", "gelu", "linear"]),
    dtype=st.sampled_from([np.float32, np.float64]),
    odd=st.sampled_from(["plain", "readonly", "fortran-then-copied"]),
)
def test_dense_and_norms_do_not_depend_on_the_team(N, I, O, nth, scale, act, dtype, odd, restore):
    """For a given thread count, a forced back-off (every region on the calling thread) and any
    fork scale (1e-6: every region forks, even a 1-row one; 1e9: none does) give the same bits
    as the default policy. Empty batches run. Read-only inputs give the same bits."""
    rng = np.random.default_rng(N * 1000 + I * 10 + O)
    x = rng.standard_normal((N, I)).astype(dtype)
    W = (rng.standard_normal((I, O)) * 0.1).astype(dtype)
    b = rng.standard_normal(O).astype(dtype)
    dy = rng.standard_normal((N, O)).astype(dtype)
    gc.set_num_threads(nth)
    K.fork_policy(adaptive=False, backoff=0, fork_scale=4.0)
    want = _dense_round(x, W, b, dy, act)
    if odd == "readonly":
        for a in (x, W, b, dy):
            a.flags.writeable = False
    elif odd == "fortran-then-copied":
        x = np.ascontiguousarray(np.asfortranarray(x))
    K.fork_policy(fork_scale=scale)
    got = _dense_round(x, W, b, dy, act)
    K.fork_policy(adaptive=True, backoff=3600)
    backed_off = _dense_round(x, W, b, dy, act)
    for w, g, h in zip(want, got, backed_off, strict=True):
        np.testing.assert_array_equal(g, w)
        np.testing.assert_array_equal(h, w)


@pytest.mark.skipif(not HAVE_OMP, reason="kernels built without OpenMP")
@settings(
    max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    N=st.sampled_from([1, 2, 7, 900, 5000]),
    Kc=st.sampled_from([1, 3, 10]),
    nth=st.integers(1, 5),
    scale=st.sampled_from([1e-6, 4.0, 1e9]),
    dtype=st.sampled_from([np.float32, np.float64]),
)
def test_cross_entropy_does_not_depend_on_the_team(N, Kc, nth, scale, dtype, restore):
    """The cross-entropy sum runs over fixed chunks added in order: any team, same bits (with
    3+ threads the OpenMP reduction it replaced added the partials in arrival order)."""
    from gradcore.backends import c as cb

    rng = np.random.default_rng(N + Kc)
    z = rng.standard_normal((N, Kc)).astype(dtype)
    lab = rng.integers(0, Kc, N).astype(np.int64)
    gc.set_num_threads(nth)
    runs = []
    for pol in (
        {"adaptive": False, "backoff": 0, "fork_scale": 4.0},
        {"fork_scale": scale},
        {"adaptive": True, "backoff": 3600},
    ):
        K.fork_policy(**pol)
        dz = np.empty_like(z)
        runs.append((cb.softmax_xent(z, lab, dz), dz))
    for loss, dz in runs[1:]:
        assert loss == runs[0][0]
        np.testing.assert_array_equal(dz, runs[0][1])
