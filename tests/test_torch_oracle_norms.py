"""Gradient clipping against PyTorch (float64): the reference kernels composed as
``clip_grad_norm_`` (norm 2 and inf, non-finite gradients) and ``clip_grad_value_``, and
``gc.clip_grad_norm`` / ``gc.clip_grad_value`` on a model's arena on every backend."""

from __future__ import annotations

import math

import numpy as np
import pytest
from _torch_oracle import RTOL, model64, torch, torch_params

import gradcore as gc
from gradcore.backends import reference as ref

# --- reference kernels ---------------------------------------------------------------------------


def _flat_grads(rng, sizes, specials=()):
    flat = rng.standard_normal(sum(sizes)) * 3.0
    for k, v in specials:
        flat[k] = v
    offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
    return flat, offsets


def _torch_clip(flat, offsets, max_norm, norm_type):
    params = []
    for s in range(len(offsets) - 1):
        p = torch.nn.Parameter(torch.zeros(int(offsets[s + 1] - offsets[s]), dtype=torch.float64))
        p.grad = torch.from_numpy(flat[offsets[s] : offsets[s + 1]].copy())
        params.append(p)
    total = torch.nn.utils.clip_grad_norm_(params, max_norm, norm_type=norm_type)
    return float(total), np.concatenate([p.grad.numpy() for p in params])


def _our_clip(flat, offsets, max_norm, norm_type):
    """clip_grad_norm_ from the kernels: total from one segment pass, then one scale."""
    S = len(offsets) - 1
    values, nonfinite = np.empty(S), np.empty(S, np.int64)
    if norm_type == 2.0:
        ref.segment_sumsq(flat, offsets, values, nonfinite)
        total = math.sqrt(values.sum())
    else:
        ref.segment_absmax(flat, offsets, values, nonfinite)
        total = float(values.max())
    coef = min(max_norm / (total + 1e-6), 1.0)
    ref.scale_(flat, coef)
    return total, flat


@pytest.mark.parametrize("norm_type", [2.0, math.inf])
@pytest.mark.parametrize("max_norm", [0.5, 1e6])
def test_clip_kernels_norm_matches_torch(rng, norm_type, max_norm):
    # torch raises on the inf-norm of an empty tensor, so empty segments only for norm 2
    sizes = [5, 0, 12, 1, 7] if norm_type == 2.0 else [5, 12, 1, 7]
    flat, offsets = _flat_grads(rng, sizes)
    t_total, t_clipped = _torch_clip(flat, offsets, max_norm, norm_type)
    total, clipped = _our_clip(flat.copy(), offsets, max_norm, norm_type)
    assert total == pytest.approx(t_total, rel=1e-13)
    np.testing.assert_allclose(clipped, t_clipped, rtol=1e-13, atol=0)


@pytest.mark.parametrize("norm_type", [2.0, math.inf])
@pytest.mark.parametrize(
    "specials", [[(3, math.inf)], [(3, math.nan)], [(3, math.inf), (9, math.nan)]]
)
def test_clip_kernels_norm_nonfinite_matches_torch(rng, norm_type, specials):
    sizes = [5, 12, 1, 7]
    flat, offsets = _flat_grads(rng, sizes, specials)
    t_total, t_clipped = _torch_clip(flat, offsets, 1.0, norm_type)
    total, clipped = _our_clip(flat.copy(), offsets, 1.0, norm_type)
    assert (math.isnan(total) and math.isnan(t_total)) or total == t_total
    np.testing.assert_array_equal(np.isnan(clipped), np.isnan(t_clipped))
    np.testing.assert_allclose(clipped, t_clipped, rtol=1e-13, atol=0)


def test_clip_kernels_value_matches_torch(rng):
    flat = rng.standard_normal(40) * 3.0
    flat[[1, 2, 3]] = [math.inf, -math.inf, math.nan]
    p = torch.nn.Parameter(torch.zeros(40, dtype=torch.float64))
    p.grad = torch.from_numpy(flat.copy())
    torch.nn.utils.clip_grad_value_([p], 1.5)
    ref.clip_value_(flat, 1.5)
    np.testing.assert_array_equal(flat, p.grad.numpy())


# --- the arena (every backend) -------------------------------------------------------------------


def set_grads(arena, tp, rng, scale):
    for s, t in zip(arena.segments, tp, strict=True):
        g = rng.standard_normal(s.shape) * scale
        arena.grad_of(s.name)[...] = g
        t.grad = torch.tensor(g)


@pytest.mark.usefixtures("each_backend")  # every backend against the oracle
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


@pytest.mark.usefixtures("each_backend")  # every backend against the oracle
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


@pytest.mark.usefixtures("each_backend")  # every backend against the oracle
def test_clip_grad_value_matches_torch():
    arena = model64().parameters()
    tp = torch_params(arena)
    set_grads(arena, tp, np.random.default_rng(5), 3.0)
    gc.clip_grad_value(arena, 0.7)
    torch.nn.utils.clip_grad_value_(tp, 0.7)
    for s, t in zip(arena.segments, tp, strict=True):
        np.testing.assert_array_equal(arena.grad_of(s.name), t.grad.numpy())
