"""gradcore-specific optimizer behaviour: flat state, runs, frozen tensors, state_dict,
adaptive clipping, argument errors. (Agreement with torch: test_torch_oracle_optim.py.)"""

import math

import numpy as np
import pytest

import gradcore as gc
from gradcore import nn

F64 = np.float64


def model(dtype=F64, seed=0):
    return nn.Sequential(
        [
            nn.Dense(4, 6, "relu", dtype=dtype, seed=seed),
            nn.BatchNorm(6, dtype=dtype),
            nn.Dense(6, 2, "linear", dtype=dtype, seed=seed + 1),
        ]
    )


def fill_grads(arena, rng, scale=1.0):
    arena.grad[...] = rng.standard_normal(arena.size) * scale


def test_one_run_when_nothing_frozen_and_runs_split_by_step_count(rng):
    m = model()
    arena = m.parameters()
    opt = gc.optim.Adam(arena, lr=0.1)
    assert opt.runs() == [(0, arena.size, 0)]
    m.layers[1].freeze("gamma")
    fill_grads(arena, rng)
    opt.step()
    seg = arena["1.BatchNorm.gamma"]
    assert opt.steps[seg.index] == 0 and opt.steps.sum() == len(arena) - 1
    m.layers[1].unfreeze("gamma")
    runs = opt.runs()  # gamma is one step behind: its own run with its own bias correction
    assert (seg.offset, seg.stop, 0) in runs and len(runs) == 3
    before = arena.param(seg.name).copy()
    opt.step()
    assert not np.array_equal(arena.param(seg.name), before)
    assert opt.steps[seg.index] == 1


def test_frozen_tensor_is_untouched_by_step_and_clipping(rng):
    m = model()
    arena = m.parameters()
    m.layers[0].freeze("W")
    fill_grads(arena, rng, 10.0)
    w = arena.param("0.Dense.W").copy()
    gW = arena.grad_of("0.Dense.W").copy()
    gc.clip_grad_norm(arena, 0.1)
    gc.clip_grad_value(arena, 1e-3)
    np.testing.assert_array_equal(arena.grad_of("0.Dense.W"), gW)
    assert math.isnan(arena.grad_norms[arena["0.Dense.W"].index])
    for opt in (gc.optim.SGD(arena, lr=1.0, weight_decay=0.1), gc.optim.AdamW(arena)):
        opt.step()
    np.testing.assert_array_equal(arena.param("0.Dense.W"), w)


def test_sgd_by_hand():
    m = nn.Dense(1, 1, "linear", dtype=F64, init="zeros")
    arena = m.parameters()
    arena.data[...] = [2.0, 1.0]  # W, b
    opt = gc.optim.SGD(arena, lr=0.5, momentum=0.5, weight_decay=0.1)
    arena.grad[...] = [1.0, -1.0]
    opt.step()  # d = g + 0.1 p = [1.2, -0.9]; buf = d; p -= 0.5 d
    np.testing.assert_allclose(arena.data, [1.4, 1.45])
    opt.step()  # d = [1.14, -0.855]; buf = 0.5 [1.2, -0.9] + d = [1.74, -1.305]
    np.testing.assert_allclose(arena.data, [1.4 - 0.87, 1.45 + 0.6525])


def test_adam_first_step_moves_by_lr():
    m = nn.Dense(2, 1, "linear", dtype=F64, init="ones")
    arena = m.parameters()
    arena.grad[...] = [3.0, -0.01, 100.0]
    gc.optim.Adam(arena, lr=0.01, eps=np.finfo(F64).tiny).step()  # (eps=0 is refused)
    # bias-corrected first Adam step is lr * sign(g)
    np.testing.assert_allclose(arena.data, [0.99, 1.01, -0.01], rtol=1e-12)


def test_state_dict_round_trip_and_resume_is_exact(rng):
    m1, m2 = model(seed=1), model(seed=1)
    a1, a2 = m1.parameters(), m2.parameters()
    o1 = gc.optim.Adam(a1, lr=0.01, amsgrad=True, weight_decay=0.01)
    grads = [rng.standard_normal(a1.size) for _ in range(6)]
    for g in grads[:3]:
        a1.grad[...] = g
        o1.step()
    a2.data[...] = a1.data
    o2 = gc.optim.Adam(a2, lr=1.0)
    o2.load_state_dict(o1.state_dict())
    assert o2.lr == 0.01 and o2.hyper == o1.hyper
    for g in grads[3:]:
        for a, o in ((a1, o1), (a2, o2)):
            a.grad[...] = g
            o.step()
    np.testing.assert_array_equal(a1.data, a2.data)
    for k in o1.state:
        np.testing.assert_array_equal(o1.state[k], o2.state[k])


def test_load_state_dict_rejects_mismatches():
    a = model().parameters()
    sd = gc.optim.Adam(a).state_dict()
    with pytest.raises(ValueError, match="is for 'Adam', not SGD"):
        gc.optim.SGD(a).load_state_dict(sd)
    other = nn.Sequential([nn.Dense(4, 5, dtype=F64)]).parameters()
    with pytest.raises(ValueError, match="layout does not match"):
        gc.optim.Adam(other).load_state_dict(sd)
    bad = dict(sd, state={"exp_avg": np.zeros(3), "exp_avg_sq": np.zeros(3)})
    with pytest.raises(ValueError, match=r"state 'exp_avg' must be \[\d+\] float64"):
        gc.optim.Adam(a).load_state_dict(bad)
    bad = dict(sd, state={"exp_avg": sd["state"]["exp_avg"]})
    with pytest.raises(ValueError, match="expected"):
        gc.optim.Adam(a).load_state_dict(bad)
    with pytest.raises(ValueError, match=r"dtype 'float64' does not match"):
        gc.optim.Adam(model(dtype=np.float32).parameters()).load_state_dict(sd)


@pytest.mark.parametrize(
    ("cls", "kw", "match"),
    [
        (gc.optim.SGD, dict(lr=-1), r"SGD: lr must be a finite real number >= 0, got -1\.0"),
        (gc.optim.SGD, dict(lr=0.1, nesterov=True), "SGD: nesterov must be False unless"),
        (gc.optim.SGD, dict(lr=0.1, momentum=-0.5), "SGD: momentum must be .* >= 0"),
        (gc.optim.Adam, dict(betas=(0.9, 1.0)), r"Adam: betas\[1\] must be .* in \[0, 1\)"),
        (gc.optim.Adam, dict(betas=(0.9,)), r"Adam: betas must be a tuple .*got 1 values"),
        (gc.optim.Adam, dict(eps=-1e-8), "Adam: eps must be a finite real number > 0"),
        (gc.optim.AdaGrad, dict(lr_decay=-1), "AdaGrad: lr_decay must be .* >= 0"),
        (gc.optim.RMSprop, dict(lr=float("nan")), "RMSprop: lr must be .*, got nan"),
    ],
)
def test_bad_hyperparameters(cls, kw, match):
    with pytest.raises(ValueError, match=match):
        cls(model().parameters(), **kw)


def test_params_must_be_an_arena_or_model():
    with pytest.raises(TypeError, match=r"model\.parameters"):
        gc.optim.Adam([np.zeros(3)])
    m = model()
    assert gc.optim.Adam(m).params is m.parameters()  # a model is accepted


def test_step_detects_detached_parameter():
    m = model()
    opt = gc.optim.SGD(m.parameters(), lr=0.1)
    m.layers[0].params["W"] = np.zeros((4, 6))
    with pytest.raises(RuntimeError, match="replaced by an array outside"):
        opt.step()


def test_clip_grad_norm_returns_preclip_norm_and_stores_per_tensor_norms(rng):
    arena = model().parameters()
    fill_grads(arena, rng, 3.0)
    per = [np.linalg.norm(arena.grad_of(s.name)) for s in arena.segments]
    total = gc.clip_grad_norm(arena, 1.0)
    assert total == pytest.approx(np.linalg.norm(per), rel=1e-12)
    np.testing.assert_allclose(arena.grad_norms, per, rtol=1e-12)
    assert np.linalg.norm(arena.grad) == pytest.approx(1.0, rel=1e-5)
    assert gc.optim.grad_norms(arena) == pytest.approx(1.0, rel=1e-5)
    with pytest.raises(ValueError, match=r"norm_type must be 2\.0 or inf"):
        gc.clip_grad_norm(arena, 1.0, norm_type=1)
    with pytest.raises(ValueError, match=r"clip_grad_norm: max_norm must be .* > 0"):
        gc.clip_grad_norm(arena, 0.0)
    with pytest.raises(ValueError, match=r"clip_grad_value: clip_value must be .* >= 0"):
        gc.clip_grad_value(arena, -1.0)


def test_autoclip_clips_at_the_percentile_of_history(rng):
    arena = model().parameters()
    clip = gc.optim.AutoClip(percentile=50)
    norms = []
    for scale in (1.0, 2.0, 4.0, 8.0):
        fill_grads(arena, rng, scale)
        norms.append(np.linalg.norm(arena.grad))
        assert clip(arena) == pytest.approx(norms[-1], rel=1e-12)
        assert clip.last_threshold == pytest.approx(np.percentile(norms, 50), rel=1e-12)
        after = np.linalg.norm(arena.grad)
        assert after == pytest.approx(min(norms[-1], clip.last_threshold), rel=1e-5)
    assert len(clip.history) == 4
    with pytest.raises(ValueError, match="percentile"):
        gc.optim.AutoClip(0)


def test_agc_limits_unitwise_ratio(rng):
    m = model()
    arena = m.parameters()
    fill_grads(arena, rng, 100.0)
    gc.optim.AGC(clip_factor=0.05, eps=1e-3)(arena)
    W, gW = arena.param("0.Dense.W"), arena.grad_of("0.Dense.W")
    ratio = np.linalg.norm(gW, axis=0) / np.maximum(np.linalg.norm(W, axis=0), 1e-3)
    np.testing.assert_array_less(ratio, 0.05 * (1 + 1e-9))
    assert ratio.max() == pytest.approx(0.05, rel=1e-6)  # clipped units sit at the bound
    b, gb = arena.param("0.Dense.b"), arena.grad_of("0.Dense.b")  # a 1-D tensor is one unit
    assert np.linalg.norm(gb) <= 0.05 * max(np.linalg.norm(b), 1e-3) * (1 + 1e-9)
    small = model()
    a2 = small.parameters()
    a2.grad[...] = 1e-9
    before = a2.grad.copy()
    gc.optim.AGC(clip_factor=0.05)(a2)
    np.testing.assert_array_equal(a2.grad, before)  # small gradients are left alone


def test_schedules_validate_and_drive_lr():
    opt = gc.optim.SGD(model().parameters(), lr=1.0)
    with pytest.raises(ValueError, match="step_size"):
        gc.optim.StepLR(opt, step_size=0)
    with pytest.raises(ValueError, match="warmup_epochs"):
        gc.optim.CosineAnnealingLR(opt, T_max=5, warmup_epochs=5)
    with pytest.raises(ValueError, match="factor"):
        gc.optim.ReduceLROnPlateau(opt, factor=1.5)
    sched = gc.optim.CosineAnnealingLR(opt, T_max=4)
    lrs = [opt.lr] + [sched.step() for _ in range(6)]
    np.testing.assert_allclose(
        lrs, [1.0, 0.8535533905932737, 0.5, 0.1464466094067262, 0, 0, 0], atol=1e-15
    )
