"""Reproducible training experiments behind ``gradcore train ...`` (floor 5: uses everything).

Each function builds its data (no download), model and optimizer from a seed, trains with
``fit`` and returns a dict of results (metrics, wall time, history) for the CLI, tests and notes.
"""

from .classic import adding_lstm, digits_mlp

__all__ = ["adding_lstm", "digits_mlp"]
