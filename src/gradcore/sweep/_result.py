"""A sweep's results: read back from its JSON-lines file, as a table, a pivot, a heatmap."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

from .._args import describe

__all__ = ["SweepResult", "load", "read_records"]


def read_records(path, trial: str | None = None) -> tuple[dict[str, dict], int]:
    """``({key: latest record}, lines that could not be read)`` of a results file (missing:
    nothing). A line cut short by a kill mid-write, or not a record, is skipped and counted."""
    path = Path(path)
    records: dict[str, dict] = {}
    bad = 0
    if not path.exists():
        return records, bad
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            if not line.strip():
                continue
            try:
                r = json.loads(line)
            except json.JSONDecodeError:
                bad += 1
                continue
            if not isinstance(r, dict) or not {"trial", "key", "config", "status"} <= set(r):
                bad += 1
                continue
            if trial is None or r["trial"] == trial:
                records[r["key"]] = r
    return records, bad


def load(path, *, trial: str | None = None, keys=None) -> SweepResult:
    """The results in ``path`` (a sweep's ``out`` file): every trial, or those of ``trial``,
    or only ``keys`` (in that order; the grid's)."""
    records, bad = read_records(path, trial)
    if keys is not None:
        records = {k: records[k] for k in keys if k in records}
    return SweepResult(list(records.values()), path=Path(path), unreadable_lines=bad)


def _fmt(v) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    return "-" if v is None else str(v)


class SweepResult:
    """The records of one sweep (one per trial: the latest line for each config).

    ``records``: dicts with ``trial``, ``key``, ``config``, ``status`` (``"ok"`` or
    ``"error"``), ``metrics``, ``monitor``, ``error``, ``seconds``, ``host``, ``backend``,
    ``gradcore``. ``ok`` / ``errors`` split them."""

    def __init__(self, records: list[dict], *, path=None, unreadable_lines: int = 0) -> None:
        self.records = records
        self.path = path
        self.unreadable_lines = unreadable_lines

    def __len__(self) -> int:
        return len(self.records)

    def __repr__(self) -> str:
        return (
            f"SweepResult({len(self.ok)} ok, {len(self.errors)} errors"
            f"{', file ' + str(self.path) if self.path else ''})"
        )

    @property
    def ok(self) -> list[dict]:
        return [r for r in self.records if r["status"] == "ok"]

    @property
    def errors(self) -> list[dict]:
        return [r for r in self.records if r["status"] != "ok"]

    def axes(self) -> list[str]:
        """The config keys that vary across the records (the grid's axes)."""
        keys: dict[str, set] = {}
        for r in self.records:
            for k, v in r["config"].items():
                keys.setdefault(k, set()).add(json.dumps(v))
        return [k for k, vals in keys.items() if len(vals) > 1]

    def metric_names(self) -> list[str]:
        names: dict[str, None] = {}
        for r in self.ok:
            for k, v in (r.get("metrics") or {}).items():
                if isinstance(v, int | float) and not isinstance(v, bool):
                    names.setdefault(k)
        return list(names)

    def rows(self, columns=None) -> tuple[list[str], list[list]]:
        """``(columns, rows)``: the varying config keys, then the metrics (or ``columns``),
        then the status; one row per record."""
        if columns is None:
            columns = self.axes() + self.metric_names()[:6]
        out = []
        for r in self.records:
            m = r.get("metrics") or {}
            out.append([r["config"].get(c, m.get(c)) for c in columns] + [r["status"]])
        return [*columns, "status"], out

    def table(self, columns=None) -> str:
        """The records as an aligned text table (``columns``: config keys and metric names;
        default the grid's axes and the first six metrics)."""
        cols, rows = self.rows(columns)
        cells = [cols] + [[_fmt(v) for v in row] for row in rows]
        width = [max(len(row[i]) for row in cells) for i in range(len(cols))]
        lines = ["  ".join(c.rjust(w) for c, w in zip(row, width, strict=True)) for row in cells]
        lines.insert(1, "  ".join("-" * w for w in width))
        for r in self.errors:
            lines.append(f"error at {r['config']}: {r.get('error')}")
        return "\n".join(lines)

    def values(self, name: str) -> np.ndarray:
        """A config key's or a metric's value for every ok record (float, NaN where absent)."""
        out = []
        for r in self.ok:
            v = r["config"].get(name, (r.get("metrics") or {}).get(name))
            out.append(math.nan if v is None or isinstance(v, str | list) else float(v))
        return np.asarray(out, dtype=np.float64)

    def pivot(self, x: str, y: str, value: str, reduce: str = "mean"):
        """``(xs, ys, Z)``: the sorted distinct values of config keys ``x`` and ``y`` and
        ``Z[len(ys), len(xs)]``, the ``reduce`` ("mean", "median", "min", "max") of ``value``
        over the records at each cell (e.g. over seeds); NaN where none."""
        fns = {"mean": np.nanmean, "median": np.nanmedian, "min": np.nanmin, "max": np.nanmax}
        if reduce not in fns:
            raise ValueError(f"pivot: reduce must be one of {', '.join(fns)}, got {reduce!r}")
        for name in (x, y):
            if not any(name in r["config"] for r in self.ok):
                raise ValueError(
                    f"pivot: {name!r} is not a config key of these records; axes: {self.axes()}"
                )
        if value not in self.metric_names():
            raise ValueError(f"pivot: no metric {value!r}; metrics: {self.metric_names()}")
        xv, yv, vv = self.values(x), self.values(y), self.values(value)
        xs, ys = np.unique(xv[~np.isnan(xv)]), np.unique(yv[~np.isnan(yv)])
        Z = np.full((len(ys), len(xs)), np.nan)
        for i, yy in enumerate(ys):
            for j, xx in enumerate(xs):
                sel = vv[(xv == xx) & (yv == yy)]
                sel = sel[~np.isnan(sel)]
                if sel.size:
                    Z[i, j] = fns[reduce](sel)
        return xs, ys, Z

    @staticmethod
    def edges(v: np.ndarray, log: bool = False) -> np.ndarray:
        """Cell edges around sorted centres ``v`` (a pivot's axis): half-way between
        neighbours, in log space if ``log`` (for an axis drawn on a log scale)."""
        if log:
            return np.exp(SweepResult.edges(np.log(v)))
        if len(v) == 1:
            return np.array([v[0] - 0.5, v[0] + 0.5])
        mid = (v[1:] + v[:-1]) / 2
        return np.concatenate([[v[0] - (mid[0] - v[0])], mid, [v[-1] + (v[-1] - mid[-1])]])

    def plot_heatmap(self, x: str, y: str, value: str, *, reduce="mean", ax=None, cmap="viridis"):
        """A heatmap of ``value`` over config keys ``x`` (columns) and ``y`` (rows), reduced
        over the other axes (seeds) by ``reduce``; cells without a result are blank. Returns
        the Figure."""
        import matplotlib.pyplot as plt

        xs, ys, Z = self.pivot(x, y, value, reduce)
        if ax is None:
            fig, ax = plt.subplots(figsize=(8, 5))
        else:
            if not hasattr(ax, "pcolormesh"):
                raise TypeError(f"plot_heatmap: ax must be a matplotlib Axes, got {describe(ax)}")
            fig = ax.figure
        mesh = ax.pcolormesh(self.edges(xs), self.edges(ys), np.ma.masked_invalid(Z), cmap=cmap)
        fig.colorbar(mesh, ax=ax, label=f"{value} ({reduce} over the other axes)")
        ax.set_xlabel(x)
        ax.set_ylabel(y)
        ax.set_title(f"{value} over {x} x {y}")
        return fig
