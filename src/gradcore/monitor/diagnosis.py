"""The diagnosis: what is wrong with the gradients, where, why, and what to change.

A :class:`Diagnosis` is data (``status``, ``findings``, a per-layer table); ``str(d)`` is the
readable health report, ``d.to_dict()`` the same for machines. Each :class:`Finding` has a
stable ``kind`` (:data:`FINDING_KINDS`), a ``severity`` (``"critical"``, ``"warning"``,
``"info"``), the ``layers`` it concerns (named as ``model.parameters()`` names them), the
``steps`` it was seen at, the ``evidence`` (numbers), a ``cause`` attributed from the recorded
statistics and ``remedies``: concrete gradcore calls, the most direct first.

Every rule compares MEDIANS over the recorded steps (one noisy batch never raises an alarm)
and judges gradients *relative* to each other where it can: a converged model whose gradients
are all small is not "vanishing". The defaults are in :class:`Thresholds` with their sources.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

import numpy as np

__all__ = ["FINDING_KINDS", "Diagnosis", "Finding", "LayerRow", "Thresholds", "diagnose"]

FINDING_KINDS = (
    "vanishing",
    "exploding",
    "dying_relu",
    "saturation",
    "nonfinite",
    "unstable_loss",
    "stalled",
    "update_ratio",
    "long_range_vanishing",
)
SEVERITIES = ("critical", "warning", "info")


@dataclass(frozen=True)
class Thresholds:
    """Default thresholds of the diagnosis, each with its source. Change any with
    ``Thresholds(exploding=1e3)``; pass it to ``GradientMonitor(thresholds=)`` or ``diagnose``.

    Gradient norms are the Frobenius norms of each layer's weight gradient (W; Wx and Wh of an
    LSTM), medians over the recorded steps.

    - ``vanished = 1e-6``, ``weak = 1e-4``, ``exploding = 100``, ``spread = 1e4``: the teaching
      material gradcore follows (a layer's weight-gradient norm below 1e-6 has vanished, below
      1e-4 is weak, above 100 explodes; max/min over layers above 1e4 is a dangerous spread).
    - ``growth = 1e3``: the global gradient norm of the last tenth of the records over the first
      tenth; growing by more is exploding over training (the Keras deep-linear run blows up by
      epoch 3).
    - ``ratio_vanishing = 1e-3`` (first/last layer gradient ratio, with the first layer below
      ``weak``) and ``ratio_exploding = 70``; ``dead = 0.7`` (>= 70 % of a ReLU layer's units
      dead): AutoTrainer's published rules (Zhang et al., ICSE 2021).
    - ``saturation_derivative = 0.01``: a sigmoid/tanh output is saturated where its local
      derivative (``y (1 - y)``, ``1 - y²``) is below it; ``saturated = 0.25`` of a layer's
      outputs saturated is a warning, ``saturated_critical = 0.75`` critical.
    - ``update_low = 1e-6``, ``update_high = 0.1``, ``update_critical = 1.0``: the update/weight
      ratio ||Δw||/||w|| should be about 1e-3 (CS231n, "Neural Networks Part 3"); 100x above
      means the learning rate is too high (Adam at lr 1e-3 gives 1e-3 .. 3e-2 on typical
      layers), 1000x below that the layer is not learning.
    - ``loss_diverge = 1.5``: the late loss (median of the last tenth) above 1.5x the early one
      is divergence; ``loss_jump = 0.5`` and ``loss_oscillation = 0.1``: if >= 10 % of
      successive recorded losses jump by more than half the early loss AND the update/weight
      ratio exceeds ``update_high``, the loss oscillates (jumps alone are mini-batch noise).
    - ``stalled = 0.01``: less than 1 % relative improvement from the first to the last tenth
      of the recorded losses; or, for a softmax cross-entropy over K classes, a late loss within
      ``chance_margin = 0.05`` (5 %) of ln K, or (after two epochs) an accuracy at most 1.1 / K:
      the model has learned only the class prior. A warning when a vanishing or dying-ReLU
      finding explains it or the model is at chance level, else "info" (it may have converged).
    - ``through_time = 1e-3`` (warning) and ``through_time_critical = 1e-6``: ||dL/dh_0|| over
      the largest ||dL/dh_t|| of an LSTM (the gradient through time reaching the first step).
    - ``min_records = 8``: trend findings (loss, stalled) need at least this many records;
      ``min_rows_dead = 8``: a unit is judged dead only over a batch of at least 8 rows.
    """

    vanished: float = 1e-6
    weak: float = 1e-4
    exploding: float = 100.0
    growth: float = 1e3
    spread: float = 1e4
    ratio_vanishing: float = 1e-3
    ratio_exploding: float = 70.0
    dead: float = 0.7
    dead_warning: float = 0.5
    saturation_derivative: float = 0.01
    saturated: float = 0.25
    saturated_critical: float = 0.75
    update_low: float = 1e-6
    update_high: float = 0.1
    update_critical: float = 1.0
    loss_diverge: float = 1.5
    loss_jump: float = 0.5
    loss_oscillation: float = 0.1
    stalled: float = 0.01
    chance_margin: float = 0.05
    through_time: float = 1e-3
    through_time_critical: float = 1e-6
    min_records: int = 8
    min_rows_dead: int = 8

    def __post_init__(self) -> None:
        for k, v in asdict(self).items():
            if isinstance(v, bool) or not isinstance(v, int | float | np.floating | np.integer):
                raise TypeError(f"Thresholds.{k} must be a number, got {type(v).__name__}")
            if not (math.isfinite(v) and v >= 0):
                raise ValueError(f"Thresholds.{k} must be finite and >= 0, got {v}")


@dataclass
class Finding:
    """One thing wrong (or worth knowing), as data. See the module docstring."""

    kind: str
    severity: str
    layers: list[str]
    steps: list[int]
    evidence: dict[str, object]
    cause: str
    remedies: list[str]

    def __str__(self) -> str:
        where = ", ".join(self.layers) if self.layers else "the model"
        if len(self.layers) > 6:
            where = ", ".join(self.layers[:3]) + f", ... ({len(self.layers)} layers)"
        ev = "; ".join(f"{k} = {_fmt(v)}" for k, v in self.evidence.items())
        lines = [f"[{self.severity}] {self.kind} in {where}", f"    evidence: {ev}"]
        lines.append(f"    cause: {self.cause}")
        for i, r in enumerate(self.remedies, 1):
            lines.append(f"    remedy {i}: {r}")
        return "\n".join(lines)


@dataclass
class LayerRow:
    """One line of the per-layer table (medians over the recorded steps; NaN: not measured)."""

    name: str
    kind: str
    grad_norm: float  # weight-gradient norm (NaN for layers without weights)
    gain: float  # ||dL/dx|| / ||dL/dy||
    saturated: float  # fraction, NaN if not sigmoid/tanh
    dead: float  # fraction, NaN if not ReLU
    update_ratio: float
    verdict: str


@dataclass
class Diagnosis:
    """``status`` ("healthy", "warning", "critical"), ``findings``, ``layers`` (the table),
    ``summary`` (records, steps, backend, the vanishing/exploding factor over the layers) and
    ``history`` (what was judged)."""

    status: str
    findings: list[Finding]
    layers: list[LayerRow]
    summary: dict[str, object] = field(default_factory=dict)
    #: the GradientHistory it was made from (so ``gc.monitor.check``'s result can be plotted:
    #: ``gc.monitor.plots.gradient_flow(d.history)``); not part of ``to_dict``
    history: object = field(default=None, repr=False, compare=False)

    @property
    def kinds(self) -> set[str]:
        return {f.kind for f in self.findings}

    def by_kind(self, kind: str) -> list[Finding]:
        return [f for f in self.findings if f.kind == kind]

    def critical(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "critical"]

    def to_dict(self) -> dict:
        def clean(v):
            if isinstance(v, float) and not math.isfinite(v):
                return None
            if isinstance(v, dict):
                return {k: clean(x) for k, x in v.items()}
            if isinstance(v, list | tuple):
                return [clean(x) for x in v]
            if isinstance(v, np.generic):
                return clean(v.item())
            return v

        return clean(
            {
                "status": self.status,
                "summary": self.summary,
                "findings": [asdict(f) for f in self.findings],
                "layers": [asdict(r) for r in self.layers],
            }
        )

    def __str__(self) -> str:
        s = self.summary
        head = (
            f"gradcore health report: {self.status.upper()}  ({s.get('records', 0)} recorded "
            f"steps of {s.get('steps', 0)}, backend {s.get('backend')}, {s.get('dtype')})"
        )
        lines = [head, ""]
        w = max([len(r.name) for r in self.layers] + [5])
        k = max([len(r.kind) for r in self.layers] + [4])
        lines.append(
            f"{'layer':<{w}}  {'kind':<{k}}  {'weight grad norm (log10 -10 .. 2)':<36} "
            f"{'gain':>7} {'sat%':>6} {'dead%':>6} {'upd/w':>8}  verdict"
        )
        for r in self.layers:
            lines.append(
                f"{r.name:<{w}}  {r.kind:<{k}}  {_fmt(r.grad_norm):>8} {_logbar(r.grad_norm):<27} "
                f"{_fmt(r.gain, 3):>7} {_pct(r.saturated):>6} {_pct(r.dead):>6} "
                f"{_fmt(r.update_ratio):>8}  {r.verdict}"
            )
        if "gain_product" in s:
            lines.append(
                f"\nbackward factor {_fmt(s['gain_product'])}: ||dL/dy|| at the first layer over "
                "||dL/dy|| at the last (the product of the gains; << 1 vanishing, >> 1 exploding)"
            )
        lines.append("")
        if not self.findings:
            lines.append("No findings: gradients reach every layer at a healthy scale.")
        order = {sv: i for i, sv in enumerate(SEVERITIES)}
        for f in sorted(self.findings, key=lambda f: order[f.severity]):
            lines += [str(f), ""]
        return "\n".join(lines).rstrip() + "\n"

    def __repr__(self) -> str:
        return f"Diagnosis(status={self.status!r}, findings={[f.kind for f in self.findings]})"


# ------------------------------------------------------------------------------ helpers


def _fmt(v, digits: int = 2) -> str:
    if isinstance(v, float | np.floating):
        if not math.isfinite(v):
            return "-" if math.isnan(v) else str(v)
        if v == 0:
            return "0"
        if digits == 3 and 1e-2 <= abs(v) < 1e3:
            return f"{v:.3g}"
        return f"{v:.{digits - 1}e}" if (abs(v) < 1e-2 or abs(v) >= 1e3) else f"{v:.3g}"
    if isinstance(v, list | tuple):
        return "[" + ", ".join(_fmt(x) for x in v[:8]) + (", ..." if len(v) > 8 else "") + "]"
    return str(v)


def _pct(v: float) -> str:
    return "-" if not math.isfinite(v) else f"{100 * v:.1f}"


def _logbar(v: float, lo: float = -10.0, hi: float = 2.0, width: int = 27) -> str:
    if not math.isfinite(v) or v <= 0:
        return ""
    frac = (math.log10(v) - lo) / (hi - lo)
    n = max(1, min(width, round(frac * width)))
    return "#" * n


def _median(a: np.ndarray) -> np.ndarray:
    """Median over axis 0 of the finite entries of each column (NaN where none): ``[R, K] ->
    [K]``. Sorted by hand: ``np.nanmedian`` goes through masked arrays and cost ~0.25 ms a
    call on these small arrays (most of a ``gc.monitor.check``)."""
    a = np.asarray(a, dtype=float)
    if a.ndim == 1:
        a = a[:, None]
    fin = np.isfinite(a)
    if a.shape[0] == 1:  # one record (gc.monitor.check)
        return np.where(fin[0], a[0], np.nan)
    n = fin.sum(axis=0)
    srt = np.sort(np.where(fin, a, np.inf), axis=0)  # the non-finite go last
    cols = np.arange(a.shape[1])
    with np.errstate(invalid="ignore"):
        med = (
            0.5 * (srt[np.maximum((n - 1) // 2, 0), cols] + srt[np.maximum(n // 2, 0), cols])
            if a.shape[0]
            else np.full(a.shape[1], np.nan)
        )
    med[n == 0] = np.nan
    return med


class _quiet:
    """Silence "All-NaN slice" warnings of nanmedian (an unmeasured column is NaN)."""

    def __enter__(self):
        import warnings

        self._cm = warnings.catch_warnings()
        self._cm.__enter__()
        warnings.simplefilter("ignore", RuntimeWarning)

    def __exit__(self, *exc):
        return self._cm.__exit__(*exc)


def _steps_where(h, mask: np.ndarray, limit: int = 20) -> list[int]:
    return [int(s) for s in h.steps[mask][:limit]]


def _kind(info: dict) -> str:
    act = info.get("activation")
    return f"{info['class']}({act})" if act else info["class"]


def _init_scale(model, name: str) -> float:
    """std(W) * sqrt(fan_in) of a Dense layer's current weights (He for ReLU is sqrt 2)."""
    try:
        layer = dict(model.named_layers())[name]
    except KeyError:
        return math.nan
    W = layer.params.get("W") if hasattr(layer, "params") else None
    if W is None or W.ndim != 2 or W.size == 0:
        return math.nan
    return float(np.std(W, dtype=np.float64) * math.sqrt(W.shape[0]))


# ------------------------------------------------------------------------------ the rules


def diagnose(history, model, thresholds: Thresholds | None = None) -> Diagnosis:
    """Judge a :class:`~gradcore.monitor.GradientHistory` (see the module docstring)."""
    from ..backends import get_backend_name

    th = thresholds or Thresholds()
    h = history
    R = len(h)
    if R == 0:
        raise RuntimeError(
            "nothing recorded yet: run fit with the monitor as a callback, or call "
            "monitor.record(loss=...) after backward"
        )
    findings: list[Finding] = []
    info = dict(h.layer_info)
    layer_names_all = list(h.layer_names)
    for ln in h.tensor_layers:
        if ln not in info:
            layer = dict(model.named_layers()).get(ln)
            info[ln] = {
                "class": type(layer).__name__ if layer is not None else "?",
                "activation": getattr(layer, "activation", None),
            }
            layer_names_all.append(ln)
    classes = {info[n]["class"] for n in info}
    has_norm = bool(classes & {"BatchNorm", "LayerNorm"})
    has_residual = any(".Residual" in n or n.split(".")[-1] == "Residual" for n in info) or any(
        "Residual" in n for n in h.tensor_layers
    )

    # per-layer medians
    wnames, G = h.layer_grad_norms()
    g_all = _median(G)
    g_late = _median(G[R // 2 :]) if R >= 4 else g_all
    L = h.layer
    lidx = {n: j for j, n in enumerate(h.layer_names)}

    Lmed = {f: _median(a) for f, a in L.items()}

    def lmed(field_: str, name: str) -> float:
        j = lidx.get(name)
        return float(Lmed[field_][j]) if j is not None else math.nan

    with np.errstate(all="ignore"):
        gains_all = L["grad_in"] / L["grad_out"]
    gain_med = _median(gains_all)
    gain = {n: float(gain_med[j]) for n, j in lidx.items()}
    ur = h.update_ratio()
    ur_med_t = _median(ur)
    with np.errstate(all="ignore"), _quiet():  # bursts: the 90th percentile over the steps
        ur_p90_t = (
            np.nanpercentile(np.where(np.isfinite(ur), ur, np.nan), 90, axis=0)
            if ur.shape[0]
            else np.full(ur.shape[1], np.nan)
        )
    upd_layer: dict[str, float] = {}  # median update/weight ratio of the layer's weights
    upd_high: dict[str, float] = {}  # its 90th percentile
    for i, (ln, shape) in enumerate(zip(h.tensor_layers, h.tensor_shapes, strict=True)):
        if len(shape) >= 2 and math.isfinite(ur_med_t[i]):
            upd_layer[ln] = max(upd_layer.get(ln, 0.0), float(ur_med_t[i]))
            upd_high[ln] = max(upd_high.get(ln, 0.0), float(ur_p90_t[i]))
    gw = dict(zip(wnames, g_all.tolist(), strict=True))

    sat_layers = [
        n
        for n in h.layer_names
        if info[n].get("activation") in ("sigmoid", "tanh") and lmed("saturated", n) >= th.saturated
    ]
    relu_layers = [n for n in h.layer_names if info[n].get("activation") == "relu"]
    dead = {n: lmed("dead", n) for n in relu_layers if lmed("rows", n) >= th.min_rows_dead}
    finite_gains = [
        gain[n] for n in h.layer_names if math.isfinite(gain.get(n, math.nan)) and gain[n] > 0
    ]
    # the end-to-end factor: gradient arriving at the first layer / at the last layer (for a
    # chain, the product of the gains of layers 2..L; with residual blocks it includes the
    # identity path, which a product over the leaves would miss)
    gain_product = math.nan
    if h.layer_names:
        g_last = lmed("grad_out", h.layer_names[-1])
        if g_last > 0:
            gain_product = lmed("grad_out", h.layer_names[0]) / g_last
    geo_gain = float(np.exp(np.mean(np.log(finite_gains)))) if finite_gains else math.nan
    squashing = [n for n in info if info[n].get("activation") in ("sigmoid", "tanh")]
    depth = len(wnames)
    lr = float(_median(h.lr)[0]) if R else math.nan

    # -- nonfinite ---------------------------------------------------------------------------
    ev = h.first_nonfinite
    if ev is not None:
        finite_gn = h.grad_norm[np.isfinite(h.grad_norm)]
        evidence = {
            "step": ev["step"],
            "epoch": ev["epoch"],
            "where": ev["where"],
            "first non-finite": ev["detail"],
        }
        if ev.get("fit_stopped"):
            evidence["fit (TerminateOnNonFinite)"] = ev["fit_stopped"]
        if finite_gn.size:
            evidence["last finite global grad norm"] = float(finite_gn[-1])
            evidence["largest finite global grad norm"] = float(finite_gn.max())
        grew = finite_gn.size >= 2 and finite_gn[-1] > 100 * max(finite_gn[0], 1e-300)
        if ev["where"] == "parameter":
            cause = (
                "an optimizer update wrote NaN/inf into a weight: the step before was too "
                "large (learning rate too high, or an exploding gradient)"
            )
        elif ev["where"] == "forward":
            cause = (
                "the layer's output overflowed (its inputs or weights grew too large) or it "
                "received NaN from a custom layer or the data"
            )
        elif ev["where"] == "loss":
            cause = "the loss overflowed although the model's outputs are finite (extreme logits)"
        else:
            cause = "a gradient overflowed in the backward pass (exploding gradients)"
        if grew:
            cause += "; the global gradient norm had grown by more than 100x before it"
        findings.append(
            Finding(
                "nonfinite",
                "critical",
                [ev["layer"]] if ev.get("layer") else [],
                [ev["step"]],
                evidence,
                cause,
                [
                    "fit(..., clip=1.0)  # or gc.clip_grad_norm(model.parameters(), 1.0) before "
                    "opt.step()",
                    f"a smaller learning rate (opt.lr = {lr / 10:.3g})"
                    if math.isfinite(lr)
                    else "a smaller learning rate (e.g. 10x smaller)",
                    "check the input data and custom layers for NaN/inf (fit rejects non-finite X)",
                    "keep fit(..., stop_on_nonfinite=True) (the default): it stops before "
                    "the update",
                ],
            )
        )

    # -- vanishing / exploding (weight gradients across layers) --------------------------------
    if depth >= 2 and np.isfinite(g_all).any():
        first = wnames[0]
        gf, gl = g_all[0], g_all[-1]
        ratio = gf / gl if gl > 0 else math.nan
        pos = g_all[np.isfinite(g_all) & (g_all > 0)]
        spread = float(pos.max() / pos.min()) if pos.size >= 2 else math.nan
        vanished = [n for n, g in gw.items() if g < th.vanished]
        weak = [n for n, g in gw.items() if g < th.weak]
        gmax = float(np.nanmax(g_all))
        severity = None
        if (ratio < th.ratio_vanishing and gf < th.weak) or (vanished and gmax >= th.weak):
            severity = "critical"
        elif gmax <= th.exploding and (
            (weak and gmax >= 100 * th.weak)
            or (spread > th.spread and math.isfinite(ratio) and ratio < 1)
        ):  # (a spread caused by exploding later layers is reported as exploding)
            severity = "warning"
        if severity:
            where = [n for n in wnames if gw[n] < max(th.weak, gmax / th.spread)] or [first]
            evidence = {
                "first-layer grad norm": float(gf),
                "last-layer grad norm": float(gl),
                "first/last ratio": float(ratio),
                "max/min spread": spread,
            }
            if math.isfinite(geo_gain):
                evidence["median per-layer gain"] = geo_gain
                evidence["backward factor"] = gain_product
            causes, remedies = [], []
            if sat_layers:
                frac = max(lmed("saturated", n) for n in sat_layers)
                causes.append(
                    f"saturated units: up to {100 * frac:.0f} % of the outputs of "
                    f"{', '.join(sat_layers[:3])} sit where the derivative is below "
                    f"{th.saturation_derivative} (|z| large), so almost nothing flows back"
                )
                evidence["saturated fraction"] = frac
            elif squashing:
                scale = (
                    _init_scale(model, next(n for n in wnames if n in squashing))
                    if any(n in squashing for n in wnames)
                    else math.nan
                )
                s_txt = (
                    f" with init scale std(W)*sqrt(fan_in) = {scale:.2g}"
                    if math.isfinite(scale)
                    else ""
                )
                causes.append(
                    f"initialisation scale and the {info[squashing[0]].get('activation')} "
                    f"derivative (at most {0.25 if 'sigmoid' in str(info[squashing[0]]) else 1}):"
                    f"{s_txt} each layer multiplies the backward signal by a gain "
                    f"g = {_fmt(geo_gain)} < 1, compounding as g^depth = {_fmt(gain_product)} "
                    f"over {len(finite_gains)} layers"
                )
            elif math.isfinite(geo_gain) and geo_gain < 1:
                causes.append(
                    f"per-layer backward gain g = {_fmt(geo_gain)} < 1 compounding as g^depth "
                    f"= {_fmt(gain_product)} (initialisation scale too small)"
                )
            if dead and max(dead.values()) >= th.dead_warning:
                causes.append("dead ReLU units pass no gradient (see dying_relu)")
            if not has_norm:
                causes.append(f"no normalisation layer in a stack of {depth} weight layers")
            moving = [upd_layer[n] for n in where if math.isfinite(upd_layer.get(n, math.nan))]
            opt_name = h.meta.get("optimizer", "")
            if (
                opt_name in ("Adam", "AdamW", "RMSprop", "AdaGrad")
                and moving
                and float(np.median(moving)) > 1e-4
            ):
                causes.append(
                    f"{opt_name} rescales every weight's step, so these layers still move "
                    f"(median update/weight {float(np.median(moving)):.1g}) although their "
                    "gradient is tiny: the update ratio looks healthy, the gradient flow is not"
                )
            if squashing:
                remedies.append(
                    'Dense(..., activation="relu", init="he_normal")  # instead of '
                    f"{info[squashing[0]].get('activation')}"
                )
            remedies.append(
                "gc.init.lsuv(model, X[:256])  # rescale every layer to unit variance at init"
            )
            if not has_norm:
                remedies.append(
                    "gc.nn.BatchNorm(width) after each Dense (linear) and before its activation"
                )
            if depth >= 6 and not has_residual:
                remedies.append(
                    "gc.nn.Residual(block) around blocks of layers (an identity "
                    "path for the gradient)"
                )
            if not squashing:
                remedies.append('init="he_normal" for ReLU layers (std = sqrt(2 / fan_in))')
            findings.append(
                Finding(
                    "vanishing",
                    severity,
                    where,
                    _steps_where(h, np.isfinite(G[:, 0]) & (G[:, 0] < th.weak)),
                    evidence,
                    "; ".join(causes) or "the gradient shrinks towards the input",
                    remedies,
                )
            )

        g_hi = np.fmax(g_all, g_late)
        big = [n for n, g in zip(wnames, g_hi.tolist(), strict=True) if g > th.exploding]
        gn = h.grad_norm[np.isfinite(h.grad_norm)]
        growth = (
            float(
                np.median(gn[-max(1, gn.size // 10) :])
                / max(np.median(gn[: max(1, gn.size // 10)]), 1e-300)
            )
            if gn.size >= th.min_records
            else math.nan
        )
        severity = None
        if big or (math.isfinite(growth) and growth > th.growth):
            severity = "critical"
        elif math.isfinite(ratio) and ratio > th.ratio_exploding:
            severity = "warning"
        if severity:
            where = big or [first]
            evidence = {
                "largest layer grad norm": float(np.nanmax(g_hi)),
                "first/last ratio": float(ratio),
            }
            if math.isfinite(growth):
                evidence["global norm growth (last/first tenth)"] = growth
            if math.isfinite(geo_gain):
                evidence["median per-layer gain"] = geo_gain
                evidence["backward factor"] = gain_product
            clipped = h.clip_coef[np.isfinite(h.clip_coef)]
            causes = []
            scales = [_init_scale(model, n) for n in wnames]
            scales = [s for s in scales if math.isfinite(s)]
            if math.isfinite(geo_gain) and geo_gain > 1:
                causes.append(
                    f"per-layer backward gain g = {_fmt(geo_gain)} > 1 compounding as "
                    f"g^depth = {_fmt(gain_product)}"
                )
            if scales and max(scales) > 1.5:
                causes.append(
                    f"initialisation too large: std(W)*sqrt(fan_in) up to "
                    f"{max(scales):.2g} (He for ReLU is 1.41, Glorot about 1)"
                )
            if not squashing and all(
                info[n].get("activation") in (None, "linear") for n in wnames[:-1]
            ):
                causes.append("linear layers: nothing bounds the product of the weight matrices")
            if clipped.size == 0 or np.all(clipped >= 1.0):
                causes.append("no gradient clipping")
            remedies = [
                "fit(..., clip=1.0)  # or gc.clip_grad_norm(model.parameters(), 1.0)",
                'init="he_normal" / "xavier_normal", or gc.init.lsuv(model, X[:256])',
            ]
            if not has_norm:
                remedies.append("gc.nn.BatchNorm(width) after each Dense")
            remedies.append(
                f"a smaller learning rate (opt.lr = {lr / 10:.3g})"
                if math.isfinite(lr)
                else "a smaller learning rate"
            )
            findings.append(
                Finding(
                    "exploding",
                    severity,
                    where,
                    _steps_where(h, np.isfinite(h.grad_norm) & (h.grad_norm > th.exploding)),
                    evidence,
                    "; ".join(causes) or "gradients grow towards the input",
                    remedies,
                )
            )

    # -- dying ReLU ---------------------------------------------------------------------------
    bad_dead = {n: v for n, v in dead.items() if math.isfinite(v) and v >= th.dead_warning}
    if bad_dead:
        severity = "critical" if max(bad_dead.values()) >= th.dead else "warning"
        names = list(bad_dead)
        biases = {}
        for n in names:
            layer = dict(model.named_layers()).get(n)
            b = getattr(layer, "params", {}).get("b") if layer is not None else None
            if b is not None and b.size:
                biases[n] = float(np.mean(b, dtype=np.float64))
        evidence = {f"dead units {n}": v for n, v in bad_dead.items()}
        neg = {n: b for n, b in biases.items() if b < -0.1}
        big_steps = max(upd_high.values(), default=0.0) > th.update_high
        if neg:
            evidence.update({f"mean bias {n}": b for n, b in neg.items()})
            cause = (
                "strongly negative biases push the pre-activations below 0 for every input, "
                "so these ReLUs output 0 and pass no gradient"
            )
            if big_steps or min(neg.values()) < -100:
                cause += "; large updates (learning rate too high) drove the biases there"
        elif big_steps:
            cause = "large updates (learning rate too high) knocked the units into the dead zone"
        else:
            cause = "the units' pre-activations are negative for the whole batch"
        findings.append(
            Finding(
                "dying_relu",
                severity,
                names,
                _steps_where(h, np.ones(R, bool)),
                evidence,
                cause,
                [
                    'Dense(..., activation="leaky_relu")  # or "elu": a non-zero slope below 0',
                    'init="he_normal" with zero biases (layer.params["b"][...] = 0)',
                    "a smaller learning rate",
                    "gc.nn.BatchNorm(width) before the ReLU (re-centres the pre-activations)",
                ],
            )
        )

    # -- saturation -------------------------------------------------------------------------
    if sat_layers:
        fr = {n: lmed("saturated", n) for n in sat_layers}
        severity = "critical" if max(fr.values()) >= th.saturated_critical else "warning"
        scale = _init_scale(model, sat_layers[0])
        evidence = {f"saturated {n}": v for n, v in fr.items()}
        if math.isfinite(scale):
            evidence["init scale std(W)*sqrt(fan_in)"] = scale
        findings.append(
            Finding(
                "saturation",
                severity,
                sat_layers,
                _steps_where(h, np.ones(R, bool)),
                evidence,
                f"pre-activations are large (|z| > ~4.6 for sigmoid), so the derivative is below "
                f"{th.saturation_derivative}: weights too large"
                + (" for this fan-in" if math.isfinite(scale) and scale > 1.5 else "")
                + " or inputs not standardised",
                [
                    'Dense(..., activation="relu", init="he_normal")',
                    'init="xavier_normal" for sigmoid/tanh layers',
                    "gc.nn.BatchNorm(width) before the activation",
                    "standardise the inputs (zero mean, unit variance per feature)",
                ],
            )
        )

    # -- update ratio -------------------------------------------------------------------------
    if upd_layer:
        hi = {n: v for n, v in upd_high.items() if v > th.update_high}
        lo = {n: v for n, v in upd_layer.items() if v < th.update_low}
        if hi:
            severity = "critical" if max(hi.values()) >= th.update_critical else "warning"
            sug = lr * 1e-3 / max(hi.values()) if math.isfinite(lr) else math.nan
            findings.append(
                Finding(
                    "update_ratio",
                    severity,
                    list(hi),
                    _steps_where(h, np.ones(R, bool)),
                    {
                        **{f"update/weight (90th pct) {n}": v for n, v in hi.items()},
                        "lr": lr,
                        "target": 1e-3,
                    },
                    "the learning rate is too high for these weights: each step changes them by "
                    f"{100 * max(hi.values()):.0f} % of their norm (about 0.1 % is healthy)",
                    [
                        f"a smaller learning rate (opt.lr = {sug:.3g} brings the ratio near 1e-3)"
                        if math.isfinite(sug)
                        else "a smaller learning rate",
                        "fit(..., clip=1.0)",
                        "gc.optim.Adam(params, lr=1e-3) instead of plain SGD",
                    ],
                )
            )
        if lo and not hi:
            findings.append(
                Finding(
                    "update_ratio",
                    "warning",
                    list(lo),
                    _steps_where(h, np.ones(R, bool)),
                    {**{f"update/weight {n}": v for n, v in lo.items()}, "lr": lr, "target": 1e-3},
                    "these weights barely move (updates below 1e-6 of their norm): the learning "
                    "rate is too small or their gradient has vanished",
                    [
                        "a larger learning rate",
                        "gc.optim.Adam(params, lr=1e-3)",
                        "fix a vanishing gradient first (see vanishing)",
                    ],
                )
            )

    # -- the loss over training --------------------------------------------------------------
    loss = h.loss
    fin = np.isfinite(loss)
    lossf = loss[fin]
    n = lossf.size
    if n >= th.min_records:
        k = max(3, n // 10)
        early, late = float(np.median(lossf[:k])), float(np.median(lossf[-k:]))
        start = min(early, float(lossf[0]))
        # classification stuck at chance: a softmax cross-entropy that learned nothing but the
        # class prior sits at ln(K) (the Keras deep-sigmoid MNIST run: accuracy ~11 %)
        K = h.meta.get("classes") if h.meta.get("loss") == "SoftmaxCrossEntropy" else None
        acc = [e["accuracy"] for e in h.epoch_logs if "accuracy" in e]
        at_chance = bool(
            K
            and K >= 2
            and (
                late >= (1 - th.chance_margin) * math.log(K)
                or (len(acc) >= 2 and acc[-1] <= (1 + 2 * th.chance_margin) / K)
            )
        )
        jumps = np.abs(np.diff(lossf)) > th.loss_jump * abs(early)
        osc = float(np.mean(jumps)) if jumps.size else 0.0
        diverging = late > th.loss_diverge * start or (ev is not None and ev["where"] != "forward")
        steps_bad = (
            _steps_where(h, fin) if diverging else [int(s) for s in h.steps[fin][1:][jumps][:20]]
        )
        hi_u = max(upd_high.values(), default=math.nan)
        # jumps alone are mini-batch noise (a trained model's loss of 0.28 jumped by half of it
        # at 40 % of the steps with batch 32): oscillation needs updates that are too large too
        oscillating = osc >= th.loss_oscillation and math.isfinite(hi_u) and hi_u > th.update_high
        if diverging or oscillating:
            cause = "the learning rate is too high"
            if math.isfinite(hi_u):
                cause += f" (update/weight ratio up to {hi_u:.2g}, healthy is about 1e-3)"
            findings.append(
                Finding(
                    "unstable_loss",
                    "critical" if diverging else "warning",
                    [],
                    steps_bad,
                    {
                        "early loss (median, first tenth)": early,
                        "late loss (last tenth)": late,
                        "fraction of large jumps": osc,
                        "lr": lr,
                    },
                    cause + ("; the loss diverges" if diverging else "; the loss oscillates"),
                    [
                        f"a smaller learning rate (opt.lr = {lr / 10:.3g})"
                        if math.isfinite(lr)
                        else "a 10x smaller learning rate",
                        "fit(..., clip=1.0)",
                        "gc.optim.ReduceLROnPlateau(opt) as fit's scheduler",
                    ],
                )
            )
        elif (early - late) < th.stalled * abs(early) or at_chance:
            evidence = {
                "early loss": early,
                "late loss": late,
                "relative improvement": (early - late) / abs(early) if early else 0.0,
            }
            if acc:
                evidence["last accuracy"] = acc[-1]
            if at_chance:
                evidence[f"chance level ({K} classes)"] = (
                    f"loss ln({K}) = {math.log(K):.3g}, accuracy {1 / K:.3g}"
                )
            van = [f for f in findings if f.kind in ("vanishing", "dying_relu")]
            if van:
                cause = (
                    f"the gradient does not reach the first layers ({van[0].kind} in "
                    f"{', '.join(van[0].layers[:3])}): they stay at their random init"
                )
            elif lo_u := {n_: v for n_, v in upd_layer.items() if v < th.update_low}:
                cause = f"updates are too small to move the weights ({len(lo_u)} layers)"
            else:
                cause = "the learning rate is too small or the model too small for the task"
            if van:
                remedies = [*van[0].remedies[:3], "train longer once the gradient flows"]
            else:
                remedies = [
                    "a larger learning rate, or gc.optim.Adam(params, lr=1e-3)",
                    "train longer / check the labels",
                ]
            # a plateau is a problem at chance level or with a gradient problem to explain it;
            # otherwise the model may simply have converged: say so, do not alarm
            severity = "warning" if (at_chance or van) else "info"
            if severity == "info":
                cause = (
                    "the loss stopped improving: the model may have converged, or the "
                    "learning rate is too small for further progress"
                )
            findings.append(
                Finding("stalled", severity, [], [int(h.steps[-1])], evidence, cause, remedies)
            )

    # -- LSTM: gradient through time -----------------------------------------------------------
    for name, cols in h.lstm.items():
        dh = cols["dh"]
        with np.errstate(all="ignore"):
            peak = np.nanmax(np.where(np.isfinite(dh), dh, np.nan), axis=1)
            r0 = dh[:, 0] / peak
        r0m = float(_median(r0)[0])
        fmean = float(_median(cols["forget"])[0])
        if not math.isfinite(r0m) or r0m >= th.through_time:
            continue
        severity = "critical" if r0m < th.through_time_critical else "warning"
        T = int(np.sum(np.isfinite(dh[-1])))
        layer = dict(model.named_layers()).get(name)
        b = getattr(layer, "params", {}).get("b") if layer is not None else None
        H = b.size // 4 if b is not None else 0
        fb_now = float(np.mean(b[H : 2 * H], dtype=np.float64)) if H else math.nan
        fb_next = 1.0 if not fb_now >= 0.5 else float(round(fb_now) + 1)
        per_step = r0m ** (1.0 / max(T - 1, 1)) if r0m > 0 else 0.0
        if math.isfinite(fmean) and fmean < 0.5:
            cause = (
                f"forget gate near 0 (mean activation {fmean:.2g}): the cell state, the "
                "LSTM's gradient highway, is erased at every step"
            )
        else:
            cause = (
                f"the gradient shrinks by {per_step:.2g}x per step over {T} steps "
                f"(forget gate mean {fmean:.2g}): the sequence is long for what was learned"
            )
        findings.append(
            Finding(
                "long_range_vanishing",
                severity,
                [name],
                _steps_where(h, np.isfinite(r0)),
                {
                    "||dL/dh_0|| / max_t ||dL/dh_t||": r0m,
                    "forget gate mean": fmean,
                    "T": T,
                    "decay per step": per_step,
                },
                cause,
                [
                    f"gc.nn.LSTM(..., forget_bias={fb_next:.1f})  # the forget-gate bias is now "
                    f"{fb_now:.2g}; a larger one keeps the gate open at init",
                    "shorter sequences (or truncated backpropagation through time)",
                    "train longer: the forget gate learns to stay open",
                ],
            )
        )

    # -- the table and the status -----------------------------------------------------------
    flagged: dict[str, list[str]] = {}
    for f in findings:
        for n_ in f.layers:
            flagged.setdefault(n_, []).append(f.kind)
    rows = []
    for name in layer_names_all:
        verdict = []
        g = gw.get(name, math.nan)
        if math.isfinite(g):
            if g < th.vanished:
                verdict.append("vanished")
            elif g < th.weak:
                verdict.append("weak")
            elif g > th.exploding:
                verdict.append("exploding")
        for kind in flagged.get(name, []):
            word = {
                "saturation": "saturated",
                "dying_relu": "dead units",
                "update_ratio": "update ratio",
                "nonfinite": "non-finite",
                "long_range_vanishing": "long-range vanishing",
            }.get(kind)
            if word and word not in verdict:
                verdict.append(word)
        rows.append(
            LayerRow(
                name,
                _kind(info[name]),
                g,
                gain.get(name, math.nan),
                lmed("saturated", name),
                dead.get(name, math.nan) if name in dead else math.nan,
                upd_layer.get(name, math.nan),
                ", ".join(verdict) or "ok",
            )
        )
    sev = {f.severity for f in findings}
    status = "critical" if "critical" in sev else "warning" if "warning" in sev else "healthy"
    summary = {
        "records": R,
        "steps": int(h.steps[-1]) + 1,
        "stride": h.stride,
        "backend": get_backend_name(),
        "dtype": str(model.dtype),
        "layers": len(layer_names_all),
        "lr": lr,
    }
    if math.isfinite(gain_product):
        summary["gain_product"] = gain_product
    return Diagnosis(status, findings, rows, summary, history=h)
