"""Keras-style per-tensor gradient clipping (``clipnorm``): gc.optim.clip_grad_norm_per_tensor.

Reference semantics: ``tf.clip_by_norm`` applied to every variable's gradient, which is what
Keras' ``optimizer(clipnorm=c)`` does: ``g * c / max(||g||, c)``.
"""

import functools
import math

import numpy as np
import pytest

import gradcore as gc
from gradcore import nn

clip_pt = gc.optim.clip_grad_norm_per_tensor


def model(dtype=np.float64, seed=0):
    return nn.Sequential(
        [
            nn.Dense(4, 6, "relu", dtype=dtype, seed=seed),
            nn.BatchNorm(6, dtype=dtype),
            nn.Dense(6, 2, "linear", dtype=dtype, seed=seed + 1),
        ]
    )


def keras_clipnorm(g: np.ndarray, c: float) -> np.ndarray:
    """keras.ops.clip_by_norm / tf.clip_by_norm, written out."""
    n = np.sqrt(np.sum(np.square(g, dtype=np.float64)))
    return g * c / max(n, c)


def grads_of(arena):
    return {s.name: arena.grad_of(s.name).copy() for s in arena.segments}


def test_each_tensor_clipped_by_its_own_norm_as_keras_clipnorm(rng):
    arena = model().parameters()
    # one tensor far above the threshold, one just above, the rest below
    arena.grad[...] = rng.standard_normal(arena.size) * 0.05
    arena.grad_of("0.Dense.W")[...] *= 400.0
    arena.grad_of("2.Dense.b")[...] = [0.8, 0.7]  # norm 1.063: clipped to 1
    before = grads_of(arena)
    norms = {k: float(np.linalg.norm(v)) for k, v in before.items()}
    total = clip_pt(arena, 1.0)
    assert total == pytest.approx(math.sqrt(sum(n * n for n in norms.values())), rel=1e-12)
    for s in arena.segments:
        want = keras_clipnorm(before[s.name], 1.0)
        np.testing.assert_allclose(arena.grad_of(s.name), want, rtol=1e-13, atol=0)
        after = np.linalg.norm(arena.grad_of(s.name))
        if norms[s.name] > 1.0:
            assert after == pytest.approx(1.0, rel=1e-12)  # no 1e-6 in the denominator
        else:
            np.testing.assert_array_equal(arena.grad_of(s.name), before[s.name])  # untouched
    np.testing.assert_allclose(arena.grad_norms, [norms[s.name] for s in arena.segments])
    assert math.isnan(arena.clip_coef)  # several factors: no single coefficient


def test_differs_from_global_clipping(rng):
    """Global clipping shrinks a small tensor because a large one is large; per-tensor does not."""
    m1, m2 = model(), model()
    a1, a2 = m1.parameters(), m2.parameters()
    g = rng.standard_normal(a1.size) * 0.01
    a1.grad[...] = g
    a1.grad_of("0.Dense.W")[...] *= 1000.0
    a2.grad[...] = a1.grad
    small = a1.grad_of("2.Dense.b").copy()
    clip_pt(a1, 1.0)
    gc.clip_grad_norm(a2, 1.0)
    np.testing.assert_array_equal(a1.grad_of("2.Dense.b"), small)
    assert np.linalg.norm(a2.grad_of("2.Dense.b")) < 0.1 * np.linalg.norm(small)
    assert np.linalg.norm(a2.grad) == pytest.approx(1.0, rel=1e-5)
    assert np.linalg.norm(a1.grad) > 1.0  # the sum of clipped tensors may exceed max_norm


def test_nothing_clipped_leaves_everything_bit_identical_and_coef_one(rng):
    arena = model().parameters()
    arena.grad[...] = rng.standard_normal(arena.size) * 1e-3
    before = arena.grad.copy()
    clip_pt(arena, 1.0)
    np.testing.assert_array_equal(arena.grad, before)
    assert arena.clip_coef == 1.0


def test_zero_gradients_stay_zero():
    arena = model().parameters()
    arena.zero_grad()
    assert clip_pt(arena, 1.0) == 0.0
    assert not arena.grad.any() and np.all(np.isfinite(arena.grad))
    assert arena.clip_coef == 1.0


def test_frozen_tensor_is_neither_measured_nor_scaled(rng):
    m = model()
    arena = m.parameters()
    m.layers[0].freeze("W")
    arena.grad[...] = rng.standard_normal(arena.size) * 10.0
    frozen = arena.grad_of("0.Dense.W").copy()
    total = clip_pt(arena, 0.5)
    np.testing.assert_array_equal(arena.grad_of("0.Dense.W"), frozen)
    assert math.isnan(arena.grad_norms[arena["0.Dense.W"].index])
    live = [s for s in arena.segments if s.requires_grad]
    assert total == pytest.approx(
        math.sqrt(sum(float(arena.grad_norms[s.index]) ** 2 for s in live)), rel=1e-12
    )
    for s in live:
        assert np.linalg.norm(arena.grad_of(s.name)) <= 0.5 * (1 + 1e-12)


def test_nonfinite_tensor_follows_tf_clip_by_norm_and_others_are_clipped(rng):
    arena = model().parameters()
    arena.grad[...] = rng.standard_normal(arena.size) * 10.0
    arena.grad_of("0.Dense.b")[0] = np.nan
    arena.grad_of("2.Dense.W")[0, 0] = np.inf
    with np.errstate(invalid="ignore"):
        total = clip_pt(arena, 1.0)
    assert math.isnan(total)
    assert np.isnan(arena.grad_of("0.Dense.b")).all()  # NaN norm -> NaN coefficient
    w = arena.grad_of("2.Dense.W")  # inf norm -> coefficient 0: finite -> 0, inf -> NaN
    assert np.isnan(w[0, 0]) and not w.ravel()[1:].any()
    assert np.linalg.norm(arena.grad_of("1.BatchNorm.gamma")) == pytest.approx(1.0, rel=1e-12)


def test_error_if_nonfinite_names_the_tensor_and_scales_nothing(rng):
    arena = model().parameters()
    arena.grad[...] = rng.standard_normal(arena.size) * 10.0
    arena.grad_of("1.BatchNorm.beta")[2] = np.inf
    before = arena.grad.copy()
    with pytest.raises(gc.optim.NonFiniteGradientError, match=r"1\.BatchNorm\.beta \(1 non"):
        clip_pt(arena, 1.0, error_if_nonfinite=True)
    np.testing.assert_array_equal(arena.grad, before)


def test_arguments_are_checked():
    arena = model().parameters()
    with pytest.raises(ValueError, match=r"clip_grad_norm_per_tensor: max_norm must be .* > 0"):
        clip_pt(arena, 0.0)
    with pytest.raises(TypeError, match=r"clip_grad_norm_per_tensor: max_norm"):
        clip_pt(arena, "1")
    with pytest.raises(TypeError, match=r"clip_grad_norm_per_tensor"):
        clip_pt([1, 2], 1.0)
    with pytest.raises(TypeError, match=r"error_if_nonfinite"):
        clip_pt(arena, 1.0, error_if_nonfinite=1)


def test_float32_and_fit_accepts_it_as_clip(rng):
    m = model(np.float32)
    X = rng.standard_normal((32, 4)).astype(np.float32)
    y = rng.integers(0, 2, 32)
    hist = m.fit(
        X, y, loss="cross_entropy", epochs=2, batch_size=8, verbose=False,
        clip=functools.partial(clip_pt, max_norm=0.1),
    )  # fmt: skip
    assert np.all(np.isfinite(hist["loss"]))
    for s in m.parameters().segments:
        assert np.linalg.norm(m.parameters().grad_of(s.name)) <= 0.1 * (1 + 1e-5)


def test_matches_torch_clip_grad_norm_applied_to_each_tensor(rng):
    torch = pytest.importorskip("torch")
    arena = model().parameters()
    arena.grad[...] = rng.standard_normal(arena.size) * 2.0
    ts = []
    for s in arena.segments:
        p = torch.zeros(s.shape, dtype=torch.float64, requires_grad=True)
        p.grad = torch.tensor(arena.grad_of(s.name).copy())
        ts.append(p)
    clip_pt(arena, 1.0)
    for s, p in zip(arena.segments, ts, strict=True):
        torch.nn.utils.clip_grad_norm_([p], 1.0)  # torch's eps 1e-6: agreement to ~1e-6
        np.testing.assert_allclose(arena.grad_of(s.name), p.grad.numpy(), rtol=2e-6)
