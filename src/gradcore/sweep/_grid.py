"""The grid of a sweep: the product of named axes, and its spelling on the command line."""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import numbers
from collections.abc import Iterator

import numpy as np

from .._args import describe

__all__ = ["Grid", "config_key", "parse_axis"]


def _scalar(axis: str, v):
    """A grid value as a plain JSON scalar (NumPy scalars become Python ones)."""
    if isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, bool) or v is None or isinstance(v, str):
        return v
    if isinstance(v, numbers.Integral):
        return int(v)
    if isinstance(v, numbers.Real):
        f = float(v)
        if not math.isfinite(f):
            raise ValueError(f"Grid: axis {axis!r} holds a non-finite value {f!r}")
        return f
    raise TypeError(
        f"Grid: axis {axis!r} must hold numbers, strings, booleans or None, got {describe(v)}"
    )


class Grid:
    """The product of named axes: ``Grid(depth=[10, 30], sigma_w2=np.linspace(0.5, 4, 15),
    seed=range(3))`` has 2 x 15 x 3 = 90 points, each a dict ``{"depth": 10, "sigma_w2": 0.5,
    "seed": 0}`` (the last axis varies fastest). Values are numbers, strings, booleans or
    None (NumPy scalars become Python ones, so a point is JSON and hashes the same in every
    process); an axis is a non-empty 1-D sequence without repeated values. ``fixed`` holds
    settings shared by every point (``Grid(..., fixed={"width": 128})``)."""

    def __init__(self, fixed: dict | None = None, **axes) -> None:
        if not axes:
            raise ValueError("Grid: give at least one axis, e.g. Grid(depth=[10, 30])")
        self.axes: dict[str, list] = {}
        for name, values in axes.items():
            if isinstance(values, str | bytes | dict) or not hasattr(values, "__iter__"):
                raise TypeError(
                    f"Grid: axis {name!r} must be a sequence of values (list, range, 1-D "
                    f"array), got {describe(values)}"
                )
            vals = np.asarray(values).ravel().tolist() if isinstance(values, np.ndarray) else values
            vals = [_scalar(name, v) for v in vals]
            if not vals:
                raise ValueError(f"Grid: axis {name!r} is empty")
            if len({json.dumps(v) for v in vals}) != len(vals):
                raise ValueError(f"Grid: axis {name!r} repeats a value: {vals}")
            self.axes[name] = vals
        fixed = {} if fixed is None else dict(fixed)
        clash = sorted(set(fixed) & set(self.axes))
        if clash:
            raise ValueError(f"Grid: {clash} given both as an axis and in fixed")
        self.fixed = {k: _scalar(k, v) for k, v in fixed.items()}

    def __len__(self) -> int:
        return math.prod(len(v) for v in self.axes.values())

    def __iter__(self) -> Iterator[dict]:
        names = list(self.axes)
        for combo in itertools.product(*self.axes.values()):
            yield {**self.fixed, **dict(zip(names, combo, strict=True))}

    def points(self) -> list[dict]:
        return list(self)

    def __repr__(self) -> str:
        axes = ", ".join(f"{k}=[{len(v)} values]" for k, v in self.axes.items())
        return f"Grid({axes}{', fixed=' + repr(self.fixed) if self.fixed else ''}) ({len(self)})"


def config_key(trial: str, config: dict) -> str:
    """A stable id of one trial: the hash of its name and its config (sorted JSON)."""
    text = json.dumps({"trial": trial, "config": config}, sort_keys=True, separators=(",", ":"))
    return hashlib.sha1(text.encode()).hexdigest()[:16]


def _number(text: str):
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    low = text.lower()
    if low in ("true", "false"):
        return low == "true"
    return None if low == "none" else text


def parse_axis(spec: str) -> tuple[str, list]:
    """``"depth=10,30,100"`` -> ``("depth", [10, 30, 100])``; ``"sigma_w2=0.5:4:15"`` ->
    15 evenly spaced values from 0.5 to 4 inclusive (``np.linspace``); a single value is an
    axis of one. Values are ints, floats, true/false, none, or else strings."""
    name, sep, rest = spec.partition("=")
    name = name.strip()
    if not sep or not name.isidentifier() or not rest.strip():
        raise ValueError(f"sweep: a grid axis is NAME=v1,v2,... or NAME=lo:hi:n, got {spec!r}")
    parts = rest.split(":")
    if len(parts) == 3 and "," not in rest:
        lo, hi, n = (_number(p.strip()) for p in parts)
        if (
            not all(isinstance(v, int | float) and not isinstance(v, bool) for v in (lo, hi))
            or not isinstance(n, int)
            or isinstance(n, bool)
            or n < 1
        ):
            raise ValueError(
                f"sweep: {spec!r}: lo:hi:n needs two numbers and a count >= 1 (e.g. 0.5:4:15)"
            )
        return name, [float(v) for v in np.linspace(lo, hi, n)]
    return name, [_number(p.strip()) for p in rest.split(",")]
