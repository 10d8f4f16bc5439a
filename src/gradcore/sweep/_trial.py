"""What runs on a worker: resolve a trial by name, set the threads, run it, report a record.

Everything here is importable by a fresh worker process (Dask's, or the local pool's): the
trial travels as a *spec* string, ``"NAME"`` (a trial of :data:`gradcore.experiments.TRIALS`
or an experiment of :data:`gradcore.experiments.EXPERIMENTS`) or ``"package.module:function"``.
"""

from __future__ import annotations

import importlib
import math
import numbers
import os
import socket
import tempfile
import time
import traceback

import numpy as np

from .._args import describe

__all__ = ["execute", "resolve"]


def resolve(trial) -> tuple[str, str]:
    """``(name, spec)`` of ``trial``: a registered name, ``"module:function"`` or a
    module-level function (workers import it by its module and name)."""
    from .. import experiments

    if callable(trial) and not isinstance(trial, str):
        mod, qual = getattr(trial, "__module__", None), getattr(trial, "__qualname__", "")
        spec = f"{mod}:{qual}"
        ok = mod not in (None, "__main__") and "<" not in qual
        if ok:
            try:
                ok = _load(spec) is trial
            except (ImportError, AttributeError):
                ok = False
        if not ok:
            raise TypeError(
                "sweep: a trial given as a function must be importable by the worker processes "
                f"(a module-level function of an importable module), got {describe(trial)} "
                f"({spec}); give 'module:function' or define it in a module"
            )
        return qual, spec
    if not isinstance(trial, str):
        raise TypeError(
            f"sweep: trial must be a name, 'module:function' or a function, got {describe(trial)}"
        )
    if ":" in trial:
        try:
            _load(trial)
        except (ImportError, AttributeError, ValueError) as exc:
            raise ValueError(f"sweep: cannot import the trial {trial!r}: {exc}") from None
        return trial, trial
    if trial in experiments.TRIALS or trial in experiments.EXPERIMENTS:
        return trial, trial
    names = sorted({*experiments.TRIALS, *experiments.EXPERIMENTS} - {"summary"})
    raise ValueError(
        f"sweep: trial must be one of {', '.join(names)} or 'module:function', got {trial!r}"
    )


def _load(spec: str):
    from .. import experiments

    if ":" not in spec:
        if spec in experiments.TRIALS:
            return experiments.TRIALS[spec].fn
        return _ExperimentTrial(spec)
    mod, _, qual = spec.partition(":")
    obj = importlib.import_module(mod)
    for part in qual.split("."):
        obj = getattr(obj, part)
    if not callable(obj):
        raise ValueError(f"{spec} is not callable")
    return obj


class _ExperimentTrial:
    """A classic experiment as a trial: its grid point gives ``quick``, ``seed`` and ``data``;
    the metrics are the numbers of its ``measured`` (flattened to ``a.b`` keys) and
    ``reproduced`` (1 or 0). Its figures go to a temporary folder, deleted afterwards."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __call__(self, *, quick: bool = True, seed: int = 0, data=None) -> dict:
        from .. import experiments

        with tempfile.TemporaryDirectory() as tmp:
            r = experiments.run(
                self.name, quick=quick, seed=seed, data=data, out=tmp, progress=False
            )
        metrics = _flatten(r["measured"])
        metrics["reproduced"] = int(bool(r["headline"]["reproduced"]))
        return metrics


def _flatten(d, prefix: str = "") -> dict:
    out = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            out.update(_flatten(v, key + "."))
        elif isinstance(v, bool | np.bool_):
            out[key] = int(v)
        elif isinstance(v, numbers.Real) or v is None:
            out[key] = v
    return out


def _value(v):
    if isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, float) and not math.isfinite(v):
        return None  # strict JSON, as results.json
    if v is None or isinstance(v, bool | int | float | str):
        return v
    if isinstance(v, list | tuple | np.ndarray):
        return [_value(x) for x in np.asarray(v, dtype=object).ravel().tolist()]
    raise TypeError(f"a metric must be a number, a string or a list of numbers, got {describe(v)}")


def _metrics(out) -> tuple[dict, dict | None]:
    if not isinstance(out, dict) or not all(isinstance(k, str) for k in out):
        raise TypeError(f"a trial must return a dict of numbers (str keys), got {describe(out)}")
    out = dict(out)
    monitor = out.pop("monitor", None)
    if monitor is not None and not isinstance(monitor, dict):
        raise TypeError(f"a trial's 'monitor' entry must be a dict, got {describe(monitor)}")
    metrics = {}
    for k, v in out.items():
        try:
            metrics[k] = _value(v)
        except TypeError as exc:
            raise TypeError(f"metric {k!r}: {exc}") from None
    if monitor is not None:
        from ..monitor.history import jsonable

        monitor = jsonable(monitor)
    return metrics, monitor


def _threads(threads: int | None) -> int:
    from .. import threads as _threads_mod

    if threads is not None:
        _threads_mod.set_num_threads(int(threads))
    return _threads_mod.get_num_threads()


def execute(spec: str, config: dict, threads: int | None) -> dict:
    """Run one trial in this process and return its record (never raises for the trial's own
    errors: those are the record's ``status: "error"``, ``error`` and ``traceback``)."""
    from .._version import __version__
    from ..backends import get_backend_name

    t0 = time.perf_counter()
    rec = {"status": "ok", "metrics": None, "monitor": None, "error": None}
    try:
        rec["threads"] = _threads(threads)
        rec["metrics"], rec["monitor"] = _metrics(_load(spec)(**config))
    except Exception as exc:
        rec["status"] = "error"
        rec["error"] = f"{type(exc).__name__}: {exc}"
        rec["traceback"] = traceback.format_exc(limit=20)
    rec.update(
        seconds=round(time.perf_counter() - t0, 3),
        host=socket.gethostname(),
        pid=os.getpid(),
        backend=get_backend_name(),
        gradcore=__version__,
    )
    return rec
