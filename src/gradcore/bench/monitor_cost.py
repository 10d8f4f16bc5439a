"""What the gradient monitor costs: the MLP training step with and without it.

``python -m gradcore.bench.monitor_cost [--quick] [--backend c] [--out DIR]`` times, in one
process and alternating between them (``timing.measure``: the repeats of the variants
interleave, so machine noise hits all alike), one training step of the 784-256-256-256-10 ReLU
MLP (batch 128, float32: zero_grad, forward, softmax CE, backward, clip_grad_norm 1.0, Adam)

- without a monitor,
- with ``GradientMonitor(model, every=1)`` (``record`` after the clip, as ``fit`` does),
- with ``every=10``,

and ``gc.monitor.check`` on one batch of the same size. It prints the medians and the ratios to
the unmonitored step and writes ``monitor_cost.json``. Targets (issue 10): at most 3 % slower
at ``every=1``, at most 1 % at ``every=10``; ``check`` below two training steps. Reported,
never asserted.

``--callgrind`` counts instructions instead (valgrind's callgrind, one thread): each variant runs
5 and 25 steps in its own process and the difference / 20 is its cost per step, independent
of what else the machine does (the wall-clock medians here move by 10-40 % between runs on a
shared 2-core machine). Needs ``valgrind``; takes a few minutes.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import numpy as np

import gradcore as gc

from .grid import make_mlp
from .timing import Impl, measure

__all__ = ["main", "run"]

DIMS = (784, 256, 256, 256, 10)


def _step_fn(backend: str, batch: int, every: int | None, seed: int = 0):
    model = make_mlp(DIMS, np.float32, seed=seed)
    arena = model.parameters()
    opt = gc.optim.Adam(arena, lr=1e-4)
    loss = gc.losses.SoftmaxCrossEntropy()
    rng = np.random.default_rng(seed)
    xb = rng.standard_normal((batch, DIMS[0])).astype(np.float32)
    yb = rng.integers(0, DIMS[-1], batch).astype(np.int64)
    # max_records above the calls a run makes, so every=1 stays every step (no down-sampling)
    mon = (
        None if every is None else gc.monitor.GradientMonitor(model, every=every, max_records=16384)
    )

    def step():
        model.zero_grad()
        value = loss.forward(model.forward(xb), yb)
        model.backward(loss.backward(), input_grad=False)
        gc.clip_grad_norm(arena, 1.0)
        if mon is not None:
            mon.record(loss=value, lr=opt.lr)
        opt.step()

    return step, (model, xb, yb, mon)


def run(backend: str = "c", batch: int = 128, repeats: int = 15, min_time: float = 0.2) -> dict:
    """Time the variants on ``backend``; returns medians (s) and ratios."""
    impls, mons = [], {}
    ctx = None
    for name, every in (("no monitor", None), ("every=1", 1), ("every=10", 10)):
        fn, ctx = _step_fn(backend, batch, every)
        impls.append(Impl(name, "backend", fn, backend=backend))
        mons[name] = ctx[3]
    model, xb, yb, _ = ctx
    impls.append(Impl("check", "backend", lambda: gc.monitor.check(model, xb, yb), backend=backend))
    stats = measure(impls, repeats=repeats, warmup=3, min_time=min_time, activate=gc.set_backend)
    base = stats["no monitor"].median
    out = {
        "backend": backend,
        "batch": batch,
        "dims": list(DIMS),
        "repeats": repeats,
        "median_s": {k: s.median for k, s in stats.items()},
        "iqr_s": {k: s.q3 - s.q1 for k, s in stats.items()},
        "ratio_to_unmonitored_step": {k: s.median / base for k, s in stats.items()},
        "threads": gc.get_num_threads(),
        "final_stride": {k: m.history.stride for k, m in mons.items() if m is not None},
    }
    return out


def _steps(mode: str, n: int) -> None:
    """Run ``n`` steps of one variant (the child process of ``--callgrind``)."""
    every = None if mode in ("none", "check") else int(mode)
    fn, (model, xb, yb, _) = _step_fn("c", 128, every)
    if mode == "check":

        def fn():
            return gc.monitor.check(model, xb, yb)

    for _ in range(n):
        fn()


def callgrind(backend: str = "c", jobs: int = 2) -> dict:
    """Instructions per step of each variant (see the module docstring)."""
    env = {
        k: v for k, v in os.environ.items() if k not in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
    }
    env.update(GRADCORE_BACKEND=backend, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")

    def count(mode: str, n: int) -> int:
        cmd = ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", sys.executable,
               "-m", "gradcore.bench.monitor_cost", "--_steps", mode, str(n)]  # fmt: skip
        out = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True).stderr
        return int(re.search(r"Collected : (\d+)", out).group(1))

    modes = ["none", "1", "10", "check"]
    runs = [(m, n) for m in modes for n in (5, 25)]
    with ThreadPoolExecutor(jobs) as ex:
        totals = dict(zip(runs, ex.map(lambda r: count(*r), runs), strict=True))
    per = {m: (totals[(m, 25)] - totals[(m, 5)]) / 20 for m in modes}
    names = {"none": "no monitor", "1": "every=1", "10": "every=10", "check": "check"}
    return {
        "backend": backend,
        "instructions_per_step": {names[m]: per[m] for m in modes},
        "ratio_to_unmonitored_step": {names[m]: per[m] / per["none"] for m in modes},
    }


def _write(out: str, name: str, res: dict) -> None:
    os.makedirs(out, exist_ok=True)
    path = os.path.join(out, name)
    with open(path, "w") as f:
        json.dump(res, f, indent=1)
    print(f"wrote {path}")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m gradcore.bench.monitor_cost", description=__doc__.splitlines()[0]
    )
    p.add_argument("--backend", default=None, help="default: the fastest available")
    p.add_argument("--quick", action="store_true", help="fewer, shorter repeats")
    p.add_argument("--out", default="bench/results", help="folder for monitor_cost.json")
    p.add_argument("--callgrind", action="store_true", help="count instructions (valgrind)")
    p.add_argument("--_steps", nargs=2, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args._steps:
        _steps(args._steps[0], int(args._steps[1]))
        return 0
    backend = args.backend or gc.available_backends()[0]
    if args.callgrind:
        res = callgrind(backend)
        print(
            f"MLP {'-'.join(map(str, DIMS))} training step, batch 128, float32, backend "
            f"{backend}, 1 thread, instructions per step (callgrind)"
        )
        for k, v in res["instructions_per_step"].items():
            print(f"  {k:<11} {v / 1e6:8.2f} M  x{res['ratio_to_unmonitored_step'][k]:.3f}")
        _write(args.out, "monitor_cost_callgrind.json", res)
        return 0
    res = run(backend, repeats=5 if args.quick else 15, min_time=0.05 if args.quick else 0.2)
    print(
        f"MLP {'-'.join(map(str, DIMS))} training step, batch {res['batch']}, float32, "
        f"backend {backend}, {res['threads']} threads, median of {res['repeats']} "
        "interleaved repeats"
    )
    for k, t in res["median_s"].items():
        r = res["ratio_to_unmonitored_step"][k]
        print(
            f"  {k:<11} {1e3 * t:8.3f} ms  (IQR {1e3 * res['iqr_s'][k]:.3f})  "
            f"x{r:.3f} of the unmonitored step"
        )
    _write(args.out, "monitor_cost.json", res)
    return 0


if __name__ == "__main__":
    sys.exit(main())
