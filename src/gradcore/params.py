"""The flat parameter arena: every parameter of a model in ONE buffer, every gradient in another.

An arena is built from ``(name, param, grad[, requires_grad])`` entries: the current values of
all parameters are copied into one contiguous ``data`` array (and the gradients into ``grad``),
each tensor a named :class:`Segment` (``"2.Dense.W"``: layer path, class, name) with an offset
and a shape. ``model.parameters()`` builds (once) a model's arena from the model's entries and
rebinds every layer's ``params[name]`` / ``grads[name]`` to a *view* into it.

So an optimizer step is one kernel call over the whole model (not a Python loop over tensors),
``zero_grad`` is one fill, one pass of the norms kernel gives the global gradient norm (for
clipping) *and* every tensor's norm (for the monitor), and a checkpoint is a few arrays.

Frozen parameters (``layer.freeze("W")``) stay in the arena; optimizers and clipping skip them
(:meth:`ParameterArena.trainable_runs` gives the contiguous runs of trainable segments).

An arena describes the model's structure *when it was built*. If that structure changes later
(a layer appended to or replaced in a container, a ``params`` dict given a new key or a new
array), the arena is *stale*: ``model.parameters()`` then builds a new one (copying the current
values in, so nothing is lost), and everything bound to the old one (an optimizer, a clip) raises
``RuntimeError`` at its next use (:meth:`ParameterArena.check_bound`) instead of training a copy
the model no longer reads. Containers (every change of their children) and the layers'
``params``/``grads`` dicts (:class:`TrackedDict`: every new key or replaced array) report it
through :func:`structure_changed`, which replaces one global token; the per-step check is an
identity test of that token and asks the model to verify itself (the ``verify`` callable it
gave) only after some change.

This module sits below ``nn`` and knows nothing of layers: it sees tensors (the entries), a
``bind`` callable that points the model at the views and a ``verify`` callable that says why
the model no longer matches; ``gradcore.nn`` (``nn/_arena.py``) supplies all three, so
``nn`` -> ``params`` is the only direction.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ._args import describe

__all__ = [
    "ParameterArena",
    "Segment",
    "StaleArenaError",
    "TrackedDict",
    "structure_changed",
    "structure_token",
]

#: Replaced by a fresh object on every change of a model's structure anywhere (a container's
#: children, a ``params``/``grads`` entry): an arena re-checks its model only when the token it
#: saw is no longer the current one (an identity test; replacing it is atomic across threads).
_TOKEN = [object()]


def structure_changed() -> None:
    """Record that some model's structure changed (containers and :class:`TrackedDict` call
    it on every mutation)."""
    _TOKEN[0] = object()


def structure_token() -> object:
    """The current structure token: the same object as long as no model changed anywhere."""
    return _TOKEN[0]


class TrackedDict(dict):
    """``layer.params`` / ``layer.grads``: a dict whose every change (a new key, a replaced
    or deleted array) is reported through :func:`structure_changed`, so arenas notice it."""

    __slots__ = ()

    def __setitem__(self, key, value):
        dict.__setitem__(self, key, value)
        structure_changed()

    def __delitem__(self, key):
        dict.__delitem__(self, key)
        structure_changed()

    def _changed(name: str):  # (builds the other mutators; deleted below)
        base = getattr(dict, name)

        def method(self, *args, **kwargs):
            try:
                return base(self, *args, **kwargs)
            finally:
                structure_changed()

        method.__name__ = name
        return method

    pop = _changed("pop")
    popitem = _changed("popitem")
    clear = _changed("clear")
    update = _changed("update")
    setdefault = _changed("setdefault")
    __ior__ = _changed("__ior__")
    del _changed


class StaleArenaError(RuntimeError):
    """An optimizer/clip/monitor is bound to an arena whose model has changed structure."""


#: the trainability of an entry given without one (or as ``True``)
def _always() -> bool:
    return True


def _never() -> bool:
    return False


@dataclass(frozen=True)
class Segment:
    """One tensor of the arena: ``data[offset:offset + size].reshape(shape)``."""

    name: str  # e.g. "2.Dense.W"
    index: int  # position in the arena's segment list
    offset: int
    shape: tuple[int, ...]
    #: asked every step (freezing may change after the arena is built): True if trained
    requires_grad_fn: Callable[[], bool] = field(default=_always, repr=False, compare=False)

    @property
    def size(self) -> int:
        return math.prod(self.shape)  # (np.prod costs ~3.6 us; this runs per tensor per step)

    @property
    def stop(self) -> int:
        return self.offset + self.size

    @property
    def requires_grad(self) -> bool:
        """Whether optimizers and clipping update this tensor now (``False``: frozen)."""
        return self.requires_grad_fn()


def _entry(i: int, entry) -> tuple[str, np.ndarray, np.ndarray, Callable[[], bool]]:
    """``(name, param, grad, requires_grad)`` checked: a str name, two arrays of one shape,
    ``requires_grad`` a bool or a zero-argument callable (default ``True``)."""
    if not isinstance(entry, tuple) or len(entry) not in (3, 4):
        raise TypeError(
            "ParameterArena: entries must be (name, param, grad[, requires_grad]) tuples, "
            f"got entries[{i}] = {type(entry).__name__}"
        )
    name, p, g, req = (*entry, True) if len(entry) == 3 else entry
    if not isinstance(name, str):
        raise TypeError(f"ParameterArena: entries[{i}] name must be a str, got {describe(name)}")
    for what, a in (("param", p), ("grad", g)):
        if not isinstance(a, np.ndarray):
            raise TypeError(
                f"ParameterArena: entries[{i}] ({name!r}) {what} must be a numpy.ndarray, "
                f"got {describe(a)}"
            )
    if g.shape != p.shape:
        raise ValueError(
            f"ParameterArena: entries[{i}] ({name!r}) grad must have the param's shape "
            f"{p.shape}, got {g.shape}"
        )
    if isinstance(req, bool | np.bool_):
        req = _always if req else _never
    elif not callable(req):
        raise TypeError(
            f"ParameterArena: entries[{i}] ({name!r}) requires_grad must be a bool or a "
            f"zero-argument callable, got {describe(req)}"
        )
    return name, p, g, req


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

    def __init__(
        self,
        entries: Iterable[tuple],
        *,
        model: Any = None,
        bind: Callable[[ParameterArena], None] | None = None,
        verify: Callable[[ParameterArena], str | None] | None = None,
    ) -> None:
        """Copy ``entries`` into two flat buffers.

        Parameters
        ----------
        entries : iterable of ``(name, param, grad)`` or ``(name, param, grad, requires_grad)``
            One per tensor, in order; ``param``/``grad`` arrays of one shape (all of one float
            dtype), ``requires_grad`` a bool or a zero-argument callable asked at every use
            (``False``: frozen; default ``True``). Names must be distinct.
        model : anything, optional
            What the entries came from (``model.parameters()`` passes the model), kept as
            :attr:`model`.
        bind : callable ``(arena) -> None``, optional
            Called once the buffers hold the values, before the arena records the structure
            token (the model points its tensors at :meth:`param`/:meth:`grad_of` views here;
            that rebinding is itself a structure change).
        verify : callable ``(arena) -> str | None``, optional
            Called by :meth:`stale` after some structure change anywhere: why the model no
            longer matches this arena, or ``None`` if it still does.
        """
        if (
            isinstance(entries, str | bytes)
            or not isinstance(entries, Iterable)
            or callable(getattr(entries, "named_parameters", None))
        ):
            raise TypeError(
                "ParameterArena: entries must be an iterable of (name, param, grad"
                "[, requires_grad]) tuples (a model's arena comes from model.parameters()), "
                f"got {describe(entries)}"
            )
        checked = [_entry(i, e) for i, e in enumerate(entries)]
        if not checked:
            raise ValueError("ParameterArena: no parameters given (entries is empty)")
        dtypes = {p.dtype for _, p, _, _ in checked}
        if len(dtypes) != 1:
            raise TypeError(f"all parameters must share one dtype, got {sorted(map(str, dtypes))}")
        self.dtype = dtypes.pop()
        total = sum(p.size for _, p, _, _ in checked)
        self.data = np.empty(total, self.dtype)
        self.grad = np.zeros(total, self.dtype)
        self.segments: list[Segment] = []
        self._by_name: dict[str, Segment] = {}
        offset = 0
        for i, (name, p, g, req) in enumerate(checked):
            if name in self._by_name:
                raise ValueError(f"ParameterArena: two entries are named {name!r}")
            seg = Segment(name, i, offset, tuple(p.shape), req)
            self.data[seg.offset : seg.stop] = p.ravel()
            self.grad[seg.offset : seg.stop] = g.ravel()
            self.segments.append(seg)
            self._by_name[name] = seg
            offset = seg.stop
        self.offsets = np.array([s.offset for s in self.segments] + [total], np.int64)
        self.grad_norms: np.ndarray | None = None
        self.total_grad_norm: float | None = None
        self.grad_nonfinite: np.ndarray | None = None
        self.norms_version = 0
        self.clip_coef = 1.0
        self.model = model
        self._verify = verify
        self._superseded: str | None = None  # why, once model.parameters() built a newer one
        if bind is not None:
            bind(self)
        self._token = _TOKEN[0]  # after the binding above (our own change)

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

    def stale(self) -> str | None:
        """Why this arena no longer matches its model (``None``: it still does).

        Cheap enough to run every step (optimizers, clips, ``zero_grad`` and
        ``model.parameters()`` call it): one identity test while no model changed anywhere
        (~50 ns). After a change, it asks the ``verify`` callable once (for a gradcore model:
        the layout of layer instances, keys and shapes must be the one it was built with, every
        parameter and gradient still a view into this arena, no instance twice).
        """
        if self._superseded is not None:
            return self._superseded
        if self._token is _TOKEN[0]:  # nothing changed anywhere since the last look
            return None
        token = _TOKEN[0]
        why = None if self._verify is None else self._verify(self)
        if why is None:
            self._token = token
        return why

    def supersede(self, why: str) -> None:
        """Mark this arena replaced (``model.parameters()`` built a new one because of ``why``):
        it stays stale for good, whatever the model does next."""
        self._superseded = f"{why}; model.parameters() has since built a new arena"

    def check_bound(self) -> None:
        """Raise :class:`StaleArenaError` (a ``RuntimeError``) if the model no longer matches
        this arena, so an optimizer never trains a copy the model does not read.

        (``layer.params["W"] = new`` detaches a tensor: write in place instead,
        ``layer.params["W"][...] = new``. A layer appended to/replaced in a container: create a
        new optimizer from ``model.parameters()``, which rebuilds the arena.)
        """
        why = self.stale()
        if why is not None:
            raise StaleArenaError(
                f"the model changed after this arena (and any optimizer, clip or monitor created "
                f"from it) was built: {why}. An optimizer bound to it would train a stale copy; "
                "create a new optimizer from model.parameters(), which rebuilds the arena with "
                "the current values (e.g. opt = gc.optim.Adam(model.parameters(), lr=...)), and "
                "a new gc.monitor.GradientMonitor if one watches this model"
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
