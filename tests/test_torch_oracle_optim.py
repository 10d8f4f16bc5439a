"""Optimizers and schedules against PyTorch (the oracle): the reference kernels over 12
steps (float64 and float32, with an all-zero gradient step and a zero-size parameter) and the
optimizers on a model's arena on every backend: several steps of every variant (weight decay
coupled and decoupled, momentum, nesterov, dampening, centered, amsgrad, lr_decay, initial
accumulator), with an all-zero gradient step and a frozen tensor (torch: ``.grad = None``), to
~1e-10 relative; and the learning-rate schedules."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from _tolerances import close, tol
from _torch_oracle import RTOL, model64, torch, torch_params

import gradcore as gc
from gradcore.backends import reference as ref

# --- reference kernels ---------------------------------------------------------------------------


SIZES = (7, 0, 3)  # a zero-size parameter in the middle


STEPS = 12


ZERO_STEP = 5  # this step gets an all-zero gradient


def _gradients(rng, dtype):
    gs = [
        [rng.standard_normal(n).astype(dtype) * (0.5 + k % 3) for n in SIZES] for k in range(STEPS)
    ]
    gs[ZERO_STEP] = [np.zeros(n, dtype) for n in SIZES]
    return gs


def _torch_params(p0s):
    return [torch.nn.Parameter(torch.from_numpy(p.copy())) for p in p0s]


def _compare(ours, theirs, name, rtol, atol):
    theirs = theirs.detach().numpy()
    assert tol("torch_optimizer", ours.dtype) == rtol
    close(ours, theirs, "torch_optimizer", scale=atol / rtol, err_msg=name)


TOL = {dt: (tol("torch_optimizer", dt), a) for dt, a in ((np.float64, 1e-14), (np.float32, 1e-6))}


def _run_optimizer(rng, dtype, make_torch, init_state, our_step, state_names):
    """Drive torch and our kernel side by side; compare params and state after every step.

    ``init_state(p)`` returns our state arrays for one parameter, keyed by torch's state names;
    ``our_step(p, g, state, step)`` updates that parameter (``step`` counts from 1)."""
    p0s = [rng.standard_normal(n).astype(dtype) for n in SIZES]
    grads = _gradients(rng, dtype)
    tparams = _torch_params(p0s)
    opt = make_torch(tparams)
    ours = [p.copy() for p in p0s]
    states = [init_state(p) for p in ours]
    rtol, atol = TOL[dtype]
    for step in range(1, STEPS + 1):
        for tp, g in zip(tparams, grads[step - 1], strict=True):
            tp.grad = torch.from_numpy(g.copy())
        opt.step()
        for k, (p, g) in enumerate(zip(ours, grads[step - 1], strict=True)):
            g_before = g.copy()
            our_step(p, g, states[k], step)
            np.testing.assert_array_equal(g, g_before)
            _compare(p, tparams[k], f"param {k} step {step}", rtol, atol)
            for name in state_names:
                _compare(states[k][name], opt.state[tparams[k]][name], f"{name} {k}", rtol, atol)


DTYPES = [np.float64, np.float32]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(
    "momentum, dampening, nesterov, wd",
    [
        (0.0, 0.0, False, 0.0),
        (0.0, 0.0, False, 0.01),
        (0.9, 0.0, False, 0.0),
        (0.9, 0.3, False, 0.01),
        (0.9, 0.0, True, 0.0),
        (0.5, 0.0, True, 0.01),
    ],
)
def test_sgd_matches_torch(rng, dtype, momentum, dampening, nesterov, wd):
    lr = 0.05

    def step(p, g, s, k):
        ref.sgd_step(p, g, s["momentum_buffer"], lr, momentum, dampening, nesterov, wd, k == 1)

    names = ["momentum_buffer"] if momentum else []
    _run_optimizer(
        rng, dtype,
        lambda ps: torch.optim.SGD(ps, lr=lr, momentum=momentum, dampening=dampening,
                                   nesterov=nesterov, weight_decay=wd, foreach=False),
        lambda p: {"momentum_buffer": np.zeros_like(p)}, step, names,
    )  # fmt: skip


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("centered", [False, True])
@pytest.mark.parametrize("momentum", [0.0, 0.5])
@pytest.mark.parametrize("wd, alpha", [(0.0, 0.99), (0.1, 0.9)])
def test_rmsprop_matches_torch(rng, dtype, centered, momentum, wd, alpha):
    lr, eps = 0.01, 1e-8

    def step(p, g, s, k):
        ref.rmsprop_step(
            p, g, s["square_avg"], s["grad_avg"], s["momentum_buffer"],
            lr, alpha, eps, wd, momentum, centered,
        )  # fmt: skip

    names = ["square_avg"] + ["grad_avg"] * centered + ["momentum_buffer"] * (momentum > 0)
    _run_optimizer(
        rng, dtype,
        lambda ps: torch.optim.RMSprop(ps, lr=lr, alpha=alpha, eps=eps, weight_decay=wd,
                                       momentum=momentum, centered=centered, foreach=False),
        lambda p: {k: np.zeros_like(p) for k in ("square_avg", "grad_avg", "momentum_buffer")},
        step, names,
    )  # fmt: skip


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("lr_decay", [0.0, 0.1])
@pytest.mark.parametrize("init", [0.0, 0.5])
@pytest.mark.parametrize("wd", [0.0, 0.1])
def test_adagrad_matches_torch(rng, dtype, lr_decay, init, wd):
    lr, eps = 0.1, 1e-10

    def step(p, g, s, k):
        ref.adagrad_step(p, g, s["sum"], lr, lr_decay, wd, eps, k)

    _run_optimizer(
        rng, dtype,
        lambda ps: torch.optim.Adagrad(ps, lr=lr, lr_decay=lr_decay, weight_decay=wd,
                                       initial_accumulator_value=init, eps=eps, foreach=False),
        lambda p: {"sum": np.full_like(p, init)}, step, ["sum"],
    )  # fmt: skip


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("decoupled", [False, True])
@pytest.mark.parametrize("amsgrad", [False, True])
@pytest.mark.parametrize("wd", [0.0, 0.1])
def test_adam_adamw_match_torch(rng, dtype, decoupled, amsgrad, wd):
    lr, betas, eps = 0.01, (0.9, 0.999), 1e-8
    cls = torch.optim.AdamW if decoupled else torch.optim.Adam

    def step(p, g, s, k):
        ref.adam_step(
            p, g, s["exp_avg"], s["exp_avg_sq"], s["max_exp_avg_sq"],
            lr, betas[0], betas[1], eps, wd, k, amsgrad, decoupled,
        )  # fmt: skip

    names = ["exp_avg", "exp_avg_sq"] + ["max_exp_avg_sq"] * amsgrad
    _run_optimizer(
        rng, dtype,
        lambda ps: cls(ps, lr=lr, betas=betas, eps=eps, weight_decay=wd, amsgrad=amsgrad,
                       foreach=False),
        lambda p: {k: np.zeros_like(p) for k in ("exp_avg", "exp_avg_sq", "max_exp_avg_sq")},
        step, names,
    )  # fmt: skip


# --- optimizers on the arena (every backend) -----------------------------------------------------


def grads_for(arena, rng, step, scale=1.0):
    if step == 2:  # an all-zero gradient step: weight decay / momentum still act
        return [np.zeros(s.shape) for s in arena.segments]
    return [rng.standard_normal(s.shape) * scale for s in arena.segments]


OPTIMIZERS = [
    ("SGD", dict(lr=0.1)),
    ("SGD", dict(lr=0.1, momentum=0.9)),
    ("SGD", dict(lr=0.05, momentum=0.9, dampening=0.3, weight_decay=0.01)),
    ("SGD", dict(lr=0.05, momentum=0.8, nesterov=True, weight_decay=0.1)),
    ("RMSprop", dict(lr=0.01)),
    ("RMSprop", dict(lr=0.01, alpha=0.9, eps=1e-6, weight_decay=0.05)),
    ("RMSprop", dict(lr=0.01, centered=True, momentum=0.5)),
    ("RMSprop", dict(lr=0.003, centered=True, weight_decay=0.1)),
    ("Adagrad", dict(lr=0.1)),
    ("Adagrad", dict(lr=0.1, lr_decay=0.05, weight_decay=0.02, initial_accumulator_value=0.3)),
    ("Adam", dict(lr=0.01)),
    ("Adam", dict(lr=0.01, betas=(0.8, 0.95), eps=1e-6, weight_decay=0.05)),
    ("Adam", dict(lr=0.01, amsgrad=True, weight_decay=0.01)),
    ("AdamW", dict(lr=0.01)),
    ("AdamW", dict(lr=0.02, weight_decay=0.1, amsgrad=True)),
]


@pytest.mark.usefixtures("each_backend")  # every backend against the oracle
@pytest.mark.parametrize("frozen", [False, True], ids=["all", "frozen"])
@pytest.mark.parametrize(
    ("name", "kw"), OPTIMIZERS, ids=[f"{n}-{i}" for i, (n, _) in enumerate(OPTIMIZERS)]
)
def test_optimizer_matches_torch(name, kw, frozen):
    model = model64()
    arena = model.parameters()
    if frozen:
        model.layers[1].freeze("gamma")
    tp = torch_params(arena)
    gopt = getattr(gc.optim, name)(arena, **kw)
    topt = getattr(torch.optim, name)(tp, **kw)
    rng = np.random.default_rng(7)
    for step in range(6):
        gs = grads_for(arena, rng, step)
        for s, t, g in zip(arena.segments, tp, gs, strict=True):
            arena.grad_of(s.name)[...] = g
            t.grad = None if not s.requires_grad else torch.tensor(g)
        gopt.step()
        topt.step()
        for s, t in zip(arena.segments, tp, strict=True):
            np.testing.assert_allclose(
                arena.param(s.name),
                t.detach().numpy(),
                rtol=RTOL,
                atol=1e-14,
                err_msg=f"{name} {kw} step {step} tensor {s.name}",
            )
    # the state too, tensor by tensor
    for s, t in zip(arena.segments, tp, strict=True):
        tstate = topt.state.get(t, {})
        if not s.requires_grad:  # never stepped (torch's Adagrad initialises state eagerly)
            assert gopt.steps[s.index] == 0 and int(tstate.get("step", 0)) == 0
        else:
            assert gopt.steps[s.index] == int(tstate.get("step", 6))  # SGD keeps no count
        for k, v in tstate.items():
            if k == "step" or v is None:
                continue
            mine = gopt.state[k][s.offset : s.stop].reshape(s.shape)
            np.testing.assert_allclose(mine, v.numpy(), rtol=RTOL, atol=1e-14, err_msg=k)


# --- schedules (every backend) -------------------------------------------------------------------


def _run_schedule(gsched_fn, tsched_fn, epochs, metrics=None):
    arena = model64().parameters()
    gopt = gc.optim.SGD(arena, lr=0.2)
    topt = torch.optim.SGD(torch_params(arena), lr=0.2)
    gs = gsched_fn(gopt)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch's SequentialLR warns about step(epoch)
        ts = tsched_fn(topt)
    got, want = [gopt.lr], [topt.param_groups[0]["lr"]]
    for e in range(epochs):
        topt.step()  # torch wants optimizer.step() before scheduler.step()
        if metrics is None:
            gs.step()
            ts.step()
        else:
            gs.step(metrics[e])
            ts.step(metrics[e])
        got.append(gopt.lr)
        want.append(topt.param_groups[0]["lr"])
    np.testing.assert_allclose(got, want, rtol=RTOL, atol=1e-15)
    return got


@pytest.mark.usefixtures("each_backend")  # every backend against the oracle
def test_step_and_exponential_lr_match_torch():
    lrs = _run_schedule(
        lambda o: gc.optim.StepLR(o, step_size=3, gamma=0.5),
        lambda o: torch.optim.lr_scheduler.StepLR(o, step_size=3, gamma=0.5),
        10,
    )
    assert lrs[:4] == [0.2, 0.2, 0.2, 0.1]
    _run_schedule(
        lambda o: gc.optim.ExponentialLR(o, gamma=0.9),
        lambda o: torch.optim.lr_scheduler.ExponentialLR(o, gamma=0.9),
        12,
    )


@pytest.mark.usefixtures("each_backend")  # every backend against the oracle
def test_cosine_matches_torch():
    _run_schedule(
        lambda o: gc.optim.CosineAnnealingLR(o, T_max=10, eta_min=1e-3),
        lambda o: torch.optim.lr_scheduler.CosineAnnealingLR(o, T_max=10, eta_min=1e-3),
        10,
    )


@pytest.mark.usefixtures("each_backend")  # every backend against the oracle
def test_cosine_with_warmup_matches_torch_sequential():
    def tsched(o):
        lin = torch.optim.lr_scheduler.LinearLR(o, start_factor=0.25, total_iters=3)
        cos = torch.optim.lr_scheduler.CosineAnnealingLR(o, T_max=9, eta_min=0.01)
        return torch.optim.lr_scheduler.SequentialLR(o, [lin, cos], milestones=[3])

    lrs = _run_schedule(
        lambda o: gc.optim.CosineAnnealingLR(
            o, T_max=12, eta_min=0.01, warmup_epochs=3, warmup_start_factor=0.25
        ),
        tsched,
        12,
    )
    assert lrs[0] == pytest.approx(0.05) and lrs[3] == pytest.approx(0.2)


@pytest.mark.usefixtures("each_backend")  # every backend against the oracle
@pytest.mark.parametrize(
    "kw",
    [
        dict(patience=2),
        dict(patience=1, factor=0.5, cooldown=2, min_lr=0.01),
        dict(mode="max", patience=0, threshold=0.1, threshold_mode="abs"),
        dict(patience=1, threshold_mode="abs", threshold=0.05),
    ],
)
def test_reduce_on_plateau_matches_torch(kw):
    metrics = [1.0, 0.9, 0.95, 0.91, 0.92, 0.93, 0.5, 0.6, 0.6, 0.6, 0.6, 0.6, 0.7, 0.4, 0.45]
    _run_schedule(
        lambda o: gc.optim.ReduceLROnPlateau(o, **kw),
        lambda o: torch.optim.lr_scheduler.ReduceLROnPlateau(o, **kw),
        len(metrics),
        metrics,
    )
