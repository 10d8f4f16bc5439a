"""A model's side of the parameter arena: its entries, the rebinding, the staleness check.

:mod:`gradcore.params` knows tensors only; this module (the layer side) walks the model,
hands the arena ``(name, param, grad, requires_grad)`` entries, points every layer's
``params``/``grads`` at the arena's views, and tells the arena, after a structure change,
whether the model still matches it. ``Layer.parameters()`` calls :func:`build_arena`.
"""

from __future__ import annotations

from functools import partial
from typing import Any

import numpy as np

from ..params import ParameterArena

__all__ = ["build_arena"]


def _leaves(model) -> list[tuple[str, Any, str, np.ndarray, np.ndarray]]:
    """Every parameter as ``(name, layer, key, p, g)`` in model order; ``ValueError`` if one
    layer instance appears twice in the model (its one forward cache would be overwritten)."""
    leaves: list[tuple[str, Any, str, np.ndarray, np.ndarray]] = []
    seen: dict[int, str] = {}
    for path, layer in model.named_layers():
        if id(layer) in seen:
            raise ValueError(
                f"the same {type(layer).__name__} instance is at {seen[id(layer)] or '(model)'!r} "
                f"and at {path!r}: a layer instance may appear only once in a model (it keeps "
                "one forward cache, so its gradients would be wrong); build distinct instances"
            )
        seen[id(layer)] = path
        for key, p in layer.own_params().items():
            leaves.append((f"{path}.{key}" if path else key, layer, key, p, layer.grads[key]))
    return leaves


def _requires_grad(layer, key: str):
    """``requires_grad`` of an entry: ``key not in layer.frozen``, asked at every use (each
    optimizer step), since ``layer.freeze`` may change it after the arena is built. Written as
    ``{key}.isdisjoint(frozen)`` bound with ``partial``: a call into C, where a Python lambda
    cost ~600 instructions more per tensor per step (callgrind). ``layer.frozen`` keeps its
    identity for the layer's life (assigning it replaces the contents), so binding it is safe."""
    return partial({key}.isdisjoint, layer.frozen)


def build_arena(model) -> ParameterArena:
    """The arena of ``model`` (``model.parameters()``): its parameters and gradients copied into
    two flat buffers, every layer's ``params``/``grads`` entry rebound to a view into them."""
    leaves = _leaves(model)
    if not leaves:
        raise ValueError(f"{type(model).__name__} has no parameters")
    return ParameterArena(
        [(name, p, g, _requires_grad(layer, key)) for name, layer, key, p, g in leaves],
        model=model,
        bind=partial(_bind, leaves),
        verify=partial(_why_stale, model, _layout(leaves)),
    )


def _layout(leaves) -> list[tuple[Any, str, tuple[int, ...]]]:
    return [(layer, key, tuple(p.shape)) for _, layer, key, p, _ in leaves]


def _bind(leaves, arena: ParameterArena) -> None:
    """Point every layer's ``params``/``grads`` entry at its view into the arena."""
    for name, layer, key, _, _ in leaves:
        layer.params[key] = arena.param(name)
        layer.grads[key] = arena.grad_of(name)


def _why_stale(model, layout, arena: ParameterArena) -> str | None:
    """Why ``model`` no longer matches ``arena`` (built from ``layout``: ``(layer, key, shape)``
    per segment), or ``None``: the same layer instances, keys and shapes, in order, and every
    parameter and gradient still a view into the arena; no instance twice."""
    try:
        leaves = _leaves(model)
    except ValueError as e:
        return str(e)
    now = _layout(leaves)
    if len(now) != len(layout) or any(
        a[0] is not b[0] or a[1] != b[1] or a[2] != b[2] for a, b in zip(now, layout, strict=True)
    ):
        return (
            "its layers or parameters changed (a layer added, removed or replaced, a "
            "params entry added, removed or reshaped)"
        )
    data, grad = arena.data, arena.grad
    for s, (layer, key, _) in zip(arena.segments, layout, strict=True):
        p, g = layer.params.get(key), layer.grads.get(key)
        if p is None or g is None or p.base is not data or g.base is not grad:
            return (
                f"parameter {s.name!r} was replaced by an array outside the model's arena; "
                f"assign in place (params[{key!r}][...] = value) instead, or adopt the "
                "new array by creating a new optimizer from model.parameters()"
            )
    return None
