"""The benchmark driver: ``gradcore bench`` / ``python -m gradcore.bench``.

Runs the grid (kernel x backend x dtype x size) with threads pinned, then writes
``bench.json``, ``bench.md`` and ``bench.png`` into the output folder. See ``bench/README.md``.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as _dt
import logging
import os
import shlex
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

import gradcore as gc

from . import env as _env
from .cases_layers import layer_cases
from .cases_stream import stream_cases
from .grid import FULL, QUICK, Ctx, gemm_fn
from .memory import memory_check
from .report import write_json, write_markdown, write_png
from .targets import evaluate_targets
from .timing import measure
from .triad import dram_size, measure_triad

__all__ = ["FAMILIES", "default_out", "main", "run"]

log = logging.getLogger("gradcore.bench")

FAMILIES = (
    "adam_op",
    "adam_optim",
    "adam_mlp",
    "adagrad_op",
    "adagrad_optim",
    "adagrad_mlp",
    "clip",
    "dense",
    "batchnorm",
    "lstm",
    "mlp_step",
    "overhead_scale",
    "overhead_dense",
)

FILES = {"json": "bench.json", "markdown": "bench.md", "png": "bench.png"}


def default_out() -> Path:
    """``bench/results`` of the source tree containing the working directory (gitignored), else
    ``./bench-results``."""
    cwd = Path.cwd().resolve()
    for d in (cwd, *cwd.parents):
        if (d / "bench" / "README.md").is_file() and (d / "pyproject.toml").is_file():
            return d / "bench" / "results"
    return cwd / "bench-results"


def _parser(default_out_dir: Path | None, prog: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog=prog,
        description="Benchmark the gradcore backends against the NumPy reference (and "
        "PyTorch CPU when installed): kernel x backend x dtype x size.",
    )
    p.add_argument("--quick", action="store_true", help="tiny sizes, fewer repeats (< 1 min)")
    p.add_argument(
        "--out",
        type=Path,
        default=default_out_dir,
        help="output folder (default: bench/results of the source tree)",
    )
    p.add_argument(
        "--backends",
        default=None,
        help="comma-separated gradcore backends (default: all available; numpy is always included)",
    )
    p.add_argument("--no-torch", action="store_true", help="do not measure PyTorch")
    p.add_argument("--dtypes", default="float32", help="comma-separated: float32,float64")
    p.add_argument(
        "--cases",
        default=None,
        help=f"comma-separated case families (default all): {', '.join(FAMILIES)}",
    )
    p.add_argument(
        "--threads",
        type=int,
        default=2,
        help="threads for gradcore kernels, numba and torch (default 2)",
    )
    p.add_argument(
        "--numpy-blas-threads",
        type=int,
        default=None,
        help="threads of NumPy's BLAS (threadpoolctl; default: --threads)",
    )
    p.add_argument(
        "--gemm-blas-threads",
        type=int,
        default=1,
        help="threads of the BLAS behind gradcore's GEMM path (scipy's; default 1, "
        "as DESIGN.md prescribes)",
    )
    p.add_argument("--repeats", type=int, default=None, help="timed repeats (default 15; quick 5)")
    p.add_argument(
        "--warmup", type=int, default=None, help="minimum warm-up calls (default 2; quick 1)"
    )
    p.add_argument(
        "--warmup-time",
        type=float,
        default=None,
        help="minimum warm-up seconds (default 0.2; quick 0.02)",
    )
    p.add_argument(
        "--min-time",
        type=float,
        default=None,
        help="seconds per timed repeat (default 0.01; quick 0.002)",
    )
    p.add_argument("--no-triad", action="store_true", help="skip the STREAM-style triad")
    p.add_argument("--no-memory", action="store_true", help="skip the tracemalloc check")
    p.add_argument("--seed", type=int, default=0)
    return p


def _loadavg() -> list[float] | None:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except (OSError, AttributeError):
        return None


def _select_backends(arg: str | None) -> list[str]:
    avail = gc.available_backends()
    if arg is None:
        chosen = list(avail)
    else:
        chosen = [b.strip().lower() for b in arg.split(",") if b.strip()]
        bad = [b for b in chosen if b not in avail]
        if bad:
            raise SystemExit(f"gradcore bench: backend(s) {bad} not available; available: {avail}")
    if "numpy" not in chosen:
        chosen.append("numpy")
    return ["numpy"] + [b for b in chosen if b != "numpy"]


def _families(arg: str | None) -> set[str]:
    if arg is None:
        return set(FAMILIES)
    fams = {f.strip() for f in arg.split(",") if f.strip()}
    bad = fams - set(FAMILIES)
    if bad:
        raise SystemExit(f"gradcore bench: unknown case families {sorted(bad)}; known: {FAMILIES}")
    return fams


def _case_record(case, st) -> dict:
    impls = {}
    for impl in case.impls:
        s = st[impl.name]
        rec = {
            "kind": impl.kind,
            "note": impl.note,
            "backend": impl.backend,
            "median_s": s.median,
            "q1_s": s.q1,
            "q3_s": s.q3,
            "iqr_s": s.iqr,
            "best_s": s.best,
            "number": s.number,
            "times_s": s.times,
        }
        if case.bytes_per_call:
            rec["gbps"] = case.bytes_per_call / s.median / 1e9
        impls[impl.name] = rec
    return {
        "name": case.name,
        "family": case.family,
        "group": case.group,
        "dtype": case.params.get("dtype"),
        "params": case.params,
        "roles": list(case.roles),
        "bytes_per_call": case.bytes_per_call,
        "torch_note": case.torch_note,
        "note": case.note,
        "impls": impls,
        "median_s": {n: r["median_s"] for n, r in impls.items()},
    }


def run(
    *,
    quick: bool = False,
    backends: list[str] | None = None,
    use_torch: bool = True,
    dtypes: tuple[str, ...] = ("float32",),
    families: set[str] | None = None,
    threads: int = 2,
    numpy_blas_threads: int | None = None,
    gemm_blas_threads: int = 1,
    repeats: int | None = None,
    warmup: int | None = None,
    min_time: float | None = None,
    warmup_time: float | None = None,
    triad: bool = True,
    memory: bool = True,
    seed: int = 0,
    command: str = "",
    progress: Callable[[str], None] | None = None,
) -> dict:
    """Run the benchmark and return the run record (what ``bench.json`` holds)."""
    say = progress or log.info
    grid = QUICK if quick else FULL
    repeats = repeats if repeats is not None else (5 if quick else 15)
    warmup = warmup if warmup is not None else (1 if quick else 2)
    warmup_time = warmup_time if warmup_time is not None else (0.02 if quick else 0.2)
    min_time = min_time if min_time is not None else (0.002 if quick else 0.01)
    backends = _select_backends(",".join(backends) if backends else None)  # numpy first
    families = families or set(FAMILIES)
    torch = _env.torch_module() if use_torch else None
    t_start = time.perf_counter()
    meta = {
        "created": _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "command": command,
        "quick": quick,
        "backends": backends,
        "torch": torch is not None,
        "dtypes": list(dtypes),
        "machine": _env.machine(),
        "libraries": _env.library_versions(),
        "gradcore_kernels": _env.gradcore_kernels_info(),
        "torch_config": _env.torch_info() if torch is not None else None,
        "gemm_only_provider": gemm_fn()[1],
        "timing": {
            "repeats": repeats,
            "warmup": warmup,
            "warmup_time": warmup_time,
            "min_time": min_time,
        },
        "loadavg_start": _loadavg(),
        "grid": {k: v for k, v in vars(grid).items()},
    }
    out: dict = {
        "meta": meta,
        "cases": [],
        "triad": None,
        "memory": [],
        "targets": [],
        "errors": [],
    }
    with (
        contextlib.ExitStack() as active,
        _env.fixed_threads(
            threads, numpy_blas_threads, gemm_blas_threads, use_torch=torch is not None
        ) as thread_record,
    ):
        meta["threads"] = thread_record
        if triad:
            say("triad ...")
            out["triad"] = measure_triad(
                max(grid.opt_sizes),
                dram_size() if grid.triad_dram else None,
                threads,
                repeats=repeats,
                warmup=warmup,
                min_time=min_time,
                warmup_time=warmup_time,
            )
            ref = out["triad"]["reference"]
            say(f"triad: {ref['gbps']:.1f} GB/s ({ref['impl']})")

        def activate(name: str) -> None:
            active.close()
            active.enter_context(gc.use_backend(name))

        for dt in dtypes:
            ctx = Ctx(np.dtype(dt), backends, torch, grid, seed=seed)
            specs = [s for s in (*stream_cases(ctx), *layer_cases(ctx)) if s.family in families]
            for i, spec in enumerate(specs, 1):
                try:
                    case = spec.build()
                except Exception as exc:  # a case that cannot be set up is reported, not fatal
                    out["errors"].append(
                        {
                            "case": spec.name,
                            "dtype": dt,
                            "impl": None,
                            "error": f"{type(exc).__name__}: {exc}",
                        }
                    )
                    say(f"[{dt} {i}/{len(specs)}] {spec.name}: could not be built: {exc}")
                    continue
                errors: dict[str, str] = {}
                st = measure(
                    case.impls,
                    repeats=repeats,
                    warmup=warmup,
                    min_time=min_time,
                    warmup_time=warmup_time,
                    activate=activate,
                    errors=errors,
                )
                active.close()
                case.impls = [im for im in case.impls if im.name in st]
                for name, err in errors.items():
                    out["errors"].append(
                        {"case": case.name, "dtype": dt, "impl": name, "error": err}
                    )
                    say(f"[{dt} {i}/{len(specs)}] {case.name}: {name} failed: {err}")
                rec = _case_record(case, st)
                rec["errors"] = errors
                out["cases"].append(rec)
                del case
                times = ", ".join(f"{n} {v * 1e3:.3g} ms" for n, v in rec["median_s"].items())
                say(f"[{dt} {i}/{len(specs)}] {rec['name']}: {times}")
            if memory and "mlp_step" in families:
                for m in memory_check(ctx, errors=out["errors"]):
                    out["memory"].append({**m, "dtype": dt})
                    say(
                        f"memory {dt} {m['backend']}: net {m['net_bytes']} B, "
                        f"peak {m['peak_bytes']} B over {m['steps']} steps"
                    )
    triad_gbps = out["triad"]["reference"]["gbps"] if out["triad"] else None
    # the targets are for the compiled backends; numpy is judged only when alone (as context)
    judged = [b for b in backends if b != "numpy"] or ["numpy"]
    out["targets"] = evaluate_targets(out["cases"], judged, triad_gbps)
    meta["seconds"] = time.perf_counter() - t_start
    meta["loadavg_end"] = _loadavg()
    return out


def main(
    argv: list[str] | None = None,
    default_out_dir: Path | None = None,
    prog: str = "gradcore bench",
) -> int:
    """Command-line entry point; returns the exit status."""
    args = _parser(default_out_dir, prog).parse_args(argv)
    out_dir = args.out if args.out is not None else default_out()
    if (
        args.threads < 1
        or args.gemm_blas_threads < 1
        or (args.numpy_blas_threads is not None and args.numpy_blas_threads < 1)
    ):
        raise SystemExit("gradcore bench: thread counts must be >= 1")
    dtypes = tuple(d.strip() for d in args.dtypes.split(",") if d.strip())
    if not dtypes or set(dtypes) - {"float32", "float64"}:
        raise SystemExit(f"gradcore bench: --dtypes must be float32 and/or float64, got {dtypes}")
    backends = _select_backends(args.backends)
    cmd_argv = sys.argv[1:] if argv is None else list(argv)
    if "OPENBLAS_THREAD_TIMEOUT" not in os.environ:
        # NumPy's OpenBLAS keeps its idle threads spinning for ~2^28 cycles (~0.1 s) after each
        # call; interleaved with gradcore's or torch's OpenMP pools on 2 cores that spinning
        # took the other pool's core (measured: a c Dense 256 step 4.1 ms instead of 0.49 ms).
        # OpenBLAS reads the timeout once at load, so run the grid in a fresh process with
        # the shortest timeout (2^4 cycles); an explicit OPENBLAS_THREAD_TIMEOUT is respected.
        import subprocess

        child_argv = [*cmd_argv]
        if args.out is None:
            child_argv += ["--out", str(out_dir)]
        env = dict(os.environ, OPENBLAS_THREAD_TIMEOUT="4", GRADCORE_BENCH_PROG=prog)
        return subprocess.call([sys.executable, "-m", "gradcore.bench", *child_argv], env=env)
    prog = os.environ.get("GRADCORE_BENCH_PROG", prog)
    command = f"{prog} {shlex.join(cmd_argv)}".strip()

    def progress(msg: str) -> None:
        print(msg, file=sys.stderr, flush=True)

    result = run(
        quick=args.quick,
        backends=backends,
        use_torch=not args.no_torch,
        dtypes=dtypes,
        families=_families(args.cases),
        threads=args.threads,
        numpy_blas_threads=args.numpy_blas_threads,
        gemm_blas_threads=args.gemm_blas_threads,
        repeats=args.repeats,
        warmup=args.warmup,
        min_time=args.min_time,
        warmup_time=args.warmup_time,
        triad=not args.no_triad,
        memory=not args.no_memory,
        seed=args.seed,
        command=command,
        progress=progress,
    )
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {k: out_dir / v for k, v in FILES.items()}
    png_skipped = write_png(result, paths["png"])
    if png_skipped:
        result["meta"]["png"] = f"not written: {png_skipped}"
    write_json(result, paths["json"])
    write_markdown(result, paths["markdown"])
    print(
        f"wrote {', '.join(str(p) for k, p in paths.items() if k != 'png' or not png_skipped)}"
        f" in {result['meta']['seconds']:.1f} s"
    )
    return 0
