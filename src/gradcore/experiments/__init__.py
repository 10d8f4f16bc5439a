"""Reproducible experiments: the classic results of the teaching material, one call each.

``gradcore train ...`` runs :func:`digits_mlp` / :func:`adding_lstm` (each builds its data, model
and optimizer from a seed, trains with ``fit`` and returns a dict of results).

``gradcore experiment list|run NAME`` and ``gradcore report`` run the registered experiments
(:data:`EXPERIMENTS`, name -> :class:`Experiment`): each is a function
``run(*, quick, seed, data, out, progress) -> dict``, deterministic given its seed, that writes
PNGs plus ``results.json`` into ``out/NAME/`` and returns the same dict. :func:`run` calls one
by name, :func:`report` runs them all and writes ``report.md``.
"""

# Each import registers its experiment (the registry sorts them by the number).
from . import (  # noqa: F401  (one module per experiment, one line each)
    activations,
    exploding,
    initialization,
    normalization,
    optimizers,
    residual,
    schedules,
    sequences,
    summary,
    timeseries,
    trainability,
    vanishing,
)
from ._framework import (
    DATASETS,
    EXPERIMENTS,
    TRIALS,
    Dataset,
    Experiment,
    Trial,
    get,
    load_dataset,
)
from ._report import render, report, run
from .classic import adding_lstm, digits_mlp

__all__ = [
    "DATASETS",
    "EXPERIMENTS",
    "TRIALS",
    "Dataset",
    "Experiment",
    "Trial",
    "adding_lstm",
    "digits_mlp",
    "get",
    "load_dataset",
    "render",
    "report",
    "run",
]
