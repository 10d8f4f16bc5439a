"""Argument checks shared by the backends (the reference, ``numba`` and ``c``).

A backend never imports another backend, so checks that more than one backend needs live
here, in a neutral module (the optimizer, norms and label checks are used by all three, so a
bad call raises the same error whichever backend runs). Exception types: a wrong dtype is a
``TypeError``, a wrong shape or a read-only output a ``ValueError``. Compiled kernels must never
see an array they could read or write out of bounds, so every array's shape and dtype is
checked (the reference's layer-family ops rely partly on NumPy's broadcasting errors).

Pure NumPy, no state; safe to import from any backend.
"""

from __future__ import annotations

import numpy as np

from . import ACTIVATIONS

__all__ = [
    "FLOATS",
    "SATURATION",
    "STATS_FIELDS",
    "activation_code",
    "check_array",
    "check_delta_args",
    "check_flat",
    "check_float",
    "check_labels",
    "check_out",
    "check_param",
    "check_segments",
    "check_state",
    "check_stats_args",
    "check_step",
]

FLOATS = (np.dtype(np.float32), np.dtype(np.float64))
_CODES = {name: i for i, name in enumerate(ACTIVATIONS)}


def activation_code(act: object) -> int:
    """Index of ``act`` in :data:`gradcore.backends.ACTIVATIONS`; ``ValueError`` if unknown."""
    if not isinstance(act, str) or act not in _CODES:
        valid = ", ".join(repr(a) for a in ACTIVATIONS)
        raise ValueError(f"unknown activation {act!r}; valid activations are: {valid}")
    return _CODES[act]


def check_float(name: str, a: object) -> np.dtype:
    """``a`` must be a float32/float64 ndarray (``TypeError`` otherwise); returns its dtype."""
    if not isinstance(a, np.ndarray) or a.dtype not in FLOATS:
        got = a.dtype if isinstance(a, np.ndarray) else type(a).__name__
        raise TypeError(f"{name} must be a float32 or float64 ndarray, got {got}")
    return a.dtype


def check_array(name: str, a: object, shape: tuple[int, ...], dtype: np.dtype) -> None:
    """``a`` must be an ndarray of exactly ``dtype`` (TypeError) and ``shape`` (ValueError)."""
    if not isinstance(a, np.ndarray):
        raise TypeError(f"{name} must be a numpy.ndarray, got {type(a).__name__}")
    if a.dtype != dtype:
        raise TypeError(f"{name} has dtype {a.dtype}, expected {np.dtype(dtype)}")
    if a.shape != tuple(shape):
        raise ValueError(f"{name} has shape {a.shape}, expected {tuple(shape)}")


def check_out(name: str, a: object, shape: tuple[int, ...], dtype: np.dtype) -> None:
    """As :func:`check_array`, and ``a`` must be writeable (it is an output)."""
    check_array(name, a, shape, dtype)
    if not a.flags.writeable:  # type: ignore[union-attr]
        raise ValueError(f"{name} is an output and must be writeable")


def check_param(p: object, g: object) -> None:
    """Optimizer parameter ``p`` (float32/float64, writeable: updated in place) and its gradient
    ``g`` (p's dtype: ``TypeError``; p's shape: ``ValueError``)."""
    if not isinstance(p, np.ndarray) or p.dtype not in FLOATS:
        raise TypeError("p must be a float32 or float64 numpy array")
    if not p.flags.writeable:
        raise ValueError("p must be writeable (it is updated in place)")
    if not isinstance(g, np.ndarray) or g.dtype != p.dtype:
        got = g.dtype if isinstance(g, np.ndarray) else type(g).__name__
        raise TypeError(f"g must be a numpy array with p's dtype {p.dtype}, got {got}")
    if g.shape != p.shape:
        raise ValueError(f"g must have p's shape {p.shape}, got {g.shape}")


def check_state(name: str, a: object, p: np.ndarray) -> None:
    """Optimizer state array ``a``: p's dtype (``TypeError``), p's shape and writeable
    (``ValueError``)."""
    if not isinstance(a, np.ndarray) or a.dtype != p.dtype:
        got = a.dtype if isinstance(a, np.ndarray) else type(a).__name__
        raise TypeError(f"state {name} must be a numpy array with p's dtype {p.dtype}, got {got}")
    if a.shape != p.shape:
        raise ValueError(f"state {name} must have p's shape {p.shape}, got {a.shape}")
    if not a.flags.writeable:
        raise ValueError(f"state {name} must be writeable (it is updated in place)")


def check_flat(flat: object, inplace: bool = False) -> None:
    """A flat float32/float64 buffer ``[P]``; ``inplace``: it must also be writeable."""
    if not isinstance(flat, np.ndarray) or flat.ndim != 1:
        raise ValueError("flat must be a 1-d numpy array")
    if flat.dtype not in FLOATS:
        raise TypeError(f"flat has dtype {flat.dtype}, expected float32 or float64")
    if inplace and not flat.flags.writeable:
        raise ValueError("flat must be writeable (it is modified in place)")


def check_step(step: object) -> int:
    """Optimizer step count: an int >= 1 (``ValueError`` otherwise)."""
    if isinstance(step, bool) or not isinstance(step, int | np.integer) or step < 1:
        raise ValueError(f"step must be an int >= 1 (the count after incrementing), got {step!r}")
    return int(step)


def check_labels(labels: object, n: int, k: int) -> None:
    """Class labels for ``[n, k]`` logits: integer dtype (TypeError), shape ``[n]`` and values
    in ``[0, k)`` (ValueError naming the first offending position)."""
    if not isinstance(labels, np.ndarray) or labels.dtype.kind not in "iu":
        got = labels.dtype if isinstance(labels, np.ndarray) else type(labels).__name__
        raise TypeError(f"labels must be an integer ndarray (int64), got {got}")
    if labels.shape != (n,):
        raise ValueError(f"labels must have shape [N] = [{n}], got {list(labels.shape)}")
    bad = np.flatnonzero((labels < 0) | (labels >= k))
    if bad.size:
        i = int(bad[0])
        raise ValueError(
            f"labels must be in [0, {k}) for {k} classes; got labels[{i}] = {int(labels[i])} "
            f"({bad.size} label(s) out of range)"
        )


def check_segments(
    flat: object, offsets: object, values: object, vname: str, nonfinite: object
) -> int:
    """Validate a flat buffer, its segment offsets and the two per-segment outputs (float64
    ``values`` and int64 ``nonfinite``, both ``[S]``; ``nonfinite=None`` for ops without one);
    return the number of segments ``S``."""
    check_flat(flat)
    P = flat.shape[0]  # type: ignore[union-attr]
    if not isinstance(offsets, np.ndarray) or offsets.ndim != 1 or offsets.dtype != np.int64:
        raise TypeError("offsets must be a 1-d int64 numpy array of length S+1")
    if offsets.shape[0] < 1:
        raise ValueError("offsets must have length S+1 >= 1")
    S = offsets.shape[0] - 1
    if offsets[0] != 0:
        raise ValueError(f"offsets[0] must be 0, got {offsets[0]}")
    if offsets[-1] != P:
        raise ValueError(f"offsets[-1] must be len(flat) = {P}, got {offsets[-1]}")
    if S > 1 and (offsets[1:] < offsets[:-1]).any():  # (np.diff: ~3x slower per call)
        raise ValueError("offsets must be non-decreasing")
    for name, arr, dt in ((vname, values, np.float64), ("nonfinite", nonfinite, np.int64)):
        if arr is None and name == "nonfinite":
            continue
        if not isinstance(arr, np.ndarray) or arr.dtype != dt or arr.shape != (S,):
            raise TypeError(f"{name} must be a {np.dtype(dt)} numpy array of shape ({S},)")
        if not arr.flags.writeable:
            raise ValueError(f"{name} is an output and must be writeable")
    return S


#: Saturation tests ``act_stats`` knows: 0 none, 1 sigmoid output ``y (1 - y) < threshold``,
#: 2 tanh output ``1 - y^2 < threshold`` (the local derivative written with the output).
SATURATION = {"none": 0, "sigmoid": 1, "tanh": 2}

#: Layout of ``act_stats``' ``out[6]``.
STATS_FIELDS = ("sum", "sumsq", "min", "max", "saturated", "nonfinite")


def check_stats_args(x, sat, threshold, colnz, out) -> tuple[int, int]:
    """Checks of ``act_stats`` (stats family); returns ``(M, C)``, the 2-D view of ``x``."""
    check_float("x", x)
    if isinstance(sat, bool) or not isinstance(sat, int | np.integer) or sat not in (0, 1, 2):
        raise ValueError(f"sat must be 0 (none), 1 (sigmoid) or 2 (tanh), got {sat!r}")
    if isinstance(threshold, bool) or not isinstance(threshold, int | float | np.floating):
        raise TypeError(f"threshold must be a real number, got {type(threshold).__name__}")
    if not threshold >= 0:
        raise ValueError(f"threshold must be >= 0, got {threshold}")
    C = int(x.shape[-1]) if x.ndim else 1
    M = int(x.size // C) if C else 0
    check_out("colnz", colnz, (C,), np.dtype(np.int64))
    check_out("out", out, (len(STATS_FIELDS),), np.dtype(np.float64))
    return M, C


def check_delta_args(new, prev, offsets, delta_sumsq, new_sumsq) -> int:
    """Checks of ``segment_delta_sumsq`` (stats family); returns the number of segments."""
    check_float("new", new)
    if not isinstance(prev, np.ndarray) or prev.dtype != new.dtype:
        got = prev.dtype if isinstance(prev, np.ndarray) else type(prev).__name__
        raise TypeError(f"prev must be an ndarray with new's dtype {new.dtype}, got {got}")
    if new.ndim != 1 or prev.shape != new.shape:
        raise ValueError(f"new and prev must be 1-d of one length, got {new.shape}, {prev.shape}")
    if not prev.flags.writeable:
        raise ValueError("prev must be writeable (it is overwritten with new)")
    if np.may_share_memory(new, prev):
        raise ValueError("prev must not share memory with new")
    S = check_segments(new, offsets, delta_sumsq, "delta_sumsq", None)
    check_out("new_sumsq", new_sumsq, (S,), np.dtype(np.float64))
    return S
