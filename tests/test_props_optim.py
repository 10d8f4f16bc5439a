"""Property tests of gc.optim's public API (issue 11, item 7): arbitrary hyper-parameters
(NaN, inf, negative, huge, bool, str, None, arrays, NumPy scalars of every kind) into every
optimizer, setter, schedule and clip give either a result or TypeError/ValueError (never
another exception, never a crash), and a refused value changes nothing; valid hyper-parameters
never make a parameter non-finite from finite gradients in one step; valid-but-odd inputs
(NumPy scalars, non-contiguous or read-only state arrays) give bit-identical results."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import gradcore as gc
from gradcore import nn

O = gc.optim
F32, F64 = np.float32, np.float64
OK = (TypeError, ValueError)
FAST = settings(
    max_examples=int(__import__("os").getenv("PROPS_OPTIM_EXAMPLES", "15")), deadline=None
)


def model(dtype=F64, seed=0):
    return nn.Sequential(
        [
            nn.Dense(3, 4, "tanh", dtype=dtype, seed=seed),
            nn.Dense(4, 2, "linear", dtype=dtype, seed=seed + 1),
        ]
    )


def arena(dtype=F64, seed=0, scale=1.0):
    a = model(dtype, seed).parameters()
    g = np.random.default_rng(seed).standard_normal(a.size) * scale
    g[: a.size // 4] = 0.0  # some zero gradients (dead units, unused biases)
    a.grad[...] = g
    return a


# A value of any kind a user might pass: numbers of every size and sign, non-finite ones,
# NumPy scalars of every dtype, and things that are not numbers at all.
numpy_scalar = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True).map(np.float64),
    st.floats(allow_nan=True, allow_infinity=True, width=32).map(np.float32),
    st.floats(allow_nan=True, allow_infinity=True, width=16).map(np.float16),
    st.integers(-(2**63), 2**63 - 1).map(np.int64),
    st.integers(0, 255).map(np.uint8),
    st.booleans().map(np.bool_),
    st.complex_numbers(allow_nan=True, allow_infinity=True).map(np.complex128),
)
wild = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(-(10**400), 10**400),
    st.sampled_from([0, 1, -1, 0.0, -0.0, 1e-320, 1e39, 1e308, 2.0**1023 * 1.999]),
    numpy_scalar,
    st.booleans(),
    st.none(),
    st.text(max_size=4),
    st.sampled_from([[0.1], (0.9, 0.999), np.array(0.1), np.array([0.1, 0.2]), object(), 1j]),
)

OPTIMIZERS = {
    O.SGD: ("lr", "momentum", "dampening", "weight_decay", "nesterov"),
    O.RMSprop: ("lr", "alpha", "eps", "weight_decay", "momentum", "centered"),
    O.AdaGrad: ("lr", "lr_decay", "weight_decay", "initial_accumulator_value", "eps"),
    O.Adam: ("lr", "betas", "eps", "weight_decay", "amsgrad"),
    O.AdamW: ("lr", "betas", "eps", "weight_decay", "amsgrad"),
}
CASES = [(c, k) for c, ks in OPTIMIZERS.items() for k in ks]
BASE = {O.SGD: dict(lr=0.1)}


def snapshot(a, opt=None):
    out = [a.data.copy(), a.grad.copy()]
    if opt is not None:
        out += [opt.lr, dict(opt.hyper), opt.steps.copy()]
        out += [v.copy() for v in opt.state.values()]
    return out


def same(x, y):
    assert len(x) == len(y)
    for u, v in zip(x, y, strict=True):
        if isinstance(u, np.ndarray):
            np.testing.assert_array_equal(u, v)
        else:
            assert u == v


@pytest.mark.parametrize("dtype", [F32, F64])
@pytest.mark.parametrize(("cls", "key"), CASES, ids=[f"{c.__name__}-{k}" for c, k in CASES])
@FAST
@given(value=wild)
def test_any_constructor_value_is_taken_or_refused_cleanly(cls, key, dtype, value):
    a = arena(dtype)
    kw = dict(BASE.get(cls, {}))
    if key == "betas" and not isinstance(value, tuple | list):
        kw[key] = (0.9, value)  # also throw the value in as beta2
    else:
        kw[key] = value
    before = snapshot(a)
    try:
        opt = cls(a, **kw)
    except OK as exc:
        assert f"{cls.__name__}: " in str(exc)
        same(snapshot(a), before)
        return
    with np.errstate(all="ignore"):  # a huge accepted lr may overflow: that is the user's
        opt.step()


@pytest.mark.parametrize(("cls", "key"), CASES, ids=[f"{c.__name__}-{k}" for c, k in CASES])
@FAST
@given(value=wild)
def test_any_value_set_after_construction_is_taken_or_refused_and_then_changes_nothing(
    cls, key, value
):
    a = arena()
    opt = cls(a, **BASE.get(cls, {}))
    before = snapshot(a, opt)
    try:
        if key == "lr":
            opt.lr = value
        else:
            opt.hyper[key] = value
    except OK as exc:
        assert f"{cls.__name__}: " in str(exc)
        same(snapshot(a, opt), before)
        return
    assert opt.lr >= 0 and math.isfinite(opt.lr)
    with np.errstate(all="ignore"):
        opt.step()


# valid hyper-parameters in sensible magnitudes (a huge valid lr may overflow legitimately)
unit = st.floats(0, 0.999)
small = st.floats(0, 10)
pos_eps = st.floats(1e-12, 1.0)
VALID = {
    O.SGD: st.fixed_dictionaries(
        dict(lr=small, momentum=small, dampening=st.floats(0, 1), weight_decay=small)
    ),
    O.RMSprop: st.fixed_dictionaries(
        dict(
            lr=small,
            alpha=unit,
            eps=pos_eps,
            weight_decay=small,
            momentum=small,
            centered=st.booleans(),
        )
    ),
    O.AdaGrad: st.fixed_dictionaries(
        dict(
            lr=small,
            lr_decay=small,
            weight_decay=small,
            initial_accumulator_value=small,
            eps=pos_eps,
        )
    ),
    O.Adam: st.fixed_dictionaries(
        dict(
            lr=small,
            betas=st.tuples(unit, unit),
            eps=pos_eps,
            weight_decay=small,
            amsgrad=st.booleans(),
        )
    ),
}
VALID[O.AdamW] = VALID[O.Adam]


@pytest.mark.parametrize("dtype", [F32, F64])
@pytest.mark.parametrize("cls", list(VALID), ids=[c.__name__ for c in VALID])
@FAST
@given(data=st.data())
def test_valid_hyperparameters_keep_parameters_finite_in_one_step(cls, dtype, data):
    kw = data.draw(VALID[cls])
    scale = data.draw(st.sampled_from([0.0, 1e-30, 1e-3, 1.0, 1e3]))
    a = arena(dtype, scale=scale)
    cls(a, **kw).step()
    assert np.isfinite(a.data).all(), kw


@pytest.mark.parametrize("cls", list(VALID), ids=[c.__name__ for c in VALID])
@FAST
@given(data=st.data())
def test_numpy_scalar_hyperparameters_are_bit_identical(cls, data):
    kw = data.draw(VALID[cls])
    kind = data.draw(st.sampled_from([np.float16, np.float32, np.float64, np.longdouble]))

    def conv(v, as_numpy):
        if isinstance(v, bool):
            return np.bool_(v) if as_numpy else v
        if isinstance(v, tuple):
            return tuple(conv(x, as_numpy) for x in v)
        return kind(v) if as_numpy else float(kind(v))

    kw_np = {k: conv(v, True) for k, v in kw.items()}
    kw_py = {k: conv(v, False) for k, v in kw.items()}
    if "eps" in kw and not float(kind(kw["eps"])) > 0:
        kw_np["eps"] = kw_py["eps"] = 1e-3  # float16 rounds a tiny eps to 0 (refused)
    a, b = arena(), arena()
    oa, ob = cls(a, **kw_np), cls(b, **kw_py)
    oa.step()
    ob.step()
    np.testing.assert_array_equal(a.data, b.data)
    assert oa.hyperparameters() == ob.hyperparameters()


# ------------------------------------------------------------------------------ schedules

SCHEDULES = {
    "StepLR": (
        lambda o, **k: O.StepLR(o, **{"step_size": 2, **k}),
        ("step_size", "gamma"),
    ),
    "ExponentialLR": (lambda o, **k: O.ExponentialLR(o, **{"gamma": 0.9, **k}), ("gamma",)),
    "CosineAnnealingLR": (
        lambda o, **k: O.CosineAnnealingLR(o, **{"T_max": 6, **k}),
        ("T_max", "eta_min", "warmup_epochs", "warmup_start_factor"),
    ),
    "ReduceLROnPlateau": (
        lambda o, **k: O.ReduceLROnPlateau(o, **{"patience": 0, **k}),
        ("mode", "factor", "patience", "threshold", "threshold_mode", "cooldown", "min_lr", "eps"),
    ),
}
SCASES = [(n, k) for n, (_, ks) in SCHEDULES.items() for k in ks]


@pytest.mark.parametrize("dtype", [F32, F64])
@pytest.mark.parametrize(("name", "key"), SCASES, ids=[f"{n}-{k}" for n, k in SCASES])
@FAST
@given(value=wild, metrics=st.lists(wild, max_size=4))
def test_any_schedule_argument_is_taken_or_refused_and_rates_stay_valid(
    name, key, dtype, value, metrics
):
    make, _ = SCHEDULES[name]
    opt = O.SGD(model(dtype).parameters(), lr=0.1)
    try:
        s = make(opt, **{key: value})
    except OK as exc:
        assert f"{name}: " in str(exc)
        assert opt.lr == 0.1
        return
    for m in metrics if name == "ReduceLROnPlateau" else range(8):
        before = (opt.lr, s.state_dict())
        try:
            s.step(m) if name == "ReduceLROnPlateau" else s.step()
        except OK as exc:
            assert f"{name}: " in str(exc)
            assert (opt.lr, s.state_dict()) == before or math.isnan(before[1].get("best", 0))
        assert math.isfinite(opt.lr) and opt.lr >= 0
        assert opt.lr <= np.finfo(dtype).max


@FAST
@given(sd=st.dictionaries(st.sampled_from(["T_max", "eta_min", "base_lr", "last_epoch",
                                           "warmup_epochs", "warmup_start_factor", "x"]),
                          wild))  # fmt: skip
def test_schedule_load_state_dict_takes_a_valid_dict_or_refuses_and_changes_nothing(sd):
    opt = O.SGD(model().parameters(), lr=0.1)
    s = O.CosineAnnealingLR(opt, 6, warmup_epochs=2)
    good = s.state_dict()
    try:
        s.load_state_dict({**good, **sd})
    except OK as exc:
        assert "CosineAnnealingLR.load_state_dict: " in str(exc)
        assert s.state_dict() == good
        return
    try:
        lr = s.step()
    except ValueError as exc:  # e.g. a huge last_epoch is fine, a huge base_lr may not be
        assert "CosineAnnealingLR: lr at epoch" in str(exc)
        return
    assert math.isfinite(lr) and lr >= 0


# ------------------------------------------------------------------------------- clipping

CLIPS = {
    "clip_grad_norm": lambda a, v: O.clip_grad_norm(a, v),
    "clip_grad_norm/norm_type": lambda a, v: O.clip_grad_norm(a, 1.0, v),
    "clip_grad_norm/error_if_nonfinite": lambda a, v: O.clip_grad_norm(a, 1.0, 2.0, v),
    "clip_grad_value": lambda a, v: O.clip_grad_value(a, v),
    "grad_norms": lambda a, v: O.grad_norms(a, v),
    "AutoClip": lambda a, v: O.AutoClip(v)(a),
    "AutoClip/history_size": lambda a, v: O.AutoClip(10, v)(a),
    "AGC": lambda a, v: O.AGC(v)(a),
    "AGC/eps": lambda a, v: O.AGC(0.01, v)(a),
}


@pytest.mark.parametrize("name", list(CLIPS))
@FAST
@given(value=wild)
def test_any_clip_argument_is_taken_or_refused_and_gradients_stay_finite(name, value):
    a = arena(scale=10.0)
    before = snapshot(a)
    try:
        CLIPS[name](a, value)
    except OK as exc:
        assert f"{name.split('/')[0]}: " in str(exc)
        same(snapshot(a), before)
        return
    assert np.isfinite(a.grad).all()


@pytest.mark.parametrize("name", ["clip_grad_norm", "clip_grad_value", "AutoClip", "AGC"])
@FAST
@given(value=st.one_of(wild, st.just([np.zeros(3)]), st.just(np.zeros((2, 3))[:, ::2])))
def test_any_params_argument_is_an_arena_a_model_or_a_type_error(name, value):
    with pytest.raises(TypeError, match=rf"{name}: params must be"):
        CLIPS[name](value, 1.0 if name != "AutoClip" else 10.0)


@FAST
@given(grads=st.lists(st.sampled_from([0.0, 1.0, -3.0, np.nan, np.inf, -np.inf, 1e308]),
                      min_size=1, max_size=6))  # fmt: skip
def test_non_finite_gradients_give_only_documented_outcomes(grads):
    a = arena()
    a.grad[: len(grads)] = grads
    with np.errstate(all="ignore"):
        try:
            O.clip_grad_norm(a, 1.0, error_if_nonfinite=True)
        except O.NonFiniteGradientError as exc:  # documented
            assert "non-finite" in str(exc)
        O.AGC()(a)
        O.AutoClip()(a)
        O.Adam(a).step()  # NaN gradients propagate (as in torch): no exception


# ------------------------------------------------------- state_dict with odd arrays


def _odd(v, how):
    if how == "noncontiguous":
        big = np.empty(2 * v.size, v.dtype)
        big[::2] = v
        out = big[::2]
        assert not out.flags.c_contiguous
        return out
    out = v.copy()
    out.flags.writeable = False
    return out


@pytest.mark.parametrize("how", ["noncontiguous", "readonly"])
@pytest.mark.parametrize("cls", list(VALID), ids=[c.__name__ for c in VALID])
def test_odd_but_valid_state_arrays_load_to_identical_results(cls, how):
    a0 = arena(seed=3)
    src = cls(a0, **BASE.get(cls, {}))
    src.step()
    sd = src.state_dict()
    odd = dict(
        sd, steps=_odd(sd["steps"], how), state={k: _odd(v, how) for k, v in sd["state"].items()}
    )
    runs = []
    for d in (sd, odd):
        a = arena(seed=3)
        a.data[...] = a0.data
        opt = cls(a, **BASE.get(cls, {}))
        opt.load_state_dict(d)
        opt.step()
        runs.append(a.data.copy())
        for v in opt.state.values():
            assert v.flags.writeable and v.flags.c_contiguous  # its own copies
    np.testing.assert_array_equal(runs[0], runs[1])


@settings(max_examples=30, deadline=None)
@given(
    key=st.sampled_from(["exp_avg", "exp_avg_sq", "steps"]),
    shape=st.sampled_from([(), (0,), (3,), (2, 22), (44, 1), (45,)]),
    dtype=st.sampled_from([F32, F64, np.int64, np.complex128, np.bool_, object]),
    fill=st.sampled_from([0.0, 1.0, np.nan, -1.0]),
)
def test_bad_state_arrays_are_value_errors(key, shape, dtype, fill):
    a = arena()
    opt = O.Adam(a)
    opt.step()
    sd = opt.state_dict()
    with np.errstate(all="ignore"):
        arr = np.full(shape, fill).astype(dtype)
    if key == "steps":
        sd = dict(sd, steps=arr)
    else:
        sd = dict(sd, state=dict(sd["state"], **{key: arr}))
    before = snapshot(a, opt)
    valid = (
        key == "steps" and shape == (len(a),) and dtype is np.int64 and fill >= 0
    ) or (key != "steps" and shape == (a.size,) and dtype is F64 and np.isfinite(fill)
          and (fill >= 0 or key == "exp_avg"))  # fmt: skip
    if valid:
        opt.load_state_dict(sd)
        return
    with pytest.raises(ValueError, match=r"Adam\.load_state_dict: "):
        opt.load_state_dict(sd)
    same(snapshot(a, opt), before)
