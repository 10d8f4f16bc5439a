"""The kernel contract as data: every op and its parameter names, the dtypes, the activations.

``docs/kernels.md`` states the semantics; this module states the names, once, for every floor
that needs them: the registry verifies each backend against :data:`OPS` when it loads it
(:func:`verify`), each backend's ``__all__`` is built from :data:`OPS`, ``_validate`` reads the
activation codes and the stats layout from here, and the tests compare :data:`OPS` with the
signatures written in ``docs/kernels.md``.

Imports nothing of gradcore (stdlib and NumPy only), so any module of ``gradcore.backends`` may
import it without a cycle: it sits below the registry and below every backend.
"""

from __future__ import annotations

import functools
import inspect
from types import ModuleType

import numpy as np

__all__ = [
    "ACTIVATIONS",
    "FAMILIES",
    "FLOATS",
    "OPS",
    "SATURATION",
    "STATS_FIELDS",
    "activation_code",
    "ieee_silent",
    "ops_of",
    "verify",
]

#: The floating dtypes every op accepts; all floating arrays of one call share one of them.
FLOATS = (np.dtype(np.float32), np.dtype(np.float64))

#: Activation names every backend implements, in kernel-code order: ``ACTIVATIONS[i]`` is the
#: activation the C kernels (``GC_ACT_*``) and the numba kernels know as code ``i`` (see
#: docs/kernels.md for the exact formulas).
ACTIVATIONS = ("linear", "relu", "leaky_relu", "elu", "sigmoid", "tanh", "silu", "gelu")

#: Saturation tests ``act_stats`` knows: 0 none, 1 sigmoid output ``y (1 - y) < threshold``,
#: 2 tanh output ``1 - y^2 < threshold`` (the local derivative written with the output).
SATURATION = {"none": 0, "sigmoid": 1, "tanh": 2}

#: Layout of ``act_stats``' ``out[6]``.
STATS_FIELDS = ("sum", "sumsq", "min", "max", "saturated", "nonfinite")

#: family -> {op: parameter names, in order}; docs/kernels.md gives shapes and semantics.
FAMILIES: dict[str, dict[str, tuple[str, ...]]] = {
    "activations": {
        "act_forward": ("x", "act", "y"),
        "act_backward": ("dy", "x", "y", "act", "dx"),
    },
    "dense": {
        "dense_forward": ("x", "W", "b", "act", "z", "y"),
        "dense_backward": ("dy", "x", "W", "z", "y", "act", "dx", "dW", "db", "ws"),
    },
    "batchnorm": {
        "batchnorm_forward_train": (
            "x", "gamma", "beta", "running_mean", "running_var", "momentum", "eps",
            "y", "mean", "inv_std",
        ),
        "batchnorm_forward_eval": ("x", "gamma", "beta", "running_mean", "running_var", "eps", "y"),
        "batchnorm_backward": ("dy", "x", "gamma", "mean", "inv_std", "dx", "dgamma", "dbeta"),
    },
    "layernorm": {
        "layernorm_forward": ("x", "gamma", "beta", "eps", "y", "mean", "inv_std"),
        "layernorm_backward": ("dy", "x", "gamma", "mean", "inv_std", "dx", "dgamma", "dbeta"),
    },
    "lstm": {
        "lstm_forward": ("x", "Wx", "Wh", "b", "h0", "c0", "hs", "cs", "gates", "ws"),
        "lstm_backward": (
            "dhs", "dhT", "dcT", "x", "Wx", "Wh", "h0", "c0", "hs", "cs", "gates",
            "dx", "dWx", "dWh", "db", "dh0", "dc0", "dh_norm", "dc_norm", "ws",
        ),
    },
    "rnn": {
        "rnn_forward": ("x", "Wx", "Wh", "b", "h0", "hs", "ws"),
        "rnn_backward": (
            "dhs", "dhT", "x", "Wx", "Wh", "h0", "hs", "dx", "dWx", "dWh", "db", "dh0",
            "dh_norm", "ws",
        ),
    },
    "loss": {
        "softmax_xent": ("logits", "labels", "dlogits"),
        "mse": ("pred", "target", "dpred"),
        "bce_with_logits": ("logits", "target", "dlogits"),
    },
    "norms": {
        "segment_sumsq": ("flat", "offsets", "sumsq", "nonfinite"),
        "segment_absmax": ("flat", "offsets", "absmax", "nonfinite"),
        "scale_": ("flat", "alpha"),
        "clip_value_": ("flat", "clip"),
    },
    "optim": {
        "sgd_step": (
            "p", "g", "buf", "lr", "momentum", "dampening", "nesterov", "weight_decay", "first",
        ),
        "rmsprop_step": (
            "p", "g", "square_avg", "grad_avg", "mom_buf", "lr", "alpha", "eps",
            "weight_decay", "momentum", "centered",
        ),
        "adagrad_step": ("p", "g", "state_sum", "lr", "lr_decay", "weight_decay", "eps", "step"),
        "adam_step": (
            "p", "g", "m", "v", "vmax", "lr", "beta1", "beta2", "eps", "weight_decay", "step",
            "amsgrad", "decoupled",
        ),
    },
    "stats": {
        "act_stats": ("x", "sat", "threshold", "colnz", "out"),
        "segment_delta_sumsq": ("new", "prev", "offsets", "delta_sumsq", "new_sumsq"),
    },
}  # fmt: skip

#: op -> parameter names, every family's ops in one table (docs/kernels.md order).
OPS: dict[str, tuple[str, ...]] = {op: ps for fam in FAMILIES.values() for op, ps in fam.items()}

_CODES = {name: i for i, name in enumerate(ACTIVATIONS)}


def activation_code(act: object) -> int:
    """Index of ``act`` in :data:`ACTIVATIONS` (the kernels' code); ``ValueError`` if unknown.
    The one activation-name check of the Python side."""
    code = _CODES.get(act) if isinstance(act, str) else None
    if code is None:
        valid = ", ".join(repr(a) for a in ACTIVATIONS)
        raise ValueError(f"unknown activation {act!r}; valid activations are: {valid}")
    return code


def ieee_silent(fn):
    """Run a backend op under ``np.errstate(all="ignore")``: IEEE results (inf, NaN) without
    NumPy floating-point warnings, as torch and the C kernels behave (contract rule; the
    caller detects non-finite values). Backends whose ops do NumPy math in Python wrap them."""

    @functools.wraps(fn)
    def op(*args, **kwargs):
        with np.errstate(all="ignore"):
            return fn(*args, **kwargs)

    return op


def ops_of(*modules: ModuleType, wrap=None) -> dict[str, object]:
    """The contract's ops found in a backend's family ``modules``, by name (each passed through
    ``wrap`` if given, e.g. :func:`ieee_silent`): a backend package binds them with
    ``globals().update(ops_of(...))`` and exports ``[*OPS]``, so no backend copies the op list.
    An op no module has is left out; :func:`verify` then names it."""
    found = {}
    for op in OPS:
        for mod in modules:
            fn = getattr(mod, op, None)
            if fn is not None:
                found[op] = fn if wrap is None else wrap(fn)
                break
    return found


def _parameters(fn: object) -> tuple[str, ...] | None:
    """Parameter names of ``fn`` (through ``functools.wraps``), or None if not introspectable."""
    try:
        return tuple(inspect.signature(fn).parameters)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None


def verify(module: ModuleType) -> None:
    """Check that ``module`` implements every op of :data:`OPS`: a callable of that name whose
    parameters have the contract's names, in order. Raises ``ImportError`` naming every missing
    op and every mismatched signature (the registry then lists the backend as unavailable,
    with this reason)."""
    problems = []
    for op, params in OPS.items():
        fn = getattr(module, op, None)
        if not callable(fn):
            problems.append(f"{op} is missing")
            continue
        got = _parameters(fn)
        if got is not None and got != params:
            problems.append(f"{op}({', '.join(got)}) should be {op}({', '.join(params)})")
    if problems:
        name = getattr(module, "NAME", module.__name__)
        raise ImportError(
            f"backend {name!r} does not implement the kernel contract (docs/kernels.md): "
            + "; ".join(problems)
        )
