"""Writing a run: JSON (everything), a markdown report (tables of times and ratios, targets,
roofline, GEMM fractions, memory) and a PNG chart of speed-ups vs NumPy (log scale)."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

from .targets import speedup

__all__ = ["NOISY", "write_json", "write_markdown", "write_png"]

#: a time whose IQR exceeds this fraction of its median is flagged as noisy in the tables
NOISY = 0.25


def write_json(run: dict, path: Path) -> None:
    with open(path, "w", encoding="utf-8") as fh:
        json.dump(run, fh, indent=1, default=str)
        fh.write("\n")


# ----------------------------------------------------------------------------- formatting


def _ms(s: float | None) -> str:
    if s is None:
        return "—"
    ms = s * 1e3
    if ms >= 100:
        return f"{ms:.0f}"
    if ms >= 1:
        return f"{ms:.2f}"
    if ms >= 0.01:
        return f"{ms:.3f}"
    return f"{ms:.5f}"


def _x(v: float | None) -> str:
    if v is None or not math.isfinite(v):
        return "—"
    return f"{v:.2f}x" if v < 100 else f"{v:.0f}x"


def _bytes(n: int) -> str:
    for unit, k in (("MiB", 2**20), ("KiB", 2**10)):
        if abs(n) >= k:
            return f"{n / k:.1f} {unit}"
    return f"{n} B"


def _impl_columns(run: dict) -> tuple[list[str], list[str], bool]:
    """(gradcore backends, torch columns, has_gemm) in report order."""
    backends = run["meta"]["backends"]
    torch_cols: list[str] = []
    has_gemm = False
    for c in run["cases"]:
        for name, r in c["impls"].items():
            if r["kind"] == "torch" and name not in torch_cols:
                torch_cols.append(name)
            has_gemm |= r["kind"] == "gemm"
    torch_cols.sort(key=lambda n: (n != "torch", n))
    return backends, torch_cols, has_gemm


def _table(header: list[str], rows: list[list[str]], align: str | None = None) -> list[str]:
    align = align or ("l" + "r" * (len(header) - 1))
    sep = ["---:" if a == "r" else "---" for a in align]
    out = ["| " + " | ".join(header) + " |", "| " + " | ".join(sep) + " |"]
    out += ["| " + " | ".join(r) + " |" for r in rows]
    return out


# ----------------------------------------------------------------------------- markdown


def _header(run: dict) -> list[str]:
    meta = run["meta"]
    m, lib, th = meta["machine"], meta["libraries"], meta["threads"]
    k = meta["gradcore_kernels"]
    lines = [
        f"# gradcore benchmark ({'quick' if meta['quick'] else 'full'}) — {meta['created']}",
        "",
        f"Command: `{meta['command']}`",
        "",
        "## Machine, threads, BLAS",
        "",
        f"- CPU: {m['cpu_model']}; {m['logical_cpus']} logical CPUs "
        f"({m['affinity_cpus']} usable); last-level cache "
        f"{_bytes(m['llc_bytes']) if m.get('llc_bytes') else 'unknown'}; "
        f"{', '.join(m['cpu_flags'][:8]) or 'flags n/a'}",
        f"- {m['platform']}, Python {m['python']}",
        "- Libraries: "
        + ", ".join(f"{n} {v}" for n, v in lib.items() if v is not None)
        + "; not installed: "
        + (", ".join(n for n, v in lib.items() if v is None) or "none"),
        f"- Backends measured: {', '.join(meta['backends'])}"
        + (" + torch" if meta["torch"] else " (torch not installed or disabled)"),
        f"- Threads: gradcore kernels {th.get('gradcore_kernels_threads', 'n/a')} "
        f"(OpenMP {'on' if k.get('have_openmp') else 'off/n.a.'}), "
        f"numba {th.get('numba_threads', 'n/a')}, torch {th.get('torch_threads', 'n/a')}, "
        f"NumPy's BLAS {th['numpy_blas_threads']}, the BLAS of gradcore's GEMM path "
        f"{th.get('gemm_blas_threads', 'n/a')} (threadpoolctl"
        + (f"; {th['threadpoolctl']}" if "threadpoolctl" in th else "")
        + ")",
        f"- GEMM provider (gradcore._kernels): {k.get('gemm_provider') or k.get('error')}",
    ]
    for lib_ in th.get("threadpool_info", []):
        lines.append(
            f"- thread pool: {lib_.get('internal_api')} {lib_.get('version') or ''} "
            f"kernel={lib_.get('architecture', '—')} threads={lib_.get('num_threads')} "
            f"`{os.path.basename(lib_.get('filepath') or '')}`"
        )
    env = m["env"]
    lines.append(
        "- Environment: "
        + (", ".join(f"{k_}={v}" for k_, v in env.items()) or "no BLAS/OpenMP variables set")
    )
    if "OPENBLAS_CORETYPE" in env:
        lines.append(
            "- **Warning**: OPENBLAS_CORETYPE is set; it slows OpenBLAS GEMMs on this machine "
            "(run with `env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE`)."
        )
    t = meta["timing"]
    load = meta.get("loadavg_start")
    lines += [
        f"- Timing: per implementation, warm-up (>= {t['warmup']} calls and >= "
        f"{t['warmup_time'] * 1e3:.0f} ms) and a loop calibrated to ~{t['min_time'] * 1e3:.0f}"
        f" ms; then {t['repeats']} rounds over the implementations of a case, each an untimed "
        "pre-roll and one timed loop; time = median per call (IQR in parentheses).",
        f"- Load average (1, 5, 15 min) at start {load}, at end {meta.get('loadavg_end')}"
        + (
            " — **the machine was busy: timings, 2-thread ones especially, are inflated**"
            if load and load[0] > 0.5
            else ""
        ),
        "",
    ]
    return lines


def _results_tables(run: dict) -> list[str]:
    backends, torch_cols, has_gemm = _impl_columns(run)
    others = [b for b in backends if b != "numpy"]
    lines = []
    for dtype in run["meta"]["dtypes"]:
        cases = [c for c in run["cases"] if c["dtype"] == dtype]
        if not cases:
            continue
        header = ["case"] + [f"{b} ms" for b in backends] + [f"{t} ms" for t in torch_cols]
        if has_gemm:
            header.append("GEMM-only ms")
        header += [f"{b} vs numpy" for b in others]
        if torch_cols:
            header += [f"{b} vs torch" for b in backends] + ["torch vs numpy"]
        rows = []
        for c in cases:
            imp, med = c["impls"], c["median_s"]

            def cell(n, imp=imp):
                r = imp.get(n)
                if r is None:
                    return "—"
                noisy = " †" if r["iqr_s"] > NOISY * r["median_s"] else ""
                return f"{_ms(r['median_s'])} ({_ms(r['iqr_s'])}){noisy}"

            row = [c["name"]] + [cell(b) for b in backends] + [cell(t) for t in torch_cols]
            if has_gemm:
                row.append(cell("gemm"))
            row += [_x(speedup(med, b, "numpy")) for b in others]
            if torch_cols:
                row += [_x(speedup(med, b, "torch")) for b in backends]
                row.append(_x(speedup(med, "torch", "numpy")))
            rows.append(row)
        lines += [f"## Results ({dtype}; ms per call, median (IQR); ratios = speed-up)", ""]
        lines += _table(header, rows)
        lines += [
            "",
            "`X vs numpy` = t(numpy) / t(X), `X vs torch` = t(torch) / t(X): above 1 means X "
            "is faster. The `torch` column is the primary torch variant of each case (see "
            "the legend); other `torch-*` columns are alternatives, for information. "
            f"† = noisy: IQR above {NOISY:.0%} of the median (the repeats disagree; "
            "compare with a quieter run or `--threads 1`).",
            "",
        ]
    return lines


def _target_value(metric: str, v: float) -> str:
    if metric == "triad":
        return f"{v:.0%} of triad"
    if metric == "gemm":
        return f"{v:.2f} GEMM/total"
    return _x(v)


def _targets(run: dict) -> list[str]:
    rows = []
    for r in run["targets"]:
        if r["met"] is None:
            status, val = f"n/a ({r['why']})", "—"
        else:
            status = "met" if r["met"] else "**not met**"
            val = _target_value(r["metric"], r["value"])
        thr = _target_value(r["metric"], r["threshold"])
        rows.append([r["text"], r["backend"], val, thr, r["case"] or "—", status])
    lines = ["## Performance targets vs measured", ""]
    if run["meta"]["quick"]:
        lines += ["*Quick mode: sizes are not the targets' sizes; verdicts are indicative.*", ""]
    if set(run["meta"]["backends"]) == {"numpy"}:
        lines += [
            "*Only the NumPy reference was available in this run: the targets are meant for "
            "the compiled backends (c, numba) and are shown for numpy as context.*",
            "",
        ]
    lines += _table(
        ["target", "backend", "measured (worst case)", "threshold", "worst case", "status"],
        rows,
        "llrrll",
    )
    return [*lines, ""]


def _roofline(run: dict) -> list[str]:
    tri = run.get("triad")
    lines = ["## Roofline: streaming kernels vs a STREAM-style triad", ""]
    if not tri:
        return [*lines, "Triad not measured (--no-triad).", ""]
    rows = [
        [
            r["impl"],
            f"{r['n']} ({r['level']})",
            f"{r['threads']}",
            f"{r['passes']}",
            f"{r['gbps_stream']:.1f}",
            f"{r['gbps_traffic']:.1f}",
        ]
        for r in tri["results"]
    ]
    lines += _table(
        ["triad", "n per array", "threads", "passes", "GB/s (3 words/elem)", "GB/s (real traffic)"],
        rows,
        "llrrrr",
    )
    ref = tri["reference"]
    hows = {r["impl"]: r["how"] for r in tri["results"]}
    llc = tri.get("llc_bytes")
    lines += [
        "",
        f"Reference bandwidth: **{ref['gbps']:.1f} GB/s** ({ref['impl']}, {ref['basis']}, "
        f"a = b + s*c on {ref['n']} float32 per array; last-level cache "
        f"{_bytes(llc) if llc else 'unknown'}). How: "
        + "; ".join(f"{k}: `{v}`" for k, v in hows.items())
        + "".join(f"; {k}: skipped ({v})" for k, v in tri["skipped"].items())
        + ".",
        "",
    ]
    rows = []
    for c in run["cases"]:
        if not c.get("bytes_per_call"):
            continue
        for name, r in c["impls"].items():
            gbps = c["bytes_per_call"] / r["median_s"] / 1e9
            rows.append(
                [f"{c['name']} ({c['dtype']})", name, f"{gbps:.1f}", f"{gbps / ref['gbps']:.0%}"]
            )
    lines += _table(["case", "impl", "GB/s", "% of triad"], rows)
    lines += [
        "",
        "Bytes per call count every array once (Adam: p, g, m, v read + p, m, v written = 7 "
        "words per parameter; AdaGrad 5; clipping 3: the norms pass reads g, the scale pass "
        "reads and writes it).",
        "",
    ]
    return lines


def _gemm_fraction(run: dict) -> list[str]:
    cases = [c for c in run["cases"] if "gemm" in c["impls"]]
    if not cases:
        return []
    backends, torch_cols, _ = _impl_columns(run)
    cols = backends + (["torch"] if "torch" in torch_cols else [])
    rows = []
    for c in cases:
        med = c["median_s"]
        rows.append(
            [f"{c['name']} ({c['dtype']})", _ms(med["gemm"])]
            + [_x(speedup(med, n, "gemm")).replace("x", "") for n in cols]
        )
    lines = ["## GEMM-only fraction (dense, LSTM)", ""]
    lines += _table(["case", "GEMM-only ms"] + [f"{n}: GEMM/total" for n in cols], rows)
    lines += [
        "",
        f"GEMM/total = t(GEMM-only) / t(impl): 1.0 means nothing but the GEMMs; the dense "
        f"target asks >= 0.91 (within 10%). GEMMs via {run['meta']['gemm_only_provider']}.",
        "",
    ]
    return lines


def _memory(run: dict) -> list[str]:
    mem = run.get("memory")
    if not mem:
        return []
    lines = ["## Memory: a warm MLP training step (tracemalloc)", ""]
    rows = [
        [
            f"{m['backend']} ({m['dtype']})",
            str(m["steps"]),
            _bytes(m["net_bytes"]),
            _bytes(m["peak_bytes"]),
        ]
        for m in mem
    ]
    lines += _table(["backend", "steps", "net growth", "peak above start"], rows)
    lines += [
        "",
        "Net growth = traced memory after the steps minus before (0 = nothing kept); peak "
        "above start = the most a step allocates transiently (temporaries, per-call output "
        "arrays). The NumPy reference allocates temporaries by design; torch's allocator is "
        "not visible to tracemalloc.",
        "",
    ]
    return lines


def _legend(run: dict) -> list[str]:
    lines = ["## Legend: what each case runs", ""]
    seen = set()
    for c in run["cases"]:
        if c["family"] in seen:
            continue
        seen.add(c["family"])
        impls = "; ".join(f"{n}: {r['note']}" for n, r in c["impls"].items() if r["note"])
        lines.append(f"- **{c['family']}** — {c['note']} ({impls})")
    return [*lines, ""]


def _errors(run: dict) -> list[str]:
    errs = run.get("errors") or []
    if not errs:
        return []
    lines = ["## Errors (left out of the tables)", ""]
    for e in errs:
        who = f" / {e['impl']}" if e.get("impl") else ""
        lines.append(f"- {e['case']} ({e['dtype']}){who}: `{e['error']}`")
    return [*lines, ""]


def write_markdown(run: dict, path: Path) -> None:
    lines = _header(run) + _results_tables(run) + _targets(run) + _roofline(run)
    lines += _gemm_fraction(run) + _memory(run) + _errors(run) + _legend(run)
    with open(path, "w", encoding="utf-8") as fh:
        fh.write("\n".join(lines).rstrip() + "\n")


# ----------------------------------------------------------------------------- chart


def write_png(run: dict, path: Path) -> str | None:
    """Bar chart of speed-up vs numpy per case (log scale); returns a reason if skipped."""
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        return "matplotlib not installed"
    backends, torch_cols, _ = _impl_columns(run)
    series = [b for b in backends if b != "numpy"] + (["torch"] if "torch" in torch_cols else [])
    cases = run["cases"]
    labels = [f"{c['name']} ({c['dtype']})" for c in cases]
    n = max(len(cases), 1)
    fig = Figure(figsize=(10, 1.5 + 0.32 * n * max(len(series), 1) ** 0.5 + 0.2 * n))
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    if not series:
        ax.text(
            0.5,
            0.5,
            "only the numpy reference was measured: no speed-ups to plot",
            ha="center",
            va="center",
            transform=ax.transAxes,
        )
        ax.set_axis_off()
    else:
        h = 0.8 / len(series)
        for j, s in enumerate(series):
            ys, xs = [], []
            for i, c in enumerate(cases):
                v = speedup(c["median_s"], s, "numpy")
                if v is not None and v > 0:
                    ys.append(i + (j - (len(series) - 1) / 2) * h)
                    xs.append(v)
            # bars grow from 1.0 (no change): right = faster than numpy, left = slower
            ax.barh(ys, [x - 1.0 for x in xs], height=h, label=s, left=1.0)
        ax.set_xscale("log")
        ax.axvline(1.0, color="black", linewidth=0.8)
        ax.set_yticks(range(len(cases)))
        ax.set_yticklabels(labels, fontsize=7)
        ax.invert_yaxis()
        ax.set_xlabel("speed-up vs numpy reference (t_numpy / t), log scale")
        ax.legend(loc="lower right", fontsize=8)
        ax.grid(axis="x", which="both", alpha=0.3)
    ax.set_title(f"gradcore bench: speed-up vs numpy ({run['meta']['created']})", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    return None
