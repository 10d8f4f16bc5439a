"""The neutral observer hook of ``nn``: containers hand each layer's output and gradients to a
probe.

A *probe* is any object with two methods::

    probe.forward(name, layer, y, training)   # after layer.forward: y is its output
    probe.backward(name, layer, dy, dx)       # after layer.backward: dy arrived at its
                                              # output, dx (None if not computed) left at its input

``name`` is the layer's path as ``model.parameters()`` names it (``"0.Dense"``,
``"2.Residual.Sequential.0.Dense"``). ``model.set_probe(probe)`` attaches one to a container
and every container inside it; ``model.set_probe(None)`` detaches it. Only leaf layers are
reported (a container's own output is its last leaf's, or ``x + block(x)`` for ``Residual``).

The layers never know who watches: the gradient monitor (``gradcore.monitor``, a floor above)
implements this protocol. A probe must only read the arrays it is given (they are the very
arrays the next layer consumes; a training-mode ``y`` is a read-only view, so a write raises);
without a probe the containers pay one attribute test per layer.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np

__all__ = ["Probe"]


class Probe(Protocol):
    """What a container calls; see the module docstring."""

    def forward(self, name: str, layer, y: np.ndarray, training: bool) -> None: ...

    def backward(self, name: str, layer, dy: np.ndarray, dx: np.ndarray | None) -> None: ...
