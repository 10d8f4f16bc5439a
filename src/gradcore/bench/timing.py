"""Timing: warm-up, calibrated inner loops, median and IQR over interleaved repeats.

A measurement of one case times every implementation (backend, torch variant, GEMM-only
reference) of the case:

1. per implementation, in turn: warm-up (at least ``warmup`` calls AND at least
   ``warmup_time`` seconds), then the number of calls per repeat is calibrated so that one
   repeat lasts about ``min_time`` seconds;
2. ``repeats`` rounds; in each round every implementation (in an order rotated from round to
   round) runs an untimed *pre-roll* (at least one call and ``min_time`` seconds) and then one
   timed repeat.

The statistic is the median time per call over the repeats, with the inter-quartile range as
the spread (the best repeat is recorded too). Interleaving makes the implementations of a
case share the machine's conditions: on this shared 2-core machine, other processes' load
comes in bursts of seconds, which made back-to-back blocks incomparable (a GEMM-only block
at 30 ms per call next to a 0.4 ms one). The pre-roll absorbs the thread-pool hand-over:
the first call after switching pools (NumPy's OpenBLAS threads to torch's OpenMP threads, or
back) took 10-110 ms instead of 0.06 ms while the previous pool's threads still spun, and the
next few calls were slower still.
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
    best: float
    number: int  # calls per repeat
    times: list[float] = field(default_factory=list)  # seconds per call, one per repeat

    @property
    def iqr(self) -> float:
        return self.q3 - self.q1


def stats(times: list[float], number: int) -> Stats:
    arr = np.asarray(times, dtype=np.float64)
    q1, med, q3 = np.percentile(arr, [25, 50, 75])
    return Stats(
        float(med), float(q1), float(q3), float(arr.min()), number, [float(t) for t in arr]
    )


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
    errors: dict[str, str] | None = None,
) -> dict[str, Stats]:
    """Time every implementation; returns ``{impl.name: Stats}`` (seconds per call).

    ``activate(backend_name)`` is called before the block of an implementation that has a
    ``backend`` (outside the timed region). If ``errors`` is a dict, an implementation that
    raises during warm-up is left out and its error recorded there (else the error
    propagates).
    """
    if repeats < 1:
        raise ValueError(f"repeats must be >= 1, got {repeats}")

    def enter(impl: Impl) -> None:
        if impl.backend is not None and activate is not None:
            activate(impl.backend)

    def spin(fn, calls: int, seconds: float) -> None:
        t0, k = time.perf_counter(), 0
        while k < calls or (time.perf_counter() - t0 < seconds and k < _MAX_NUMBER):
            fn()
            k += 1

    numbers: dict[str, int] = {}
    for impl in impls:
        enter(impl)
        try:
            spin(impl.fn, warmup, warmup_time)
            # calibrate: grow the loop until one block lasts >= min_time / 4, then extrapolate
            number, elapsed = 1, _run(impl.fn, 1)
            while elapsed < min_time / 4 and number < _MAX_NUMBER:
                number = min(_MAX_NUMBER, number * 10)
                elapsed = _run(impl.fn, number)
        except Exception as exc:  # e.g. an op a backend does not implement yet
            if errors is None:
                raise
            errors[impl.name] = f"{type(exc).__name__}: {exc}"
            continue
        per_call = max(elapsed / number, 1e-9)
        numbers[impl.name] = max(1, min(_MAX_NUMBER, math.ceil(min_time / per_call)))
    live = [impl for impl in impls if impl.name in numbers]
    samples: dict[str, list[float]] = {impl.name: [] for impl in live}
    for r in range(repeats):
        for j in range(len(live)):
            impl = live[(j + r) % len(live)]
            enter(impl)
            if len(live) > 1:  # pre-roll: absorb the hand-over from the previous one
                spin(impl.fn, 1 if warmup else 0, min_time)
            n = numbers[impl.name]
            samples[impl.name].append(_run(impl.fn, n) / n)
    return {name: stats(ts, numbers[name]) for name, ts in samples.items()}
