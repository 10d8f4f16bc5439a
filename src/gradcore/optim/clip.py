"""Gradient clipping over the flat arena: global norm, per-tensor norm (Keras' ``clipnorm``),
value, AutoClip and AGC.

One pass of the norms kernel (``segment_sumsq``, or ``segment_absmax`` for the inf-norm) over
the flat gradient buffer gives every tensor's norm, the global norm and the non-finite counts.
The per-tensor norms are kept on the arena (``arena.grad_norms``, ``arena.total_grad_norm``)
so a monitor reads them without another pass over memory. Frozen tensors are neither measured
nor scaled (their entry in ``grad_norms`` is NaN).
"""

from __future__ import annotations

import math
import numbers
import sys
from collections import deque

import numpy as np

from .._args import check_bool, check_int, check_real, describe
from ..backends import get_backend
from ..params import ParameterArena
from .optimizers import _as_arena

__all__ = [
    "AGC",
    "AutoClip",
    "NonFiniteGradientError",
    "clip_grad_norm",
    "clip_grad_norm_per_tensor",
    "clip_grad_value",
    "grad_norms",
    "tensor_grad_norms",
]


class NonFiniteGradientError(RuntimeError):
    """A gradient holds NaN or inf (``clip_grad_norm(..., error_if_nonfinite=True)``)."""


def _norm_type(norm_type, owner: str) -> float:
    """2.0 or inf (the norms the kernels compute), as a Python or NumPy real number."""
    what = "2.0 or inf (the kernels' norms)"
    if isinstance(norm_type, bool | np.bool_) or not isinstance(norm_type, numbers.Real):
        raise TypeError(f"{owner}: norm_type must be {what}, got {describe(norm_type)}")
    try:
        nt = float(norm_type)
    except OverflowError:  # a Python int beyond the float range
        raise ValueError(
            f"{owner}: norm_type must be {what}, got an int too large for a float"
        ) from None
    if nt not in (2.0, math.inf):
        raise ValueError(f"{owner}: norm_type must be {what}, got {nt!r}")
    return nt


def _norms(arena: ParameterArena, nt: float) -> tuple[float, np.ndarray, np.ndarray]:
    """(total, per-tensor norms [S] float64 with NaN for frozen, non-finite counts [S]), from
    one pass of the norms kernel; stores nothing."""
    S = len(arena)
    acc = np.empty(S, np.float64)
    nonfinite = np.empty(S, np.int64)
    be = get_backend()
    if nt == 2.0:
        be.segment_sumsq(arena.grad, arena.offsets, acc, nonfinite)
        with np.errstate(invalid="ignore"):
            norms = np.sqrt(acc)
    else:
        be.segment_absmax(arena.grad, arena.offsets, acc, nonfinite)
        norms = acc
    trainable = arena.trainable
    norms[~trainable] = np.nan
    live = norms[trainable]
    if live.size == 0:
        total = 0.0
    elif nt == 2.0:
        total = float(np.sqrt(np.sum(live * live)))  # torch: norm of the per-tensor norms
    else:
        total = float(np.max(live))
    if nt == math.inf and np.isnan(live).any():
        total = math.nan
    return total, norms, nonfinite


def _measure(arena: ParameterArena, nt: float) -> tuple[float, np.ndarray, np.ndarray]:
    """:func:`_norms`, kept on the arena (``grad_norms``, ``total_grad_norm``, ...) for readers
    such as the gradient monitor; resets ``clip_coef`` (a clip sets it after)."""
    total, norms, nonfinite = _norms(arena, nt)
    arena.grad_norms = norms
    arena.total_grad_norm = total
    arena.grad_nonfinite = nonfinite
    arena.norms_version += 1
    arena.clip_coef = 1.0
    return total, norms, nonfinite


def tensor_grad_norms(params) -> tuple[float, np.ndarray, np.ndarray]:
    """``(total, norms[S], nonfinite[S])``: the global 2-norm of the trainable gradients, every
    tensor's norm (float64, NaN if frozen) and its non-finite count, in one pass, WITHOUT
    storing them on the arena (an observer's measurement: it leaves the arena as it was).
    ``params``: a ParameterArena (``model.parameters()``) or a model (else ``TypeError``)."""
    return _norms(_as_arena(params, "tensor_grad_norms"), 2.0)


def grad_norms(params, norm_type: float = 2.0) -> float:
    """Measure without clipping: returns the global gradient norm of the trainable tensors and
    stores every tensor's norm in ``arena.grad_norms`` (``[S]`` float64, NaN if frozen).
    ``params``: a ParameterArena or a model; ``norm_type``: 2.0 or ``math.inf``."""
    arena = _as_arena(params, "grad_norms")
    return _measure(arena, _norm_type(norm_type, "grad_norms"))[0]


def _scale_trainable(arena: ParameterArena, coef: float) -> None:
    be = get_backend()
    for a, b in arena.trainable_runs():
        be.scale_(arena.grad[a:b], coef)


def clip_grad_norm(
    params, max_norm: float, norm_type: float = 2.0, error_if_nonfinite: bool = False
) -> float:
    """Scale all gradients so their global norm is at most ``max_norm``; return the norm
    measured BEFORE clipping. Semantics of ``torch.nn.utils.clip_grad_norm_``::

        total = || (||g_1||, ..., ||g_S||) ||          (2-norm, or max for norm_type=inf)
        coef  = min(max_norm / (total + 1e-6), 1)
        g_i  *= coef                                    (always; coef = 1 changes nothing)

    Every tensor's norm is stored in ``arena.grad_norms`` (for the monitor). With
    ``error_if_nonfinite=True`` a NaN/inf total raises :class:`NonFiniteGradientError`
    naming the tensors that hold non-finite values; otherwise, as in torch, the non-finite
    coefficient is applied (the gradients become NaN).

    Parameters
    ----------
    params : ParameterArena (``model.parameters()``) or a model.
    max_norm : finite real > 0 (Python or NumPy).
    norm_type : 2.0 or ``math.inf``.
    error_if_nonfinite : bool.
    """
    o = "clip_grad_norm"
    arena = _as_arena(params, o)
    nt = _norm_type(norm_type, o)
    max_norm = check_real("max_norm", max_norm, owner=o, min=0, min_open=True)
    error_if_nonfinite = check_bool("error_if_nonfinite", error_if_nonfinite, owner=o)
    total, _, nonfinite = _measure(arena, nt)
    if error_if_nonfinite and not math.isfinite(total):
        bad = [
            f"{s.name} ({int(nonfinite[s.index])} non-finite)"
            for s in arena.segments
            if s.requires_grad and nonfinite[s.index] > 0
        ]
        raise NonFiniteGradientError(
            f"the total norm of order {norm_type} of the gradients is non-finite ({total}); "
            f"non-finite values in: {', '.join(bad) or '(overflow of the sum)'}. "
            "Set error_if_nonfinite=False to clip anyway."
        )
    coef = min(max_norm / (total + 1e-6), 1.0) if not math.isnan(total) else math.nan
    _scale_trainable(arena, coef)
    arena.clip_coef = coef
    return total


def clip_grad_norm_per_tensor(params, max_norm: float, error_if_nonfinite: bool = False) -> float:
    """Scale each tensor's gradient so that ITS OWN 2-norm is at most ``max_norm`` (Keras'
    ``clipnorm``, ``tf.clip_by_norm`` per variable); return the global norm measured BEFORE
    clipping, so it serves as ``fit(clip=functools.partial(clip_grad_norm_per_tensor,
    max_norm=1.0))``::

        coef_i = max_norm / max(||g_i||, max_norm)     (exactly 1 when ||g_i|| <= max_norm)
        g_i   *= coef_i                                 (only the tensors with coef_i < 1)

    How it differs from :func:`clip_grad_norm` (global, torch's ``clip_grad_norm_``): that
    one scales ALL tensors by one coefficient computed from the norm of the whole gradient, so
    the update keeps its direction and one large tensor shrinks the small ones too. Here every
    tensor is judged alone: a tensor under ``max_norm`` is untouched however large the others
    are, the direction of the whole gradient changes when some tensors are clipped, and the
    global norm after clipping can reach ``max_norm * sqrt(S)`` for ``S`` tensors. No ``1e-6``
    in the denominator (Keras has none): a clipped tensor's norm is ``max_norm`` to rounding.

    The norms come from the same one pass of the norms kernel as :func:`clip_grad_norm`
    (stored in ``arena.grad_norms`` for the monitor); ``arena.clip_coef`` is 1.0 when no
    tensor was scaled and NaN otherwise (per-tensor factors: no single coefficient). Frozen
    tensors are neither measured nor scaled. A tensor whose norm is NaN gets a NaN
    coefficient (its gradient becomes NaN) and one whose norm is inf a coefficient of 0 (its
    finite elements become 0, its infs NaN), as ``tf.clip_by_norm``; other tensors are clipped
    as usual. With ``error_if_nonfinite=True`` a non-finite norm raises
    :class:`NonFiniteGradientError` naming the tensors, before anything is scaled.

    Parameters
    ----------
    params : ParameterArena (``model.parameters()``) or a model.
    max_norm : finite real > 0 (Python or NumPy).
    error_if_nonfinite : bool.
    """
    o = "clip_grad_norm_per_tensor"
    arena = _as_arena(params, o)
    max_norm = check_real("max_norm", max_norm, owner=o, min=0, min_open=True)
    error_if_nonfinite = check_bool("error_if_nonfinite", error_if_nonfinite, owner=o)
    total, norms, nonfinite = _measure(arena, 2.0)
    if error_if_nonfinite and not math.isfinite(total):
        bad = [
            f"{s.name} ({int(nonfinite[s.index])} non-finite)"
            for s in arena.segments
            if s.requires_grad and (nonfinite[s.index] > 0 or not math.isfinite(norms[s.index]))
        ]
        raise NonFiniteGradientError(
            f"{o}: the gradient norm of a tensor is non-finite (global norm {total}); "
            f"non-finite values in: {', '.join(bad) or '(overflow of the sum)'}. "
            "Set error_if_nonfinite=False to clip anyway."
        )
    # np.maximum propagates NaN, so a tensor holding a NaN gets a NaN coefficient (scaled, as
    # tf.clip_by_norm does); frozen tensors (NaN norm too) are skipped by requires_grad below.
    with np.errstate(invalid="ignore", divide="ignore"):
        coefs = max_norm / np.maximum(norms, max_norm)
    be = get_backend()
    scaled = False
    for s in arena.segments:
        if not s.requires_grad or s.size == 0:
            continue
        c = coefs[s.index]
        if c < 1.0 or math.isnan(c):
            be.scale_(arena.grad[s.offset : s.stop], float(c))
            scaled = True
    arena.clip_coef = math.nan if scaled else 1.0
    return total


def clip_grad_value(params, clip_value: float) -> None:
    """Clamp every trainable gradient element into ``[-clip_value, clip_value]`` (semantics of
    ``torch.nn.utils.clip_grad_value_``; NaN stays NaN). ``params``: a ParameterArena or a
    model; ``clip_value``: a finite real >= 0 (Python or NumPy; 0 zeroes the gradients)."""
    o = "clip_grad_value"
    arena = _as_arena(params, o)
    clip_value = check_real("clip_value", clip_value, owner=o, min=0)
    be = get_backend()
    for a, b in arena.trainable_runs():
        be.clip_value_(arena.grad[a:b], clip_value)


class AutoClip:
    """Adaptive global-norm clipping at the ``percentile``-th percentile of the history of
    total gradient norms (Seetharaman et al. 2020, "AutoClip").

    Use as ``fit(..., clip=gc.optim.AutoClip(10))`` or call ``clip(params)`` after backward.
    Each call measures the global norm, appends it to the history (including the current
    norm, as the paper), clips to the percentile of the history and returns the pre-clip norm.

    Parameters
    ----------
    percentile : finite real in (0, 100]. 10 is the paper's recommendation.
    history_size : int >= 1: keep only the last ``history_size`` norms (``None``: all).
    """

    def __init__(self, percentile: float = 10.0, history_size: int | None = None) -> None:
        percentile = check_real(
            "percentile", percentile, owner="AutoClip", min=0, max=100, min_open=True
        )
        if history_size is not None:
            history_size = check_int(
                "history_size", history_size, owner="AutoClip", min=1, max=sys.maxsize
            )
        self.percentile = percentile
        self.history: deque[float] = deque(maxlen=history_size)
        self.last_threshold: float | None = None

    def __call__(self, params) -> float:
        """Clip ``params`` (a ParameterArena or a model); returns the pre-clip global norm."""
        arena = _as_arena(params, "AutoClip")
        total, _, _ = _measure(arena, 2.0)
        if math.isfinite(total):
            self.history.append(total)
        if not self.history:
            return total
        threshold = float(np.percentile(np.fromiter(self.history, float), self.percentile))
        self.last_threshold = threshold
        if total > threshold:
            arena.clip_coef = threshold / (total + 1e-6)
            _scale_trainable(arena, arena.clip_coef)
        return total

    def __repr__(self) -> str:
        return f"AutoClip(percentile={self.percentile}, history={len(self.history)} norms)"


class AGC:
    """Adaptive gradient clipping, unit-wise (Brock et al. 2021, NFNets)::

        G_i <- G_i * clip_factor max(||W_i||, eps) / ||G_i||   where ||G_i|| exceeds that

    A *unit* is one output neuron: a column of a ``[in, out]`` weight (``Dense.W``,
    ``LSTM.Wx/Wh`` columns), and a 1-D tensor (biases, norms' gamma/beta) is one unit, as in
    timm's ``adaptive_clip_grad``. Returns the global gradient norm measured before clipping
    (and stores the per-tensor norms on the arena). Runs in NumPy per tensor (not a kernel).

    Parameters
    ----------
    clip_factor : finite real > 0 (0.01 in the paper for batch size ~4096; larger for small
        batches).
    eps : finite real > 0, floor on the parameter norm (so zero-initialised units can move).
    """

    def __init__(self, clip_factor: float = 0.01, eps: float = 1e-3) -> None:
        o = "AGC"
        self.clip_factor = check_real("clip_factor", clip_factor, owner=o, min=0, min_open=True)
        self.eps = check_real("eps", eps, owner=o, min=0, min_open=True)

    def __call__(self, params) -> float:
        """Clip ``params`` (a ParameterArena or a model); returns the pre-clip global norm."""
        arena = _as_arena(params, "AGC")
        total, _, _ = _measure(arena, 2.0)
        arena.clip_coef = math.nan  # per-unit factors: no single coefficient
        with np.errstate(invalid="ignore", divide="ignore", over="ignore"):  # huge factor: inf
            for s in arena.segments:
                if not s.requires_grad or s.size == 0:
                    continue
                w = arena.data[s.offset : s.stop].reshape(s.shape)
                g = arena.grad[s.offset : s.stop].reshape(s.shape)
                if w.ndim <= 1:
                    wn = np.array(np.linalg.norm(w.astype(np.float64)))
                    gn = np.array(np.linalg.norm(g.astype(np.float64)))
                else:  # units are the last axis (outputs); norm over the rest
                    axes = tuple(range(w.ndim - 1))
                    wn = np.sqrt(np.sum(np.square(w, dtype=np.float64), axis=axes))
                    gn = np.sqrt(np.sum(np.square(g, dtype=np.float64), axis=axes))
                max_norm = self.clip_factor * np.maximum(wn, self.eps)
                scale = np.where(gn > max_norm, max_norm / np.maximum(gn, 1e-6), 1.0)
                g *= scale.astype(g.dtype)
        return total

    def __repr__(self) -> str:
        return f"AGC(clip_factor={self.clip_factor}, eps={self.eps})"
