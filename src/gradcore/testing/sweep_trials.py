"""Small trials for trying a sweep setup (and for gradcore's own sweep tests): importable by
any worker process as ``"gradcore.testing.sweep_trials:NAME"``."""

from __future__ import annotations

import math
import os
import time

import numpy as np

__all__ = ["fails_at", "pid_and_sleep", "quadratic"]


def quadratic(*, x: float, y: float = 0.0, seed: int = 0) -> dict:
    """``(x - 1)^2 + (y + 2)^2`` plus seeded noise of std 0.01: a bowl with its floor at
    (1, -2); the noise makes the seed matter, deterministically."""
    noise = float(np.random.default_rng(seed).normal(0, 0.01))
    return {"loss": (x - 1) ** 2 + (y + 2) ** 2 + noise, "distance": math.hypot(x - 1, y + 2)}


def fails_at(*, x: int, bad: int = 3) -> dict:
    """``{"x2": x * x}``, except that ``x == bad`` raises ``ValueError``."""
    if x == bad:
        raise ValueError(f"x = {bad} is the bad point")
    return {"x2": x * x}


def pid_and_sleep(*, x: int, seconds: float = 0.5) -> dict:
    """Sleeps ``seconds`` and reports the worker's process id (to test a killed worker)."""
    time.sleep(seconds)
    return {"x": x, "pid": os.getpid()}
