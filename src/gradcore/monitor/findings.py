"""What a diagnosis is made of: :class:`Thresholds`, :class:`Finding`, :class:`LayerRow` and
:class:`Diagnosis` (data), and the text report (a view of it).

A :class:`Diagnosis` is data (``status``, ``findings``, a per-layer table); ``str(d)`` is the
readable health report, ``d.to_dict()`` the same for machines. Each :class:`Finding` has a
stable ``kind`` (:data:`FINDING_KINDS`), a ``severity`` (``"critical"``, ``"warning"``,
``"info"``), the ``layers`` it concerns (named as ``model.parameters()`` names them), the
``steps`` it was seen at, the ``evidence`` (numbers), a ``cause`` attributed from the recorded
statistics and ``remedies``: concrete gradcore calls, the most direct first. The rules that
produce them are in :mod:`gradcore.monitor.diagnosis`.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

import numpy as np

from .._args import check_int, check_real
from .history import jsonable as _jsonable

__all__ = ["FINDING_KINDS", "SEVERITIES", "Diagnosis", "Finding", "LayerRow", "Thresholds"]

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


#: Thresholds that count records or rows: integers >= 1.
_COUNTS = frozenset({"min_records", "min_rows_dead"})
#: (lower, upper) pairs of thresholds on one scale.
_ORDERED = (
    ("vanished", "weak"),
    ("weak", "exploding"),
    ("dead_warning", "dead"),
    ("saturated", "saturated_critical"),
    ("update_low", "update_high"),
    ("update_high", "update_critical"),
    ("through_time_critical", "through_time"),
)


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
      the largest ||dL/dh_t|| of a recurrent layer (LSTM, SimpleRNN: the gradient through time
      reaching the first step).
    - ``min_records = 8``: trend findings (loss, stalled) need at least this many records;
      ``min_rows_dead = 8``: a unit is judged dead only over a batch of at least 8 rows.

    Every field is a finite real number >= 0 (a value beyond the reachable range switches its
    finding off, e.g. ``loss_oscillation=1.1``); ``min_records`` and ``min_rows_dead`` are
    integers >= 1; and the bounds of one scale are ordered: ``vanished <= weak <= exploding``,
    ``dead_warning <= dead``, ``saturated <= saturated_critical``, ``update_low <=
    update_high <= update_critical``, ``through_time_critical <= through_time``.
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
        # every field: a finite real >= 0 (NumPy scalars accepted, stored as Python numbers;
        # no upper bound: a fraction above 1 switches a finding off);
        # counts integers >= 1; and the pairs that bound one scale in order (vanished <= weak,
        # ...), else e.g. no layer could be "weak" between them
        for k, v in asdict(self).items():
            if k in _COUNTS:
                v = check_int(k, v, owner="Thresholds", min=1)
            else:
                v = check_real(k, v, owner="Thresholds", min=0.0)
            object.__setattr__(self, k, v)
        for lo, hi in _ORDERED:
            a, b = getattr(self, lo), getattr(self, hi)
            if a > b:
                raise ValueError(f"Thresholds: {lo} must be <= {hi} ({b!r}), got {a!r}")


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
        names = [_shown(n) for n in self.layers]
        where = ", ".join(names) if names else "the model"
        if len(names) > 6:
            where = ", ".join(names[:3]) + f", ... ({len(names)} layers)"
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

    def brief(self) -> dict:
        """A few JSON-able numbers for tables of many runs (sweeps): status, the finding kinds
        by severity, the first and last weight layers' gradient norms, each layer's gain and the
        backward factor (NaN becomes ``None``)."""
        weighted = [r for r in self.layers if math.isfinite(r.grad_norm)]
        out = {
            "status": self.status,
            "critical": sorted({f.kind for f in self.findings if f.severity == "critical"}),
            "warning": sorted({f.kind for f in self.findings if f.severity == "warning"}),
            "first_grad_norm": weighted[0].grad_norm if weighted else math.nan,
            "last_grad_norm": weighted[-1].grad_norm if weighted else math.nan,
            "gain": {r.name: r.gain for r in self.layers},
            "backward_factor": self.summary.get("gain_product", math.nan),
        }
        return _jsonable(out)

    def to_dict(self) -> dict:
        """Everything as JSON-able values (NaN and inf become ``None``)."""
        return _jsonable(
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
        w = max([len(_shown(r.name)) for r in self.layers] + [5])
        k = max([len(r.kind) for r in self.layers] + [4])
        lines.append(
            f"{'layer':<{w}}  {'kind':<{k}}  {'weight grad norm (log10 -10 .. 2)':<36} "
            f"{'gain':>7} {'sat%':>6} {'dead%':>6} {'upd/w':>8}  verdict"
        )
        for r in self.layers:
            lines.append(
                f"{_shown(r.name):<{w}}  {r.kind:<{k}}  "
                f"{_fmt(r.grad_norm):>8} {_logbar(r.grad_norm):<27} "
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


def _shown(name: str) -> str:
    """A layer's name as printed: the root of a model that is a single layer has the empty
    path (its tensors are just "W", "b")."""
    return name or "(model)"


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
