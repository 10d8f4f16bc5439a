"""Training under CPU contention: the small MLP step with busy competitor processes.

``python -m gradcore.bench.contention [--competitors 0,1,2] [--rounds 2] [--no-torch]
[--backend c] [--out DIR]`` times one training step of the 40-256-256-10 ReLU MLP (batch 100,
float32: zero_grad, forward, softmax cross-entropy, backward, Adam) while 0, 1 and 2 busy
competitor processes (``multiprocessing``, each spinning ``while True`` on one core until a
deadline) share the machine, and writes ``contention.json``.

Variants, timed in the same process and interleaved block by block (the order rotates):

- gradcore ``default`` (the default thread count, the fork policy of
  ``kernels/gc_parallel.h``: small work does not fork; a region that finds its peer
  descheduled backs the kernels off to the calling thread),
- gradcore ``no back-off`` (the same count, ``fork_policy(adaptive=False)``: what the
  default did before the back-off existed, for comparison),
- gradcore ``1 thread``,
- torch ``default`` and ``1 thread`` (torch==2.13.0 when installed; ``--no-torch`` skips it).

Each library runs in its own worker process (never two thread pools in one process); the
workers alternate (gradcore, torch, gradcore, torch... ``--rounds`` times per competitor
count). Reported: the median ms per step of every variant at every competitor count, and the
ratios ``default / 1 thread`` (target, issue 11: <= 1.5 under contention; the quiet machine
must not lose: ``default / no back-off`` ~ 1 there). Never asserted: a shared machine's
numbers move by tens of percent.

The competitors are bounded twice: they stop by themselves at a deadline (``--max-seconds``
per competitor count) and are terminated (then killed) in a ``finally`` as soon as their
measurement is over, whatever happened.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

__all__ = ["competitors", "main", "run"]

DIMS = (40, 256, 256, 10)
BATCH = 100


# ---- competitors ---------------------------------------------------------------------------


def _spin(deadline: float) -> None:  # pragma: no cover - runs in the child
    x = 0
    while time.monotonic() < deadline:
        x += 1


class competitors:
    """``with competitors(k, max_seconds):`` k busy processes, gone when the block exits."""

    def __init__(self, k: int, max_seconds: float) -> None:
        self.k, self.max_seconds, self.procs = int(k), float(max_seconds), []

    def __enter__(self):
        ctx = mp.get_context("spawn")  # no fork of a process that holds thread pools
        deadline = time.monotonic() + self.max_seconds
        try:
            for _ in range(self.k):
                p = ctx.Process(target=_spin, args=(deadline,), daemon=True)
                p.start()
                self.procs.append(p)
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        for p in self.procs:
            if p.is_alive():
                p.terminate()
        for p in self.procs:
            p.join(2.0)
            if p.is_alive():  # pragma: no cover - SIGTERM ignored
                p.kill()
                p.join(2.0)
        self.procs = []

    def __exit__(self, *exc) -> None:
        self.stop()


# ---- worker (one library, one process) -----------------------------------------------------


def _gc_step(backend: str):
    import numpy as np

    import gradcore as gc

    from .grid import make_mlp

    gc.set_backend(backend)
    model = make_mlp(DIMS, np.float32, seed=0)
    opt = gc.optim.Adam(model.parameters(), lr=1e-4)
    loss = gc.losses.SoftmaxCrossEntropy()
    rng = np.random.default_rng(0)
    xb = rng.standard_normal((BATCH, DIMS[0])).astype(np.float32)
    yb = rng.integers(0, DIMS[-1], BATCH).astype(np.int64)

    def step():
        model.zero_grad()
        loss.forward(model.forward(xb), yb)
        model.backward(loss.backward(), input_grad=False)
        opt.step()

    return step


def _torch_step():
    import numpy as np
    import torch

    torch.manual_seed(0)
    mods = []
    for i in range(len(DIMS) - 1):
        mods.append(torch.nn.Linear(DIMS[i], DIMS[i + 1]))
        if i < len(DIMS) - 2:
            mods.append(torch.nn.ReLU())
    net = torch.nn.Sequential(*mods)
    opt = torch.optim.Adam(net.parameters(), lr=1e-4)
    lossf = torch.nn.CrossEntropyLoss()
    rng = np.random.default_rng(0)
    xb = torch.from_numpy(rng.standard_normal((BATCH, DIMS[0])).astype(np.float32))
    yb = torch.from_numpy(rng.integers(0, DIMS[-1], BATCH).astype(np.int64))

    def step():
        opt.zero_grad(set_to_none=True)
        lossf(net(xb), yb).backward()
        opt.step()

    return step


def _variants(lib: str, backend: str, fork_scale: float | None = None):
    """name -> (activate(), step); activate sets the library's threads for that variant."""
    if lib == "torch":
        import torch

        default = torch.get_num_threads()
        step = _torch_step()
        return {
            "default": (lambda: torch.set_num_threads(default), step),
            "1 thread": (lambda: torch.set_num_threads(1), step),
        }, {"threads_default": default, "version": torch.__version__}
    import gradcore as gc

    default = gc.get_num_threads()
    step = _gc_step(backend)
    try:
        from gradcore import _kernels
    except ImportError:  # pragma: no cover - no c extension
        _kernels = None

    def policy(adaptive):
        # only the switch: a back-off in progress is kept (it is the state under test)
        if _kernels is not None:
            _kernels.fork_policy(adaptive=adaptive)

    if _kernels is not None and fork_scale is not None:
        _kernels.fork_policy(fork_scale=fork_scale)

    def setting(n, adaptive):
        def activate():
            gc.set_num_threads(n)
            policy(adaptive)

        return activate

    out = {
        "default": (setting(default, True), step),
        "no back-off": (setting(default, False), step),
        "1 thread": (setting(1, True), step),
    }
    return out, {"threads_default": default, "backend": backend, "fork_scale": fork_scale}


def worker(
    lib: str, backend: str, blocks: int, steps: int, warmup: int, fork_scale: float | None = None
) -> dict:
    """Time every variant of ``lib``: ``blocks`` interleaved blocks of ``steps`` steps each
    (after ``warmup`` untimed steps per block switch); ms per step of each block."""
    variants, info = _variants(lib, backend, fork_scale)
    names = list(variants)
    times: dict[str, list[float]] = {n: [] for n in names}
    for activate, step in variants.values():
        activate()
        for _ in range(3 * warmup):
            step()
    for b in range(blocks):
        for i in range(len(names)):
            name = names[(b + i) % len(names)]
            activate, step = variants[name]
            activate()
            for _ in range(warmup):
                step()
            t0 = time.perf_counter()
            for _ in range(steps):
                step()
            times[name].append((time.perf_counter() - t0) / steps * 1e3)
    extra = {}
    if lib == "gradcore":
        try:
            from gradcore import _kernels

            extra["fork_policy_at_end"] = _kernels.fork_policy()  # contended: regions found
        except ImportError:  # pragma: no cover
            pass
    return {"lib": lib, "info": info, "ms_per_step": times, **extra}


# ---- driver --------------------------------------------------------------------------------


def _run_worker(lib: str, args) -> dict:
    cmd = [
        sys.executable,
        "-m",
        "gradcore.bench.contention",
        "--worker",
        lib,
        "--backend",
        args.backend,
        "--blocks",
        str(args.blocks),
        "--steps",
        str(args.steps),
        "--warmup",
        str(args.warmup),
    ]
    if args.fork_scale is not None:
        cmd += ["--fork-scale", str(args.fork_scale)]
    env = dict(os.environ)
    env.setdefault("OPENBLAS_THREAD_TIMEOUT", "4")  # as the main bench (bench/README.md)
    out = subprocess.run(
        cmd, capture_output=True, text=True, env=env, timeout=args.max_seconds, check=False
    )
    if out.returncode != 0:
        raise RuntimeError(f"{lib} worker failed ({out.returncode}): {out.stderr[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def _torch_available() -> bool:
    import importlib.util

    return importlib.util.find_spec("torch") is not None


def run(args) -> dict:
    libs = ["gradcore"] + (["torch"] if args.torch and _torch_available() else [])
    levels = [int(k) for k in args.competitors.split(",")]
    result: dict = {
        "command": " ".join(
            [os.path.basename(sys.executable), "-m", "gradcore.bench.contention", *sys.argv[1:]]
        ),
        "machine": {"cpu_count": os.cpu_count(), "loadavg_start": os.getloadavg()},
        "dims": DIMS,
        "batch": BATCH,
        "levels": {},
    }
    for k in levels:
        runs: dict[str, dict[str, list[float]]] = {lib: {} for lib in libs}
        info: dict[str, dict] = {}
        with competitors(k, args.max_seconds):
            time.sleep(0.2 if k else 0.0)  # let them reach their cores
            for _ in range(args.rounds):
                for lib in libs:
                    r = _run_worker(lib, args)
                    info[lib] = {key: v for key, v in r.items() if key not in ("ms_per_step",)}
                    for name, ts in r["ms_per_step"].items():
                        runs[lib].setdefault(name, []).extend(ts)
        level: dict = {}
        for lib in libs:
            med = {name: statistics.median(ts) for name, ts in runs[lib].items()}
            spread = {name: (min(ts), max(ts)) for name, ts in runs[lib].items()}
            ratios = {"default / 1 thread": med["default"] / med["1 thread"]}
            if "no back-off" in med:
                ratios["no back-off / 1 thread"] = med["no back-off"] / med["1 thread"]
                ratios["default / no back-off"] = med["default"] / med["no back-off"]
            level[lib] = {
                "median_ms": med,
                "min_max_ms": spread,
                "ratios": ratios,
                "blocks": runs[lib],
                "worker": info[lib],
            }
        result["levels"][str(k)] = level
    result["machine"]["loadavg_end"] = os.getloadavg()
    return result


def _table(result: dict) -> str:
    lines = [
        "competitors  lib       variant        median ms/step  (min-max)     ratio to 1 thread"
    ]
    for k, level in result["levels"].items():
        for lib, r in level.items():
            one = r["median_ms"]["1 thread"]
            for name, med in r["median_ms"].items():
                lo, hi = r["min_max_ms"][name]
                lines.append(
                    f"{k:>11}  {lib:<8}  {name:<13}  {med:14.2f}  ({lo:.2f}-{hi:.2f})"
                    f"  {med / one:8.2f}"
                )
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m gradcore.bench.contention", description=__doc__.split("\n")[0]
    )
    ap.add_argument("--competitors", default="0,1,2", help="competitor counts (default 0,1,2)")
    ap.add_argument("--rounds", type=int, default=2, help="worker runs per library and count")
    ap.add_argument("--blocks", type=int, default=12, help="timed blocks per variant and run")
    ap.add_argument("--steps", type=int, default=25, help="steps per block")
    ap.add_argument("--warmup", type=int, default=5, help="untimed steps before each block")
    ap.add_argument("--backend", default="c")
    ap.add_argument(
        "--fork-scale",
        type=float,
        default=None,
        help="gradcore's fork scale (default: the compiled one, 1): compare e.g. 1 and 4",
    )
    ap.add_argument("--no-torch", dest="torch", action="store_false")
    ap.add_argument(
        "--max-seconds",
        type=float,
        default=300.0,
        help="competitors' deadline per count; also each worker's timeout",
    )
    ap.add_argument("--out", type=Path, default=None)
    ap.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.worker:
        r = worker(args.worker, args.backend, args.blocks, args.steps, args.warmup, args.fork_scale)
        print(json.dumps(r))
        return 0
    result = run(args)
    print(_table(result))
    if args.out is None:
        from .run import default_out

        args.out = default_out()
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / "contention.json"
    path.write_text(json.dumps(result, indent=1))
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
