"""Property tests (issue 11, item 7) for the loop's public API: fit/evaluate/predict, the
callbacks, gradcheck, the data functions and the monitor.

Random bad arguments (wrong types, out-of-range and non-finite numbers, NumPy scalars, bools,
arrays of bad shapes and dtypes, empty batches) may only raise ``TypeError``/``ValueError``
(or an exception the function documents); valid-but-odd inputs (NumPy scalars, non-contiguous
and read-only arrays) must give exactly the result of the plain ones. Fits are tiny (12 rows,
a 2-4-3 net, at most 2 epochs) so the file runs in a few seconds.
"""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import gradcore as gc
from gradcore import gradcheck
from gradcore.data import batches, spirals, train_test_split
from gradcore.gradcheck import GradcheckError
from gradcore.monitor import GradientMonitor, Thresholds
from gradcore.train import EarlyStopping, NonFiniteError, evaluate

nn = gc.nn
F64 = np.float64
OK = (TypeError, ValueError)
FAST = settings(max_examples=25, deadline=None)

X0, Y0 = spirals(n_per_class=4, seed=0)  # 12 rows, labels 0..2


def mlp():
    return nn.Sequential(
        [nn.Dense(2, 4, "relu", dtype=F64, seed=0), nn.Dense(4, 3, "linear", dtype=F64, seed=1)]
    )


# junk: everything a careless caller may pass for a scalar argument
JUNK = st.one_of(
    st.none(),
    st.booleans(),
    st.just(np.bool_(True)),
    st.integers(-3, 3),
    st.just(-(2**63)),
    st.floats(allow_nan=True, allow_infinity=True, width=64),
    st.sampled_from([np.float32(np.nan), np.float16(0.5), np.int8(-1), np.uint8(2)]),
    st.just(1 + 2j),
    st.text(max_size=4),
    st.just(b"x"),
    st.lists(st.integers(0, 2), max_size=2),
    st.just({}),
    st.just(object()),
    st.just(np.zeros(2)),
)


def _odd(a: np.ndarray, how: str) -> np.ndarray:
    """The same values as ``a`` in an odd layout: strided, Fortran order or read-only."""
    if how == "strided":
        big = np.repeat(a, 2, axis=0)
        out = big[::2]
        assert not out.flags.c_contiguous or (a.ndim == 1 and a.size <= 1)
    elif how == "fortran":
        out = np.asfortranarray(a)
    else:
        out = a.copy()
        out.flags.writeable = False
    np.testing.assert_array_equal(out, a)
    return out


ODD = st.sampled_from(["strided", "fortran", "readonly"])


# ------------------------------------------------------------------ fit / evaluate / predict

FIT_ARGS = (
    "epochs",
    "batch_size",
    "shuffle",
    "seed",
    "verbose",
    "initial_epoch",
    "stop_on_nonfinite",
    "clip",
    "loss",
    "optimizer",
    "scheduler",
    "callbacks",
    "validation_data",
)


@FAST
@given(name=st.sampled_from(FIT_ARGS), value=JUNK)
def test_fit_with_a_junk_argument_raises_only_type_or_value_errors(name, value):
    if name == "epochs" and isinstance(value, int | np.integer) and value > 2:
        value = 2  # a valid large count would just train long
    try:
        gc.train.fit(mlp(), X0, Y0, **{"verbose": False, name: value})
    except OK:
        pass


@FAST
@given(name=st.sampled_from(("batch_size", "loss")), value=JUNK)
def test_evaluate_with_a_junk_argument_raises_only_type_or_value_errors(name, value):
    try:
        evaluate(mlp(), X0, Y0, **{name: value})
    except OK:
        pass


@st.composite
def bad_arrays(draw):
    """X/y pairs that are wrong in one way: dtype, shape, rows, values."""
    kind = draw(
        st.sampled_from(
            ["dtype_x", "dtype_y", "rows", "empty", "ndim_x", "ndim_y", "nonfinite", "labels"]
        )
    )
    X, y = X0.copy(), Y0.copy()
    if kind == "dtype_x":
        X = X.astype(draw(st.sampled_from([np.complex64, object, bool, "U3"])))
    elif kind == "dtype_y":
        y = y.astype(draw(st.sampled_from([np.complex64, object, bool, "U3", np.float32])))
    elif kind == "rows":
        y = y[: draw(st.integers(0, 11))]
    elif kind == "empty":
        X, y = X[:0], y[:0]
    elif kind == "ndim_x":
        X = draw(st.sampled_from([X[0, 0].reshape(()), X[:, :, None], X.reshape(-1)]))
    elif kind == "ndim_y":
        y = draw(st.sampled_from([y.reshape(()) if y.size == 1 else y[:1].reshape(()), y[:, None]]))
    elif kind == "nonfinite":
        X[draw(st.integers(0, 11)), draw(st.integers(0, 1))] = draw(
            st.sampled_from([np.nan, np.inf, -np.inf])
        )
    else:
        y[draw(st.integers(0, 11))] = draw(st.sampled_from([-1, 3, 2**40]))
    return X, y


@FAST
@given(pair=bad_arrays(), where=st.sampled_from(["fit", "evaluate", "val", "check"]))
def test_bad_arrays_raise_only_type_or_value_errors(pair, where):
    X, y = pair
    model = mlp()
    before = model.parameters().data.copy()
    with pytest.raises(OK):
        if where == "fit":
            gc.train.fit(model, X, y, verbose=False)
        elif where == "val":
            gc.train.fit(model, X0, Y0, validation_data=(X, y), verbose=False)
        elif where == "check":
            gc.monitor.check(model, X, y)
        else:
            evaluate(model, X, y)
    np.testing.assert_array_equal(model.parameters().data, before)  # nothing was trained


@FAST
@given(
    epochs=st.integers(1, 2),
    batch_size=st.integers(1, 13),
    seed=st.integers(0, 2**16),
    ti=st.sampled_from([np.int8, np.int32, np.int64, np.uint16]),
    ts=st.sampled_from([np.int64, np.uint32]),
)
def test_numpy_scalar_arguments_train_bit_identically(epochs, batch_size, seed, ti, ts):
    runs = []
    for kw in (
        {"epochs": epochs, "batch_size": batch_size, "seed": seed, "shuffle": True},
        {"epochs": ti(epochs), "batch_size": ti(batch_size), "seed": ts(seed),
         "shuffle": np.bool_(True), "initial_epoch": ti(0)},
    ):  # fmt: skip
        model = mlp()
        hist = gc.train.fit(model, X0, Y0, optimizer="sgd", verbose=False, **kw)
        runs.append((model.parameters().data.copy(), hist["loss"], model.evaluate(X0, Y0)))
    np.testing.assert_array_equal(runs[0][0], runs[1][0])
    assert runs[0][1:] == runs[1][1:]


@FAST
@given(epochs=st.integers(1, 2), batch_size=st.integers(1, 13), clip=st.floats(0.01, 10.0),
       tf=st.sampled_from([np.float32, np.float64]))  # fmt: skip
def test_numpy_float_clip_equals_its_python_float(epochs, batch_size, clip, tf):
    runs = []
    for c in (float(tf(clip)), tf(clip)):
        model = mlp()
        gc.train.fit(model, X0, Y0, optimizer="sgd", epochs=epochs, batch_size=batch_size,
                     clip=c, verbose=False)  # fmt: skip
        runs.append(model.parameters().data.copy())
    np.testing.assert_array_equal(runs[0], runs[1])


@FAST
@given(how_x=ODD, how_y=ODD, batch_size=st.integers(1, 13), loss=st.sampled_from(["ce", "mse"]))
def test_odd_layouts_train_evaluate_and_predict_identically(how_x, how_y, batch_size, loss):
    if loss == "ce":
        X, y, name = X0, Y0, "cross_entropy"
    else:
        X, y, name = X0, np.ascontiguousarray(X0[:, :1] * 0.5 + X0[:, 1:] * np.pi), "mse"
        y = np.repeat(y, 3, axis=1)  # [N, 3] targets for the 3 outputs
    Xo, yo = _odd(X, how_x), _odd(y, how_y)
    results = []
    for a, b in ((X, y), (Xo, yo)):
        model = mlp()
        vd = (a[:5], b[:5])
        h = gc.train.fit(model, a, b, loss=name, batch_size=batch_size, epochs=2,
                         validation_data=vd, verbose=False)  # fmt: skip
        results.append(
            (model.parameters().data.copy(), h.history, model.predict(a, batch_size=batch_size))
        )
        results[-1] += (evaluate(model, a, b, loss=name, batch_size=batch_size),)
    np.testing.assert_array_equal(results[0][0], results[1][0])
    np.testing.assert_array_equal(results[0][2], results[1][2])
    h0, h1 = dict(results[0][1]), dict(results[1][1])
    h0.pop("time"), h1.pop("time")
    assert h0 == h1 and results[0][3] == results[1][3]
    assert not Xo.flags.writeable or how_x != "readonly"  # the caller's arrays stay untouched
    np.testing.assert_array_equal(Xo, X)


@FAST
@given(value=JUNK, name=st.sampled_from(["batch_size"]))
def test_predict_with_a_junk_batch_size_raises_only_type_or_value_errors(value, name):
    try:
        mlp().predict(X0, **{name: value})
    except OK:
        pass


@FAST
@given(name=st.sampled_from(["patience", "min_delta", "mode", "monitor", "restore_best"]),
       value=JUNK)  # fmt: skip
def test_early_stopping_junk_raises_only_type_or_value_errors(name, value):
    try:
        es = EarlyStopping(**{name: value})
    except OK:
        return
    try:
        gc.train.fit(mlp(), X0, Y0, callbacks=[es], epochs=2, verbose=False)
    except OK:
        pass


def test_terminate_on_nonfinite_raises_only_its_documented_error():
    model = mlp()
    model.parameters().data[0] = np.inf
    with pytest.raises(NonFiniteError):
        gc.train.fit(model, X0, Y0, verbose=False,
                     callbacks=[gc.train.TerminateOnNonFinite(raise_error=True)])  # fmt: skip


# ------------------------------------------------------------------ gradcheck

GC_ARGS = ("eps", "rtol", "atol", "seed", "training", "check_params", "skip", "exclude_kinks",
           "max_elements", "raise_on_failure", "extra_inputs")  # fmt: skip
GC_OK = (TypeError, ValueError, FloatingPointError)  # documented: a non-finite objective


def dense64():
    return nn.Dense(3, 2, "tanh", dtype=F64, seed=0)


XG = np.random.default_rng(0).standard_normal((2, 3))


@FAST
@given(name=st.sampled_from(GC_ARGS), value=JUNK)
def test_gradcheck_junk_arguments_raise_only_documented_errors(name, value):
    try:
        gradcheck(dense64(), XG, **{name: value})
    except GradcheckError:  # raise_on_failure with a (junk-)tight tolerance
        pass
    except GC_OK:
        pass


@FAST
@given(
    x=st.one_of(
        st.sampled_from(
            [
                XG[:0],
                XG.astype(np.complex128),
                XG.astype(object),
                XG.astype("U4"),
                XG.astype(np.int64),
                XG[0, 0],
                XG[:, :2],
                XG.reshape(-1),
            ]
        ),
        st.builds(
            lambda v, i: np.where(np.arange(6).reshape(2, 3) == i, v, XG),
            st.sampled_from([np.nan, np.inf, -np.inf, 1e308]),
            st.integers(0, 5),
        ),
    ),
    target=st.sampled_from(["layer", "loss", "function"]),
)
def test_gradcheck_bad_inputs_raise_only_documented_errors(x, target):
    try:
        if target == "layer":
            gradcheck(dense64(), x)
        elif target == "loss":
            gradcheck(gc.losses.MSE(), (x, XG))
        else:
            gradcheck(lambda a: (np.tanh(a), lambda dy: (dy * (1 - np.tanh(a) ** 2),)), x)
    except GC_OK:
        pass


@FAST
@given(how=ODD, max_elements=st.one_of(st.none(), st.integers(1, 6)), seed=st.integers(0, 99))
def test_gradcheck_odd_layouts_and_numpy_scalars_give_the_same_result(how, max_elements, seed):
    plain = gradcheck(dense64(), XG, max_elements=max_elements, seed=seed)
    odd = gradcheck(
        dense64(),
        _odd(XG, how),
        max_elements=None if max_elements is None else np.int16(max_elements),
        seed=np.uint32(seed),
        eps=np.float64(1e-6),
    )
    assert plain.ok and odd.ok and plain.report() == odd.report()


# ------------------------------------------------------------------ data

DATA_CALLS = {
    "spirals": (gc.data.spirals, ("n_per_class", "classes", "noise", "seed")),
    "teacher_student": (
        lambda **kw: gc.data.teacher_student(**{"n": 4, "in_features": 2, **kw}),
        ("n", "in_features", "out_features", "hidden", "activation", "noise", "seed"),
    ),
    "adding_problem": (
        lambda **kw: gc.data.adding_problem(**{"n": 3, "T": 4, **kw}),
        ("n", "T", "seed"),
    ),
    "copy_task": (
        lambda **kw: gc.data.copy_task(**{"n": 3, "T": 2, **kw}),
        ("n", "T", "n_symbols", "delay", "seed"),
    ),
    "train_test_split": (
        lambda **kw: train_test_split(**{"X": X0, "y": Y0, **kw}),
        ("X", "y", "test_size", "seed", "stratify"),
    ),
    "batches": (
        lambda **kw: list(batches(**{"X": X0, "y": Y0, "batch_size": 4, **kw})),
        ("X", "y", "batch_size", "shuffle", "seed"),
    ),
}


@st.composite
def data_calls(draw):
    fn_name = draw(st.sampled_from(sorted(DATA_CALLS)))
    fn, names = DATA_CALLS[fn_name]
    return fn, draw(st.sampled_from(names)), draw(JUNK)


@FAST
@given(call=data_calls())
def test_data_functions_with_a_junk_argument_raise_only_type_or_value_errors(call):
    fn, name, value = call
    try:
        fn(**{name: value})
    except OK:
        pass


@FAST
@given(how_x=ODD, how_y=ODD, seed=st.integers(0, 99), stratify=st.booleans(),
       test_size=st.one_of(st.integers(3, 6), st.floats(0.25, 0.5)))  # fmt: skip
def test_splits_and_batches_of_odd_arrays_equal_the_plain_ones(
    how_x, how_y, seed, stratify, test_size
):
    Xo, yo = _odd(X0, how_x), _odd(Y0, how_y)
    a = train_test_split(X0, Y0, test_size=test_size, seed=seed, stratify=stratify)
    np_size = np.float64(test_size) if isinstance(test_size, float) else np.int64(test_size)
    b = train_test_split(
        Xo, yo, test_size=np_size, seed=np.int64(seed), stratify=np.bool_(stratify)
    )
    for u, v in zip(a, b, strict=True):
        np.testing.assert_array_equal(u, v)
    for (xa, ya), (xb, yb) in zip(
        batches(X0, Y0, 5, seed=seed), batches(Xo, yo, np.int8(5), seed=np.uint8(seed)), strict=True
    ):
        np.testing.assert_array_equal(xa, xb)
        np.testing.assert_array_equal(ya, yb)


# ------------------------------------------------------------------ monitor

TH_FIELDS = ("vanished", "weak", "exploding", "dead", "saturated", "update_high", "min_records",
             "min_rows_dead", "through_time")  # fmt: skip


@FAST
@given(name=st.sampled_from(["every", "max_records", "thresholds", "optimizer"]), value=JUNK)
def test_monitor_junk_arguments_raise_only_type_or_value_errors(name, value):
    model = mlp()
    try:
        mon = GradientMonitor(model, **{name: value})
    except OK:
        assert getattr(model, "_probe", None) is None
        return
    mon.detach()


@FAST
@given(name=st.sampled_from(TH_FIELDS), value=JUNK)
def test_thresholds_junk_raise_only_type_or_value_errors(name, value):
    try:
        th = Thresholds(**{name: value})
    except OK:
        return
    assert isinstance(getattr(th, name), int | float)  # stored as a plain Python number
    assert not isinstance(getattr(th, name), bool)
