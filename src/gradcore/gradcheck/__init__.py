"""Finite-difference gradient checking in float64, for layers, losses and plain functions.

``gradcheck(target, inputs)`` compares the gradients a ``backward`` computes (the *analytic*
gradient) with central finite differences of the forward (the *numeric* gradient), tensor by
tensor, and returns a :class:`GradcheckResult` that says which tensor is wrong, where, and by
how much. It is written against protocols, not classes, so it checks user layers as well as
gradcore's own. The method (the step, the noise floor, second opinions, kinks, state) is
explained in ``docs/gradcheck.md``.

What can be checked
-------------------
- **Layer**: an object with ``params`` and ``grads`` (dicts of ndarrays, same keys and shapes),
  optional ``buffers`` (dict of ndarrays a training forward may mutate, e.g. running stats),
  ``forward(x, training=True, **extra) -> y``, ``backward(dy) -> dx`` that ACCUMULATES into
  ``grads`` and ``zero_grad()``. Extra differentiable inputs (``h0``, ``c0`` of an LSTM) are
  passed as ``extra_inputs={"h0": ...}``; their gradients are read from
  ``layer.extra_input_grads[name]`` after ``backward``. Checked tensors: ``"input"``,
  one per extra input (its keyword name) and ``"params.<name>"``.
- **Loss**: an object with ``forward(pred, target) -> float`` and ``backward() -> dpred`` (and
  no ``params``). ``inputs = (pred, target)``; only ``pred`` is differentiated (``"pred"``);
  the target is passed through.
- **Function**: a callable ``fn(*inputs) -> (y, vjp)`` with ``vjp(dy) -> tuple`` holding one
  gradient per input (``None`` for a non-differentiable input). Checked tensors:
  ``"input0"``, ``"input1"``, ...

Floating-point arrays among the inputs are copied to float64 (the caller's arrays are never
modified) and are differentiable; anything else (integer labels, strings, Python scalars) is
passed through unchanged. A layer's parameters must already be float64: gradcheck raises a
``TypeError`` asking for ``dtype=np.float64`` rather than casting them behind your back (a
float32 layer cannot be checked by finite differences: its rounding noise, ~1e-7 relative,
divided by the step swamps the signal).

Layout: ``targets`` (the three protocols as problems), ``numerics`` (the engine), ``results``
(the result types); this module checks the arguments and runs the check.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping
from typing import Any

import numpy as np

from .._args import check_bool, check_int, check_real, check_seed, describe
from .numerics import NOISE_FACTOR, U, check_tensor
from .results import GradcheckError, GradcheckResult, TensorCheck
from .targets import FunctionProblem, LayerProblem, LossProblem, Problem, require_elements
from .targets import kind as target_kind

__all__ = ["NOISE_FACTOR", "GradcheckError", "GradcheckResult", "TensorCheck", "gradcheck"]


def gradcheck(
    target: Any,
    inputs: Any,
    *,
    extra_inputs: Mapping[str, Any] | None = None,
    eps: float = 1e-6,
    rtol: float = 1e-6,
    atol: float | None = None,
    seed: int | None = 0,
    training: bool = True,
    check_params: bool = True,
    skip: Collection[str] = (),
    exclude_kinks: bool = True,
    max_elements: int | None = None,
    raise_on_failure: bool = False,
) -> GradcheckResult:
    """Check ``target``'s backward against central finite differences in float64.

    Parameters
    ----------
    target
        A layer, a loss or a function ``fn(*inputs) -> (y, vjp)`` (see the package docstring
        or docs/gradcheck.md for the three protocols; the kind is recognized by its attributes).
    inputs
        Layer: the input ``x`` (an array, or a 1-tuple). Loss: ``(pred, target)``. Function:
        the tuple of positional inputs (a single array is taken as a 1-tuple). Floating-point
        arrays are copied to float64 and differentiated; other values are passed through.
    extra_inputs
        Layer only: keyword inputs of ``forward`` (e.g. ``{"h0": h0, "c0": c0}``). Floating
        arrays among them are differentiated against ``layer.extra_input_grads[name]``.
    eps
        Finite-difference step: ``h = eps * max(rms(tensor), 1)`` per tensor.
    rtol
        Largest allowed relative error ``|a - n| / max(|a| + |n|, atol / rtol)``.
    atol
        Absolute tolerance below which differences are noise; default: estimated per tensor
        as ``NOISE_FACTOR * u * S / h`` (docs/gradcheck.md, "Error measure and the floor").
    seed
        Seeds the projection ``P``, the gradient offsets and the ``max_elements`` subsets.
    training
        Passed to ``layer.forward``.
    check_params
        Layer only: also check ``params`` (else only the inputs).
    skip
        Names of tensors not to check (``"input"``, ``"h0"``, ``"params.b"``, ``"input1"``).
    exclude_kinks
        Exclude elements whose perturbation crosses a kink (docs/gradcheck.md, "Kinks").
    max_elements
        Check at most this many randomly chosen elements per tensor.
    raise_on_failure
        Raise :class:`GradcheckError` (an ``AssertionError``) with the report on failure.

    Returns
    -------
    GradcheckResult
        ``.ok``, per-tensor ``.checks[name]`` and ``.report()``.

    Raises
    ------
    TypeError, ValueError
        Bad arguments, a target that does not follow its protocol, float32 parameters or
        outputs, gradients of the wrong shape.
    FloatingPointError
        A non-finite output, objective or gradient.
    RuntimeError
        A forward that is not deterministic (two calls at the same point disagree).
    """
    owner = "gradcheck"
    eps = check_real("eps", eps, owner=owner, min=0.0, max=1e-2, min_open=True, max_open=True)
    rtol = check_real("rtol", rtol, owner=owner, min=0.0, min_open=True)
    if atol is not None:
        atol = check_real("atol", atol, owner=owner, min=0.0)
    if seed is not None:
        seed = check_seed(seed, owner=owner)
    training = check_bool("training", training, owner=owner)
    check_params = check_bool("check_params", check_params, owner=owner)
    exclude_kinks = check_bool("exclude_kinks", exclude_kinks, owner=owner)
    raise_on_failure = check_bool("raise_on_failure", raise_on_failure, owner=owner)
    if max_elements is not None:
        max_elements = check_int("max_elements", max_elements, owner=owner, min=1)
    if isinstance(skip, str):
        skip = (skip,)
    if not isinstance(skip, Collection) or not all(isinstance(k, str) for k in skip):
        raise TypeError(
            f"gradcheck: skip must be a tensor name or a collection of them (str), got "
            f"{describe(skip)}"
        )
    skip = set(skip)

    kind = target_kind(target)
    if kind != "layer" and extra_inputs is not None:
        raise ValueError(f"gradcheck: extra_inputs is only for layers, got a {kind} target")
    if extra_inputs is not None and not isinstance(extra_inputs, Mapping):
        raise TypeError(
            "gradcheck: extra_inputs must be a dict of keyword inputs, got "
            f"{describe(extra_inputs)}"
        )
    if kind == "layer":
        problem: Problem = LayerProblem(target, inputs, extra_inputs, training, check_params)
    elif kind == "loss":
        problem = LossProblem(target, inputs)
    else:
        problem = FunctionProblem(target, inputs)
    if unknown := skip - set(problem.names()):
        raise ValueError(
            f"gradcheck: skip must name tensors of this target ({problem.names()}), got "
            f"unknown {sorted(unknown)}"
        )

    for t in list(problem.tensors):
        if t.name in skip:
            problem.skipped[t.name] = "in skip"
            problem.tensors.remove(t)
    require_elements(problem)

    rng = np.random.default_rng(seed)
    try:
        before = {t.name: t.array.copy() for t in problem.tensors}
        value = problem.analytic(rng, eps)
        if not math.isfinite(value):
            raise FloatingPointError(f"the objective L is not finite ({value}) at the input point")
        for t in problem.tensors:
            if not np.array_equal(t.array, before[t.name]):
                raise ValueError(f"forward/backward modified {t.name} in place")
        require_elements(problem)  # a vjp may have declared every input non-differentiable
        f0 = problem.evaluate()
        if abs(f0 - value) > NOISE_FACTOR * U * problem.scale:
            raise RuntimeError(
                f"forward is not deterministic: L = {value!r} then {f0!r} at the same point "
                "(dropout in training mode? use training=False or a fixed mask)"
            )
        checks = {}
        for t in problem.tensors:
            checks[t.name] = check_tensor(
                problem, t, f0, eps, rtol, atol, exclude_kinks, max_elements, rng
            )
    finally:
        problem.restore()

    # report tensors in the order they were declared; skipped ones last
    skipped = {k: v for k, v in problem.skipped.items() if k not in checks}
    result = GradcheckResult(
        ok=all(c.ok for c in checks.values()),
        kind=kind,
        checks=checks,
        skipped=skipped,
        objective=f0,
        eps=eps,
        rtol=rtol,
    )
    if raise_on_failure and not result.ok:
        raise GradcheckError(result)
    return result
