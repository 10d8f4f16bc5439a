"""gradcore's performance targets (the speed it promises next to NumPy and PyTorch, set when
the kernels were built), evaluated on a run's results (met / not met).

Each target names case families (and roles, e.g. the largest size), a metric and a
threshold. It is evaluated for every measured gradcore backend (``vs numpy`` targets skip
the numpy reference itself); a backend meets a target when every matching case does, and the
report shows its worst case. At ``--quick`` sizes the verdicts are only indicative.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["TARGETS", "Target", "evaluate_targets", "speedup"]

OPT = ("adam_op", "adam_optim", "adagrad_op", "adagrad_optim")


@dataclass(frozen=True)
class Target:
    id: str
    text: str
    families: tuple[str, ...]
    roles: tuple[str, ...] | None  # None: every case of the families
    metric: str  # "vs" (speed-up against `against`), "triad" (fraction), "gemm" (t_gemm/t)
    threshold: float
    against: str | None = None


TARGETS = (
    Target(
        "opt-numpy", "optimizer steps >= 15x numpy at P=1e7", OPT, ("large",), "vs", 15, "numpy"
    ),
    Target(
        "opt-torch-large",
        "Adam >= 1.0x torch fused Adam at P=1e7",
        ("adam_op", "adam_optim"),
        ("large",),
        "vs",
        1.0,
        "torch",
    ),
    Target(
        "opt-torch-small",
        "Adam >= 2x torch fused Adam at P=1e5-1e6 and on the MLP params",
        ("adam_op", "adam_optim", "adam_mlp"),
        ("small", "mlp"),
        "vs",
        2.0,
        "torch",
    ),
    Target(
        "opt-triad",
        "optimizer steps >= 85% of triad bandwidth at P=1e7",
        OPT,
        ("large",),
        "triad",
        0.85,
    ),
    Target("clip-numpy", "clipping >= 3x numpy", ("clip",), None, "vs", 3.0, "numpy"),
    Target("clip-torch", "clipping >= 1.5x torch", ("clip",), None, "vs", 1.5, "torch"),
    Target("bn-numpy", "BatchNorm >= 6x numpy", ("batchnorm",), None, "vs", 6.0, "numpy"),
    Target("bn-torch", "BatchNorm >= 1.3x torch", ("batchnorm",), None, "vs", 1.3, "torch"),
    Target(
        "dense-gemm",
        "dense within 10% of GEMM-only (GEMM/total >= 0.91)",
        ("dense",),
        None,
        "gemm",
        1 / 1.1,
    ),
    Target(
        "dense-torch",
        "dense >= 1.0x torch at the widest width (1024)",
        ("dense",),
        ("wide",),
        "vs",
        1.0,
        "torch",
    ),
    Target("lstm-numpy", "LSTM >= 3x numpy", ("lstm",), None, "vs", 3.0, "numpy"),
    Target(
        "lstm-torch",
        "LSTM >= 1.0x torch at H=128/256",
        ("lstm",),
        ("h128", "h256"),
        "vs",
        1.0,
        "torch",
    ),
    Target(
        "lstm-torch-long",
        "LSTM >= 1.3x torch at T=200 H=64",
        ("lstm",),
        ("long",),
        "vs",
        1.3,
        "torch",
    ),
    Target("mlp-torch", "MLP step >= 1.2x torch", ("mlp_step",), None, "vs", 1.2, "torch"),
    Target("mlp-numpy", "MLP step >= 1.5x numpy", ("mlp_step",), None, "vs", 1.5, "numpy"),
)


def speedup(times: dict[str, float], impl: str, against: str) -> float | None:
    """``t_against / t_impl`` (> 1: ``impl`` is faster), or None if either is missing."""
    a, b = times.get(impl), times.get(against)
    if a is None or b is None or a <= 0:
        return None
    return b / a


def _value(t: Target, case: dict, times: dict[str, float], be: str, triad_gbps: float | None):
    if t.metric == "vs":
        return speedup(times, be, t.against)
    if t.metric == "gemm":
        return speedup(times, be, "gemm")
    if t.metric == "triad":
        bpc = case.get("bytes_per_call")
        if not bpc or not triad_gbps or be not in times:
            return None
        return bpc / times[be] / 1e9 / triad_gbps
    raise ValueError(t.metric)


def evaluate_targets(
    cases: list[dict], backends: list[str], triad_gbps: float | None
) -> list[dict]:
    """One row per (target, backend): worst matching case, its value, met (or None: n/a)."""
    rows = []
    for t in TARGETS:
        matching = [
            c
            for c in cases
            if c["family"] in t.families and (t.roles is None or set(t.roles) & set(c["roles"]))
        ]
        evaluated = [be for be in backends if not (t.metric == "vs" and t.against == be)]
        if not evaluated:  # only the numpy reference ran: list the target, unevaluated
            rows.append(
                {
                    "target": t.id,
                    "text": t.text,
                    "backend": "—",
                    "value": None,
                    "threshold": t.threshold,
                    "met": None,
                    "case": None,
                    "why": "no compiled backend measured",
                    "metric": t.metric,
                }
            )
        for be in evaluated:
            vals = []
            for c in matching:
                v = _value(t, c, c["median_s"], be, triad_gbps)
                if v is not None:
                    vals.append((v, c["name"], c["dtype"]))
            if not vals:
                why = "no matching case measured"
                if t.against == "torch" and matching:
                    why = "torch not measured"
                rows.append(
                    {
                        "target": t.id,
                        "text": t.text,
                        "backend": be,
                        "value": None,
                        "threshold": t.threshold,
                        "met": None,
                        "case": None,
                        "why": why,
                        "metric": t.metric,
                    }
                )
                continue
            v, name, dtype = min(vals)
            rows.append(
                {
                    "target": t.id,
                    "text": t.text,
                    "backend": be,
                    "value": v,
                    "threshold": t.threshold,
                    "met": all(x >= t.threshold for x, _, _ in vals),
                    "case": f"{name} ({dtype})",
                    "cases": len(vals),
                    "metric": t.metric,
                }
            )
    return rows
