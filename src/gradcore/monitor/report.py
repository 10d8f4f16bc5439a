"""A report folder a person can open: PNG figures, ``report.md`` with the numbers beside each
figure, and ``history.json`` with every recorded number for machines.

::

    paths = mon.save_report("run1/")          # or gc.monitor.report.save_report(mon, "run1/")
    paths["report"]                           # 'run1/report.md'

Figures come from :mod:`gradcore.monitor.plots` (matplotlib, imported when a figure is drawn).
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import numpy as np

from .._args import describe
from .findings import Diagnosis
from .history import GradientHistory

__all__ = ["FIGURES", "save_report"]

#: The figures of a report, in order: (file stem, title).
FIGURES = (
    ("gradient_flow", "Gradient flow across the layers"),
    ("gradient_heatmap", "Gradient norm per layer over training"),
    ("training_curves", "Loss and gradient norms over training"),
    ("through_time", "Gradient through time (recurrent layers)"),
    ("update_ratio", "Update-to-weight ratio"),
    ("saturation", "Saturated and dead units"),
    ("histograms", "Weight and gradient distributions"),
)
DPI = 110


def _json_safe(v):
    """``v`` with NaN/inf as None, NumPy scalars/arrays as Python values, tuples as lists."""
    if isinstance(v, dict):
        return {str(k): _json_safe(x) for k, x in v.items()}
    if isinstance(v, list | tuple):
        return [_json_safe(x) for x in v]
    if isinstance(v, np.ndarray):
        return _json_safe(v.tolist())
    if isinstance(v, np.generic):
        return _json_safe(v.item())
    if isinstance(v, float) and not math.isfinite(v):
        return None
    if v is None or isinstance(v, bool | int | float | str):
        return v
    return str(v)


def _fmt(v, digits: int = 3) -> str:
    """A number for a table: 3 significant digits, scientific outside 1e-2 .. 1e4; '-' if NaN."""
    if v is None:
        return "-"
    if isinstance(v, bool | np.bool_):
        return str(v)
    if isinstance(v, int | np.integer):
        return str(int(v))
    if isinstance(v, float | np.floating):
        v = float(v)
        if not math.isfinite(v):
            return "-" if math.isnan(v) else str(v)
        if v == 0:
            return "0"
        if 1e-2 <= abs(v) < 1e4:
            return f"{v:.{digits}g}"
        return f"{v:.{digits - 1}e}"
    return str(v)


def _pct(v) -> str:
    return "-" if v is None or not math.isfinite(v) else f"{100 * v:.1f} %"


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    out = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    out += ["| " + " | ".join(r) + " |" for r in rows]
    return [*out, ""]


def _evidence(d, kind: str) -> dict:
    for f in d.findings:
        if f.kind == kind:
            return f.evidence
    return {}


# ------------------------------------------------------------------------------ the numbers


def _notes_flow(h, d) -> list[str]:
    names, G = h.layer_grad_norms()
    lines = []
    if names:
        gf, gl = G[:, 0], G[:, -1]
        with np.errstate(all="ignore"):
            med = [
                float(np.nanmedian(np.where(np.isfinite(c), c, np.nan)))
                if np.isfinite(c).any()
                else math.nan
                for c in G.T
            ]
        ratio = med[0] / med[-1] if med[-1] and math.isfinite(med[-1]) else math.nan
        lines.append(
            f"- first layer with weights **{names[0]}**: median ‖∂L/∂W‖ = {_fmt(med[0])} "
            f"(step {int(h.steps[0])}: {_fmt(float(gf[0]))}, step {int(h.steps[-1])}: "
            f"{_fmt(float(gf[-1]))})"
        )
        lines.append(
            f"- last layer **{names[-1]}**: median ‖∂L/∂W‖ = {_fmt(med[-1])} "
            f"(step {int(h.steps[0])}: {_fmt(float(gl[0]))}, step {int(h.steps[-1])}: "
            f"{_fmt(float(gl[-1]))})"
        )
        lines.append(f"- first/last ratio: {_fmt(ratio)}")
    gp = d.summary.get("gain_product")
    if gp is not None:
        lines.append(
            f"- backward factor (product of the layers' gains ‖∂L/∂x‖/‖∂L/∂y‖): {_fmt(gp)} "
            "(<< 1 vanishing, >> 1 exploding)"
        )
    for kind in ("vanishing", "exploding"):
        ev = _evidence(d, kind)
        if ev:
            lines.append(
                f"- **{kind}** finding: " + "; ".join(f"{k} = {_fmt(v)}" for k, v in ev.items())
            )
    lines.append("")
    if d.layers:
        by = {r.name: r for r in d.layers}
        rows = [
            [
                f"`{n}`",
                by[n].kind if n in by else "?",
                _fmt(by[n].grad_norm) if n in by else "-",
                _fmt(by[n].gain) if n in by else "-",
                by[n].verdict if n in by else "-",
            ]
            for n in names
        ]
        lines += _table(
            ["layer", "kind", "median ‖∂L/∂W‖", "gain ‖∂L/∂x‖/‖∂L/∂y‖", "verdict"], rows
        )
    return lines


def _notes_heatmap(h, d) -> list[str]:
    _, G = h.layer_grad_norms()
    g = G[np.isfinite(G) & (G > 0)]
    if not g.size:
        return ["No positive finite weight-gradient norm was recorded.", ""]
    lines = [
        f"- {len(h)} records over steps {int(h.steps[0])} .. {int(h.steps[-1])} "
        f"(recorded every {h.stride} step{'s' if h.stride != 1 else ''})",
        f"- weight-gradient norms range from {_fmt(float(g.min()))} to {_fmt(float(g.max()))} "
        f"({math.log10(g.max() / g.min()):.1f} decades)",
    ]
    spread = _evidence(d, "vanishing").get("max/min spread")
    if spread is not None:
        lines.append(f"- median max/min spread over the layers: {_fmt(spread)}")
    return [*lines, ""]


def _notes_training(h, d) -> list[str]:
    lines = []
    loss = h.loss[np.isfinite(h.loss)]
    if loss.size:
        lines.append(
            f"- loss: first recorded {_fmt(float(loss[0]))}, last {_fmt(float(loss[-1]))}, "
            f"lowest {_fmt(float(loss.min()))}"
        )
    if h.epoch_logs:
        last = h.epoch_logs[-1]
        keys = [k for k in ("loss", "accuracy", "val_loss", "val_accuracy") if k in last]
        if keys:
            lines.append(
                f"- epoch {last.get('epoch', len(h.epoch_logs) - 1)} (last): "
                + ", ".join(f"{k} {_fmt(last[k])}" for k in keys)
            )
    gn = h.grad_norm[np.isfinite(h.grad_norm)]
    if gn.size:
        lines.append(
            f"- global gradient norm (before clipping): first {_fmt(float(gn[0]))}, "
            f"last {_fmt(float(gn[-1]))}, largest {_fmt(float(gn.max()))}"
        )
    cc = h.clip_coef[np.isfinite(h.clip_coef)]
    if cc.size:
        lines.append(f"- clipped at {100 * float(np.mean(cc < 1)):.0f} % of the recorded steps")
    if h.first_nonfinite is not None:
        ev = h.first_nonfinite
        lines.append(f"- first non-finite value at step {ev['step']}: {ev['detail']}")
    for f in d.findings:
        if f.kind in ("unstable_loss", "stalled"):
            lines.append(
                f"- **{f.kind}**: " + "; ".join(f"{k} = {_fmt(v)}" for k, v in f.evidence.items())
            )
    return [*lines, ""]


def _notes_through_time(h, d) -> list[str]:
    rows = []
    for name, cols in h.recurrent.items():
        dh = cols["dh"]
        with np.errstate(all="ignore"):
            fin = np.where(np.isfinite(dh), dh, np.nan)
            ok = np.isfinite(fin).any(axis=1)
            peak = np.full(len(dh), np.nan)
            peak[ok] = np.nanmax(fin[ok], axis=1)
            r0 = dh[:, 0] / peak
        r0 = r0[np.isfinite(r0)]
        fg = cols["forget"][np.isfinite(cols["forget"])]
        T = int(np.sum(np.isfinite(dh[-1])))
        rows.append(
            [
                f"`{name}`",
                str(T),
                _fmt(float(np.median(r0))) if r0.size else "-",
                _fmt(float(np.median(fg))) if fg.size else "-",
            ]
        )
    lines = _table(
        ["recurrent layer", "T", "median ‖∂L/∂h_0‖ / max_t ‖∂L/∂h_t‖", "forget gate mean (LSTM)"],
        rows,
    )
    ev = _evidence(d, "long_range_vanishing")
    if ev:
        lines += [
            "**long_range_vanishing**: " + "; ".join(f"{k} = {_fmt(v)}" for k, v in ev.items()),
            "",
        ]
    return lines


def _notes_update(h, d) -> list[str]:
    rows = [
        [f"`{r.name}`", _fmt(r.update_ratio), _verdict_update(r.update_ratio)]
        for r in d.layers
        if r.update_ratio is not None and math.isfinite(r.update_ratio)
    ]
    if not rows:
        return ["No update was recorded (the ratio needs an optimizer step after a record).", ""]
    lr = d.summary.get("lr")
    head = [f"Target about 1e-3 (CS231n); learning rate {_fmt(lr)}.", ""]
    return head + _table(["layer", "median ‖Δw‖/‖w‖ (largest tensor)", "vs 1e-3"], rows)


def _verdict_update(v: float) -> str:
    if v > 1e-2:
        return f"{v / 1e-3:.0f}x above: learning rate high"
    if v < 1e-4:
        return f"{1e-3 / v:.0f}x below: barely learning"
    return "in range"


def _notes_saturation(h, d) -> list[str]:
    rows = [
        [f"`{r.name}`", r.kind, _pct(r.saturated), _pct(r.dead), r.verdict]
        for r in d.layers
        if math.isfinite(r.saturated) or math.isfinite(r.dead)
    ]
    return _table(["layer", "kind", "saturated (median)", "dead units (median)", "verdict"], rows)


def _notes_histograms(model) -> list[str]:
    rows = []
    arena = model.parameters()
    for s in arena.segments:
        if len(s.shape) < 2:
            continue
        w = np.asarray(arena.data[s.offset : s.stop], dtype=np.float64)
        g = np.asarray(arena.grad[s.offset : s.stop], dtype=np.float64)
        std = float(np.std(w)) if w.size else math.nan
        fan_in = s.shape[0]
        rows.append(
            [
                f"`{s.name}`",
                "x".join(str(k) for k in s.shape),
                _fmt(std),
                _fmt(std * math.sqrt(fan_in)),
                _fmt(float(np.sqrt(np.sum(g * g)))),
                _pct(float(np.mean(g == 0))) if g.size else "-",
            ]
        )
    head = [
        "Current values (after the last step). std(w)·√fan_in: about 1.41 for He (ReLU), "
        "1 for Glorot/LeCun.",
        "",
    ]
    return head + _table(
        ["tensor", "shape", "std(w)", "std(w)·√fan_in", "‖∂L/∂W‖", "gradients = 0"], rows
    )


# ------------------------------------------------------------------------------ the report


def _check_report_args(monitor, out, diagnosis) -> Path:
    """Everything ``save_report`` can refuse, before it writes anything: a monitor with at
    least one record, ``out`` a path (str or ``os.PathLike``) that is or can become a folder
    (no file at it or at one of its parents), ``diagnosis`` ``None`` or a ``Diagnosis``."""
    # a monitor is known by what the report reads (its history and diagnose()), as the plots
    # know it: this module sits below monitor.py, which imports it for GradientMonitor.save_report
    if not isinstance(getattr(monitor, "history", None), GradientHistory) or not callable(
        getattr(monitor, "diagnose", None)
    ):
        raise TypeError(
            f"save_report: monitor must be a gc.monitor.GradientMonitor, got {describe(monitor)}"
        )
    if len(monitor.history) == 0:
        raise ValueError(
            "save_report: monitor must have at least one record, got none (run fit with the "
            "monitor as a callback, or call monitor.record(loss=...) after backward)"
        )
    if not isinstance(out, str | os.PathLike) or isinstance(out, bytes):
        raise TypeError(
            f"save_report: out must be a folder path (str or os.PathLike), got {describe(out)}"
        )
    out = Path(out)
    if str(out) == "":
        raise ValueError("save_report: out must be a folder path, got ''")
    for p in (out, *out.parents):
        if p.exists():
            if not p.is_dir():
                what = "is a file" if p == out else f"is inside {str(p)!r}, a file"
                raise ValueError(
                    f"save_report: out must be a folder (created if missing), got "
                    f"{str(out)!r}, which {what}"
                )
            break
    if diagnosis is not None and not isinstance(diagnosis, Diagnosis):
        raise TypeError(
            f"save_report: diagnosis must be None or a gc.monitor.Diagnosis, got "
            f"{describe(diagnosis)}"
        )
    return out


def save_report(monitor, out, *, diagnosis=None) -> dict:
    """Write the report folder ``out`` (created with its parents) and return its paths.

    Files: one PNG per figure of :mod:`gradcore.monitor.plots` (``gradient_flow.png``,
    ``gradient_heatmap.png``, ``training_curves.png``, ``through_time.png`` when a recurrent
    layer (LSTM, SimpleRNN) was recorded, ``update_ratio.png``, ``saturation.png`` when a
    sigmoid/tanh/ReLU layer was recorded, ``histograms.png``; dpi 110), ``history.json``
    (``history.to_dict()`` plus the diagnosis under ``"diagnosis"``; strict JSON, NaN/inf as
    ``null``) and ``report.md`` (the status, the health report, each figure with its numbers).

    ``monitor``: a :class:`~gradcore.monitor.GradientMonitor` with at least one record;
    ``diagnosis``: a :class:`~gradcore.monitor.Diagnosis` (default ``monitor.diagnose()``).
    Returns ``{"report": path, "history": path, "figures": {name: path}}`` (str paths).
    """
    from . import plots

    out = _check_report_args(monitor, out, diagnosis)
    h = monitor.history
    d = diagnosis if diagnosis is not None else monitor.diagnose()
    out.mkdir(parents=True, exist_ok=True)

    has_act = any(np.isfinite(h.layer[f]).any() for f in ("saturated", "dead") if h.layer[f].size)
    draw = {
        "gradient_flow": lambda: plots.gradient_flow(monitor),
        "gradient_heatmap": lambda: plots.gradient_heatmap(monitor),
        "training_curves": lambda: plots.training_curves(monitor),
        "through_time": (lambda: plots.through_time(monitor)) if h.recurrent else None,
        "update_ratio": lambda: plots.update_ratio(monitor),
        "saturation": (lambda: plots.saturation(monitor)) if has_act else None,
        "histograms": lambda: plots.histograms(monitor),
    }
    notes = {
        "gradient_flow": lambda: _notes_flow(h, d),
        "gradient_heatmap": lambda: _notes_heatmap(h, d),
        "training_curves": lambda: _notes_training(h, d),
        "through_time": lambda: _notes_through_time(h, d),
        "update_ratio": lambda: _notes_update(h, d),
        "saturation": lambda: _notes_saturation(h, d),
        "histograms": lambda: _notes_histograms(monitor.model),
    }
    figures: dict[str, str] = {}
    for name, _ in FIGURES:
        if draw[name] is None:
            continue
        fig = draw[name]()
        path = out / f"{name}.png"
        fig.savefig(path, dpi=DPI, bbox_inches="tight")
        del fig  # a Figure without pyplot is freed with its last reference
        figures[name] = str(path)

    hist_path = out / "history.json"
    payload = _json_safe({**h.to_dict(), "diagnosis": d.to_dict()})
    with open(hist_path, "w", encoding="utf-8") as fh:
        json.dump(payload, fh, allow_nan=False)

    s = d.summary
    lines = [
        f"# gradcore gradient report: {d.status.upper()}",
        "",
        f"{s.get('records', len(h))} recorded steps of {s.get('steps', '?')} "
        f"(every {s.get('stride', h.stride)}), {s.get('layers', len(h.layer_names))} layers, "
        f"backend {s.get('backend')}, {s.get('dtype')}, learning rate {_fmt(s.get('lr'))}. "
        f"Findings: {', '.join(f.kind for f in d.findings) or 'none'}. "
        f"All numbers: [history.json](history.json).",
        "",
        "## Diagnosis",
        "",
        "```text",
        str(d).rstrip("\n"),
        "```",
        "",
    ]
    for name, title in FIGURES:
        if name not in figures:
            if name == "saturation":
                lines += [
                    f"## {title}",
                    "",
                    "Not drawn: no sigmoid, tanh or ReLU layer was recorded.",
                    "",
                ]
            continue
        lines += [f"## {title}", "", f"![{title}]({name}.png)", ""]
        lines += notes[name]()
    report_path = out / "report.md"
    report_path.write_text("\n".join(lines).rstrip("\n") + "\n", encoding="utf-8")
    return {"report": str(report_path), "history": str(hist_path), "figures": figures}
