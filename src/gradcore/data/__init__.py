"""Datasets for gradcore's experiments: all offline, all deterministic given ``seed``.

Synthetic: :func:`spirals`, :func:`teacher_student`; long-range memory for recurrent nets:
:func:`adding_problem`, :func:`copy_task`; real: :func:`mnist1d` (needs ``mnist1d``),
:func:`digits` (needs scikit-learn) — ``pip install "gradcore[data]"`` for both — and
:func:`mnist`, read from a local ``mnist.npz`` or IDX files (searched for; raises
:class:`DatasetNotFound` if there is none). Helpers: :func:`train_test_split`, :func:`batches`.
Time series for forecasting: :func:`coupled_oscillators`, cut into windows and split in time
order (normalised on the training span only) by :func:`windows` / :func:`forecast_split`.

Arrays are float64 features and int64 class labels (or float64 regression targets); cast
with ``.astype(np.float32)`` for float32 models. Nothing here downloads or writes files.
"""

from ._mnist import DatasetNotFound, mnist
from .real import digits, mnist1d
from .sequences import adding_problem, copy_task
from .splits import batches, train_test_split
from .synthetic import spirals, teacher_student
from .timeseries import coupled_oscillators, forecast_split, windows

__all__ = [
    "DatasetNotFound",
    "adding_problem",
    "batches",
    "copy_task",
    "coupled_oscillators",
    "digits",
    "forecast_split",
    "mnist",
    "mnist1d",
    "spirals",
    "teacher_student",
    "train_test_split",
    "windows",
]
