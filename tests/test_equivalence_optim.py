"""Equivalence suite, optimizer family: SGD, RMSprop, Adagrad, Adam/AdamW steps, every
compiled backend vs the NumPy reference, float32 and float64 (harness:
``tests/_equivalence.py``; tolerances: ``tests/_tolerances.py``).

The optimizer kernels reproduce the reference's operation order, so they are compared
BITWISE (``compiled_optimizer``), over sequences of steps (one with an all-zero gradient),
sizes 0 .. 200k (parallel paths), drawn hyper-parameters, non-finite gradients, frozen runs of
the arena, and with unused state buffers given as empty arrays or as full ones.
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
    rand,
    randn,
    read_only,
    value_scales,
)
from _tolerances import close
from hypothesis import given
from hypothesis import strategies as st

from gradcore.backends import reference as ref

K = "compiled_optimizer"


def _sgd(lr, momentum, dampening, nesterov, wd):
    return ("sgd", dict(lr=lr, momentum=momentum, dampening=dampening, nesterov=nesterov,
                        weight_decay=wd))  # fmt: skip


def _rmsprop(lr, alpha, eps, wd, momentum, centered):
    return ("rmsprop", dict(lr=lr, alpha=alpha, eps=eps, weight_decay=wd, momentum=momentum,
                            centered=centered))  # fmt: skip


def _adagrad(lr, lr_decay, wd, eps, init):
    return ("adagrad", dict(lr=lr, lr_decay=lr_decay, weight_decay=wd, eps=eps, init=init))


def _adam(lr, beta1, beta2, eps, wd, amsgrad, decoupled):
    return ("adam", dict(lr=lr, beta1=beta1, beta2=beta2, eps=eps, weight_decay=wd,
                         amsgrad=amsgrad, decoupled=decoupled))  # fmt: skip


#: hand-picked configurations (sequences with empty unused state buffers)
OPTIMIZERS = [
    _sgd(0.1, 0.0, 0.0, False, 0.0),
    _sgd(0.05, 0.9, 0.0, False, 0.0),
    _sgd(0.05, 0.9, 0.0, True, 1e-2),
    _sgd(0.05, 0.8, 0.3, False, 1e-3),
    _rmsprop(1e-2, 0.99, 1e-8, 0.0, 0.0, False),
    _rmsprop(1e-2, 0.9, 1e-6, 1e-2, 0.9, True),
    _rmsprop(1e-2, 0.3, 1e-8, 0.0, 0.0, True),  # lerp weight 0.7 >= 0.5: the other lerp branch
    _adagrad(1e-2, 0.0, 0.0, 1e-10, 0.0),
    _adagrad(0.1, 0.05, 1e-2, 1e-10, 0.1),
    _adam(1e-3, 0.9, 0.999, 1e-8, 0.0, False, False),
    _adam(1e-2, 0.9, 0.99, 1e-8, 1e-2, True, False),
    _adam(1e-2, 0.3, 0.999, 1e-8, 1e-2, True, True),  # AdamW, beta1 0.3: lerp weight 0.7
    _adam(1e-3, 0.9, 0.999, 1e-8, 0.1, False, True),
]
OPT_IDS = [f"{k}{i}" for i, (k, _) in enumerate(OPTIMIZERS)]


def _grid():
    """The grid of every switch (weight decay x momentum/nesterov/centered/amsgrad/decoupled),
    plus lerp's second branch (|1 - beta| >= 0.5) in Adam and centered RMSprop."""
    v = []
    for wd in (0.0, 0.01):
        for mom, damp, nest in ((0.0, 0.0, False), (0.9, 0.0, False), (0.9, 0.1, False),
                                (0.9, 0.0, True)):  # fmt: skip
            v.append(_sgd(0.05, mom, damp, nest, wd))
        for centered in (False, True):
            for mom in (0.0, 0.9):
                v.append(_rmsprop(1e-2, 0.99, 1e-8, wd, mom, centered))
        for lr_decay, init in ((0.0, 0.0), (0.01, 0.1)):
            v.append(_adagrad(1e-2, lr_decay, wd, 1e-10, init))
        for ams in (False, True):
            for dec in (False, True):
                v.append(_adam(1e-3, 0.9, 0.999, 1e-8, wd, ams, dec))
    v.append(_adam(1e-2, 0.3, 0.4, 1e-8, 0.0, True, False))
    v.append(_rmsprop(1e-2, 0.2, 1e-8, 0.0, 0.0, True))
    return v


GRID = _grid()


def _init_state(kind, cfg, p, full=False):
    """Optimizer state; unused buffers are empty arrays (or zeros of p's size with ``full``:
    unused state buffers are not inspected, as in the reference)."""
    z = np.zeros_like(p)
    e = z.copy() if full else np.empty(0, p.dtype)
    if kind == "sgd":
        return [z.copy() if cfg["momentum"] else e]
    if kind == "rmsprop":
        return [z.copy(), z.copy() if cfg["centered"] else e.copy(),
                z.copy() if cfg["momentum"] else e.copy()]  # fmt: skip
    if kind == "adagrad":
        return [np.full_like(p, cfg["init"])]
    return [z.copy(), z.copy(), z.copy() if cfg["amsgrad"] else e]


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


def _run_sequence(name, kind, cfg, p0, grads, full=False):
    """Steps on the reference and on backend ``name``; after every step p and every state
    buffer agree bitwise (NaN where NaN) and g is unchanged."""
    be = MODS[name]
    p_r, p_b = p0.copy(), p0.copy()
    s_r, s_b = _init_state(kind, cfg, p0, full), _init_state(kind, cfg, p0, full)
    for step, g in enumerate(grads, start=1):
        g_before = g.copy()
        with np.errstate(all="ignore"):
            _step(ref, kind, cfg, p_r, g, s_r, step)
            _step(be, kind, cfg, p_b, g, s_b, step)
        np.testing.assert_array_equal(g, g_before)  # g is read only
        for got, want in zip([p_b, *s_b], [p_r, *s_r], strict=True):
            close(got, want, K, err_msg=f"{kind} step {step}")


@BACKEND
@DT
@pytest.mark.parametrize("kind,cfg", OPTIMIZERS, ids=OPT_IDS)
@SETTINGS
@given(n=st.integers(0, 40), data=st.data())
def test_optimizer_sequence(name, dt, kind, cfg, n, data):
    """Five steps on the same problem; step 3 has an all-zero gradient."""
    p0 = randn(data, (n,), dt, lo=-1, hi=1)
    grads = [randn(data, (n,), dt, lo=-3, hi=1) for _ in range(5)]
    grads[2] = np.zeros(n, dt)
    _run_sequence(name, kind, cfg, p0, grads)


@BACKEND
@DT
@pytest.mark.parametrize("kind,cfg", OPTIMIZERS, ids=OPT_IDS)
def test_optimizer_zero_size_and_large(name, dt, kind, cfg, rng):
    """A zero-size parameter, and one large enough for any parallel path."""
    _run_sequence(name, kind, cfg, np.empty(0, dt), [np.empty(0, dt)] * 2)
    n = 100_003
    p0 = rng.standard_normal(n).astype(dt)
    grads = [rng.standard_normal(n).astype(dt) for _ in range(3)]
    grads[1][:] = 0
    _run_sequence(name, kind, cfg, p0, grads)


@BACKEND
@DT
@pytest.mark.parametrize(("kind", "cfg"), GRID)
@pytest.mark.parametrize("n", [0, 1, 37, 200_000])
def test_optimizer_grid_sequences(name, dt, kind, cfg, n, rng):
    """Every switch of every optimizer, full state buffers, five steps (the third all-zero)."""
    p0 = rand(rng, n, dt)
    grads = [rand(rng, n, dt) for _ in range(5)]
    grads[2] = np.zeros(n, dt)
    _run_sequence(name, kind, cfg, p0, grads, full=True)


@BACKEND
@DT
@given(
    data=st.data(),
    seed=st.integers(0, 2**32 - 1),
    lr=st.sampled_from([1e-4, 1e-2, 0.3]),
    scale=value_scales,
)
def test_optimizer_hyperparameters_drawn(name, dt, data, seed, lr, scale):
    kind, cfg = data.draw(st.sampled_from(GRID))
    cfg = dict(cfg, lr=lr)
    rng = np.random.default_rng(seed)
    n = data.draw(st.integers(0, 50))
    p0 = rand(rng, n, dt)
    grads = [rand(rng, n, dt, scale) for _ in range(3)]
    _run_sequence(name, kind, cfg, p0, grads, full=True)


@BACKEND
@DT
@pytest.mark.parametrize(("kind", "cfg"), [v for v in GRID if v[1].get("weight_decay")])
def test_optimizer_nonfinite_gradients_propagate_like_reference(name, dt, kind, cfg, rng):
    n = 64
    p0 = rand(rng, n, dt)
    grads = [rand(rng, n, dt) for _ in range(4)]
    grads[1][[3, 10, 20]] = [np.nan, np.inf, -np.inf]
    grads[2][[5, 10]] = [np.inf, np.nan]
    _run_sequence(name, kind, cfg, p0, grads, full=True)


@BACKEND
@DT
def test_optimizer_non_finite_gradients_propagate(name, dt):
    g = np.array([np.inf, -np.inf, np.nan, 1.0], dt)
    for kind, cfg in OPTIMIZERS:
        _run_sequence(name, kind, cfg, np.ones(4, dt), [g, g])


@BACKEND
@DT
@pytest.mark.parametrize("kind,cfg", OPTIMIZERS, ids=OPT_IDS)
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
        close(got, want, K)


@BACKEND
@DT
def test_division_by_zero_gives_ieee_results_not_errors(name, dt):
    """eps = 0 meets a zero denominator: inf/NaN as in the reference (and torch), no exception."""
    zero = np.zeros(3, dt)
    for kind, cfg in (
        ("rmsprop", dict(OPTIMIZERS[4][1], eps=0.0)),
        ("adagrad", dict(OPTIMIZERS[7][1], eps=0.0)),
        ("adam", dict(OPTIMIZERS[9][1], eps=0.0)),
    ):
        _run_sequence(name, kind, cfg, np.ones(3, dt), [zero, zero])
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


@BACKEND
def test_optimizer_accepts_any_shape_and_float32_hyperparameter_rounding(name, rng):
    be = MODS[name]
    p = rand(rng, (3, 4), np.float32)
    g = rand(rng, (3, 4), np.float32)
    m, v, vm = (np.zeros((3, 4), np.float32) for _ in range(3))
    p2, m2, v2 = p.copy(), m.copy(), v.copy()
    be.adam_step(p, g, m, v, vm, np.float64(1e-3), 0.9, 0.999, 1e-8, 0.0, np.int64(1), False,
                 False)  # fmt: skip
    ref.adam_step(p2, g, m2, v2, vm, 1e-3, 0.9, 0.999, 1e-8, 0.0, 1, False, False)
    np.testing.assert_array_equal(p, p2)
    assert p.dtype == np.float32


# ------------------------------------------------------------------------- c: input handling


@C_ONLY
def test_c_optim_bad_inputs_raise():
    cb = MODS["c"]
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
    with pytest.raises(TypeError, match=r"g .*float64"):
        cb.sgd_step(p, g.astype(np.float32), np.zeros(5), 0.1, 0, 0, False, 0, True)
    with pytest.raises(ValueError, match=r"p .*(output|writeable)"):
        cb.sgd_step(read_only(p), g, np.zeros(5), 0.1, 0, 0, False, 0, True)
    with pytest.raises(ValueError, match=r"buf .*(output|writeable)"):
        cb.sgd_step(p, g, read_only(p), 0.1, 0.9, 0, False, 0, True)
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
