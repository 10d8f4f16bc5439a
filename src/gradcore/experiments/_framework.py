"""The experiments' common machinery: the registry, the datasets, the progress bar, the output.

An experiment is a function ``run(*, quick, seed, data, out, progress) -> dict`` registered
with :func:`register` under a name, a one-line description and the headline the teaching
material reports. It builds a :class:`Context` and, through it, loads its data, opens one
progress bar for the whole run, saves its figures and writes ``out/NAME/results.json``.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .. import data as _data
from .._version import __version__
from ..monitor.history import jsonable

__all__ = [
    "DATASETS",
    "EXPERIMENTS",
    "TRIALS",
    "Context",
    "Dataset",
    "Experiment",
    "get",
    "load_dataset",
    "register",
    "trial",
]

#: ``--data`` choices, in the order the default tries them (the first one available offline).
DATASETS = ("mnist", "mnist1d", "digits")


@dataclass(frozen=True)
class Experiment:
    """A registered experiment: ``run(*, quick, seed, data, out, progress) -> dict``."""

    number: int
    name: str
    run: Callable[..., dict]
    description: str
    expected: str


#: name -> :class:`Experiment`, in the issue's order (its ``number``), the report's order.
EXPERIMENTS: dict[str, Experiment] = {}


def register(number: int, name: str, description: str, expected: str):
    """Decorator: register ``body(ctx) -> dict`` as experiment ``number`` (issue 13's
    numbering) called ``name`` (one-line ``description``; ``expected``: the headline as the
    material reports it). Returns the experiment's ``run(*, quick, seed, data, out, progress)
    -> dict``, which builds the :class:`Context` and calls ``body`` with it."""

    def deco(body):
        def run(*, quick: bool, seed: int, data: str | None, out, progress) -> dict:
            ctx = Context(name, quick=quick, seed=seed, data=data, out=out, progress=progress)
            return body(ctx)

        run.__doc__ = body.__doc__
        run.__module__ = body.__module__
        EXPERIMENTS[name] = Experiment(number, name, run, description, expected)
        ordered = sorted(EXPERIMENTS.values(), key=lambda e: e.number)
        EXPERIMENTS.clear()
        EXPERIMENTS.update((e.name, e) for e in ordered)
        return run

    return deco


@dataclass(frozen=True)
class Trial:
    """A function a sweep runs at every grid point (``gc.sweep.run(name, grid, out)``):
    ``fn(**config) -> dict of numbers``, deterministic given its config (seed included).
    ``plot(result, path) -> list of paths`` draws the sweep's figures (or None);
    ``summary(result) -> str`` says in one line what the sweep found (or None)."""

    name: str
    fn: Callable[..., dict]
    description: str
    plot: Callable | None = None
    summary: Callable | None = None


#: name -> :class:`Trial`: the sweepable functions (issue 14), e.g. ``"trainability"``.
TRIALS: dict[str, Trial] = {}


def trial(name: str, description: str, plot=None, summary=None):
    """Decorator: register ``fn(**config) -> dict`` as the sweep trial ``name``."""

    def deco(fn):
        TRIALS[name] = Trial(name, fn, description, plot, summary)
        return fn

    return deco


def get(name: str) -> Experiment:
    """The experiment called ``name``; ``ValueError`` naming the valid ones otherwise."""
    try:
        return EXPERIMENTS[name]
    except (KeyError, TypeError):
        raise ValueError(
            f"experiment: name must be one of {', '.join(EXPERIMENTS)}, got {name!r}"
        ) from None


# -- data ------------------------------------------------------------------------------------


@dataclass
class Dataset:
    """Train/test arrays (float32 features ``[N, F]``, int64 labels ``[N]``) and provenance."""

    name: str
    source: str
    X_train: np.ndarray
    y_train: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    classes: int = 10

    @property
    def n_features(self) -> int:
        return int(self.X_train.shape[1])

    def describe(self) -> dict:
        d = {
            "name": self.name,
            "source": self.source,
            "n_train": len(self.X_train),
            "n_test": len(self.X_test),
            "n_features": self.n_features,
            "classes": self.classes,
        }
        if self.name != "mnist":
            d["note"] = (
                f"not MNIST: the input layer takes this dataset's {self.n_features} features "
                "instead of 784 (everything after it is as specified)"
            )
        return d


def _load(name: str, quick: bool, seed: int) -> Dataset:
    if name == "mnist":
        n_train, n_test = (3000, 1000) if quick else (None, None)
        ds = _data.mnist(n_train=n_train, n_test=n_test)
        X_tr, y_tr, X_te, y_te = ds
        source = f"local file {ds.source} ({ds.format}), pixels / 255"
    elif name == "mnist1d":
        n = 2000 if quick else 10000
        X_tr, y_tr, X_te, y_te = _data.mnist1d(n=n, seed=seed)
        source = (
            f"generated offline by the mnist1d package (Greydanus 2020), n={n}, seed={seed}, "
            "standardised"
        )
    elif name == "digits":
        X_tr, y_tr, X_te, y_te = _data.digits(seed=seed)
        source = "scikit-learn's bundled 8x8 digits (1797 images), pixels / 16, 25 % test"
    else:  # pragma: no cover - checked by load_dataset
        raise AssertionError(name)
    return Dataset(
        name,
        source,
        np.ascontiguousarray(X_tr, np.float32),
        np.asarray(y_tr, np.int64),
        np.ascontiguousarray(X_te, np.float32),
        np.asarray(y_te, np.int64),
    )


_CACHE: dict[tuple, Dataset] = {}


def _cached(name: str, quick: bool, seed: int) -> Dataset:
    """One load per process and setting (``gradcore report`` runs several experiments on it;
    the experiments never write into the arrays)."""
    key = (name, quick, seed)
    if key not in _CACHE:
        _CACHE[key] = _load(name, quick, seed)
    return _CACHE[key]


def load_dataset(data: str | None, *, quick: bool, seed: int) -> Dataset:
    """``data`` (one of :data:`DATASETS`), or with ``None`` the first available offline: MNIST
    when a local copy is found (``gc.data.mnist``), else MNIST-1D (needs ``mnist1d``), else
    the digits (needs scikit-learn). ``quick`` takes a smaller sample."""
    if data is not None:
        if data not in DATASETS:
            raise ValueError(
                f"experiment: data must be one of {', '.join(DATASETS)} or None, got {data!r}"
            )
        return _cached(data, quick, seed)
    why = []
    for name in DATASETS:
        try:
            return _cached(name, quick, seed)
        except (_data.DatasetNotFound, ImportError) as exc:
            why.append(f"{name}: {str(exc).splitlines()[0]}")
    raise RuntimeError("experiment: no dataset is available offline:\n  " + "\n  ".join(why))


# -- progress --------------------------------------------------------------------------------


class _NoBar:
    """Stands in for a bar when there is none (the experiment's code stays the same)."""

    def update(self, n: int = 1) -> None:
        pass

    def set_postfix_str(self, s: str = "") -> None:
        pass

    def set_description(self, s: str = "") -> None:
        pass

    def close(self) -> None:
        pass


def _open_bar(progress, total: int, desc: str):
    """``(bar, whether we close it, what to hand fit)``; ``progress`` as ``fit`` takes it:
    None/False (no bar), True (tqdm on stderr), a factory ``progress(total=...)`` or a bar."""
    if progress is None or progress is False:
        return _NoBar(), False, False
    if progress is True:
        from tqdm.auto import tqdm

        bar = tqdm(total=total, desc=desc, file=sys.stderr, dynamic_ncols=True)
        return bar, True, bar
    if not isinstance(progress, type) and callable(getattr(progress, "update", None)):
        return progress, False, progress
    if callable(progress):
        bar = progress(total=total)
        return bar, True, bar
    raise TypeError(
        "experiment: progress must be None, True, False, a factory progress(total=steps) "
        f"(such as tqdm.tqdm) or a tqdm-like bar, got {type(progress).__name__}"
    )


# -- the run ---------------------------------------------------------------------------------


def save_png(fig, path) -> None:
    """Save ``fig`` as a PNG at 100 dpi and close it. The image is stored with a palette of
    256 colours (no dithering): a line plot has far fewer, so it looks the same, and the file
    is about a third of the RGBA one (vanishing's gradient flow: 206 -> 73 KB), which keeps
    a report folder, and the figures the README shows, small."""
    import io

    import matplotlib.pyplot as plt
    from PIL import Image  # matplotlib's own dependency

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, bbox_inches="tight")
    plt.close(fig)
    buf.seek(0)
    with Image.open(buf) as im:
        im = im.convert("RGB").quantize(256, Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
        im.save(path, format="PNG", optimize=True)


class Context:
    """What one experiment run shares: settings, data, output folder, bar, figures, tables."""

    def __init__(self, name: str, *, quick: bool, seed: int, data, out, progress) -> None:
        if not isinstance(quick, bool):
            raise TypeError(f"experiment {name}: quick must be a bool, got {quick!r}")
        if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
            raise ValueError(f"experiment {name}: seed must be an int >= 0, got {seed!r}")
        self.exp = EXPERIMENTS[name]
        self.name = name
        self.quick = quick
        self.seed = int(seed)
        self.data_arg = data
        self.folder = Path(out) / name
        self.folder.mkdir(parents=True, exist_ok=True)
        self.progress = progress
        self.figures: list[dict] = []
        self.tables: list[dict] = []
        self.notes: list[str] = []
        self._t0 = time.perf_counter()
        self.bar = _NoBar()
        self._close = False
        self.fit_bar = False
        self._dataset: Dataset | None = None

    def dataset(self) -> Dataset:
        if self._dataset is None:
            self._dataset = load_dataset(self.data_arg, quick=self.quick, seed=self.seed)
        return self._dataset

    def open_bar(self, total: int) -> None:
        """One bar for the whole run (``total`` steps); ``self.fit_bar`` is what to hand
        ``fit(progress=...)`` (the bar, owned here, or False)."""
        self.bar, self._close, self.fit_bar = _open_bar(self.progress, total, self.name)

    def stage(self, text: str) -> None:
        """Show what runs now next to the bar."""
        self.bar.set_postfix_str(text) if hasattr(self.bar, "set_postfix_str") else None

    def figure(self, fig, file: str, caption: str) -> None:
        """Save ``fig`` as ``out/NAME/file`` (PNG) and close it; ``caption`` goes in the report."""
        save_png(fig, self.folder / file)
        self.figures.append({"file": file, "caption": caption})

    def table(self, title: str, columns: list[str], rows: list[list]) -> None:
        self.tables.append({"title": title, "columns": columns, "rows": rows})

    def finish(
        self,
        *,
        config: dict,
        measured: dict,
        headline: str,
        reproduced: bool,
        dataset: dict | None = None,
        **extra,
    ) -> dict:
        """Close the bar, write ``out/NAME/results.json`` and return the same dict (NumPy
        values as Python ones, NaN/inf as ``None``: strict JSON). ``wall_seconds`` is the only
        entry that is not a function of the seed. ``dataset``: the description of data the
        experiment generated itself (``name``, ``source``, sizes), when it did not use
        :meth:`dataset`."""
        if self._close:
            self.bar.close()
        ds = self._dataset
        result = {
            "experiment": self.name,
            "description": self.exp.description,
            "quick": self.quick,
            "seed": self.seed,
            "dataset": dataset if dataset is not None else ds.describe() if ds else None,
            "config": config,
            "expected": self.exp.expected,
            "measured": measured,
            "headline": {"measured": headline, "reproduced": bool(reproduced)},
            "notes": self.notes,
            "tables": self.tables,
            "figures": self.figures,
            "gradcore": __version__,
            **extra,
            "wall_seconds": round(time.perf_counter() - self._t0, 2),
        }
        result = jsonable(result)
        with open(self.folder / "results.json", "w") as f:
            json.dump(result, f, indent=2)
            f.write("\n")
        return result
