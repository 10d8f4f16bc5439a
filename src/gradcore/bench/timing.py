"""Timing: warm-up, calibrated inner loops, median and IQR over repeats.

A measurement of one case times every implementation (backend, torch variant, GEMM-only
reference) in turn, each as one contiguous block: warm-up (at least ``warmup`` calls AND at
least ``warmup_time`` seconds), then the number of calls per repeat is calibrated so that a
repeat lasts about ``min_time`` seconds, then ``repeats`` timed repeats. The statistic is the
median time per call over the repeats, with the inter-quartile range as the spread.

Why contiguous blocks and a *timed* warm-up, not repeats interleaved round-robin across
implementations: on this 2-core machine the first call after switching thread pools (NumPy's
OpenBLAS threads -> torch's OpenMP threads, or back) took 10-110 ms instead of 0.06 ms while
the previous pool's threads were still spinning, and the next few calls were slower still;
interleaving would measure that hand-over, not the kernels. Short repeats and many of them
make the median robust to the 30-100 ms stalls another process on the machine causes.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

__all__ = ["Impl", "Stats", "measure", "stats"]

_MAX_NUMBER = 100_000


@dataclass
class Impl:
    """One way of running a case.

    name: column name in the report (``"numpy"``, ``"c"``, ``"torch"``, ``"torch-foreach"``,
    ``"gemm"``); kind: ``"backend"`` (a gradcore backend), ``"torch"`` or ``"gemm"`` (the
    GEMM-only reference); fn: one call of the work; backend: gradcore backend made active
    (``gc.set_backend``) before the timed loop, for layer-level calls that read the active
    backend; note: how it is run (recorded in the JSON).
    """

    name: str
    kind: str
    fn: Callable[[], object]
    backend: str | None = None
    note: str = ""


@dataclass
class Stats:
    median: float  # seconds per call
    q1: float
    q3: float
    number: int  # calls per repeat
    times: list[float] = field(default_factory=list)  # seconds per call, one per repeat

    @property
    def iqr(self) -> float:
        return self.q3 - self.q1


def stats(times: list[float], number: int) -> Stats:
    arr = np.asarray(times, dtype=np.float64)
    q1, med, q3 = np.percentile(arr, [25, 50, 75])
    return Stats(float(med), float(q1), float(q3), number, [float(t) for t in arr])


def _run(fn: Callable[[], object], number: int) -> float:
    t0 = time.perf_counter()
    for _ in range(number):
        fn()
    return time.perf_counter() - t0


def measure(
    impls: list[Impl],
    *,
    repeats: int,
    warmup: int,
    min_time: float,
    warmup_time: float = 0.0,
    activate: Callable[[str], None] | None = None,
) -> dict[str, Stats]:
    """Time every implementation; returns ``{impl.name: Stats}`` (seconds per call).

    ``activate(backend_name)`` is called before the block of an implementation that has a
    ``backend`` (outside the timed region).
    """
    if repeats < 1:
        raise ValueError(f"repeats must be >= 1, got {repeats}")
    out: dict[str, Stats] = {}
    for impl in impls:
        if impl.backend is not None and activate is not None:
            activate(impl.backend)
        fn = impl.fn
        t0, k = time.perf_counter(), 0
        while k < warmup or (time.perf_counter() - t0 < warmup_time and k < _MAX_NUMBER):
            fn()
            k += 1
        # calibrate: grow the loop until one block lasts >= min_time / 4, then extrapolate
        number, elapsed = 1, _run(fn, 1)
        while elapsed < min_time / 4 and number < _MAX_NUMBER:
            number = min(_MAX_NUMBER, number * 10)
            elapsed = _run(fn, number)
        per_call = max(elapsed / number, 1e-9)
        number = max(1, min(_MAX_NUMBER, math.ceil(min_time / per_call)))
        out[impl.name] = stats([_run(fn, number) / number for _ in range(repeats)], number)
    return out
