"""Optimizers, clipping and schedules against PyTorch (the oracle) in float64.

Several steps of every optimizer and variant (weight decay coupled and decoupled, momentum,
nesterov, dampening, centered, amsgrad, lr_decay, initial accumulator), with an all-zero
gradient step and a frozen tensor (torch: ``.grad = None``), must agree with ``torch.optim``
to ~1e-10 relative; so must ``clip_grad_norm_`` (2 and inf), ``clip_grad_value_`` and the
learning-rate schedules. Runs once per available backend (the `each_backend` fixture).
"""

import math
import warnings

import numpy as np
import pytest

import gradcore as gc
from gradcore import nn

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.usefixtures("each_backend")  # every backend against the oracle

RTOL = 1e-10


def model64(seed=0):
    return nn.Sequential(
        [
            nn.Dense(5, 7, "tanh", dtype=np.float64, seed=seed),
            nn.LayerNorm(7, dtype=np.float64),
            nn.Dense(7, 3, "linear", dtype=np.float64, seed=seed + 1),
        ]
    )


def torch_params(arena):
    return [torch.tensor(arena.param(s.name).copy(), requires_grad=True) for s in arena.segments]


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


def set_grads(arena, tp, rng, scale):
    for s, t in zip(arena.segments, tp, strict=True):
        g = rng.standard_normal(s.shape) * scale
        arena.grad_of(s.name)[...] = g
        t.grad = torch.tensor(g)


@pytest.mark.parametrize("norm_type", [2.0, math.inf])
@pytest.mark.parametrize("max_norm", [1e-3, 0.5, 1e3])
def test_clip_grad_norm_matches_torch(norm_type, max_norm):
    arena = model64().parameters()
    tp = torch_params(arena)
    set_grads(arena, tp, np.random.default_rng(3), 2.0)
    total = gc.clip_grad_norm(arena, max_norm, norm_type=norm_type)
    ttotal = torch.nn.utils.clip_grad_norm_(tp, max_norm, norm_type=norm_type)
    assert total == pytest.approx(float(ttotal), rel=RTOL)
    for s, t in zip(arena.segments, tp, strict=True):
        np.testing.assert_allclose(arena.grad_of(s.name), t.grad.numpy(), rtol=RTOL, atol=0)
        # the per-tensor norms come for free, for the monitor
        want = torch.linalg.vector_norm(
            t.grad / min(max_norm / (float(ttotal) + 1e-6), 1.0), norm_type
        )
        assert arena.grad_norms[s.index] == pytest.approx(float(want), rel=1e-9)
    assert arena.total_grad_norm == total


def test_clip_grad_norm_nonfinite_like_torch():
    arena = model64().parameters()
    tp = torch_params(arena)
    set_grads(arena, tp, np.random.default_rng(4), 1.0)
    name = arena.segments[2].name
    arena.grad_of(name).flat[3] = np.nan
    tp[2].grad.view(-1)[3] = float("nan")
    with pytest.raises(gc.optim.NonFiniteGradientError, match=rf"{name} \(1 non-finite\)"):
        gc.clip_grad_norm(arena, 1.0, error_if_nonfinite=True)
    with pytest.raises(RuntimeError):
        torch.nn.utils.clip_grad_norm_(tp, 1.0, error_if_nonfinite=True)
    total = gc.clip_grad_norm(arena, 1.0)
    ttotal = torch.nn.utils.clip_grad_norm_(tp, 1.0)
    assert math.isnan(total) and math.isnan(float(ttotal))
    assert np.isnan(arena.grad).all() and all(torch.isnan(t.grad).all() for t in tp)


def test_clip_grad_value_matches_torch():
    arena = model64().parameters()
    tp = torch_params(arena)
    set_grads(arena, tp, np.random.default_rng(5), 3.0)
    gc.clip_grad_value(arena, 0.7)
    torch.nn.utils.clip_grad_value_(tp, 0.7)
    for s, t in zip(arena.segments, tp, strict=True):
        np.testing.assert_array_equal(arena.grad_of(s.name), t.grad.numpy())


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


def test_cosine_matches_torch():
    _run_schedule(
        lambda o: gc.optim.CosineAnnealingLR(o, T_max=10, eta_min=1e-3),
        lambda o: torch.optim.lr_scheduler.CosineAnnealingLR(o, T_max=10, eta_min=1e-3),
        10,
    )


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
