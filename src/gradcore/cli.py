"""The ``gradcore`` command: ``gradcore info``, ``gradcore demo``, ``gradcore train``,
``gradcore experiment list|run NAME``, ``gradcore report``, ``gradcore sweep NAME --grid ...``
(a grid of trials on Dask: :mod:`gradcore.sweep`), ``gradcore bench`` (benchmarks: forwards
its arguments to :mod:`gradcore.bench`).

``gradcore experiment run NAME [--quick] [--out DIR] [--seed S] [--data mnist|mnist1d|digits]``
runs one of the classic experiments (:mod:`gradcore.experiments`) into ``DIR/NAME/`` (PNGs and
``results.json``); ``gradcore report`` runs them all and writes ``DIR/report.md``.

``gradcore demo`` shows the classic vanishing-gradient picture on one batch of a synthetic
spiral problem: the gradient norm of every layer's weights in a deep sigmoid network shrinks
by orders of magnitude towards the input, while ReLU + He initialisation (and BatchNorm, and
residual blocks) keep it level. It also gradient-checks a layer in float64, and ends with the
gradient monitor's diagnosis of the sigmoid network after a short training run, plus its
gradient-flow figure (a PNG).
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import sys

import numpy as np

from .data import spirals


def _build(kind: str, depth: int, width: int, classes: int, dtype, seed: int):
    import gradcore as gc

    nn = gc.nn
    layers: list = []
    d_in = 2
    for i in range(depth):
        s = seed + i
        if kind == "sigmoid + small normal init":
            layers.append(nn.Dense(d_in, width, "sigmoid", init=_normal(0.1), dtype=dtype, seed=s))
        elif kind == "sigmoid + Xavier init":
            layers.append(
                nn.Dense(d_in, width, "sigmoid", init="xavier_normal", dtype=dtype, seed=s)
            )
        elif kind == "ReLU + He init":
            layers.append(nn.Dense(d_in, width, "relu", init="he_normal", dtype=dtype, seed=s))
        elif kind == "ReLU + He + BatchNorm":
            layers += [
                nn.Dense(d_in, width, "linear", init="he_normal", dtype=dtype, seed=s),
                nn.BatchNorm(width, dtype=dtype),
                nn.Activation("relu", dtype=dtype),
            ]
        else:
            raise ValueError(kind)
        d_in = width
    layers.append(
        nn.Dense(d_in, classes, "linear", init="xavier_normal", dtype=dtype, seed=seed + depth)
    )
    return nn.Sequential(layers)


def _normal(std):
    def init(shape, rng, dtype):
        return rng.normal(0.0, std, size=shape).astype(dtype)

    return init


def _bar(value: float, lo: float, hi: float, width: int = 36) -> str:
    if not math.isfinite(value) or value <= 0:
        return ""
    frac = (math.log10(value) - lo) / max(hi - lo, 1e-12)
    return "#" * max(1, round(frac * width))


def demo(args) -> int:
    import gradcore as gc

    X, y = spirals(seed=args.seed)
    X = X.astype(np.float32)
    depth = args.depth
    loss = gc.losses.SoftmaxCrossEntropy()
    kinds = [
        "sigmoid + small normal init",
        "sigmoid + Xavier init",
        "ReLU + He init",
        "ReLU + He + BatchNorm",
    ]
    print(
        f"gradcore {gc.__version__} | backend {gc.get_backend_name()} | spirals: "
        f"{len(X)} points, 3 classes | {depth} hidden layers of width {args.width}\n"
    )
    print(
        "Gradient norm ||dL/dW|| of each Dense layer after one forward/backward "
        "(log scale; layer 1 = next to the input):\n"
    )
    results = {}
    for kind in kinds:
        model = _build(kind, depth, args.width, 3, np.float32, args.seed)
        value = loss.forward(model.forward(X), y)
        model.backward(loss.backward())
        norms = [
            float(np.linalg.norm(layer.grads["W"]))
            for layer in model.layers
            if isinstance(layer, gc.nn.Dense)
        ]
        results[kind] = (value, norms)
    all_norms = [v for _, ns in results.values() for v in ns if v > 0]
    lo, hi = math.log10(min(all_norms)) - 0.5, math.log10(max(all_norms))
    for kind, (value, norms) in results.items():
        print(f"{kind}   (loss {value:.4f})")
        for i, g in enumerate(norms, 1):
            tag = "output" if i == len(norms) else f"{i:>6d}"
            print(f"  {tag} {g:10.2e} {_bar(g, lo, hi)}")
        ratio = norms[0] / norms[-1] if norms[-1] > 0 else float("nan")
        print(f"  first/last layer ratio: {ratio:.1e}\n")
    print(
        "Reading it: with sigmoid units each layer multiplies the backward signal by at most "
        "0.25 * ||W||,\nso the gradient vanishes geometrically with depth; ReLU + He init keeps "
        "the signal's variance\nconstant, and BatchNorm re-centres every layer.\n"
    )

    dense = gc.nn.Dense(5, 4, "gelu", dtype=np.float64, seed=args.seed)
    x = np.random.default_rng(args.seed).normal(size=(3, 5))
    res = gc.gradcheck(dense, x)
    print("gc.gradcheck(Dense(5, 4, 'gelu', float64)):")
    print(res.report())

    # the monitor: train the sigmoid network briefly, watched, and let it explain itself
    model = _build(kinds[0], depth, args.width, 3, np.float32, args.seed)
    mon = gc.monitor.GradientMonitor(model, every=1)
    opt = gc.optim.Adam(model.parameters(), lr=1e-3)
    model.fit(
        X,
        y,
        optimizer=opt,
        epochs=args.epochs,
        batch_size=64,
        callbacks=[mon],
        verbose=False,
        seed=args.seed,
    )
    print(
        f"\ngc.monitor.GradientMonitor on the {kinds[0]} network, {args.epochs} epochs of Adam "
        f"(lr 1e-3):\n"
    )
    print(mon.diagnose())
    out = os.path.abspath(args.out)
    os.makedirs(out, exist_ok=True)
    path = os.path.join(out, "gradient_flow.png")
    fig = gc.monitor.plots.gradient_flow(mon)
    fig.savefig(path, dpi=110, bbox_inches="tight")
    print(f"gradient flow figure: {path}")
    return 0 if res.ok else 1


def train(args) -> int:
    from . import experiments

    common = {"seed": args.seed, "verbose": not args.quiet}
    if args.epochs is not None:
        common["epochs"] = args.epochs
    if args.task == "digits":
        r = experiments.digits_mlp(**common)
        print(
            f"digits, 3x{r['model'].layers[0].out_features} ReLU MLP, Adam: test accuracy "
            f"{r['test_accuracy']:.4f} on {r['n_test']} held-out images "
            f"(train {r['train_accuracy']:.4f}), {r['epochs']} epochs in {r['seconds']:.1f} s"
        )
        return 0
    r = experiments.adding_lstm(T=args.T, **common)
    print(
        f"adding problem T={r['T']}, LSTM: test MSE {r['test_mse']:.5f} (constant predictor "
        f"{r['constant_predictor_mse']:.4f}), {r['epochs']} epochs in {r['seconds']:.1f} s"
    )
    return 0


def _run_experiments(cmd: str, args, fn, *names, **kw):
    """``fn(*names, quick=..., seed=..., data=..., out=..., progress=...)`` from the options;
    a missing dataset or package is a message on stderr (exit 2), not a traceback."""
    from . import data as _data

    try:
        return fn(
            *names,
            quick=args.quick,
            seed=args.seed,
            data=args.data,
            out=args.out,
            progress=not args.quiet,
            **kw,
        )
    except (_data.DatasetNotFound, ImportError, RuntimeError) as exc:
        print(f"gradcore {cmd}: {exc}", file=sys.stderr)
        return None


def experiment(args) -> int:
    from . import experiments

    if args.action == "list":
        width = max(len(n) for n in experiments.EXPERIMENTS)
        for name, exp in experiments.EXPERIMENTS.items():
            print(f"{name:<{width}}  {exp.description}")
            print(f"{'':<{width}}  expected: {exp.expected}")
        return 0
    r = _run_experiments("experiment run", args, experiments.run, args.name)
    if r is None:
        return 2
    h = r["headline"]
    on = f" on {r['dataset']['name']}" if r.get("dataset") else ""
    print(f"{r['experiment']}{on}: {h['measured']}")
    print(f"expected: {r['expected']} -> reproduced: {'yes' if h['reproduced'] else 'no'}")
    for note in r["notes"]:
        print(f"note: {note}")
    print(f"results: {os.path.join(os.path.abspath(args.out), r['experiment'])}")
    return 0


def report(args) -> int:
    from . import experiments

    path = _run_experiments("report", args, experiments.report, resume=args.resume)
    if path is None:
        return 2
    print(f"report: {path.resolve()}")
    return 0


def sweep(args) -> int:
    from . import sweep as _sweep

    try:
        axes = dict(_sweep.parse_axis(a) for a in args.grid)
        fixed = dict(_sweep.parse_axis(a) for a in args.set)
        for k, v in fixed.items():
            if len(v) != 1:
                raise ValueError(f"sweep: --set {k} takes one value, got {v}")
        if args.seeds is not None:
            if "seed" in axes or "seed" in fixed:
                raise ValueError("sweep: give the seeds either as --seeds N or as a seed axis")
            axes["seed"] = list(range(args.seeds))
        grid = _sweep.Grid(fixed={k: v[0] for k, v in fixed.items()}, **axes)
    except (ValueError, TypeError) as exc:
        print(f"gradcore sweep: {exc}", file=sys.stderr)
        return 2
    print(f"gradcore sweep {args.name}: {len(grid)} trials -> {args.sweep_out}", file=sys.stderr)
    try:
        res = _sweep.run(
            args.name,
            grid,
            args.sweep_out,
            client=args.scheduler,
            workers=args.workers,
            threads_per_worker=args.threads,
            progress=not args.quiet,
        )
    except (ValueError, TypeError, OSError) as exc:
        print(f"gradcore sweep: {exc}", file=sys.stderr)
        return 2
    print(res.table())
    print(f"{len(res.ok)} ok, {len(res.errors)} failed; results: {os.path.abspath(args.sweep_out)}")
    from .experiments import TRIALS

    t = TRIALS.get(args.name)
    if t is not None and res.ok:
        if t.summary is not None:
            print(f"{args.name}: {t.summary(res)}")
        if t.plot is not None:
            png = os.path.splitext(args.sweep_out)[0] + ".png"
            for path in t.plot(res, png):
                print(f"wrote: {os.path.abspath(path)}")
    return 0 if not res.errors else 1


def _experiment_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--quick", action="store_true", help="small data/width/epochs (< 30 s)")
    p.add_argument(
        "--out",
        default="gradcore-experiments",
        help="output folder (default gradcore-experiments)",
    )
    p.add_argument("--seed", type=_SEED, default=0)
    p.add_argument(
        "--data",
        choices=["mnist", "mnist1d", "digits"],
        default=None,
        help="dataset (default: MNIST if a local copy is found, else mnist1d, else digits)",
    )
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def info(args) -> int:
    import gradcore as gc

    print(f"gradcore {gc.__version__}")
    print(f"python {platform.python_version()} on {platform.machine()} ({platform.system()})")
    print(f"numpy {np.__version__}")
    print(f"backends available: {', '.join(gc.available_backends())}")
    print(f"active backend: {gc.get_backend_name()}")
    try:
        from gradcore import _kernels
    except ImportError as exc:
        print(f"compiled kernels: not importable ({exc})")
    else:
        print(
            f"compiled kernels: OpenMP {'on' if _kernels.have_openmp() else 'off'}, "
            f"{_kernels.max_threads()} threads, GEMM provider {_kernels.gemm_provider()} "
            f"(single-threaded; env GRADCORE_GEMM=auto|openblas|mkl)"
        )
    print(f"gradcore threads: {gc.get_num_threads()} (gc.set_num_threads / OMP_NUM_THREADS)")
    try:
        for lib in gc.threads.blas_info():
            print(
                f"  {lib.get('user_api')}: {lib.get('internal_api')} {lib.get('version') or ''} "
                f"{lib.get('architecture') or ''}, {lib.get('num_threads')} threads "
                f"({os.path.basename(lib.get('filepath', ''))})"
            )
    except ImportError:  # pragma: no cover - threadpoolctl is a dependency
        pass
    return 0


def _int_in(lo: int, hi: int):
    """An argparse ``type`` for an integer in ``[lo, hi]`` (a clear usage error otherwise)."""

    def parse(text: str) -> int:
        try:
            v = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
        if not lo <= v <= hi:
            raise argparse.ArgumentTypeError(f"expected an integer in [{lo}, {hi}], got {v}")
        return v

    parse.__name__ = "int"
    return parse


#: The CLI's sizes are bounded so that a typo cannot ask for petabytes: the demo's model and
#: the experiments' settings stay in what runs in seconds to minutes on a laptop.
_SEED = _int_in(0, 2**32 - 1)


def _check_out(parser: argparse.ArgumentParser, out: str) -> None:
    if os.path.exists(out) and not os.path.isdir(out):
        parser.error(f"--out {out!r} exists and is not a folder")


def main(argv: list[str] | None = None) -> int:
    args_list = sys.argv[1:] if argv is None else list(argv)
    if args_list and args_list[0] == "bench":  # its own parser: every argument forwarded
        from .bench import main as bench_main

        return bench_main(args_list[1:])
    parser = argparse.ArgumentParser(prog="gradcore", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    p_demo = sub.add_parser("demo", help="vanishing gradients in a deep sigmoid net vs ReLU/He/BN")
    p_demo.add_argument(
        "--depth", type=_int_in(1, 200), default=10, help="hidden layers, 1-200 (default 10)"
    )
    p_demo.add_argument(
        "--width", type=_int_in(1, 4096), default=64, help="units per layer, 1-4096 (default 64)"
    )
    p_demo.add_argument("--seed", type=_SEED, default=0)
    p_demo.add_argument(
        "--epochs", type=_int_in(1, 1000), default=3, help="monitored epochs (default 3)"
    )
    p_demo.add_argument(
        "--out", default="gradcore-demo", help="folder for the figure (default gradcore-demo)"
    )
    p_demo.set_defaults(func=demo)
    p_train = sub.add_parser("train", help="train a classic experiment and report the result")
    p_train.add_argument(
        "task",
        choices=["digits", "adding"],
        help="digits: MLP on sklearn digits; adding: LSTM on the adding problem",
    )
    p_train.add_argument("--epochs", type=_int_in(1, 10_000), default=None)
    p_train.add_argument(
        "--T", type=_int_in(2, 10_000), default=50, help="sequence length, 2-10000 (adding)"
    )
    p_train.add_argument("--seed", type=_SEED, default=0)
    p_train.add_argument("--quiet", action="store_true", help="no progress bar")
    p_train.set_defaults(func=train)
    p_exp = sub.add_parser("experiment", help="list or run the classic experiments")
    exp_sub = p_exp.add_subparsers(dest="action", required=True)
    exp_sub.add_parser("list", help="the experiments, what each shows and expects")
    p_run = exp_sub.add_parser("run", help="run one experiment: figures + results.json")
    # No argparse `choices` here: they would import every experiment (and matplotlib's
    # neighbours) for every gradcore command; the name is checked after parsing instead.
    p_run.add_argument("name", help="the experiment (see: gradcore experiment list)")
    _experiment_options(p_run)
    p_exp.set_defaults(func=experiment)
    p_report = sub.add_parser("report", help="run every experiment and write report.md")
    _experiment_options(p_report)
    p_report.add_argument(
        "--resume",
        action="store_true",
        help="keep the results already in --out written with the same settings; run the rest",
    )
    p_report.set_defaults(func=report)
    p_sweep = sub.add_parser(
        "sweep",
        help="run a trial over a grid on Dask (local processes, or --scheduler ADDR)",
        description="Run a trial (trainability, a classic experiment, or module:function) at "
        "every point of a grid; results stream to --out (JSON lines) and a rerun skips the "
        "finished trials.",
    )
    p_sweep.add_argument("name", help="trainability, an experiment's name, or module:function")
    p_sweep.add_argument(
        "--grid",
        nargs="+",
        default=[],
        metavar="AXIS",
        help="axes: NAME=v1,v2,... or NAME=lo:hi:n (n values from lo to hi)",
    )
    p_sweep.add_argument(
        "--set", nargs="+", default=[], metavar="NAME=V", help="settings shared by every trial"
    )
    p_sweep.add_argument("--seeds", type=_int_in(1, 10_000), default=None, help="seed=0..N-1")
    p_sweep.add_argument(
        "--scheduler", default=None, help="a Dask scheduler address (default: local processes)"
    )
    p_sweep.add_argument("--workers", type=_int_in(1, 4096), default=None, help="local workers")
    p_sweep.add_argument(
        "--threads", type=_int_in(1, 1024), default=None, help="gradcore threads per trial"
    )
    p_sweep.add_argument(
        "--out", dest="sweep_out", required=True, metavar="FILE", help="results (JSON lines)"
    )
    p_sweep.add_argument("--quiet", action="store_true", help="no progress bar")
    p_sweep.set_defaults(func=sweep)
    p_info = sub.add_parser("info", help="version, backends, threads")
    p_info.set_defaults(func=info)
    sub.add_parser(
        "bench",
        add_help=False,
        help="benchmark the backends vs NumPy and PyTorch (gradcore bench --help)",
    )
    args = parser.parse_args(args_list)
    if args.cmd == "experiment" and args.action == "run":
        from .experiments import EXPERIMENTS

        if args.name not in EXPERIMENTS:  # the message argparse gives for a bad choice
            choices = ", ".join(repr(n) for n in EXPERIMENTS)
            p_run.error(f"argument name: invalid choice: {args.name!r} (choose from {choices})")
    if getattr(args, "out", None) is not None:
        _check_out(parser, args.out)
    try:
        return args.func(args)
    except BrokenPipeError:  # `gradcore ... | head`: the reader left; stop quietly
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # so the interpreter's final flush is quiet too
        return 141  # 128 + SIGPIPE, what a shell reports
    except MemoryError as exc:
        print(f"gradcore {args.cmd}: out of memory ({exc}); try smaller settings", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
