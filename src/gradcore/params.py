"""The flat parameter arena: every parameter of a model in ONE buffer, every gradient in another.

``model.parameters()`` builds (once) a :class:`ParameterArena`: the current values of all
parameters are copied into one contiguous ``data`` array (and the gradients into ``grad``), and
every layer's ``params[name]`` / ``grads[name]`` is rebound to a *view* into them. Each tensor is
a named :class:`Segment` (``"2.Dense.W"``: layer path, class, name) with an offset and a shape.

So an optimizer step is one kernel call over the whole model (not a Python loop over tensors),
``zero_grad`` is one fill, one pass of the norms kernel gives the global gradient norm (for
clipping) *and* every tensor's norm (for the monitor), and a checkpoint is a few arrays.

Frozen parameters (``layer.freeze("W")``) stay in the arena; optimizers and clipping skip them
(:meth:`ParameterArena.trainable_runs` gives the contiguous runs of trainable segments).

This module sits below ``nn`` and never imports it: the arena sees a model only through the
layer protocol (``named_layers()``, each layer's ``own_params()``, ``params``/``grads`` dicts
and ``frozen`` set), so ``nn`` -> ``params`` is the only direction.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["ParameterArena", "Segment"]


@dataclass(frozen=True)
class Segment:
    """One tensor of the arena: ``data[offset:offset + size].reshape(shape)``."""

    name: str  # e.g. "2.Dense.W"
    index: int  # position in the arena's segment list
    offset: int
    shape: tuple[int, ...]
    layer: Any  # the gradcore layer holding it (anything with params/grads/frozen)
    key: str  # the name inside ``layer.params``

    @property
    def size(self) -> int:
        return math.prod(self.shape)  # (np.prod costs ~3.6 us; this runs per tensor per step)

    @property
    def stop(self) -> int:
        return self.offset + self.size

    @property
    def requires_grad(self) -> bool:
        return self.key not in self.layer.frozen


class ParameterArena:
    """All parameters and gradients of a model in two flat arrays of one dtype.

    Attributes
    ----------
    data, grad : ndarray [P], the model's dtype
        The flat parameter values and gradients; ``layer.params[k]`` / ``layer.grads[k]`` are
        views into them.
    segments : list[Segment]
        One per tensor, in model order.
    offsets : ndarray [S + 1] int64
        Segment boundaries (the layout the norms kernels take).
    grad_norms : ndarray [S] float64 or None
        Every tensor's gradient norm from the last measurement (``gc.optim.grad_norms``,
        ``clip_grad_norm``, ``AutoClip``, ``AGC``: before clipping), NaN for frozen tensors;
        ``total_grad_norm`` the global one and ``grad_nonfinite`` ``[S]`` int64 the non-finite
        counts. A monitor reads these for free: they come out of the single pass clipping needs.
    norms_version : int
        Incremented by every measurement, so a reader can tell fresh norms from stale ones.
    clip_coef : float
        The factor the last measurement's clipping multiplied every gradient by (1.0: not
        clipped; NaN: unknown, e.g. ``AGC``'s per-unit factors).
    """

    def __init__(self, model) -> None:
        leaves: list[tuple[str, Any, str, np.ndarray, np.ndarray]] = []
        for path, layer in model.named_layers():
            for key, p in layer.own_params().items():
                leaves.append((f"{path}.{key}" if path else key, layer, key, p, layer.grads[key]))
        if not leaves:
            raise ValueError(f"{type(model).__name__} has no parameters")
        dtypes = {p.dtype for _, _, _, p, _ in leaves}
        if len(dtypes) != 1:
            raise TypeError(f"all parameters must share one dtype, got {sorted(map(str, dtypes))}")
        self.dtype = dtypes.pop()
        total = sum(p.size for _, _, _, p, _ in leaves)
        self.data = np.empty(total, self.dtype)
        self.grad = np.zeros(total, self.dtype)
        self.segments: list[Segment] = []
        offset = 0
        for i, (name, layer, key, p, g) in enumerate(leaves):
            seg = Segment(name, i, offset, tuple(p.shape), layer, key)
            self.data[seg.offset : seg.stop] = p.ravel()
            self.grad[seg.offset : seg.stop] = g.ravel()
            layer.params[key] = self.data[seg.offset : seg.stop].reshape(seg.shape)
            layer.grads[key] = self.grad[seg.offset : seg.stop].reshape(seg.shape)
            self.segments.append(seg)
            offset = seg.stop
        self.offsets = np.array([s.offset for s in self.segments] + [total], np.int64)
        self._by_name = {s.name: s for s in self.segments}
        self.grad_norms: np.ndarray | None = None
        self.total_grad_norm: float | None = None
        self.grad_nonfinite: np.ndarray | None = None
        self.norms_version = 0
        self.clip_coef = 1.0
        self.model = model

    # -- lookup ---------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.segments)

    def __iter__(self):
        return iter(self.segments)

    def __getitem__(self, name: str) -> Segment:
        try:
            return self._by_name[name]
        except KeyError:
            raise KeyError(f"no parameter {name!r}; the arena has {list(self._by_name)}") from None

    @property
    def names(self) -> list[str]:
        return [s.name for s in self.segments]

    @property
    def size(self) -> int:
        """Number of scalar parameters."""
        return int(self.data.size)

    def param(self, name: str) -> np.ndarray:
        s = self[name]
        return self.data[s.offset : s.stop].reshape(s.shape)

    def grad_of(self, name: str) -> np.ndarray:
        s = self[name]
        return self.grad[s.offset : s.stop].reshape(s.shape)

    # -- gradients ------------------------------------------------------------------------
    def zero_grad(self) -> None:
        """All gradients to zero: one fill over the flat buffer."""
        self.grad.fill(0)

    def trainable_runs(self) -> list[tuple[int, int]]:
        """Contiguous ``(start, stop)`` element ranges covering the trainable segments.

        One run for a model with nothing frozen, so an optimizer makes one kernel call.
        """
        runs: list[tuple[int, int]] = []
        for s in self.segments:
            if not s.requires_grad or s.size == 0:
                continue
            if runs and runs[-1][1] == s.offset:
                runs[-1] = (runs[-1][0], s.stop)
            else:
                runs.append((s.offset, s.stop))
        return runs

    @property
    def trainable(self) -> np.ndarray:
        """Boolean mask ``[S]`` of segments that optimizers and clipping touch."""
        return np.array([s.requires_grad for s in self.segments], bool)

    def check_bound(self) -> None:
        """Raise if a layer's param/grad was replaced by an array outside the arena.

        (``layer.params["W"] = new`` detaches it: optimizers would update a buffer the layer
        no longer reads. Write in place instead: ``layer.params["W"][...] = new``.)
        """
        for s in self.segments:
            p, g = s.layer.params.get(s.key), s.layer.grads.get(s.key)
            if p is None or g is None or p.base is not self.data or g.base is not self.grad:
                raise RuntimeError(
                    f"parameter {s.name!r} was replaced by an array outside the model's arena; "
                    f"assign in place (params[{s.key!r}][...] = value) instead"
                )

    def __repr__(self) -> str:
        frozen = sum(not s.requires_grad for s in self.segments)
        return (
            f"ParameterArena({len(self.segments)} tensors, {self.size} parameters, "
            f"{self.dtype}, {frozen} frozen)"
        )

    def summary(self) -> str:
        """A table of segments: name, shape, size, offset, trainable."""
        w = max(len(s.name) for s in self.segments)
        lines = [f"{'name':<{w}}  {'shape':<14} {'size':>9} {'offset':>9}  trainable"]
        for s in self.segments:
            lines.append(
                f"{s.name:<{w}}  {s.shape!s:<14} {s.size:>9} {s.offset:>9}  "
                f"{'yes' if s.requires_grad else 'no'}"
            )
        lines.append(f"{'total':<{w}}  {'':<14} {self.size:>9}")
        return "\n".join(lines)
