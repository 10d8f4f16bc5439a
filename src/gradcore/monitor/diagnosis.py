"""The diagnosis: what is wrong with the gradients, where, why, and what to change.

:func:`diagnose` turns a :class:`~gradcore.monitor.GradientHistory` into a
:class:`~gradcore.monitor.Diagnosis` (the data types are in :mod:`gradcore.monitor.findings`).
:func:`_measure` computes, once, everything the rules compare; each ``_rule_*`` function adds
the findings of one family of kinds, in a fixed order (later rules may read earlier findings:
``stalled`` names the vanishing that explains it); :func:`_table` builds the per-layer table
and the status.

Every rule compares MEDIANS over the recorded steps (one noisy batch never raises an alarm)
and judges gradients *relative* to each other where it can: a converged model whose gradients
are all small is not "vanishing". The defaults are in :class:`Thresholds` with their sources.
"""

from __future__ import annotations

import math

import numpy as np

from ..backends import get_backend_name
from .findings import (
    FINDING_KINDS,
    SEVERITIES,
    Diagnosis,
    Finding,
    LayerRow,
    Thresholds,
    _fmt,
)

__all__ = [
    "FINDING_KINDS",
    "SEVERITIES",
    "Diagnosis",
    "Finding",
    "LayerRow",
    "Thresholds",
    "diagnose",
]


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


def _init_scale(layer) -> float:
    """std(W) * sqrt(fan_in) of a Dense layer's current weights (He for ReLU is sqrt 2); NaN
    for ``None`` or a layer without a 2-D ``W``."""
    W = getattr(layer, "params", {}).get("W")
    if W is None or W.ndim != 2 or W.size == 0:
        return math.nan
    return float(np.std(W, dtype=np.float64) * math.sqrt(W.shape[0]))


# ------------------------------------------------------------------------------ the rules


class _Measures:
    """The medians and per-layer facts the rules share (built by :func:`_measure`)."""

    def __init__(self, **kw) -> None:
        self.__dict__.update(kw)


def _measure(history, model, th: Thresholds) -> _Measures:
    """Everything the rules compare, computed once (medians over the records)."""
    h = history
    R = len(h)
    layers = dict(model.named_layers())  # path -> layer, looked up by the rules
    info = dict(h.layer_info)
    layer_names_all = list(h.layer_names)
    for ln in h.tensor_layers:
        if ln not in info:
            layer = layers.get(ln)
            info[ln] = {
                "class": type(layer).__name__ if layer is not None else "?",
                "activation": getattr(layer, "activation", None),
            }
            layer_names_all.append(ln)
    classes = {info[n]["class"] for n in info}
    has_norm = bool(classes & {"BatchNorm", "LayerNorm"})
    has_residual = any(type(la).__name__ == "Residual" for la in layers.values())

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

    return _Measures(
        G=G,
        R=R,
        dead=dead,
        depth=depth,
        finite_gains=finite_gains,
        g_all=g_all,
        g_late=g_late,
        gain=gain,
        gain_product=gain_product,
        geo_gain=geo_gain,
        gw=gw,
        h=h,
        has_norm=has_norm,
        has_residual=has_residual,
        info=info,
        layer_names_all=layer_names_all,
        lmed=lmed,
        lr=lr,
        layers=layers,
        model=model,
        sat_layers=sat_layers,
        squashing=squashing,
        th=th,
        upd_high=upd_high,
        upd_layer=upd_layer,
        wnames=wnames,
    )


def _rule_nonfinite(m: _Measures, prior: list[Finding]) -> list[Finding]:
    """``nonfinite``: the first NaN/inf of the run, where it appeared and what preceded it."""
    h, lr = (m.h, m.lr)
    findings = list(prior)
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
    return findings[len(prior) :]


def _rule_gradient_flow(m: _Measures, prior: list[Finding]) -> list[Finding]:
    """``vanishing`` and ``exploding``: the weight-gradient norms across the layers, their
    first/last ratio and spread, with the cause (saturation, gain^depth, init scale, dead units,
    no normalisation, no clipping)."""
    (
        G,
        dead,
        depth,
        finite_gains,
        g_all,
        g_late,
        gain_product,
        geo_gain,
        gw,
        h,
        has_norm,
        has_residual,
        info,
        lmed,
        lr,
        layers,
        sat_layers,
        squashing,
        th,
        upd_layer,
        wnames,
    ) = (
        m.G,
        m.dead,
        m.depth,
        m.finite_gains,
        m.g_all,
        m.g_late,
        m.gain_product,
        m.geo_gain,
        m.gw,
        m.h,
        m.has_norm,
        m.has_residual,
        m.info,
        m.lmed,
        m.lr,
        m.layers,
        m.sat_layers,
        m.squashing,
        m.th,
        m.upd_layer,
        m.wnames,
    )
    findings = list(prior)
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
                    _init_scale(layers.get(next(n for n in wnames if n in squashing)))
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
            scales = [_init_scale(layers.get(n)) for n in wnames]
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
    return findings[len(prior) :]


def _rule_dying_relu(m: _Measures, prior: list[Finding]) -> list[Finding]:
    """``dying_relu``: ReLU layers whose units are 0 on every row of the batch."""
    R, dead, h, layers, th, upd_high = (m.R, m.dead, m.h, m.layers, m.th, m.upd_high)
    findings = list(prior)
    bad_dead = {n: v for n, v in dead.items() if math.isfinite(v) and v >= th.dead_warning}
    if bad_dead:
        severity = "critical" if max(bad_dead.values()) >= th.dead else "warning"
        names = list(bad_dead)
        biases = {}
        for n in names:
            layer = layers.get(n)
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
    return findings[len(prior) :]


def _rule_saturation(m: _Measures, prior: list[Finding]) -> list[Finding]:
    """``saturation``: sigmoid/tanh outputs where the derivative is below the threshold."""
    R, h, layers, lmed, sat_layers, th = (m.R, m.h, m.layers, m.lmed, m.sat_layers, m.th)
    findings = list(prior)
    if sat_layers:
        fr = {n: lmed("saturated", n) for n in sat_layers}
        severity = "critical" if max(fr.values()) >= th.saturated_critical else "warning"
        scale = _init_scale(layers.get(sat_layers[0]))
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
    return findings[len(prior) :]


def _rule_update_ratio(m: _Measures, prior: list[Finding]) -> list[Finding]:
    """``update_ratio``: ||Δw|| / ||w|| far above (90th percentile) or below (median) 1e-3."""
    R, h, lr, th, upd_high, upd_layer = (m.R, m.h, m.lr, m.th, m.upd_high, m.upd_layer)
    findings = list(prior)
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
    return findings[len(prior) :]


def _rule_loss(m: _Measures, prior: list[Finding]) -> list[Finding]:
    """``unstable_loss`` (diverging, or oscillating with too-large updates) and ``stalled``."""
    h, lr, th, upd_high, upd_layer = (m.h, m.lr, m.th, m.upd_high, m.upd_layer)
    ev = h.first_nonfinite
    findings = list(prior)
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
                    f"{', '.join(van[0].layers[:3])}): they get almost no learning signal"
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
    return findings[len(prior) :]


def _rule_through_time(m: _Measures, prior: list[Finding]) -> list[Finding]:
    """``long_range_vanishing``: a recurrent layer's gradient through time reaching its first
    step (an LSTM's, or a gateless one's such as SimpleRNN: no forget gate, its mean is NaN)."""
    h, layers, th = (m.h, m.layers, m.th)
    findings = list(prior)
    for name, cols in h.recurrent.items():
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
        layer = layers.get(name)
        b = getattr(layer, "params", {}).get("b") if layer is not None else None
        gated = math.isfinite(fmean)  # an LSTM (a SimpleRNN records no forget gate)
        H = b.size // 4 if b is not None and gated else 0
        fb_now = float(np.mean(b[H : 2 * H], dtype=np.float64)) if H else math.nan
        fb_next = 1.0 if not fb_now >= 0.5 else float(round(fb_now) + 1)
        per_step = r0m ** (1.0 / max(T - 1, 1)) if r0m > 0 else 0.0
        if not gated:
            cause = (
                f"the gradient shrinks by {per_step:.2g}x per step over {T} steps: a plain "
                "RNN has no gated path, its gradient through time decays geometrically"
            )
        elif fmean < 0.5:
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
                ]
                if gated
                else [
                    "gc.nn.LSTM(input_size, hidden_size)  # instead of the plain RNN: its cell "
                    "state carries the gradient through time",
                    "shorter sequences (or truncated backpropagation through time)",
                ],
            )
        )
    return findings[len(prior) :]


def _table(m: _Measures, findings: list[Finding]) -> Diagnosis:
    """The per-layer table, the status and the summary."""
    R, dead, gain, gain_product, gw, h, info, layer_names_all, lmed, lr, model, th, upd_layer = (
        m.R,
        m.dead,
        m.gain,
        m.gain_product,
        m.gw,
        m.h,
        m.info,
        m.layer_names_all,
        m.lmed,
        m.lr,
        m.model,
        m.th,
        m.upd_layer,
    )
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


_RULES = (
    _rule_nonfinite,
    _rule_gradient_flow,
    _rule_dying_relu,
    _rule_saturation,
    _rule_update_ratio,
    _rule_loss,
    _rule_through_time,
)


def diagnose(history, model, thresholds: Thresholds | None = None) -> Diagnosis:
    """Judge a :class:`~gradcore.monitor.GradientHistory` (see the module docstring): each rule
    below adds its findings; ``thresholds`` default to :class:`Thresholds`."""
    if len(history) == 0:
        raise RuntimeError(
            "nothing recorded yet: run fit with the monitor as a callback, or call "
            "monitor.record(loss=...) after backward"
        )
    m = _measure(history, model, thresholds or Thresholds())
    findings: list[Finding] = []
    for rule in _RULES:
        findings += rule(m, findings)
    return _table(m, findings)
