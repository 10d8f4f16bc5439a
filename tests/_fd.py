"""Finite-difference checks of the reference kernels through ``gc.gradcheck`` (one engine for
the whole suite: its step rule, round-off floor, kink exclusion and second opinions are
documented in ``gradcore.gradcheck``; the tolerance is "finite_differences" in
``tests/_tolerances.py``).

A kernel is checked as a function target ``fn(*inputs) -> (y, vjp)``; :func:`op` builds one
from a forward ``f(*inputs) -> y`` and a backward ``b(dy, *inputs) -> gradients``.
"""

from __future__ import annotations

import numpy as np
from _tolerances import record, tol

import gradcore as gc


def op(forward, backward):
    """A gradcheck function target from ``forward(*inputs) -> y`` and
    ``backward(dy, *inputs) -> tuple of input gradients`` (None for a non-differentiable
    input)."""

    def fn(*inputs):
        y = forward(*inputs)

        def vjp(dy):
            g = backward(dy, *inputs)
            return g if isinstance(g, tuple) else (g,)

        return y, vjp

    return fn


def assert_gradcheck(fn, inputs, **kw):
    """``gc.gradcheck(fn, inputs)`` passes (float64, the table's rtol); the report otherwise."""
    kw.setdefault("rtol", tol("finite_differences", np.float64))
    res = gc.gradcheck(fn, inputs, **kw)
    assert res.ok, res.report()
    for c in res.checks.values():
        record("finite_differences", np.float64, c.max_rel_error)
    return res
