"""Figures of a monitored run: where the gradient vanishes or explodes, and why.

Every function takes a :class:`~gradcore.monitor.GradientMonitor` or its
:class:`~gradcore.monitor.GradientHistory` as first argument (:func:`histograms` takes the
monitor or the model: it reads the current weights), draws into ``ax`` when one is given (else
into a new :class:`matplotlib.figure.Figure`) and returns the Figure. Nothing touches pyplot's
global state and nothing is shown: save with ``fig.savefig("flow.png")``, or display the
returned Figure in a notebook.

::

    from gradcore.monitor import plots
    plots.gradient_flow(mon).savefig("flow.png", dpi=110, bbox_inches="tight")
    fig, (a, b) = matplotlib.pyplot.subplots(1, 2)       # or draw into your own Axes
    plots.gradient_flow(mon, ax=a); plots.update_ratio(mon, ax=b)

matplotlib is imported only inside the functions: ``gradcore.monitor`` works without it.
Values that a log axis cannot show (0, NaN, inf: a dead layer, an unmeasured column) are left
out of the lines rather than drawn at a made-up level; where an exact zero means something (a
weight gradient of exactly 0) it is marked at the bottom edge.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from .._args import check_choice, check_int, describe
from .findings import Thresholds

__all__ = [
    "gradient_flow",
    "gradient_heatmap",
    "histograms",
    "lstm_through_time",
    "saturation",
    "through_time",
    "training_curves",
    "update_ratio",
]

#: Layers up to this many get a legend entry each; more get a colorbar "layer index".
MAX_LEGEND = 12
_C_VANISHED, _C_WEAK, _C_EXPLODING = "#d62728", "#ff7f0e", "#9467bd"
_C_SAT, _C_DEAD = "#e6550d", "#3182bd"


# ------------------------------------------------------------------------------ helpers


def _history(src):
    """The GradientHistory of ``src`` (a monitor or a history), with at least one record."""
    from .history import GradientHistory

    h = src if isinstance(src, GradientHistory) else getattr(src, "history", None)
    if not isinstance(h, GradientHistory):
        raise TypeError(f"expected a GradientMonitor or GradientHistory, got {type(src).__name__}")
    if len(h) == 0:
        raise ValueError(
            "nothing recorded yet: run fit with the monitor as a callback, or call "
            "monitor.record(loss=...) after backward"
        )
    return h


def _thresholds(src, thresholds) -> Thresholds:
    if thresholds is not None:
        if not isinstance(thresholds, Thresholds):
            raise TypeError(
                f"thresholds must be a gc.monitor.Thresholds, got {type(thresholds).__name__}"
            )
        return thresholds
    th = getattr(src, "thresholds", None)
    return th if isinstance(th, Thresholds) else Thresholds()


def _check_ax(ax, owner: str) -> None:
    """``ax`` must be ``None`` or a matplotlib ``Axes`` (checked before anything is drawn)."""
    if ax is None:
        return
    from matplotlib.axes import Axes

    if not isinstance(ax, Axes):
        raise TypeError(f"{owner}: ax must be None or a matplotlib Axes, got {describe(ax)}")


def _figure(ax, size: tuple[float, float]):
    """``(figure, ax)``: the given Axes' figure, or a new constrained-layout Figure."""
    if ax is not None:
        _check_ax(ax, "plots")
        return ax.figure, ax
    from matplotlib.figure import Figure

    fig = Figure(figsize=size, layout="constrained")
    return fig, fig.add_subplot()


def _positive(a) -> np.ndarray:
    """``a`` as float with everything a log axis cannot show (<= 0, NaN, inf) set to NaN."""
    a = np.array(a, dtype=float)
    a[~(np.isfinite(a) & (a > 0))] = np.nan
    return a


def _log_range(*arrays, include: Sequence[float] = (), pad: float = 3.0) -> tuple[float, float]:
    """Limits of a log axis showing every positive finite value and ``include``."""
    vals = [np.asarray(a, dtype=float).ravel() for a in arrays]
    vals.append(np.asarray(include, dtype=float))
    v = np.concatenate(vals)
    v = v[np.isfinite(v) & (v > 0)]
    if v.size == 0:
        return 1e-8, 1.0
    lo, hi = float(v.min()), float(v.max())
    if hi / lo < 10:  # at least one decade, centred
        mid = math.sqrt(lo * hi)
        lo, hi = mid / math.sqrt(10), mid * math.sqrt(10)
    return lo / pad, hi * pad


def _record_rows(h, steps) -> list[int]:
    """Record indices for ``steps`` (training steps, nearest record) or first/middle/last."""
    R = len(h)
    if steps is None:
        rows = [0, (R - 1) // 2, R - 1]
    else:
        if not isinstance(steps, Sequence | np.ndarray) or isinstance(steps, str):
            steps = [steps]
        if len(steps) == 0:
            raise ValueError(
                "plots: steps must be None, a training step or a non-empty list of them, got "
                "an empty sequence"
            )
        steps = [check_int(f"steps[{i}]", s, owner="plots", min=0) for i, s in enumerate(steps)]
        st = h.steps
        rows = [int(np.argmin(np.abs(st - int(s)))) for s in steps]
    return list(dict.fromkeys(rows))  # unique, in order


def _colors(n: int, cmap: str = "viridis") -> list:
    """``n`` colours from ``cmap``, early/input dark to late/output light (not the pale end)."""
    import matplotlib

    cm = matplotlib.colormaps[cmap]
    if n <= 1:
        return [cm(0.0)]
    return [cm(0.85 * i / (n - 1)) for i in range(n)]


def _layer_ticks(ax, names: Sequence[str], axis: str = "x") -> None:
    """Layer names as tick labels, readable for 1 .. 60+ layers."""
    n = len(names)
    step = max(1, math.ceil(n / 60))
    pos = np.arange(0, n, step)
    labels = [names[i] for i in pos]
    size = 9 if n <= 12 else 8 if n <= 24 else 7 if n <= 40 else 6
    if axis == "x":
        ax.set_xticks(pos)
        long = max((len(s) for s in labels), default=0) > 3
        ax.set_xticklabels(
            labels,
            rotation=(45 if n <= 24 else 90) if long else 0,
            ha="right" if long else "center",
            rotation_mode="anchor",
            fontsize=size,
        )
        ax.set_xlim(-0.6, n - 0.4)
    else:
        ax.set_yticks(pos)
        ax.set_yticklabels(labels, fontsize=size)


def _sci(v: float) -> str:
    """1e-06 -> "1e-6", 100 -> "100"."""
    if v == 0 or 1e-2 <= abs(v) < 1e4:
        return f"{v:g}"
    m, e = f"{v:.1e}".split("e")
    m = m.rstrip("0").rstrip(".")
    return f"{m}e{int(e)}"


def _steps_label(h) -> str:
    R, k = len(h), h.stride
    return f"training step ({R} record{'s' if R != 1 else ''}" + (
        f", every {k} steps)" if k > 1 else ")"
    )


def _integer_steps(ax) -> None:
    """Integer ticks on the step (x) axis, also for a single record."""
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True, steps=[1, 2, 2.5, 5, 10]))


def _width(n: int) -> float:
    return float(min(18.0, max(7.0, 2.5 + 0.32 * n)))


def _no_data(ax, text: str) -> None:
    ax.text(
        0.5,
        0.5,
        text,
        transform=ax.transAxes,
        ha="center",
        va="center",
        color="0.3",
        zorder=10,
        bbox={"boxstyle": "round,pad=0.5", "facecolor": "white", "edgecolor": "0.7"},
    )


def _depth_key(fig, ax, names: Sequence[str], colors, handles_first: list | None = None):
    """Legend with one entry per layer (<= MAX_LEGEND) or a colorbar over the layer index."""
    if len(names) <= MAX_LEGEND:
        ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0)
        return
    from matplotlib.cm import ScalarMappable
    from matplotlib.colors import BoundaryNorm, ListedColormap

    n = len(names)
    cmap = ListedColormap(colors)
    norm = BoundaryNorm(np.arange(n + 1) - 0.5, n)
    cb = fig.colorbar(ScalarMappable(norm=norm, cmap=cmap), ax=ax, pad=0.01, aspect=40)
    k = max(1, math.ceil(n / 16))
    ticks = list(range(0, n, k))
    if ticks[-1] != n - 1:  # the output layer labelled, without crowding its neighbour
        if n - 1 - ticks[-1] < max(2, k / 2) and len(ticks) > 1:
            ticks[-1] = n - 1
        else:
            ticks.append(n - 1)
    cb.set_ticks(ticks)
    cb.set_ticklabels([names[i] for i in ticks], fontsize=7)
    cb.set_label("layer (input at the bottom, output at the top)")
    if handles_first:
        ax.legend(handles=handles_first, fontsize=8, loc="best")


# ------------------------------------------------------------------------------ figures


def gradient_flow(src, steps=None, ax=None, thresholds=None):
    """The weight-gradient norm of every layer, input to output, at a few recorded steps.

    x: the layers with weights (``W``; ``Wx`` and ``Wh`` of an LSTM combined) in model order,
    as ``history.layer_grad_norms()`` gives them; y: their Frobenius norm ``||dL/dW||`` on a
    log scale (``[R, L']`` -> one line per chosen record). ``steps``: training steps to show
    (the nearest record is used; default the first, middle and last record). Shaded bands mark
    the diagnosis thresholds (``thresholds``, default the monitor's): vanished below
    ``vanished`` (1e-6), weak below ``weak`` (1e-4), exploding above ``exploding`` (100). A
    gradient of exactly 0 is drawn as a triangle on the bottom edge. A line falling to the left
    is a vanishing gradient; rising to the left, an exploding one.
    """
    h = _history(src)
    th = _thresholds(src, thresholds)
    names, G = h.layer_grad_norms()
    n = len(names)
    fig, ax = _figure(ax, (_width(n), 4.8))
    rows = _record_rows(h, steps)
    lo, hi = _log_range(G[rows] if n else [], include=(th.vanished / 10, th.exploding * 10), pad=3)
    ax.set_yscale("log")
    ax.set_ylim(lo, hi)
    ax.axhspan(
        lo,
        th.vanished,
        color=_C_VANISHED,
        alpha=0.13,
        lw=0,
        label=f"vanished < {_sci(th.vanished)}",
    )
    ax.axhspan(
        th.vanished, th.weak, color=_C_WEAK, alpha=0.13, lw=0, label=f"weak < {_sci(th.weak)}"
    )
    ax.axhspan(
        th.exploding,
        hi,
        color=_C_EXPLODING,
        alpha=0.13,
        lw=0,
        label=f"exploding > {_sci(th.exploding)}",
    )
    x = np.arange(n)
    for color, r in zip(_colors(len(rows)), rows, strict=True):
        y = G[r] if n else np.zeros(0)
        ax.plot(
            x, _positive(y), marker="o", ms=4, lw=1.8, color=color, label=f"step {int(h.steps[r])}"
        )
    # on the bottom edge: layers whose gradient is exactly 0, or not measured (frozen, NaN),
    # at every shown step
    if n:
        shown = G[rows]
        zero = np.flatnonzero(np.any(shown == 0, axis=0))
        unmeasured = np.flatnonzero(np.all(~np.isfinite(shown), axis=0))
        for idx, marker, label in (
            (zero, "v", "gradient = 0"),
            (unmeasured, "x", "not measured (frozen / NaN)"),
        ):
            if idx.size:
                ax.plot(
                    idx,
                    np.full(idx.size, 0.03),
                    ls="none",
                    marker=marker,
                    ms=7,
                    mew=1.6,
                    color="0.15",
                    transform=ax.get_xaxis_transform(),
                    clip_on=False,
                    label=label,
                )
    if n:
        _layer_ticks(ax, names)
    else:
        _no_data(ax, "no layer with weight tensors (ndim >= 2) in the history")
    ax.set_xlabel("layer (input → output)")
    ax.set_ylabel("weight-gradient norm ‖∂L/∂W‖  (log scale)")
    ax.set_title("Gradient flow: weight-gradient norm per layer")
    ax.grid(True, axis="y", which="major", alpha=0.3)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0)
    return fig


def gradient_heatmap(src, ax=None):
    """Layers x training steps heatmap of ``log10 ||dL/dW||``, input layer at the top.

    Rows: the layers with weights in model order (``history.layer_grad_norms()``, ``[R, L']``
    transposed); columns: the recorded training steps (``history.steps``; each cell spans
    halfway to the neighbouring records). Black cells: a gradient of exactly 0; grey cells:
    not measured (frozen) or non-finite. The colorbar marks the ``vanished`` (1e-6), ``weak``
    (1e-4) and ``exploding`` (100) thresholds where they fall inside the colour range.
    """
    import matplotlib

    h = _history(src)
    th = _thresholds(src, None)
    names, G = h.layer_grad_norms()
    n = len(names)
    fig, ax = _figure(ax, (8.0, max(3.2, 1.6 + 0.22 * n)))
    steps = h.steps.astype(float)
    if steps.size == 1:
        edges = np.array([steps[0] - 0.5, steps[0] + 0.5])
    else:
        mid = (steps[1:] + steps[:-1]) / 2
        edges = np.concatenate(
            [[steps[0] - (mid[0] - steps[0])], mid, [steps[-1] + (steps[-1] - mid[-1])]]
        )
    with np.errstate(divide="ignore", invalid="ignore"):
        Z = np.log10(_positive(G.T)) if n else np.full((1, len(h)), np.nan)
    Zm = np.ma.masked_invalid(Z)
    finite = Z[np.isfinite(Z)]
    # the colours span at least vanished/10 .. exploding, so one colour means the same norm
    # in every run (a healthy run is uniformly green, not a rainbow of small differences)
    vmin, vmax = math.log10(th.vanished) - 1, math.log10(th.exploding)
    if finite.size:
        vmin, vmax = min(vmin, float(finite.min())), max(vmax, float(finite.max()))
    cmap = matplotlib.colormaps["viridis"].with_extremes(bad="0.85")
    mesh = ax.pcolormesh(
        edges,
        np.arange(max(n, 1) + 1) - 0.5,
        Zm,
        cmap=cmap,
        vmin=vmin,
        vmax=vmax,
        shading="flat",
    )
    zero = np.ma.masked_where(~(G.T == 0), np.zeros_like(Z)) if n else None
    if zero is not None and zero.count():
        from matplotlib.colors import ListedColormap

        ax.pcolormesh(
            edges,
            np.arange(n + 1) - 0.5,
            zero,
            cmap=ListedColormap(["black"]),
            shading="flat",
        )
    ax.set_ylim(max(n, 1) - 0.5, -0.5)  # input layer on top
    if n:
        _layer_ticks(ax, names, axis="y")
    else:
        ax.set_yticks([])
        _no_data(ax, "no layer with weight tensors (ndim >= 2) in the history")
    if finite.size == 0 and n:
        _no_data(ax, "no positive finite weight-gradient norm recorded")
    cb = fig.colorbar(mesh, ax=ax, pad=0.02)
    cb.set_label("log10 weight-gradient norm ‖∂L/∂W‖")
    for v, label, color in (
        (th.vanished, "vanished", _C_VANISHED),
        (th.weak, "weak", _C_WEAK),
        (th.exploding, "exploding", _C_EXPLODING),
    ):
        lv = math.log10(v)
        if vmin <= lv <= vmax:
            cb.ax.axhline(lv, color=color, lw=2)
            cb.ax.text(
                -0.15,
                lv,
                label,
                color=color,
                fontsize=7,
                ha="right",
                va="center",
                transform=cb.ax.get_yaxis_transform(),
            )
    key = []
    if zero is not None and zero.count():
        key.append("black: gradient exactly 0")
    if n and np.any(np.isnan(np.where(G.T == 0, 1.0, Z))):
        key.append("grey: not measured (frozen) or non-finite")
    ax.set_xlabel(_steps_label(h) + ("\n" + "; ".join(key) if key else ""))
    _integer_steps(ax)
    ax.set_ylabel("layer (input at the top)")
    ax.set_title("Weight-gradient norm per layer over training (log10)")
    return fig


def _model_of(src):
    from .history import GradientHistory

    if isinstance(src, GradientHistory):
        raise TypeError(
            "histograms needs the current weights: pass the GradientMonitor or the model, "
            "not its GradientHistory"
        )
    model = getattr(src, "model", src)
    if not hasattr(model, "parameters"):
        raise TypeError(f"expected a GradientMonitor or a gradcore model, got {type(src).__name__}")
    return model


def histograms(model_or_monitor, which="both", ax=None):
    """Histograms of the current weights and weight gradients of every layer, overlaid.

    Reads the model's parameter arena now (``model.parameters()``; the tensors with
    ``ndim >= 2``: W, Wx, Wh), one step line per tensor, coloured from the input (dark) to the
    output (light). Weights: the values on a linear x axis. Gradients: ``|dL/dW|`` on a log x
    axis (log-spaced bins), so layers whose gradients differ by orders of magnitude sit side by
    side instead of collapsing into one bin; exact zeros are counted in the legend. y: the
    fraction of the tensor's elements per bin (log scale), so tensors of different sizes
    compare.

    ``which``: ``"weights"``, ``"grads"`` or ``"both"`` (two panels). ``ax``: one Axes for
    ``"weights"``/``"grads"``, a pair of Axes for ``"both"``.
    """
    which = check_choice(
        "which", which, ("weights", "grads", "gradients", "both"), owner="histograms"
    )
    if which == "gradients":
        which = "grads"
    model = _model_of(model_or_monitor)
    arena = model.parameters()
    segs = [s for s in arena.segments if len(s.shape) >= 2]
    panels = ["weights", "grads"] if which == "both" else [which]
    if ax is None:
        from matplotlib.figure import Figure

        fig = Figure(figsize=(6.0 * len(panels) + 1.8, 4.6), layout="constrained")
        axes = list(fig.subplots(1, len(panels), squeeze=False)[0])
    else:
        axes = list(ax) if isinstance(ax, Sequence | np.ndarray) else [ax]
        for a_ in axes:
            _check_ax(a_, "histograms")
        if len(axes) != len(panels):
            raise ValueError(
                f"histograms(which={which!r}) draws {len(panels)} panel(s) but got "
                f"{len(axes)} Axes; pass which='weights' or 'grads' with a single Axes"
            )
        fig = axes[0].figure
    colors = _colors(len(segs))
    names = [s.name for s in segs]
    notes: dict[str, list[str]] = {nm: [] for nm in names}
    sizes = [s.size for s in segs]
    nbins = int(np.clip(2 * math.sqrt(float(np.median(sizes))), 20, 60)) if segs else 20
    for a, panel in zip(axes, panels, strict=True):
        # scales and limits first: nothing is autoscaled on a log axis (all-zero data warns)
        a.set_yscale("log")
        a.set_ylim(10**-4.5 if not segs else 0.5 / max(sizes), 1.5)
        buf = arena.data if panel == "weights" else arena.grad
        vals = [np.asarray(buf[s.offset : s.stop], dtype=np.float64) for s in segs]
        fin = [v[np.isfinite(v)] for v in vals]
        for nm, v, f in zip(names, vals, fin, strict=True):
            if f.size < v.size:
                notes[nm].append(f"{v.size - f.size} non-finite")
        if panel == "weights":
            allv = np.concatenate(fin) if fin else np.zeros(0)
            if allv.size and allv.max() > allv.min():
                edges = np.linspace(allv.min(), allv.max(), nbins + 1)
            else:
                c = float(allv[0]) if allv.size else 0.0
                edges = np.linspace(c - 1, c + 1, nbins + 1)
            for v, nm, col in zip(fin, names, colors, strict=True):
                cnt, _ = np.histogram(v, edges)
                frac = cnt / max(v.size, 1)
                a.stairs(np.where(frac > 0, frac, np.nan), edges, color=col, lw=1.4, label=nm)
                if v.size:
                    notes[nm].append(f"std(w) {np.std(v):.2g}")
            a.set_xlabel("weight value w")
            a.set_title("Weights")
        else:
            mags = [np.abs(v) for v in fin]
            pos = [m[m > 0] for m in mags]
            allp = np.concatenate(pos) if pos else np.zeros(0)
            if allp.size:
                lo, hi = float(allp.min()), float(allp.max())
                if hi / lo < 10:
                    lo, hi = lo / 3, hi * 3
            else:
                lo, hi = 1e-8, 1.0
            decades = math.log10(hi / lo)
            # about 10 bins per decade of the widest layer, at most 400 in all
            per_decade = max(nbins / max(decades, 1.0), min(10.0, 400 / decades))
            edges = np.geomspace(lo, hi, int(np.clip(decades * per_decade, 20, 400)) + 1)
            a.set_xscale("log")
            a.set_xlim(edges[0], edges[-1])
            for m, p, nm, col in zip(mags, pos, names, colors, strict=True):
                cnt, _ = np.histogram(p, edges)
                frac = cnt / max(m.size, 1)
                if m.size > p.size:
                    notes[nm].append(f"{100 * (m.size - p.size) / m.size:.0f} % of grads = 0")
                a.stairs(np.where(frac > 0, frac, np.nan), edges, color=col, lw=1.4, label=nm)
            a.set_xlabel("|∂L/∂w| per element  (log scale)")
            a.set_title("Weight gradients")
            if not allp.size:
                _no_data(a, "all gradients are 0 (no backward pass yet?)")
        a.set_ylabel("fraction of the tensor's elements  (log)")
        a.grid(True, alpha=0.25)
        if not segs:
            _no_data(a, "no weight tensors (ndim >= 2)")
    if segs:
        last = axes[-1]
        if len(names) <= MAX_LEGEND:
            handles = last.get_legend_handles_labels()[0]
            labels = [nm + (f"  ({', '.join(notes[nm])})" if notes[nm] else "") for nm in names]
            last.legend(
                handles,
                labels,
                fontsize=8,
                loc="upper left",
                bbox_to_anchor=(1.01, 1.0),
                borderaxespad=0,
            )
        else:
            _depth_key(fig, last, names, colors)
    fig.suptitle("Weight and gradient distributions per tensor (current values)")
    return fig


def training_curves(src, ax=None):
    """The loss (and accuracy) beside every layer's weight-gradient norm over training.

    Left panel: the recorded loss per training step (``history.loss``, ``[R]``; a log axis
    when it spans more than 1.5 decades) and, on a right axis, the epoch accuracy
    (``history.epoch_logs``; plotted at each epoch's last recorded step) when fit logged one.
    Right panel: ``||dL/dW||`` per layer over the steps (``history.layer_grad_norms()``,
    ``[R, L']``, log y), input layer dark, output light, with the global pre-clip norm
    (``history.grad_norm``) dashed black. With ``ax`` given only the gradient-norm panel is
    drawn into it.
    """
    h = _history(src)
    _check_ax(ax, "training_curves")
    names, G = h.layer_grad_norms()
    n = len(names)
    steps = h.steps
    R = len(h)
    marker = "o" if R <= 30 else None
    if ax is None:
        from matplotlib.figure import Figure

        fig = Figure(figsize=(13.0, 4.6), layout="constrained")
        ax_loss, ax_g = fig.subplots(1, 2, width_ratios=[1, 1.25])
        _loss_panel(h, ax_loss, marker)
    else:
        fig, ax_g = ax.figure, ax
    colors = _colors(n)
    gn = _positive(h.grad_norm)
    lo, hi = _log_range(G, gn)
    ax_g.set_yscale("log")
    ax_g.set_ylim(lo, hi)
    for j, (nm, col) in enumerate(zip(names, colors, strict=True)):
        ax_g.plot(steps, _positive(G[:, j]), color=col, lw=1.3, marker=marker, ms=3, label=nm)
    (glob,) = ax_g.plot(
        steps,
        gn,
        color="black",
        ls="--",
        lw=1.4,
        marker=marker,
        ms=3,
        label="global (before clipping)",
    )
    if R == 1:
        ax_g.set_xlim(steps[0] - 1, steps[0] + 1)
    ax_g.set_xlabel(_steps_label(h))
    _integer_steps(ax_g)
    ax_g.set_ylabel("weight-gradient norm ‖∂L/∂W‖  (log scale)")
    ax_g.set_title("Gradient norm per layer over training")
    ax_g.grid(True, which="major", alpha=0.3)
    if n == 0 and not np.isfinite(gn).any():
        _no_data(ax_g, "no positive finite gradient norm recorded")
    if n <= MAX_LEGEND:
        ax_g.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0)
    else:
        _depth_key(fig, ax_g, names, colors, handles_first=[glob])
    return fig


def _loss_panel(h, ax, marker) -> None:
    steps, loss = h.steps, np.asarray(h.loss, dtype=float)
    fin = np.isfinite(loss)
    ax.set_title("Loss" + (" and accuracy" if _accuracy(h) else "") + " over training")
    ax.set_xlabel(_steps_label(h))
    _integer_steps(ax)
    if not fin.any():
        _no_data(ax, "no loss recorded (monitor.record(loss=...) was called without one)")
        ax.set_ylabel("loss")
        return
    lf = loss[fin]
    log = bool(np.all(lf > 0) and lf.max() / lf.min() > 10**1.5)
    ax.plot(
        steps,
        np.where(fin, loss, np.nan),
        color="#1f77b4",
        lw=1.4,
        marker=marker,
        ms=3,
        label="loss (per recorded step)",
    )
    if log:
        ax.set_yscale("log")
    ax.set_ylabel("loss" + ("  (log scale)" if log else ""))
    if len(h) == 1:
        ax.set_xlim(steps[0] - 1, steps[0] + 1)
    ax.grid(True, alpha=0.3)
    handles, labels = ax.get_legend_handles_labels()
    acc = _accuracy(h)
    if acc:
        ax2 = ax.twinx()
        xs, ys, vx, vy = [], [], [], []
        for e in h.epoch_logs:
            ep = e.get("epoch")
            at = steps[h.epochs == ep] if ep is not None else np.zeros(0)
            if at.size == 0:
                continue
            if _finite(e.get("accuracy")):
                xs.append(at[-1])
                ys.append(100 * e["accuracy"])
            if _finite(e.get("val_accuracy")):
                vx.append(at[-1])
                vy.append(100 * e["val_accuracy"])
        ax2.plot(xs, ys, color="#2ca02c", marker="s", ms=5, lw=1.4, label="accuracy (epoch)")
        if vx:
            ax2.plot(
                vx,
                vy,
                color="#2ca02c",
                marker="D",
                ms=4,
                ls=":",
                lw=1.4,
                label="val accuracy (epoch)",
            )
        ax2.set_ylim(0, 100)
        ax2.set_ylabel("accuracy (%)", color="#2ca02c")
        ax2.tick_params(axis="y", colors="#2ca02c")
        h2, l2 = ax2.get_legend_handles_labels()
        handles, labels = handles + h2, labels + l2
    # below the panel: inside it would cover the loss or the accuracy curve
    ax.legend(
        handles,
        labels,
        fontsize=8,
        loc="upper center",
        bbox_to_anchor=(0.5, -0.16),
        ncol=len(labels),
        frameon=False,
    )


def _finite(v) -> bool:
    return isinstance(v, int | float | np.number) and math.isfinite(float(v))


def _accuracy(h) -> bool:
    return any(_finite(e.get("accuracy")) for e in h.epoch_logs)


def through_time(src, layer=None, steps=None, ax=None):
    """The gradient of a recurrent layer (LSTM or SimpleRNN) through time: ``||dL/dh_t||``
    (solid) and, for an LSTM, ``||dL/dc_t||`` (dashed) for every time step t, at a few
    recorded steps.

    ``history.recurrent[layer]["dh"]`` / ``["dc"]`` (``[R, T]``) against t = 0 .. T-1 (0 = the
    first input), log y; zeros and unmeasured steps are left out. ``layer``: the recurrent
    layer's name (or index among them; default the first); ``steps``: training steps to show
    (nearest record; default the first, middle and last record). The title gives
    ``||dL/dh_0|| / max_t ||dL/dh_t||`` at the last shown record, the ratio the diagnosis
    judges (below 1e-3 the first inputs barely get a gradient). Raises ``ValueError`` when no
    recurrent layer was recorded. ``lstm_through_time`` is its older name (the same function).
    """
    from matplotlib.lines import Line2D
    from matplotlib.ticker import MaxNLocator

    h = _history(src)
    lstm = h.recurrent
    if not lstm:
        raise ValueError(
            "through_time: the history holds no recurrent layer (LSTM or SimpleRNN; no "
            "gradient through time was recorded)"
        )
    names = list(lstm)
    if layer is None:
        name = names[0]
    elif isinstance(layer, int | np.integer) and not isinstance(layer, bool | np.bool_):
        k = check_int("layer", layer, owner="through_time", min=-len(names), max=len(names) - 1)
        name = names[k]
    elif isinstance(layer, str):
        if layer not in lstm:
            raise ValueError(
                f"through_time: no recurrent layer named {layer!r} in the history; "
                f"recorded: {names}"
            )
        name = layer
    else:
        raise TypeError(
            "through_time: layer must be None, a recurrent layer's name (str) or its index "
            f"among the recorded ones (int), got {describe(layer)}"
        )
    dh, dc = lstm[name]["dh"], lstm[name]["dc"]
    T = dh.shape[1]
    rows = _record_rows(h, steps)
    fig, ax = _figure(ax, (8.5, 4.6))
    lo, hi = _log_range(dh[rows], dc[rows])
    ax.set_yscale("log")
    ax.set_ylim(lo, hi)
    t = np.arange(T)
    handles = []
    for col, r in zip(_colors(len(rows)), rows, strict=True):
        ax.plot(t, _positive(dh[r]), color=col, lw=1.8, marker="o" if T <= 40 else None, ms=3)
        ax.plot(t, _positive(dc[r]), color=col, lw=1.4, ls="--")
        handles.append(Line2D([], [], color=col, lw=2, label=f"step {int(h.steps[r])}"))
    handles.append(Line2D([], [], color="0.3", lw=1.8, label="‖∂L/∂h_t‖ (hidden state)"))
    if np.isfinite(dc[rows]).any():  # an LSTM; a SimpleRNN has no cell state
        handles.append(Line2D([], [], color="0.3", lw=1.4, ls="--", label="‖∂L/∂c_t‖ (cell state)"))
    ax.legend(
        handles=handles, fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0
    )
    ax.set_xlim(-0.5, T - 0.5)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("time step t  (0 = first input, T-1 = last)")
    ax.set_ylabel("gradient norm  (log scale)")
    last = dh[rows[-1]]
    with np.errstate(all="ignore"):
        peak = (
            np.nanmax(np.where(np.isfinite(last), last, np.nan))
            if np.isfinite(last).any()
            else math.nan
        )
    ratio = last[0] / peak if math.isfinite(peak) and peak > 0 else math.nan
    sub = (
        f"\n‖∂L/∂h_0‖ / max_t ‖∂L/∂h_t‖ = {ratio:.2g} at step {int(h.steps[rows[-1]])}"
        if math.isfinite(ratio)
        else ""
    )
    ax.set_title(f"Gradient through time in {name} (T = {T}){sub}")
    ax.grid(True, which="major", alpha=0.3)
    if not np.isfinite(_positive(dh[rows])).any():
        _no_data(ax, "no gradient through time recorded at these steps")
    return fig


#: The older name of :func:`through_time` (from when only the LSTM recorded one).
lstm_through_time = through_time


def update_ratio(src, ax=None):
    """The update/weight ratio ``||Δw|| / ||w||`` of every weight tensor over training.

    ``history.update_ratio()`` (``[R, S]``) for the tensors with ``ndim >= 2`` (W, Wx, Wh),
    one line per tensor against the training step, log y. The dashed line is the 1e-3 rule of
    thumb and the green band 1e-4 .. 1e-2 the healthy range (CS231n, "Neural Networks Part 3");
    much above means the learning rate is too high for that tensor, much below that it barely
    learns. The ratio of a record is known only after the update that follows it, so a
    history without an optimizer step (``gc.monitor.check``) has nothing to draw.
    """
    h = _history(src)
    ur = h.update_ratio()
    idx = [i for i, s in enumerate(h.tensor_shapes) if len(s) >= 2]
    names = [h.tensor_names[i] for i in idx]
    U = _positive(ur[:, idx]) if idx else np.zeros((len(h), 0))
    fig, ax = _figure(ax, (9.5, 4.6))
    lo, hi = _log_range(U, include=(1e-5, 1e-1))
    ax.set_yscale("log")
    ax.set_ylim(lo, hi)
    ax.axhspan(1e-4, 1e-2, color="#2ca02c", alpha=0.12, lw=0, label="CS231n ~1e-3")
    ax.axhline(1e-3, color="black", ls="--", lw=1.2, label="1e-3 reference")
    colors = _colors(len(idx))
    steps = h.steps
    marker = "o" if len(h) <= 30 else None
    for j, (nm, col) in enumerate(zip(names, colors, strict=True)):
        ax.plot(steps, U[:, j], color=col, lw=1.3, marker=marker, ms=3, label=nm)
    if len(h) == 1:
        ax.set_xlim(steps[0] - 1, steps[0] + 1)
    if not np.isfinite(U).any():
        _no_data(ax, "no update recorded yet: the ratio needs an optimizer step after a record")
    ax.set_xlabel(_steps_label(h))
    _integer_steps(ax)
    ax.set_ylabel("update / weight  ‖Δw‖ / ‖w‖  (log scale)")
    ax.set_title("Update-to-weight ratio per weight tensor")
    ax.grid(True, which="major", alpha=0.3)
    if len(names) <= MAX_LEGEND:
        ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0)
    else:
        handles = [a for a in ax.get_legend_handles_labels()[0][:2]]
        _depth_key(fig, ax, names, colors, handles_first=handles)
    return fig


def _col_median(a: np.ndarray) -> np.ndarray:
    """Median of each column over its finite values; NaN for a column without any."""
    out = np.full(a.shape[1], np.nan)
    for j in range(a.shape[1]):
        v = a[:, j][np.isfinite(a[:, j])]
        if v.size:
            out[j] = float(np.median(v))
    return out


def saturation(src, ax=None):
    """Per layer, the median fraction of saturated outputs (sigmoid/tanh) and of dead units
    (ReLU), in percent, as bars.

    ``history.layer["saturated"]`` and ``["dead"]`` (``[R, L]``, medians over the records;
    NaN = not applicable to that layer's activation, and left out). Saturated: outputs whose
    local derivative is below ``Thresholds.saturation_derivative`` (0.01); dead: ReLU units
    that are 0 for every row of the batch. Only layers where one of them applies are shown.
    Dotted lines: the diagnosis' warning levels (``saturated`` 25 %, ``dead_warning`` 40 %).
    """
    h = _history(src)
    th = _thresholds(src, None)
    sat = _col_median(h.layer["saturated"])
    dead = _col_median(h.layer["dead"])
    keep = [j for j in range(len(h.layer_names)) if np.isfinite(sat[j]) or np.isfinite(dead[j])]
    names = [h.layer_names[j] for j in keep]
    n = len(names)
    fig, ax = _figure(ax, (_width(n), 4.6))
    w = 0.4
    first = {"sat": True, "dead": True}
    for x, j in enumerate(keep):
        both = np.isfinite(sat[j]) and np.isfinite(dead[j])
        for key, v, off, col, label in (
            ("sat", sat[j], -w / 2, _C_SAT, "saturated (sigmoid/tanh)"),
            ("dead", dead[j], w / 2, _C_DEAD, "dead units (ReLU)"),
        ):
            if not np.isfinite(v):
                continue
            xx = x + (off if both else 0.0)
            ax.bar(
                xx,
                100 * v,
                width=w if both else 0.6,
                color=col,
                label=label if first[key] else None,
            )
            first[key] = False
            if n <= 24:
                ax.text(xx, 100 * v + 1.5, f"{100 * v:.0f}", ha="center", va="bottom", fontsize=7)
    for vals, level, col, what in (
        (sat, th.saturated, _C_SAT, "saturation"),
        (dead, th.dead_warning, _C_DEAD, "dead"),
    ):  # a threshold line where its measure exists
        if any(np.isfinite(vals[j]) for j in keep):
            ax.axhline(
                100 * level, color=col, ls=":", lw=1.3, label=f"{what} warning {100 * level:.0f} %"
            )
    ax.set_ylim(0, 105)
    ax.set_ylabel("fraction of the layer's outputs / units (%)")
    ax.set_xlabel("layer (input → output)")
    ax.set_title("Saturated and dead units per layer (median over the recorded steps)")
    ax.grid(True, axis="y", alpha=0.3)
    if n:
        _layer_ticks(ax, names)
        ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0)
    else:
        ax.set_xticks([])
        _no_data(ax, "no sigmoid, tanh or ReLU layer was recorded: nothing saturates or dies")
    return fig
