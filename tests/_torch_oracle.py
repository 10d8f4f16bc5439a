"""Shared helpers of the PyTorch-oracle tests (``tests/test_torch_oracle_<family>.py``).

Importing this skips the importing module when torch (the optional ``torch`` extra,
torch==2.13.0) is not installed; CI installs it. Tolerance: ``tests/_tolerances.py``
("torch"): float64 vs float64, ``rtol = 1e-10`` (~1e6 ulps: room for the cancellation in short
sums while still catching any difference of formula, constant or convention) and
``atol = 1e-12`` for entries that cancel to ~0 while the quantities themselves are O(1)
(inputs here are O(1), except the explicit extremes).
"""

from __future__ import annotations

import numpy as np
import pytest
from _tolerances import close as _close
from _tolerances import tol

from gradcore import nn

torch = pytest.importorskip("torch")
F = torch.nn.functional
F64 = np.float64
RTOL = tol("torch", np.float64)
ATOL = 1e-12  # entries that cancel to ~0 from O(1) terms (see the module docstring)

TORCH_ACT = {
    "linear": lambda z: z,
    "relu": F.relu,
    "leaky_relu": lambda z: F.leaky_relu(z, negative_slope=0.01),
    "elu": lambda z: F.elu(z, alpha=1.0),
    "sigmoid": torch.sigmoid,
    "tanh": torch.tanh,
    "silu": F.silu,
    "gelu": lambda z: F.gelu(z, approximate="none"),
}


def close(ours, theirs, name=""):
    """float64 vs torch: ``|ours - theirs| <= RTOL |theirs| + ATOL`` elementwise (the suite's
    ``close``, scale ``ATOL / RTOL``); ``theirs`` may be a tensor, either may broadcast."""
    if isinstance(theirs, torch.Tensor):
        theirs = theirs.detach().numpy()
    ours, theirs = np.broadcast_arrays(np.asarray(ours, F64), np.asarray(theirs, F64))
    _close(ours, theirs, "torch", scale=ATOL / RTOL, err_msg=name)


def leaf(a):
    """A float64 torch leaf that records its gradient."""
    return torch.tensor(a, dtype=torch.float64, requires_grad=True)


def t(a, grad=False):
    return torch.tensor(a, dtype=torch.float64, requires_grad=grad)


def model64(seed=0):
    return nn.Sequential(
        [
            nn.Dense(5, 7, "tanh", dtype=np.float64, seed=seed),
            nn.LayerNorm(7, dtype=np.float64),
            nn.Dense(7, 3, "linear", dtype=np.float64, seed=seed + 1),
        ]
    )


def torch_params(arena):
    return [torch.tensor(arena.param(s.name).copy(), requires_grad=True) for s in arena.segments]
