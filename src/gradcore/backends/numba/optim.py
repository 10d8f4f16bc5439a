"""Optimizer steps over flat buffers (numba backend), semantics of torch.optim.

Contract and formulas: ``backends/reference/optim.py``. Each step is ONE fused loop over the
parameter, gradient and state buffers, with the reference's (= torch's single-tensor) operation
order, element by element. Python-float hyper-parameters and every constant derived from them
(``1 - dampening``, ``lr / bias_correction1``, ...) are computed in Python (float64) exactly as
the reference computes them, then rounded to the array dtype before the kernel sees them, so
float32 math stays float32 (numba types ``float32 * float32`` as float32) and float64 runs are
bitwise equal to the reference (no fused multiply-add: numba does not contract without
``fastmath``).

Parallelism: at ``PARALLEL_THRESHOLD`` elements or more the loop is split into ``CHUNK``-sized
slices run under ``prange`` (elementwise, so results do not depend on the thread count). The
loop kernels run over whole (sliced) arrays, ``for k in range(p.shape[0])``: LLVM vectorizes
that form (packed ``sqrtps``/``divps``), not a ``for k in range(lo, hi)`` loop.
"""

from __future__ import annotations

import numpy as np

from .._validate import check_param, check_state, check_step
from ._jit import CHUNK, PARALLEL_LOCK, PARALLEL_THRESHOLD, jit, prange

__all__ = ["adagrad_step", "adam_step", "rmsprop_step", "sgd_step"]


# --------------------------------------------------------------------------- checks


class _Flat:
    """1-d C-contiguous views of p and its state arrays (copies written back if needed);
    an unused state is replaced by an empty array of p's dtype."""

    def __init__(self, p: np.ndarray, g: np.ndarray, *states: np.ndarray | None) -> None:
        self._pairs: list[tuple[np.ndarray, np.ndarray]] = []
        self.p = self._inout(p)
        self.g = (g if g.flags.c_contiguous else np.ascontiguousarray(g)).reshape(-1)
        empty = np.empty(0, p.dtype)
        self.states = [empty if s is None else self._inout(s) for s in states]
        self.n = self.p.shape[0]

    def _inout(self, a: np.ndarray) -> np.ndarray:
        if a.flags.c_contiguous:
            return a.reshape(-1)
        buf = np.ascontiguousarray(a)
        self._pairs.append((a, buf))
        return buf.reshape(-1)

    def done(self) -> None:
        for a, buf in self._pairs:
            a[...] = buf


def _run(serial, parallel, n: int, *args) -> None:
    if n >= PARALLEL_THRESHOLD:
        with PARALLEL_LOCK:
            parallel(n, CHUNK, *args)
    else:
        serial(*args)


# --------------------------------------------------------------------------- SGD


@jit()
def _sgd_range(p, g, buf, lr, mom, one_m_damp, wd, has_wd, has_mom, nesterov, first):
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


@jit(parallel=True)
def _sgd_par(n, chunk, p, g, buf, lr, mom, one_m_damp, wd, has_wd, has_mom, nesterov, first):
    for q in prange((n + chunk - 1) // chunk):
        lo = q * chunk
        hi = min(n, lo + chunk)
        _sgd_range(
            p[lo:hi],
            g[lo:hi],
            buf[lo:hi],
            lr,
            mom,
            one_m_damp,
            wd,
            has_wd,
            has_mom,
            nesterov,
            first,
        )


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
    check_param(p, g)
    lr, momentum, dampening, weight_decay = (
        float(v) for v in (lr, momentum, dampening, weight_decay)
    )
    if nesterov and (momentum <= 0 or dampening != 0):
        raise ValueError("nesterov momentum requires momentum > 0 and dampening == 0")
    if momentum != 0:
        check_state("buf", buf, p)
    t = p.dtype.type
    f = _Flat(p, g, buf if momentum != 0 else None)
    _run(
        _sgd_range,
        _sgd_par,
        f.n,
        f.p,
        f.g,
        f.states[0],
        t(lr),
        t(momentum),
        t(1 - dampening),
        t(weight_decay),
        weight_decay != 0,
        momentum != 0,
        bool(nesterov),
        bool(first),
    )
    f.done()


# --------------------------------------------------------------------------- RMSprop


@jit()
def _rmsprop_range(
    p,
    g,
    sq,
    ga,
    mb,
    lr,
    alpha,
    one_m_alpha,
    w,
    one_m_w,
    w_small,
    eps,
    wd,
    has_wd,
    momentum,
    has_mom,
    centered,
):
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


@jit(parallel=True)
def _rmsprop_par(
    n,
    chunk,
    p,
    g,
    sq,
    ga,
    mb,
    lr,
    alpha,
    one_m_alpha,
    w,
    one_m_w,
    w_small,
    eps,
    wd,
    has_wd,
    momentum,
    has_mom,
    centered,
):
    for q in prange((n + chunk - 1) // chunk):
        lo = q * chunk
        hi = min(n, lo + chunk)
        _rmsprop_range(
            p[lo:hi],
            g[lo:hi],
            sq[lo:hi],
            ga[lo:hi],
            mb[lo:hi],
            lr,
            alpha,
            one_m_alpha,
            w,
            one_m_w,
            w_small,
            eps,
            wd,
            has_wd,
            momentum,
            has_mom,
            centered,
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
    check_param(p, g)
    check_state("square_avg", square_avg, p)
    lr, alpha, eps, weight_decay, momentum = (
        float(v) for v in (lr, alpha, eps, weight_decay, momentum)
    )
    if centered:
        check_state("grad_avg", grad_avg, p)
    if momentum > 0:
        check_state("mom_buf", mom_buf, p)
    t = p.dtype.type
    w = t(1 - alpha)  # lerp weight, rounded like the reference's _lerp_
    f = _Flat(p, g, square_avg, grad_avg if centered else None, mom_buf if momentum > 0 else None)
    _run(
        _rmsprop_range,
        _rmsprop_par,
        f.n,
        f.p,
        f.g,
        *f.states,
        t(lr),
        t(alpha),
        t(1 - alpha),
        w,
        t(1) - w,
        bool(abs(w) < 0.5),
        t(eps),
        t(weight_decay),
        weight_decay != 0,
        t(momentum),
        momentum > 0,
        bool(centered),
    )
    f.done()


# --------------------------------------------------------------------------- AdaGrad


@jit()
def _adagrad_range(p, g, ss, clr, eps, wd, has_wd):
    for k in range(p.shape[0]):  # 0..len: lets LLVM vectorize (lo..hi did not)
        d = g[k]
        if has_wd:
            d = d + wd * p[k]
        s = ss[k] + d * d
        ss[k] = s
        std = np.sqrt(s) + eps
        p[k] = p[k] - clr * d / std


@jit(parallel=True)
def _adagrad_par(n, chunk, p, g, ss, clr, eps, wd, has_wd):
    for q in prange((n + chunk - 1) // chunk):
        lo = q * chunk
        hi = min(n, lo + chunk)
        _adagrad_range(p[lo:hi], g[lo:hi], ss[lo:hi], clr, eps, wd, has_wd)


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
    check_param(p, g)
    check_state("state_sum", state_sum, p)
    lr, lr_decay, weight_decay, eps = (float(v) for v in (lr, lr_decay, weight_decay, eps))
    step = check_step(step)
    t = p.dtype.type
    clr = lr / (1 + (step - 1) * lr_decay)
    f = _Flat(p, g, state_sum)
    _run(
        _adagrad_range,
        _adagrad_par,
        f.n,
        f.p,
        f.g,
        f.states[0],
        t(clr),
        t(eps),
        t(weight_decay),
        weight_decay != 0,
    )
    f.done()


# --------------------------------------------------------------------------- Adam / AdamW


@jit()
def _adam_range(
    p,
    g,
    m,
    v,
    vmax,
    w,
    one_m_w,
    w_small,
    beta2,
    one_m_beta2,
    eps,
    wd,
    decay_mul,
    coupled,
    decoupled,
    step_size,
    bc2_sqrt,
    amsgrad,
):
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


@jit(parallel=True)
def _adam_par(
    n,
    chunk,
    p,
    g,
    m,
    v,
    vmax,
    w,
    one_m_w,
    w_small,
    beta2,
    one_m_beta2,
    eps,
    wd,
    decay_mul,
    coupled,
    decoupled,
    step_size,
    bc2_sqrt,
    amsgrad,
):
    for q in prange((n + chunk - 1) // chunk):
        lo = q * chunk
        hi = min(n, lo + chunk)
        _adam_range(
            p[lo:hi],
            g[lo:hi],
            m[lo:hi],
            v[lo:hi],
            vmax[lo:hi],
            w,
            one_m_w,
            w_small,
            beta2,
            one_m_beta2,
            eps,
            wd,
            decay_mul,
            coupled,
            decoupled,
            step_size,
            bc2_sqrt,
            amsgrad,
        )


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
    check_param(p, g)
    check_state("m", m, p)
    check_state("v", v, p)
    lr, beta1, beta2, eps, weight_decay = (float(x) for x in (lr, beta1, beta2, eps, weight_decay))
    if amsgrad:
        check_state("vmax", vmax, p)
    step = check_step(step)
    t = p.dtype.type
    w = t(1 - beta1)
    bias_correction1 = 1 - beta1**step
    bias_correction2 = 1 - beta2**step
    step_size = lr / bias_correction1
    bc2_sqrt = bias_correction2**0.5
    has_wd = weight_decay != 0
    f = _Flat(p, g, m, v, vmax if amsgrad else None)
    _run(
        _adam_range,
        _adam_par,
        f.n,
        f.p,
        f.g,
        *f.states,
        w,
        t(1) - w,
        bool(abs(w) < 0.5),
        t(beta2),
        t(1 - beta2),
        t(eps),
        t(weight_decay),
        t(1 - lr * weight_decay),
        has_wd and not decoupled,
        has_wd and bool(decoupled),
        t(step_size),
        t(bc2_sqrt),
        bool(amsgrad),
    )
    f.done()
