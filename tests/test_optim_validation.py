"""Argument validation of gc.optim (issue 11, item 1): optimizers, hyper-parameters changed
after construction, schedules, clipping, state_dict round trips. Every message reads
``"{owner}: {name} must be {expected}, got {given}"``; a wrong type is a TypeError, a wrong
value a ValueError."""

import math

import numpy as np
import pytest

import gradcore as gc
from gradcore import nn

F32, F64 = np.float32, np.float64
NAN, INF = float("nan"), float("inf")
O = gc.optim


def model(dtype=F64, seed=0):
    return nn.Sequential(
        [
            nn.Dense(4, 6, "relu", dtype=dtype, seed=seed),
            nn.Dense(6, 2, "linear", dtype=dtype, seed=seed + 1),
        ]
    )


def arena_with_grads(dtype=F64, seed=0, zero_bias=True):
    a = model(dtype, seed).parameters()
    a.grad[...] = np.random.default_rng(seed).standard_normal(a.size)
    if zero_bias:  # an unused bias / a dead unit: an all-zero gradient
        a.grad_of("0.Dense.b")[...] = 0
    return a


# --------------------------------------------------------------------------- eps = 0


@pytest.mark.parametrize("cls", [O.Adam, O.AdamW, O.RMSprop, O.AdaGrad])
def test_eps_zero_is_refused(cls):
    # before: accepted, and every parameter with a zero gradient became NaN on the first step
    with pytest.raises(ValueError, match=rf"{cls.__name__}: eps must be a finite real number > 0"):
        cls(arena_with_grads(), eps=0.0)
    for bad in (NAN, INF, -1e-8):
        with pytest.raises(ValueError, match=rf"{cls.__name__}: eps must be"):
            cls(arena_with_grads(), eps=bad)


@pytest.mark.parametrize("cls", [O.Adam, O.AdamW, O.RMSprop, O.AdaGrad])
def test_eps_that_rounds_to_zero_in_float32_is_refused(cls):
    a = arena_with_grads(F32)
    with pytest.raises(ValueError, match=r"eps must be .*>= 1\.1754944e-38 \(the smallest normal"):
        cls(a, eps=1e-50)  # a positive double, but 0 once rounded to float32: 0/0 again
    opt = cls(a, eps=float(np.finfo(F32).tiny))  # the smallest accepted one works
    opt.step()
    assert np.isfinite(a.data).all()


@pytest.mark.parametrize("cls", [O.Adam, O.AdamW, O.RMSprop, O.AdaGrad])
def test_smallest_valid_eps_keeps_zero_gradient_parameters_finite(cls):
    a = arena_with_grads()
    b = a.param("0.Dense.b").copy()
    cls(a, eps=float(np.finfo(F64).tiny)).step()
    assert np.isfinite(a.data).all()
    np.testing.assert_array_equal(a.param("0.Dense.b"), b)  # zero gradient: no move


# --------------------------------------------------------------- constructor ranges

BAD_CONSTRUCTOR = [
    # the examples
    (O.SGD, dict(lr=0.1, dampening=NAN), ValueError, r"SGD: dampening must be .* in \[0, 1\]"),
    (O.RMSprop, dict(alpha=1.5), ValueError, r"RMSprop: alpha must be .* in \[0, 1\), got 1\.5"),
    # the rest, found the same way
    (O.SGD, dict(lr=NAN), ValueError, r"SGD: lr must be a finite real number >= 0, got nan"),
    (O.SGD, dict(lr=INF), ValueError, r"SGD: lr must be .*, got inf"),
    (O.SGD, dict(lr=10**400), ValueError, r"SGD: lr must be .*got an int too large for a float"),
    (O.SGD, dict(lr="0.1"), TypeError, r"SGD: lr must be a finite real number >= 0, got str"),
    (O.SGD, dict(lr=True), TypeError, r"SGD: lr must be .*, got bool"),
    (O.SGD, dict(lr=None), TypeError, r"SGD: lr must be .*, got NoneType"),
    (O.SGD, dict(lr=np.array([0.1])), TypeError, r"SGD: lr must be .*, got ndarray"),
    (O.SGD, dict(lr=0.1, momentum=NAN), ValueError, r"SGD: momentum must be .* >= 0, got nan"),
    (O.SGD, dict(lr=0.1, dampening=1.5), ValueError, r"SGD: dampening must be .*got 1\.5"),
    (O.SGD, dict(lr=0.1, dampening=-0.1), ValueError, r"SGD: dampening must be"),
    (O.SGD, dict(lr=0.1, weight_decay=-1), ValueError, r"SGD: weight_decay must be .* >= 0"),
    (O.SGD, dict(lr=0.1, weight_decay=INF), ValueError, r"SGD: weight_decay must be"),
    (O.SGD, dict(lr=0.1, nesterov=1), TypeError, r"SGD: nesterov must be True or False"),
    (
        O.SGD,
        dict(lr=0.1, momentum=0.9, dampening=0.1, nesterov=True),
        ValueError,
        r"SGD: nesterov must be False unless momentum > 0 and dampening == 0",
    ),
    (O.RMSprop, dict(alpha=1.0), ValueError, r"RMSprop: alpha must be"),
    (O.RMSprop, dict(alpha=-0.1), ValueError, r"RMSprop: alpha must be"),
    (O.RMSprop, dict(alpha=NAN), ValueError, r"RMSprop: alpha must be"),
    (O.RMSprop, dict(momentum=-1), ValueError, r"RMSprop: momentum must be"),
    (O.RMSprop, dict(weight_decay=NAN), ValueError, r"RMSprop: weight_decay must be"),
    (O.RMSprop, dict(centered="yes"), TypeError, r"RMSprop: centered must be True or False"),
    (O.AdaGrad, dict(lr_decay=NAN), ValueError, r"AdaGrad: lr_decay must be .* >= 0"),
    (O.AdaGrad, dict(lr_decay=-0.1), ValueError, r"AdaGrad: lr_decay must be"),
    (
        O.AdaGrad,
        dict(initial_accumulator_value=-1),
        ValueError,
        r"AdaGrad: initial_accumulator_value must be .* >= 0",
    ),
    (
        O.AdaGrad,
        dict(initial_accumulator_value=NAN),
        ValueError,
        r"AdaGrad: initial_accumulator_value must be",
    ),
    (O.AdaGrad, dict(weight_decay=-1), ValueError, r"AdaGrad: weight_decay must be"),
    (O.Adam, dict(betas=(NAN, 0.999)), ValueError, r"Adam: betas\[0\] must be .* in \[0, 1\)"),
    (O.Adam, dict(betas=(0.9, -0.1)), ValueError, r"Adam: betas\[1\] must be"),
    (O.Adam, dict(betas=(0.9, "0.99")), TypeError, r"Adam: betas\[1\] must be .*got str"),
    (O.Adam, dict(betas=0.9), TypeError, r"Adam: betas must be a tuple \(beta1, beta2\)"),
    (O.Adam, dict(betas=(0.9, 0.99, 0.9)), ValueError, r"Adam: betas must be .*got 3 values"),
    (O.Adam, dict(weight_decay=NAN), ValueError, r"Adam: weight_decay must be"),
    (O.Adam, dict(amsgrad=None), TypeError, r"Adam: amsgrad must be True or False"),
    (O.AdamW, dict(betas=(1.0, 0.999)), ValueError, r"AdamW: betas\[0\] must be"),
    (O.AdamW, dict(weight_decay=-0.01), ValueError, r"AdamW: weight_decay must be"),
    (O.AdamW, dict(lr=-1e-3), ValueError, r"AdamW: lr must be"),
]


@pytest.mark.parametrize(
    ("cls", "kw", "exc", "match"),
    BAD_CONSTRUCTOR,
    ids=[str(i) for i in range(len(BAD_CONSTRUCTOR))],
)
def test_bad_constructor_arguments(cls, kw, exc, match):
    with pytest.raises(exc, match=match):
        cls(model().parameters(), **kw)


def test_hyperparameters_must_be_finite_in_the_parameters_dtype():
    # 1e39 is a finite double but inf in float32, where the kernels compute
    with pytest.raises(
        ValueError, match=r"SGD: lr must be finite in the parameters' dtype float32"
    ):
        O.SGD(model(F32).parameters(), lr=1e39)
    with pytest.raises(ValueError, match=r"Adam: weight_decay must be finite .* float32"):
        O.Adam(model(F32).parameters(), weight_decay=1e39)
    assert O.SGD(model(F64).parameters(), lr=1e39).lr == 1e39  # fine in float64


def test_params_must_be_an_arena_or_a_model():
    for bad in ([np.zeros(3)], None, nn.Dense, "model"):
        with pytest.raises(TypeError, match=r"Adam: params must be a model's parameter arena"):
            O.Adam(bad)


def test_base_classes_are_not_usable_directly():
    with pytest.raises(TypeError, match="Optimizer is a base class"):
        O.Optimizer(model().parameters(), lr=0.1)
    with pytest.raises(TypeError, match="LRScheduler: a schedule must define lr_at"):
        O.LRScheduler(O.SGD(model().parameters(), lr=0.1))  # was NotImplementedError


# ----------------------------------------------------------- changed after construction


def test_lr_set_to_nan_after_construction_is_refused_and_leaves_the_optimizer_as_it_was():
    a = arena_with_grads()
    opt = O.SGD(a, lr=0.1)
    for bad, exc in ((NAN, ValueError), (-0.1, ValueError), (INF, ValueError), ("1", TypeError)):
        with pytest.raises(exc, match=r"SGD: lr must be a finite real number >= 0"):
            opt.lr = bad
        assert opt.lr == 0.1
    before = a.data.copy()
    opt.step()
    assert np.isfinite(a.data).all() and not np.array_equal(a.data, before)
    opt.lr = np.float32(0.5)  # NumPy scalars are accepted and stored as Python floats
    assert type(opt.lr) is float and opt.lr == float(np.float32(0.5))


def test_hyper_changes_are_validated_and_taken():
    a = arena_with_grads()
    opt = O.SGD(a, lr=0.1, momentum=0.9)
    with pytest.raises(ValueError, match=r"SGD: momentum must be .*, got nan"):
        opt.hyper["momentum"] = NAN
    with pytest.raises(ValueError, match=r"SGD: dampening must be"):
        opt.hyper["dampening"] = 2.0
    with pytest.raises(
        ValueError, match=r"SGD: hyper has no 'lr' \(the learning rate is opt\.lr\)"
    ):
        opt.hyper["lr"] = 0.1
    with pytest.raises(ValueError, match=r"SGD: nesterov must be False unless"):
        opt.hyper.update(nesterov=True, dampening=0.5)
    assert opt.hyper == dict(momentum=0.9, dampening=0.0, weight_decay=0.0, nesterov=False)
    opt.hyper["momentum"] = np.float32(0.5)  # valid: taken, as a float, used by the next step
    opt.hyper.update(weight_decay=0.01)
    assert opt.hyper["momentum"] == float(np.float32(0.5))
    b = arena_with_grads()
    O.SGD(b, lr=0.1, momentum=float(np.float32(0.5)), weight_decay=0.01).step()
    opt.step()
    np.testing.assert_array_equal(a.data, b.data)

    adam = O.Adam(arena_with_grads())
    with pytest.raises(ValueError, match=r"Adam: eps must be a finite real number > 0, got 0\.0"):
        adam.hyper["eps"] = 0
    with pytest.raises(ValueError, match=r"Adam: betas\[1\] must be"):
        adam.hyper["betas"] = (0.9, 1.0)
    rms = O.RMSprop(arena_with_grads())
    with pytest.raises(ValueError, match=r"RMSprop: alpha must be .*, got 1\.5"):
        rms.hyper["alpha"] = 1.5
    with pytest.raises(TypeError, match=r"RMSprop: hyper-parameters cannot be removed"):
        del rms.hyper["alpha"]
    assert rms.hyper["alpha"] == 0.99


@pytest.mark.parametrize(
    ("make", "key", "value"),
    [
        (lambda a: O.SGD(a, lr=0.1), "momentum", 0.9),  # would need a momentum buffer
        (lambda a: O.SGD(a, lr=0.1, momentum=0.9), "momentum", 0.0),
        (lambda a: O.RMSprop(a), "centered", True),
        (lambda a: O.RMSprop(a), "momentum", 0.5),
        (lambda a: O.Adam(a), "amsgrad", True),
    ],
)
def test_hyper_changes_that_would_need_other_state_buffers_are_refused(make, key, value):
    a = arena_with_grads()
    opt = make(a)
    before = dict(opt.hyper)
    with pytest.raises(ValueError, match=rf"{key} cannot change from .* after construction"):
        opt.hyper[key] = value
    assert dict(opt.hyper) == before
    opt.step()  # still works
    assert np.isfinite(a.data).all()


# --------------------------------------------------------------------------- NumPy scalars

NUMPY_KW = [
    (O.SGD, dict(lr=0.1, momentum=0.9, dampening=0.1, weight_decay=0.01)),
    (O.SGD, dict(lr=0.1, momentum=0.9, nesterov=True)),
    (O.RMSprop, dict(lr=0.01, alpha=0.9, eps=1e-6, weight_decay=0.05, momentum=0.3)),
    (O.RMSprop, dict(lr=0.01, centered=True)),
    (O.AdaGrad, dict(lr=0.1, lr_decay=0.05, weight_decay=0.02, initial_accumulator_value=0.3)),
    (O.Adam, dict(lr=0.01, betas=(0.8, 0.95), eps=1e-6, weight_decay=0.05, amsgrad=True)),
    (O.AdamW, dict(lr=0.02, betas=(0.8, 0.95), weight_decay=0.1)),
]


def _as_numpy(kw, kind):
    out = {}
    for k, v in kw.items():
        if isinstance(v, bool):
            out[k] = np.bool_(v)
        elif isinstance(v, tuple):
            out[k] = tuple(kind(x) for x in v)
        else:
            out[k] = kind(v)
    return out


def _as_double_of(kw, kind):
    return {
        k: v
        if isinstance(v, bool)
        else tuple(float(kind(x)) for x in v)
        if isinstance(v, tuple)
        else float(kind(v))
        for k, v in kw.items()
    }


@pytest.mark.parametrize("kind", [np.float32, np.float64])
@pytest.mark.parametrize(("cls", "kw"), NUMPY_KW, ids=[f"{c.__name__}{i}" for i, (c, _) in
                                                        enumerate(NUMPY_KW)])  # fmt: skip
def test_numpy_scalar_hyperparameters_give_bit_identical_steps(cls, kw, kind):
    # np.float32(0.1) != 0.1: "the same" means the same as float(np.float32(0.1))
    a, b = arena_with_grads(), arena_with_grads()
    oa, ob = cls(a, **_as_numpy(kw, kind)), cls(b, **_as_double_of(kw, kind))
    for _ in range(2):
        oa.step()
        ob.step()
    np.testing.assert_array_equal(a.data, b.data)
    for k in oa.state:
        np.testing.assert_array_equal(oa.state[k], ob.state[k])
    assert oa.hyperparameters() == ob.hyperparameters()
    assert all(type(v) in (float, bool, tuple) for v in oa.hyperparameters().values())


def test_numpy_integer_hyperparameters_are_accepted():
    a, b = arena_with_grads(), arena_with_grads()
    O.SGD(a, lr=np.int64(1), momentum=np.int32(0)).step()
    O.SGD(b, lr=1.0).step()
    np.testing.assert_array_equal(a.data, b.data)


# ------------------------------------------------------------------------------ schedules


def sgd(lr=0.1, dtype=F64):
    return O.SGD(model(dtype).parameters(), lr=lr)


BAD_SCHEDULE = [
    # the examples
    (lambda o: O.StepLR(o, 2, gamma=-0.5), ValueError, r"StepLR: gamma must be .* > 0, got -0\.5"),
    (
        lambda o: O.CosineAnnealingLR(o, 10, eta_min=-1),
        ValueError,
        r"CosineAnnealingLR: eta_min must be a finite real number >= 0, got -1\.0",
    ),
    (
        lambda o: O.ExponentialLR(o, gamma=NAN),
        ValueError,
        r"ExponentialLR: gamma must be .* > 0, got nan",
    ),
    # the rest
    (lambda o: O.StepLR(o, 2, gamma=0), ValueError, r"StepLR: gamma must be"),
    (lambda o: O.StepLR(o, 2, gamma=INF), ValueError, r"StepLR: gamma must be"),
    (lambda o: O.StepLR(o, 2, gamma=10**400), ValueError, r"StepLR: gamma must be .*too large"),
    (lambda o: O.StepLR(o, 2, gamma="0.1"), TypeError, r"StepLR: gamma must be .*got str"),
    (lambda o: O.StepLR(o, 0), ValueError, r"StepLR: step_size must be an integer >= 1, got 0"),
    (lambda o: O.StepLR(o, 2.0), TypeError, r"StepLR: step_size must be an integer >= 1"),
    (lambda o: O.StepLR(o, True), TypeError, r"StepLR: step_size must be an integer"),
    (lambda o: O.ExponentialLR(o, gamma=-1), ValueError, r"ExponentialLR: gamma must be"),
    (lambda o: O.ExponentialLR(o, gamma=None), TypeError, r"ExponentialLR: gamma must be"),
    (lambda o: O.CosineAnnealingLR(o, 0), ValueError, r"CosineAnnealingLR: T_max must be"),
    (lambda o: O.CosineAnnealingLR(o, 5.5), TypeError, r"CosineAnnealingLR: T_max must be"),
    (lambda o: O.CosineAnnealingLR(o, 10, eta_min=NAN), ValueError, r"eta_min must be"),
    (lambda o: O.CosineAnnealingLR(o, 10, eta_min=INF), ValueError, r"eta_min must be"),
    (
        lambda o: O.CosineAnnealingLR(o, 5, warmup_epochs=5),
        ValueError,
        r"CosineAnnealingLR: warmup_epochs must be an integer in \[0, 4\], got 5",
    ),
    (lambda o: O.CosineAnnealingLR(o, 5, warmup_epochs=-1), ValueError, r"warmup_epochs must"),
    (lambda o: O.CosineAnnealingLR(o, 5, warmup_epochs=1.0), TypeError, r"warmup_epochs must"),
    (
        lambda o: O.CosineAnnealingLR(o, 5, warmup_epochs=2, warmup_start_factor=NAN),
        ValueError,
        r"CosineAnnealingLR: warmup_start_factor must be .* in \(0, 1\]",
    ),
    (
        lambda o: O.CosineAnnealingLR(o, 5, warmup_start_factor="x"),
        TypeError,
        r"warmup_start_factor must be",
    ),
    (lambda o: O.ReduceLROnPlateau(o, mode="mean"), ValueError, r"ReduceLROnPlateau: mode must"),
    (lambda o: O.ReduceLROnPlateau(o, mode=None), TypeError, r"ReduceLROnPlateau: mode must"),
    (lambda o: O.ReduceLROnPlateau(o, factor=1.0), ValueError, r"factor must be .* in \(0, 1\)"),
    (lambda o: O.ReduceLROnPlateau(o, factor=NAN), ValueError, r"ReduceLROnPlateau: factor"),
    (lambda o: O.ReduceLROnPlateau(o, factor=0), ValueError, r"ReduceLROnPlateau: factor"),
    (lambda o: O.ReduceLROnPlateau(o, factor="0.5"), TypeError, r"ReduceLROnPlateau: factor"),
    (lambda o: O.ReduceLROnPlateau(o, patience=-1), ValueError, r"patience must be .* >= 0"),
    (lambda o: O.ReduceLROnPlateau(o, patience=2.0), TypeError, r"patience must be an integer"),
    (lambda o: O.ReduceLROnPlateau(o, threshold=NAN), ValueError, r"threshold must be"),
    (lambda o: O.ReduceLROnPlateau(o, threshold=-1e-4), ValueError, r"threshold must be"),
    (lambda o: O.ReduceLROnPlateau(o, threshold_mode="rell"), ValueError, r"threshold_mode"),
    (lambda o: O.ReduceLROnPlateau(o, threshold_mode=1), TypeError, r"threshold_mode must"),
    (lambda o: O.ReduceLROnPlateau(o, cooldown=-1), ValueError, r"cooldown must be"),
    (lambda o: O.ReduceLROnPlateau(o, cooldown=0.5), TypeError, r"cooldown must be"),
    (lambda o: O.ReduceLROnPlateau(o, min_lr=-1), ValueError, r"min_lr must be"),
    (lambda o: O.ReduceLROnPlateau(o, min_lr=NAN), ValueError, r"min_lr must be"),
    (lambda o: O.ReduceLROnPlateau(o, eps=NAN), ValueError, r"ReduceLROnPlateau: eps must be"),
    (lambda o: O.ReduceLROnPlateau(o, eps=-1), ValueError, r"ReduceLROnPlateau: eps must be"),
]


@pytest.mark.parametrize(
    ("make", "exc", "match"), BAD_SCHEDULE, ids=[str(i) for i in range(len(BAD_SCHEDULE))]
)
def test_bad_schedule_arguments(make, exc, match):
    opt = sgd()
    with pytest.raises(exc, match=match):
        make(opt)
    assert opt.lr == 0.1  # a refused schedule writes nothing


@pytest.mark.parametrize(
    "make",
    [
        lambda o: O.StepLR(o, 1),
        lambda o: O.ExponentialLR(o, 0.5),
        lambda o: O.CosineAnnealingLR(o, 3),
        lambda o: O.ReduceLROnPlateau(o),
    ],
)
def test_schedules_want_a_gradcore_optimizer(make):
    for bad in (None, "adam", model().parameters()):
        with pytest.raises(TypeError, match=r"\w+: optimizer must be a gradcore optimizer"):
            make(bad)


@pytest.mark.parametrize("cls", [O.StepLR, O.ExponentialLR])
def test_schedule_that_would_write_an_invalid_lr_raises_naming_itself(cls):
    # gamma > 1 is allowed (torch allows it) but grows the rate: beyond float32 for a float32
    # model, beyond the double range (float ** int overflow) for a float64 one
    for dtype, gamma in ((F32, 10.0), (F64, 1e200)):
        opt = sgd(0.1, dtype)
        sched = cls(opt, 1, gamma) if cls is O.StepLR else cls(opt, gamma)
        with pytest.raises(ValueError, match=rf"{cls.__name__}: lr at epoch \d+ must be"):
            for _ in range(100):
                sched.step()
        epoch, lr = sched.last_epoch, opt.lr
        assert math.isfinite(lr) and lr > 0
        with pytest.raises(ValueError, match=rf"{cls.__name__}: lr at epoch {epoch + 1} must"):
            sched.step()
        assert (sched.last_epoch, opt.lr) == (epoch, lr)  # nothing changed


def test_numpy_scalar_schedule_arguments_give_the_same_rates():
    def rates(make, metrics=None):
        opt = sgd(np.float32(0.2))
        s = make(opt)
        return [opt.lr] + [s.step() if metrics is None else s.step(m) for m in (metrics or [0] * 8)]

    f32, i64 = np.float32, np.int64
    pairs = [
        (lambda o: O.StepLR(o, i64(2), f32(0.5)), lambda o: O.StepLR(o, 2, float(f32(0.5)))),
        (lambda o: O.ExponentialLR(o, f32(0.9)), lambda o: O.ExponentialLR(o, float(f32(0.9)))),
        (
            lambda o: O.CosineAnnealingLR(o, i64(6), f32(1e-3), i64(2), f32(0.25)),
            lambda o: O.CosineAnnealingLR(o, 6, float(f32(1e-3)), 2, 0.25),
        ),
    ]
    for a, b in pairs:
        assert rates(a) == rates(b)
    metrics = [1.0, 0.9, 0.95, 0.97, 0.99, 0.5, 0.6, 0.7, 0.8]
    a = rates(lambda o: O.ReduceLROnPlateau(o, factor=f32(0.5), patience=i64(1)), metrics)
    b = rates(lambda o: O.ReduceLROnPlateau(o, factor=float(f32(0.5)), patience=1), metrics)
    c = rates(
        lambda o: O.ReduceLROnPlateau(o, factor=float(f32(0.5)), patience=1),
        [np.float32(m) if i % 2 else np.array(m) for i, m in enumerate(metrics)],
    )
    assert a == b and len(set(a)) > 1
    assert c == rates(
        lambda o: O.ReduceLROnPlateau(o, factor=float(f32(0.5)), patience=1),
        [float(np.float32(m)) if i % 2 else m for i, m in enumerate(metrics)],
    )


def test_plateau_metric_must_be_a_real_number():
    s = O.ReduceLROnPlateau(sgd())
    for bad in ("0.5", None, [0.5], np.array([0.5, 0.4]), True):
        with pytest.raises(TypeError, match=r"ReduceLROnPlateau: metric must be a real number"):
            s.step(bad)
    with pytest.raises(ValueError, match=r"ReduceLROnPlateau: metric must be .*float range"):
        s.step(10**400)
    assert s.last_epoch == 0  # a refused metric counts nothing


@pytest.mark.parametrize("mode", ["min", "max"])
@pytest.mark.parametrize("bad", [NAN, INF, -INF])
def test_plateau_non_finite_metric_is_a_bad_epoch_and_never_the_best(mode, bad):
    opt = sgd(1.0)
    s = O.ReduceLROnPlateau(opt, mode=mode, patience=1, factor=0.5)
    s.step(1.0)
    s.step(bad)
    assert s.best == 1.0 and s.num_bad_epochs == 1
    s.step(bad)  # the second bad epoch in a row exceeds patience=1: the rate is halved
    assert opt.lr == 0.5 and s.best == 1.0
    s.step(0.5 if mode == "min" else 2.0)  # a finite improvement is still recognised
    assert s.best == (0.5 if mode == "min" else 2.0) and s.num_bad_epochs == 0


# ----------------------------------------------------------------------------- clipping

BAD_CLIP = [
    (lambda a: O.clip_grad_norm(a, NAN), ValueError, r"clip_grad_norm: max_norm must be .* > 0"),
    (lambda a: O.clip_grad_norm(a, INF), ValueError, r"clip_grad_norm: max_norm must be"),
    (lambda a: O.clip_grad_norm(a, -1.0), ValueError, r"clip_grad_norm: max_norm must be"),
    (lambda a: O.clip_grad_norm(a, "1"), TypeError, r"clip_grad_norm: max_norm must be"),
    (lambda a: O.clip_grad_norm(a, True), TypeError, r"clip_grad_norm: max_norm must be"),
    (lambda a: O.clip_grad_norm(a, 1.0, "inf"), TypeError, r"clip_grad_norm: norm_type must be"),
    (lambda a: O.clip_grad_norm(a, 1.0, 1), ValueError, r"norm_type must be 2\.0 or inf"),
    (lambda a: O.clip_grad_norm(a, 1.0, NAN), ValueError, r"norm_type must be 2\.0 or inf"),
    (lambda a: O.clip_grad_norm(a, 1.0, None), TypeError, r"norm_type must be 2\.0 or inf"),
    (lambda a: O.clip_grad_norm(a, 1.0, 10**400), ValueError, r"norm_type must be .*too large"),
    (lambda a: O.clip_grad_norm(a, 10**400), ValueError, r"max_norm must be .*too large"),
    (
        lambda a: O.clip_grad_norm(a, 1.0, error_if_nonfinite="no"),
        TypeError,
        r"clip_grad_norm: error_if_nonfinite must be True or False",
    ),
    (lambda a: O.grad_norms(a, 3), ValueError, r"grad_norms: norm_type must be 2\.0 or inf"),
    (lambda a: O.grad_norms(a, "2"), TypeError, r"grad_norms: norm_type must be"),
    (lambda a: O.clip_grad_value(a, NAN), ValueError, r"clip_grad_value: clip_value must be"),
    (lambda a: O.clip_grad_value(a, INF), ValueError, r"clip_grad_value: clip_value must be"),
    (lambda a: O.clip_grad_value(a, "1"), TypeError, r"clip_grad_value: clip_value must be"),
    (lambda a: O.AutoClip(NAN), ValueError, r"AutoClip: percentile must be .* in \(0, 100\]"),
    (lambda a: O.AutoClip(0), ValueError, r"AutoClip: percentile must be"),
    (lambda a: O.AutoClip(100.5), ValueError, r"AutoClip: percentile must be"),
    (lambda a: O.AutoClip("10"), TypeError, r"AutoClip: percentile must be"),
    (lambda a: O.AutoClip(10, 0), ValueError, r"AutoClip: history_size must be an int.*, got 0$"),
    (lambda a: O.AutoClip(10, True), TypeError, r"AutoClip: history_size must be an integer"),
    (lambda a: O.AutoClip(10, 5.0), TypeError, r"AutoClip: history_size must be an integer"),
    (lambda a: O.AGC(NAN), ValueError, r"AGC: clip_factor must be .* > 0"),
    (lambda a: O.AGC(0), ValueError, r"AGC: clip_factor must be"),
    (lambda a: O.AGC(INF), ValueError, r"AGC: clip_factor must be"),
    (lambda a: O.AGC(0.01, eps=0), ValueError, r"AGC: eps must be .* > 0"),
    (lambda a: O.AGC(0.01, eps=NAN), ValueError, r"AGC: eps must be"),
    (lambda a: O.AGC(0.01, eps="1e-3"), TypeError, r"AGC: eps must be"),
]


@pytest.mark.parametrize(("call", "exc", "match"), BAD_CLIP, ids=[str(i) for i in
                                                                 range(len(BAD_CLIP))])  # fmt: skip
def test_bad_clip_arguments_leave_the_gradients_alone(call, exc, match):
    a = arena_with_grads()
    g = a.grad.copy()
    with pytest.raises(exc, match=match):
        call(a)
    np.testing.assert_array_equal(a.grad, g)


@pytest.mark.parametrize(
    ("name", "call"),
    [
        ("clip_grad_norm", lambda p: O.clip_grad_norm(p, 1.0)),
        ("clip_grad_value", lambda p: O.clip_grad_value(p, 1.0)),
        ("grad_norms", lambda p: O.grad_norms(p)),
        ("tensor_grad_norms", lambda p: O.tensor_grad_norms(p)),
        ("AutoClip", lambda p: O.AutoClip()(p)),
        ("AGC", lambda p: O.AGC()(p)),
    ],
)
def test_clip_params_must_be_an_arena_or_a_model(name, call):
    for bad in ([np.zeros(3)], None, np.zeros(3), nn.Sequential):
        with pytest.raises(TypeError, match=rf"{name}: params must be a model's parameter arena"):
            call(bad)
    m = model()
    m.parameters().grad[...] = 1.0
    call(m)  # a model is accepted


def test_agc_with_a_huge_clip_factor_clips_nothing_and_does_not_overflow():
    # before: "overflow encountered in multiply" (clip_factor * ||W|| beyond the double range)
    a = arena_with_grads()
    g = a.grad.copy()
    O.AGC(clip_factor=1.7e308)(a)
    np.testing.assert_array_equal(a.grad, g)


def test_numpy_scalar_clip_arguments_give_identical_gradients():
    cases = [
        (lambda a: O.clip_grad_norm(a, np.float32(0.3), np.float64(2)), lambda a: O.clip_grad_norm(
            a, float(np.float32(0.3)), 2.0)),
        (lambda a: O.clip_grad_norm(a, np.int64(1), np.float32(np.inf), np.bool_(False)),
         lambda a: O.clip_grad_norm(a, 1.0, math.inf)),
        (lambda a: O.clip_grad_value(a, np.float32(0.2)),
         lambda a: O.clip_grad_value(a, float(np.float32(0.2)))),
        (lambda a: O.AGC(np.float32(0.05), np.float32(1e-3))(a),
         lambda a: O.AGC(float(np.float32(0.05)), float(np.float32(1e-3)))(a)),
        (lambda a: O.AutoClip(np.float32(50), np.int64(3))(a), lambda a: O.AutoClip(50.0, 3)(a)),
    ]  # fmt: skip
    for f, g in cases:
        a, b = arena_with_grads(), arena_with_grads()
        assert f(a) == g(b)
        np.testing.assert_array_equal(a.grad, b.grad)


# ---------------------------------------------------------------------- state_dict / load


def trained_adam():
    a = arena_with_grads(zero_bias=False)
    opt = O.Adam(a, lr=0.01, amsgrad=True)
    opt.step()
    return a, opt


def _frozen_copy(opt):
    return (opt.lr, dict(opt.hyper), opt.initial_lr, opt.steps.copy(),
            {k: v.copy() for k, v in opt.state.items()})  # fmt: skip


def _same(x, y):
    assert x[:3] == y[:3]
    np.testing.assert_array_equal(x[3], y[3])
    assert x[4].keys() == y[4].keys()
    for k in x[4]:
        np.testing.assert_array_equal(x[4][k], y[4][k])


def _with(sd, **changes):
    out = dict(sd)
    out.update(changes)
    return out


def _bad_state_dicts(sd):
    P = len(sd["state"]["exp_avg"])
    st = sd["state"]
    no_steps = {k: v for k, v in sd.items() if k != "steps"}
    yield no_steps, r"state_dict must have the keys .*missing \['steps'\]"
    yield _with(sd, extra=1), r"state_dict must have the keys .*unknown 'extra'"
    yield (
        _with(sd, layout=3),
        r"state_dict layout does not match the parameters: expected .*got int \(3\)",
    )
    yield _with(sd, layout=[["a", "b"]]), r"state_dict layout does not match"
    yield _with(sd, hyper=[1]), r"state_dict\['hyper'\] must be a dict, got list"
    no_lr = {k: v for k, v in sd["hyper"].items() if k != "lr"}
    yield _with(sd, hyper=no_lr), r"state_dict\['hyper'\] has no 'lr'"
    yield _with(sd, hyper=dict(sd["hyper"], lr=NAN)), r"state_dict\['hyper'\]: Adam: lr must be"
    eps0 = dict(sd["hyper"], eps=0.0)
    yield _with(sd, hyper=eps0), r"state_dict\['hyper'\]: Adam: eps must be .* > 0"
    yield _with(sd, hyper=dict(sd["hyper"], eps="x")), r"state_dict\['hyper'\]: Adam: eps must be"
    yield _with(sd, hyper=dict(sd["hyper"], foo=1)), r"state_dict\['hyper'\]: .*'foo'"
    yield _with(sd, initial_lr=NAN), r"state_dict\['initial_lr'\] must be a finite real number"
    yield _with(sd, initial_lr="0.1"), r"state_dict\['initial_lr'\] must be"
    yield _with(sd, state=[1]), r"state_dict\['state'\] must be a dict, got list"
    yield (
        _with(sd, state=dict(st, exp_avg=list(st["exp_avg"]))),
        r"state 'exp_avg' must be .*got list",
    )
    f32 = dict(st, exp_avg=st["exp_avg"].astype(F32))
    yield _with(sd, state=f32), rf"state 'exp_avg' must be \[{P}\] float64, got \[{P}\] float32"
    short = dict(st, exp_avg=st["exp_avg"][:-1])
    yield _with(sd, state=short), rf"state 'exp_avg' must be \[{P}\] float64, got \[{P - 1}\]"
    nan = st["exp_avg"].copy()
    nan[3] = np.nan
    yield _with(sd, state=dict(st, exp_avg=nan)), r"state 'exp_avg' must be finite, got 1 NaN/inf"
    neg = st["exp_avg_sq"].copy()
    neg[0] = -1.0
    yield (
        _with(sd, state=dict(st, exp_avg_sq=neg)),
        r"state 'exp_avg_sq' \(a sum of squares\) must be >= 0",
    )
    yield _with(sd, steps=sd["steps"].astype(F64)), r"steps must be \[\d+\] integers, got .*float64"
    yield _with(sd, steps=list(sd["steps"])), r"steps must be \[\d+\] integers, got list"
    yield _with(sd, steps=sd["steps"] - 5), r"steps must be >= 0, got -4"
    yield _with(sd, dtype=3), r"state_dict dtype 3 does not match"
    yield _with(sd, type="SGD"), r"state_dict is for 'SGD', not Adam"  # fmt: skip


def test_optimizer_load_state_dict_rejects_every_defect_and_changes_nothing():
    _, src = trained_adam()
    sd = src.state_dict()
    _, dst = trained_adam()
    dst.lr = 0.5
    before = _frozen_copy(dst)
    n = 0
    for bad, match in _bad_state_dicts(sd):
        with pytest.raises(ValueError, match=r"Adam\.load_state_dict: " + match):
            dst.load_state_dict(bad)
        _same(_frozen_copy(dst), before)
        n += 1
    assert n == 23
    with pytest.raises(TypeError, match=r"Adam\.load_state_dict: state_dict must be a dict, got"):
        dst.load_state_dict([("type", "Adam")])
    dst.load_state_dict(sd)  # the good one still loads
    assert dst.lr == 0.01 and dst.hyper == src.hyper


def test_schedule_state_dict_round_trip_and_rejects_defects():
    opt = sgd(1.0)
    s = O.CosineAnnealingLR(opt, 10, eta_min=0.01, warmup_epochs=2)
    for _ in range(4):
        s.step()
    sd = s.state_dict()
    t = O.CosineAnnealingLR(sgd(1.0), 10)
    before = t.state_dict()
    bad = [
        ({**sd, "eta_min": NAN}, r"state_dict\['eta_min'\]: eta_min must be a finite real"),
        ({**sd, "warmup_epochs": 10}, r"state_dict\['warmup_epochs'\]: warmup_epochs must be"),
        ({**sd, "last_epoch": -1}, r"state_dict\['last_epoch'\]: last_epoch must be .* >= 0"),
        ({**sd, "last_epoch": 2.0}, r"state_dict\['last_epoch'\]: last_epoch must be an integer"),
        ({**sd, "base_lr": "1"}, r"state_dict\['base_lr'\]"),
        ({**sd, "gamma": 0.5}, r"state_dict must have the keys .*unknown 'gamma'"),
        (
            {k: v for k, v in sd.items() if k != "T_max"},
            r"state_dict must have the keys .*, got missing \['T_max'\]",
        ),
    ]
    for d, match in bad:
        with pytest.raises(ValueError, match=r"CosineAnnealingLR\.load_state_dict: " + match):
            t.load_state_dict(d)
        assert t.state_dict() == before
    with pytest.raises(TypeError, match=r"CosineAnnealingLR\.load_state_dict: state_dict must"):
        t.load_state_dict(None)
    t.load_state_dict(sd)
    assert t.state_dict() == sd
    assert t.step() == s.step()

    p = O.ReduceLROnPlateau(sgd())
    p.step(1.0)
    psd = p.state_dict()
    q = O.ReduceLROnPlateau(sgd())
    for d, match in [
        ({**psd, "best": NAN}, r"state_dict\['best'\]: best must be a real number"),
        ({**psd, "mode": "mean"}, r"state_dict\['mode'\]: mode must be one of 'min', 'max'"),
        ({**psd, "factor": 2.0}, r"state_dict\['factor'\]"),
        ({**psd, "num_bad_epochs": -1}, r"state_dict\['num_bad_epochs'\]"),
    ]:
        with pytest.raises(ValueError, match=r"ReduceLROnPlateau\.load_state_dict: " + match):
            q.load_state_dict(d)
    q.load_state_dict(psd)
    assert q.state_dict() == psd
    r = O.StepLR(sgd(), 3)
    with pytest.raises(ValueError, match=r"StepLR\.load_state_dict: state_dict\['gamma'\]"):
        r.load_state_dict({**r.state_dict(), "gamma": -1.0})
