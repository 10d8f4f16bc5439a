"""Equivalence suite: the compiled backends (``c``, ``numba``) are the NumPy reference, op by op,
backend x dtype x op, with the tolerances of ``tests/_tolerances.py`` (one table with the
reasons, one elementwise ``close``).

The suite, one file per family (harness: ``tests/_equivalence.py``):

- ``test_equivalence_dense.py``: activations, dense
- ``test_equivalence_loss.py``: softmax cross-entropy, MSE, BCE-with-logits
- ``test_equivalence_optim.py``: SGD, RMSprop, Adagrad, Adam/AdamW steps (bitwise)
- ``test_equivalence_norms.py``: segment sums of squares / abs-max, scale_, clip_value_
- ``test_equivalence_batchnorm.py``, ``test_equivalence_layernorm.py``
- ``test_equivalence_lstm.py``, ``test_equivalence_rnn.py``: the LSTM, the plain tanh RNN
- ``test_stats_kernels.py``: the monitor's stats kernels (act_stats, segment_delta_sumsq)

and this file: the contract (every op, its signature, its coverage by a family), read-only and
non-contiguous inputs, bad inputs (same exception type as the reference), mixed dtypes, the c
backend's thread-count independence, and a float64 finite-difference check (``gc.gradcheck``)
of every layer and loss run on the backend. Each family file also keeps its c-specific input
handling tests (messages, overlap, read-only outputs). When no compiled backend is available the
whole module is skipped (the only skip here).
"""

from __future__ import annotations

import inspect

import numpy as np
import pytest
from _equivalence import BACKEND, BACKENDS, C_ONLY, DT, MODS, OPS, REJECTS_NONCONTIGUOUS, rand
from _fd import assert_gradcheck
from _tolerances import close, gemm_scale

import gradcore as gc
from gradcore.backends import ACTIVATIONS
from gradcore.backends import reference as ref

K = "compiled"

#: which file of the suite runs each op of the contract against the reference
FAMILIES = {
    "dense": ("act_forward", "act_backward", "dense_forward", "dense_backward"),
    "loss": ("softmax_xent", "mse", "bce_with_logits"),
    "optim": ("sgd_step", "rmsprop_step", "adagrad_step", "adam_step"),
    "norms": ("segment_sumsq", "segment_absmax", "scale_", "clip_value_"),
    "batchnorm": ("batchnorm_forward_train", "batchnorm_forward_eval", "batchnorm_backward"),
    "layernorm": ("layernorm_forward", "layernorm_backward"),
    "lstm": ("lstm_forward", "lstm_backward"),
    "rnn": ("rnn_forward", "rnn_backward"),
    "stats": ("act_stats", "segment_delta_sumsq"),  # tests/test_stats_kernels.py
}


# ------------------------------------------------------------------------- the contract


def test_every_op_of_the_contract_has_a_family():
    covered = [op for ops in FAMILIES.values() for op in ops]
    assert sorted(covered) == sorted(OPS), "an op of the contract without equivalence tests"


@BACKEND
def test_every_op_has_the_reference_signature(name):
    be = MODS[name]
    assert be.NAME == name
    for op in OPS:
        got = list(inspect.signature(getattr(be, op)).parameters)
        want = list(inspect.signature(getattr(ref, op)).parameters)
        assert got == want, op


def test_the_suite_runs_every_compiled_backend():
    assert set(BACKENDS) <= {"c", "numba"} and BACKENDS == list(MODS)


# ------------------------------------------------------------------------- layouts


def _scales(x, big, W, b, want):
    """The error scales of _readonly_noncontig_run's outputs (see tests/_tolerances.py)."""
    z = want[0]
    zb = gemm_scale(x, W) + np.abs(b)
    dz = np.ones_like(z, dtype=np.float64)  # |dy| = 1, |tanh'| <= 1
    gb = np.abs(big.astype(np.float64))
    return (zb, 1.2 * zb, gemm_scale(dz, W.T), gemm_scale(x.T, dz), dz.sum(axis=0),
            gb * 1.2, 0.0)  # fmt: skip


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


@BACKEND
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
    for got, want, s in zip(outs[1], outs[0], _scales(x, big, W, b, outs[0]), strict=True):
        close(got, want, K, scale=s)
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
    for gg, ww, s in zip(got, want, _scales(x, bigT, W, b, want), strict=True):
        close(gg, ww, K, scale=s)


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


@BACKEND
@DT
@pytest.mark.parametrize("case", sorted(_bad_cases(np.float32)))
def test_bad_inputs_raise_like_the_reference(name, dt, case):
    op, args = _bad_cases(dt)[case]
    with pytest.raises((TypeError, ValueError)) as want:
        getattr(ref, op)(*args)
    op, args = _bad_cases(dt)[case]
    with pytest.raises(want.type):
        getattr(MODS[name], op)(*args)


@BACKEND
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


# ------------------------------------------------------------------------- threads


@pytest.fixture
def restore_threads():
    from gradcore import _kernels

    n = _kernels.max_threads()
    yield _kernels
    _kernels.set_num_threads(n)


@C_ONLY
@DT
def test_c_results_do_not_depend_on_the_thread_count(dt, rng, restore_threads):
    """What the kernels own is bitwise independent of the thread count: the bias gradient
    (column blocks), the activation passes and the optimizers (elementwise chunks).

    The GEMMs are not: gc_gemm's column split hands OpenBLAS blocks of other widths, whose edge
    kernels may sum in another order (float64 z differs by ~1 ulp between 1 and 2 threads)."""
    W = rand(rng, (64, 700), dt, 0.1)
    x, z = rand(rng, (300, 64), dt), rand(rng, (300, 700), dt)
    y = np.empty_like(z)
    ref.act_forward(z, "silu", y)
    dy = rand(rng, (300, 700), dt)
    p0, g = rand(rng, 200_003, dt), rand(rng, 200_003, dt)
    out = []
    cb = MODS["c"]
    for nth in (1, 2):
        restore_threads.set_num_threads(nth)
        ya, dxa = np.empty_like(z), np.empty_like(z)
        cb.act_forward(z, "gelu", ya)
        cb.act_backward(dy, z, ya, "gelu", dxa)
        dW, db = np.zeros((64, 700), dt), np.zeros(700, dt)
        cb.dense_backward(dy, x, W, z, y, "silu", None, dW, db)
        p, m, v, vm = p0.copy(), np.zeros_like(p0), np.zeros_like(p0), np.zeros_like(p0)
        cb.adam_step(p, g, m, v, vm, 1e-3, 0.9, 0.999, 1e-8, 0.1, 1, True, True)
        out.append((ya, dxa, db, p, m, v, vm))
    for a, c in zip(*out, strict=True):
        np.testing.assert_array_equal(a, c)


# ------------------------------------------------------------------------- finite differences


_fd = assert_gradcheck  # gc.gradcheck at the table's rtol


@BACKEND
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
            rnn = gc.nn.SimpleRNN(3, 4, return_sequences=seq, dtype=np.float64, seed=2)
            rnn.params["b"][:] += 0.3 * r(4)
            _fd(rnn, r((2, 5, 3)), extra_inputs={"h0": 0.5 * r((2, 4))})
        logits = r((4, 3))
        _fd(gc.losses.SoftmaxCrossEntropy(), (logits, rng.integers(0, 3, 4)))
        _fd(gc.losses.MSE(), (logits, r((4, 3))))
        _fd(gc.losses.BCEWithLogits(), (logits, rng.uniform(size=(4, 3))))
