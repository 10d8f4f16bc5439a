"""Optimizer steps over flat buffers (numba backend), semantics of torch.optim.

Contract and formulas: ``backends/reference/optim.py``. Each step is ONE fused loop over the
parameter, gradient and state buffers, with the reference's (= torch's single-tensor) operation
order, element by element. Python-float hyper-parameters and every constant derived from them
(``1 - dampening``, ``lr / bias_correction1``, ...) are computed in Python (float64) exactly as
the reference computes them, then rounded to the array dtype before the kernel sees them, so
float32 math stays float32 (numba types ``float32 * float32`` as float32) and float64 runs are
bitwise equal to the reference (no fused multiply-add: numba does not contract without
``fastmath``).

Each optimizer's update is written once, as a loop kernel taking ``(p, g, s0, s1, s2, hp, fl)``:
the state arrays (unused ones empty), ``hp`` the hyper-parameters and derived constants as an
array of p's dtype, ``fl`` the option flags as a bool array (the C kernels bundle the same in a
struct). :func:`_update` picks the optimizer's kernel; the serial path calls it on the whole
buffers, the parallel driver :func:`_update_par` on each chunk.

Parallelism: at ``PARALLEL_THRESHOLD`` elements or more the loop is split into ``CHUNK``-sized
slices run under ``prange`` (elementwise, so results do not depend on the thread count). The
loop kernels run over whole (sliced) arrays, ``for k in range(p.shape[0])``: LLVM vectorizes
that form (packed ``sqrtps``/``divps``), not a ``for k in range(lo, hi)`` loop. The scalars
are read out of ``hp``/``fl`` once, before the loop.
"""

from __future__ import annotations

import numpy as np

from .._validate import check_adagrad, check_adam, check_rmsprop, check_sgd
from ._jit import CHUNK, PARALLEL_LOCK, PARALLEL_THRESHOLD, jit, prange

__all__ = ["adagrad_step", "adam_step", "rmsprop_step", "sgd_step"]

#: which update :func:`_update` runs
SGD, RMSPROP, ADAGRAD, ADAM = range(4)


# --------------------------------------------------------------------------- the updates


@jit()
def _sgd(p, g, buf, hp, fl):
    lr, mom, one_m_damp, wd = hp[0], hp[1], hp[2], hp[3]
    has_wd, has_mom, nesterov, first = fl[0], fl[1], fl[2], fl[3]
    for k in range(p.shape[0]):  # 0..len: lets LLVM vectorize (lo..hi did not)
        d = g[k]
        if has_wd:
            d = d + wd * p[k]
        if has_mom:
            if first:
                b = d
            else:
                b = mom * buf[k]
                b = b + one_m_damp * d
            buf[k] = b
            if nesterov:
                d = d + mom * b
            else:
                d = b
        p[k] = p[k] - lr * d


@jit()
def _rmsprop(p, g, sq, ga, mb, hp, fl):
    lr, alpha, one_m_alpha, w, one_m_w, eps, wd, momentum = (
        hp[0], hp[1], hp[2], hp[3], hp[4], hp[5], hp[6], hp[7]
    )  # fmt: skip
    has_wd, has_mom, centered, w_small = fl[0], fl[1], fl[2], fl[3]
    for k in range(p.shape[0]):  # 0..len: lets LLVM vectorize (lo..hi did not)
        d = g[k]
        if has_wd:
            d = d + wd * p[k]
        s = alpha * sq[k]
        s = s + one_m_alpha * d * d
        sq[k] = s
        if centered:
            a = ga[k]
            if w_small:  # lerp(a, d, w), ATen's two branches
                a = a + w * (d - a)
            else:
                a = d - (d - a) * one_m_w
            ga[k] = a
            avg = np.sqrt(s - a * a)
        else:
            avg = np.sqrt(s)
        avg = avg + eps
        if has_mom:
            m = momentum * mb[k]
            m = m + d / avg
            mb[k] = m
            p[k] = p[k] - lr * m
        else:
            p[k] = p[k] - lr * d / avg


@jit()
def _adagrad(p, g, ss, hp, fl):
    clr, eps, wd = hp[0], hp[1], hp[2]
    has_wd = fl[0]
    for k in range(p.shape[0]):  # 0..len: lets LLVM vectorize (lo..hi did not)
        d = g[k]
        if has_wd:
            d = d + wd * p[k]
        s = ss[k] + d * d
        ss[k] = s
        std = np.sqrt(s) + eps
        p[k] = p[k] - clr * d / std


@jit()
def _adam(p, g, m, v, vmax, hp, fl):
    w, one_m_w, beta2, one_m_beta2, eps, wd, decay_mul, step_size, bc2_sqrt = (
        hp[0], hp[1], hp[2], hp[3], hp[4], hp[5], hp[6], hp[7], hp[8]
    )  # fmt: skip
    w_small, coupled, decoupled, amsgrad = fl[0], fl[1], fl[2], fl[3]
    for k in range(p.shape[0]):  # 0..len: lets LLVM vectorize (lo..hi did not)
        d = g[k]
        if decoupled:
            p[k] = p[k] * decay_mul  # AdamW: p *= 1 - lr wd
        elif coupled:
            d = d + wd * p[k]  # Adam: L2 into the gradient
        a = m[k]
        if w_small:  # lerp(m, d, 1 - beta1)
            a = a + w * (d - a)
        else:
            a = d - (d - a) * one_m_w
        m[k] = a
        s = beta2 * v[k]
        s = s + one_m_beta2 * d * d
        v[k] = s
        if amsgrad:
            mx = vmax[k]
            if s > mx or s != s:
                if mx == mx:  # np.maximum: NaN propagates
                    mx = s
            vmax[k] = mx
            denom = np.sqrt(mx) / bc2_sqrt + eps
        else:
            denom = np.sqrt(s) / bc2_sqrt + eps
        p[k] = p[k] - step_size * a / denom


@jit()
def _update(which, p, g, s0, s1, s2, hp, fl):
    """Run optimizer ``which`` over (a slice of) the flat buffers."""
    if which == SGD:
        _sgd(p, g, s0, hp, fl)
    elif which == RMSPROP:
        _rmsprop(p, g, s0, s1, s2, hp, fl)
    elif which == ADAGRAD:
        _adagrad(p, g, s0, hp, fl)
    else:
        _adam(p, g, s0, s1, s2, hp, fl)


@jit(parallel=True)
def _update_par(which, n, chunk, p, g, s0, s1, s2, hp, fl):
    """:func:`_update` on fixed ``chunk``-element slices, in parallel."""
    for q in prange((n + chunk - 1) // chunk):
        lo = q * chunk
        hi = min(n, lo + chunk)
        _update(which, p[lo:hi], g[lo:hi], s0[lo:hi], s1[lo:hi], s2[lo:hi], hp, fl)


# --------------------------------------------------------------------------- the driver


def _inout(a: np.ndarray, pairs: list) -> np.ndarray:
    """1-d C-contiguous view of ``a``; a copy (remembered in ``pairs``, written back) if needed."""
    if a.flags.c_contiguous:
        return a.reshape(-1)
    buf = np.ascontiguousarray(a)
    pairs.append((a, buf))
    return buf.reshape(-1)


def _step(which: int, p, g, states, hp, fl) -> None:
    """Run update ``which`` on ``p`` with its ``states`` (``None`` for an unused one: an empty
    array is passed), the hyper-parameters ``hp`` (rounded to p's dtype) and the flags ``fl``."""
    pairs: list = []
    pf = _inout(p, pairs)
    gf = (g if g.flags.c_contiguous else np.ascontiguousarray(g)).reshape(-1)
    empty = np.empty(0, p.dtype)
    s = [empty if a is None else _inout(a, pairs) for a in states]
    s += [empty] * (3 - len(s))
    hpa = np.array(hp, p.dtype)
    fla = np.array(fl, np.bool_)
    n = pf.shape[0]
    if n >= PARALLEL_THRESHOLD:
        with PARALLEL_LOCK:
            _update_par(which, n, CHUNK, pf, gf, s[0], s[1], s[2], hpa, fla)
    else:
        _update(which, pf, gf, s[0], s[1], s[2], hpa, fla)
    for a, buf in pairs:
        a[...] = buf


# --------------------------------------------------------------------------- the ops


def sgd_step(
    p: np.ndarray,
    g: np.ndarray,
    buf: np.ndarray,
    lr: float,
    momentum: float,
    dampening: float,
    nesterov: bool,
    weight_decay: float,
    first: bool,
) -> None:
    """One SGD step (torch ``_single_tensor_sgd``). See the reference."""
    lr, momentum, dampening, weight_decay = check_sgd(
        p, g, buf, lr, momentum, dampening, nesterov, weight_decay
    )
    _step(
        SGD,
        p,
        g,
        (buf if momentum != 0 else None,),
        (lr, momentum, 1 - dampening, weight_decay),
        (weight_decay != 0, momentum != 0, bool(nesterov), bool(first)),
    )


def rmsprop_step(
    p: np.ndarray,
    g: np.ndarray,
    square_avg: np.ndarray,
    grad_avg: np.ndarray,
    mom_buf: np.ndarray,
    lr: float,
    alpha: float,
    eps: float,
    weight_decay: float,
    momentum: float,
    centered: bool,
) -> None:
    """One RMSprop step (torch ``_single_tensor_rmsprop``). See the reference."""
    lr, alpha, eps, weight_decay, momentum = check_rmsprop(
        p, g, square_avg, grad_avg, mom_buf, lr, alpha, eps, weight_decay, momentum, centered
    )
    t = p.dtype.type
    w = t(1 - alpha)  # lerp weight, rounded like the reference's _lerp_
    _step(
        RMSPROP,
        p,
        g,
        (square_avg, grad_avg if centered else None, mom_buf if momentum > 0 else None),
        (lr, alpha, 1 - alpha, w, t(1) - w, eps, weight_decay, momentum),
        (weight_decay != 0, momentum > 0, bool(centered), bool(abs(w) < 0.5)),
    )


def adagrad_step(
    p: np.ndarray,
    g: np.ndarray,
    state_sum: np.ndarray,
    lr: float,
    lr_decay: float,
    weight_decay: float,
    eps: float,
    step: int,
) -> None:
    """One AdaGrad step (torch ``_single_tensor_adagrad``). See the reference."""
    lr, lr_decay, weight_decay, eps, step = check_adagrad(
        p, g, state_sum, lr, lr_decay, weight_decay, eps, step
    )
    clr = lr / (1 + (step - 1) * lr_decay)
    _step(ADAGRAD, p, g, (state_sum,), (clr, eps, weight_decay), (weight_decay != 0,))


def adam_step(
    p: np.ndarray,
    g: np.ndarray,
    m: np.ndarray,
    v: np.ndarray,
    vmax: np.ndarray,
    lr: float,
    beta1: float,
    beta2: float,
    eps: float,
    weight_decay: float,
    step: int,
    amsgrad: bool,
    decoupled: bool,
) -> None:
    """One Adam / AdamW (``decoupled``) step, optionally amsgrad (torch
    ``_single_tensor_adam``). See the reference."""
    lr, beta1, beta2, eps, weight_decay, step = check_adam(
        p, g, m, v, vmax, lr, beta1, beta2, eps, weight_decay, step, amsgrad
    )
    t = p.dtype.type
    w = t(1 - beta1)
    bias_correction1 = 1 - beta1**step
    bias_correction2 = 1 - beta2**step
    step_size = lr / bias_correction1
    bc2_sqrt = bias_correction2**0.5
    has_wd = weight_decay != 0
    _step(
        ADAM,
        p,
        g,
        (m, v, vmax if amsgrad else None),
        (w, t(1) - w, beta2, 1 - beta2, eps, weight_decay, 1 - lr * weight_decay, step_size,
         bc2_sqrt),
        (bool(abs(w) < 0.5), has_wd and not decoupled, has_wd and bool(decoupled), bool(amsgrad)),
    )  # fmt: skip
