"""Containers: ``Sequential`` (a chain of layers) and ``Residual`` (``y = x + block(x)``).

A layer instance may appear only once in a model: a layer keeps ONE forward cache, so a second
use would overwrite what the first use's backward needs and give wrong ``dW``/``db``/``dx``
without any error. Containers therefore refuse a repeated instance (also the everyday slip
``Sequential([Dense(8, 8)] * 3)``) and a container inside itself, when built *and* whenever
their children change: ``model.layers`` is a list that checks every mutation (``append``,
``model.layers[-1] = ...``, ``del``, ...; a failed check leaves the list as it was) and tells
the parameter arena that the structure changed (``gradcore.params.structure_changed``), so the
next ``model.parameters()`` rebuilds it and optimizers bound to the old one raise.
Sharing weights on purpose is not supported (it would need gradient accumulation per use).
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from .._args import describe
from ..params import structure_changed, structure_token
from .base import Layer, backward_without_input_grad, layer_from_config, read_only

__all__ = ["Residual", "Sequential"]


class _Container(Layer):
    """Exposes the parameters of its sub-layers as flat dicts keyed by dotted path.

    ``params``, ``grads`` and ``buffers`` are dicts of the sub-layers' own arrays (no copies),
    keyed like ``"0.Dense.W"`` or ``"2.Residual.Sequential.0.Dense.b"``.
    """

    def own_params(self) -> dict[str, np.ndarray]:
        return {}

    def _collect(self, attr: str) -> dict[str, np.ndarray]:
        out = {}
        for path, layer in self.named_layers():
            if layer is self:
                continue
            if isinstance(layer, _Container):
                continue
            for key, arr in getattr(layer, attr).items():
                out[f"{path}.{key}"] = arr
        return out

    # containers derive these from their sub-layers (assigning, as Layer.__init__ does, is a
    # no-op)
    params = property(lambda self: self._collect("params"), lambda self, value: None)
    grads = property(lambda self: self._collect("grads"), lambda self, value: None)
    buffers = property(lambda self: self._collect("buffers"), lambda self, value: None)

    def named_parameters(self):
        for path, layer in self.named_layers():
            if layer is self or isinstance(layer, _Container):
                continue
            for key in layer.params:
                yield f"{path}.{key}", layer.params[key], layer.grads[key]

    def zero_grad(self) -> None:
        if self._arena is not None and self._arena.stale() is None:
            self._arena.zero_grad()
            return
        for _, layer in self.children():
            layer.zero_grad()

    # -- the structure check at forward --------------------------------------------------------
    _checked_at = None  # the structure token of the last successful _check_tree

    def _check_structure(self) -> None:
        """Re-check this container's tree (one instance in one place, no cycle) if any model
        changed since the last check: a change made through an inner container (which cannot
        see its parents) is caught at the outer one's next ``forward``. One identity test when
        nothing changed."""
        token = structure_token()
        if self._checked_at is not token:
            _check_tree(self, type(self).__name__)
            self._checked_at = token

    # -- the observer hook (gradcore.nn.probe) ------------------------------------------------
    _probe = None
    _probe_prefix = ""

    def set_probe(self, probe, prefix: str = "") -> None:
        """Attach ``probe`` (see :mod:`gradcore.nn.probe`) to this container and every container
        inside it, or detach with ``None``. ``prefix``: this container's path in the model."""
        self._probe, self._probe_prefix = probe, prefix
        for name, child in self.children():
            if isinstance(child, _Container):
                child.set_probe(probe, f"{prefix}.{name}" if prefix else name)

    def _child_name(self, name: str) -> str:
        return f"{self._probe_prefix}.{name}" if self._probe_prefix else name

    def _forward_child(self, name: str, child: Layer, x: np.ndarray, training: bool):
        """``child.forward(x)``, reported to the probe (a child container gets the probe, so
        a layer added after ``set_probe`` is watched too)."""
        probe = self._probe
        if isinstance(child, _Container):
            child._probe, child._probe_prefix = probe, self._child_name(name)
            return child.forward(x, training=training)
        y = child.forward(x, training=training)
        probe.forward(self._child_name(name), child, y, training)
        return y

    def _backward_child(self, name: str, child: Layer, dy: np.ndarray, input_grad: bool):
        dx = child.backward(dy) if input_grad else backward_without_input_grad(child, dy)
        if not isinstance(child, _Container):
            self._probe.backward(self._child_name(name), child, dy, dx)
        return dx


def _check_layer(layer, where: str, name: str) -> Layer:
    if not isinstance(layer, Layer):
        raise TypeError(
            f"{where}: {name} must be a gradcore layer (gc.nn.Layer), got {describe(layer)}"
        )
    return layer


def _shown(path: str) -> str:
    return repr(path) if path else "the top (the model itself)"


def _check_tree(root: Layer, owner: str) -> None:
    """``ValueError`` if a layer instance appears twice under ``root`` or a container contains
    itself; the message names the layer, both paths and the fix."""
    seen: dict[int, str] = {}

    def walk(layer: Layer, path: str, above: tuple[int, ...]) -> None:
        key = id(layer)
        if key in above:
            raise ValueError(
                f"{owner}: a container cannot contain itself: the {type(layer).__name__} at "
                f"{_shown(seen[key])} appears again inside itself at {path!r} (a cycle); "
                "nest a new container instead"
            )
        if key in seen:
            what = type(layer).__name__
            example = repr(layer) if "\n" not in repr(layer) else f"{what}(...)"
            raise ValueError(
                f"{owner}: the same {what} instance is used twice, at {_shown(seen[key])} and "
                f"at {path!r}; a layer keeps one forward cache, so its gradients would be "
                f"wrong. Build distinct instances, e.g. [{example} for _ in range(3)] instead "
                f"of [{example}] * 3 (sharing weights is not supported)"
            )
        seen[key] = path
        for name, child in layer.children():
            walk(child, f"{path}.{name}" if path else name, (*above, key))

    walk(root, "", ())


class _LayerList(list):
    """``Sequential.layers``: a plain list of layers whose every mutation is checked by its
    container (a layer, of the model's dtype, not already in the model, no cycle) and reported
    as a structure change (the parameter arena is rebuilt on the next ``model.parameters()``).
    A mutation that fails the check is undone before the error propagates."""

    def __init__(self, owner, items=()) -> None:
        super().__init__(items)
        self._owner = owner

    def __reduce_ex__(self, protocol):  # copy/deepcopy: rebuild without re-validating
        return (type(self), (None, list(self)), self.__dict__)


def _checked(name: str):
    base = getattr(list, name)

    def method(self, *args, **kwargs):
        owner = self.__dict__.get("_owner")
        if owner is None:
            return base(self, *args, **kwargs)
        old = list(self)
        out = base(self, *args, **kwargs)
        try:
            owner._validate_layers(self)
        except BaseException:
            list.__setitem__(self, slice(None), old)
            raise
        structure_changed()
        return out

    method.__name__ = name
    method.__doc__ = getattr(list, name).__doc__
    return method


for _name in (
    "__setitem__",
    "__delitem__",
    "__iadd__",
    "__imul__",
    "append",
    "extend",
    "insert",
    "pop",
    "remove",
    "clear",
    "sort",
    "reverse",
):
    setattr(_LayerList, _name, _checked(_name))


class Sequential(_Container):
    """A chain of layers: ``forward`` runs them in order, ``backward`` in reverse.

    ``layers``: a non-empty iterable (list, tuple, generator) of distinct layer instances of
    one dtype. ``model.layers`` is the list; changing it (``model.layers[-1] = Dense(...)``,
    ``model.layers.append(...)``) is checked the same way and makes the next
    ``model.parameters()`` build a new arena (create optimizers again after it).
    ``predict(X, batch_size)`` runs in evaluation mode in batches and concatenates the outputs.
    """

    def __init__(self, layers: Iterable[Layer]) -> None:
        if isinstance(layers, Layer) or not isinstance(layers, Iterable):
            hint = " (wrap one layer in a list: Sequential([layer]))" * isinstance(layers, Layer)
            raise TypeError(
                f"Sequential: layers must be an iterable of gradcore layers, got "
                f"{describe(layers)}{hint}"
            )
        layers = list(layers)
        if not layers:
            raise ValueError("Sequential: layers must hold at least one layer, got an empty list")
        _check_layer(layers[0], "Sequential", "layers[0]")
        super().__init__(layers[0].dtype)
        self.layers = layers

    @property
    def layers(self) -> list:
        """The layers, in order (a checked list: see the class docstring)."""
        return self._layers

    @layers.setter
    def layers(self, value: Iterable[Layer]) -> None:
        if isinstance(value, Layer) or not isinstance(value, Iterable):
            raise TypeError(
                f"Sequential: layers must be an iterable of gradcore layers, got {describe(value)}"
            )
        new = _LayerList(None, value)
        old = self.__dict__.get("_layers")
        self._layers = new
        try:
            self._validate_layers(new)
        except BaseException:
            if old is None:
                del self._layers
            else:
                self._layers = old
            raise
        new._owner = self
        structure_changed()

    def _validate_layers(self, layers: list) -> None:
        if not layers:
            raise ValueError("Sequential: layers must hold at least one layer, got an empty list")
        for i, layer in enumerate(layers):
            _check_layer(layer, "Sequential", f"layers[{i}]")
        for i, layer in enumerate(layers):
            if layer.dtype != self.dtype:
                raise TypeError(
                    f"Sequential: all layers must share one dtype ({self.dtype}), got "
                    f"layers[{i}] of dtype {layer.dtype} (all: "
                    f"{[str(la.dtype) for la in layers]})"
                )
        _check_tree(self, "Sequential")

    def children(self):
        return [(f"{i}.{type(layer).__name__}", layer) for i, layer in enumerate(self.layers)]

    def forward(self, x: np.ndarray, training: bool = True) -> np.ndarray:
        self._check_structure()
        if self._probe is not None:
            for name, layer in self.children():
                x = self._forward_child(name, layer, x, training)
            return x
        for layer in self.layers:
            x = layer.forward(x, training=training)
        return x

    def backward(self, dy: np.ndarray, *, input_grad: bool = True) -> np.ndarray | None:
        if self._probe is not None:
            children = self.children()
            for name, layer in reversed(children[1:]):
                dy = self._backward_child(name, layer, dy, True)
            return self._backward_child(*children[0], dy, input_grad)
        for layer in reversed(self.layers[1:]):
            dy = layer.backward(dy)
        first = self.layers[0]
        return first.backward(dy) if input_grad else backward_without_input_grad(first, dy)

    def get_config(self) -> dict:
        return {"class": "Sequential", "layers": [layer.get_config() for layer in self.layers]}

    @classmethod
    def from_config(cls, config: dict) -> Sequential:
        return cls([layer_from_config(c) for c in config["layers"]])

    def __len__(self) -> int:
        return len(self.layers)

    def __getitem__(self, i):
        return self.layers[i]

    def __repr__(self) -> str:
        inner = "\n".join(f"  ({i}) {layer!r}" for i, layer in enumerate(self.layers))
        return f"Sequential(\n{inner}\n)"


class Residual(_Container):
    """Residual connection ``y = x + block(x)``; ``block`` must keep the shape of ``x``.

    Backward: ``dx = dy + block.backward(dy)``, the identity path that keeps deep networks
    trainable (He et al. 2016).
    """

    def __init__(self, block: Layer) -> None:
        _check_layer(block, "Residual", "block")
        super().__init__(block.dtype)
        self.block = block

    @property
    def block(self) -> Layer:
        """The wrapped layer; assigning another is checked like ``Sequential.layers``."""
        return self._block

    @block.setter
    def block(self, block: Layer) -> None:
        _check_layer(block, "Residual", "block")
        if block.dtype != self.dtype:
            raise TypeError(
                f"Residual: block must have the dtype of this block ({self.dtype}), "
                f"got {block.dtype}"
            )
        old = self.__dict__.get("_block")
        self._block = block
        try:
            _check_tree(self, "Residual")
        except BaseException:
            if old is None:
                del self._block
            else:
                self._block = old
            raise
        structure_changed()

    def children(self):
        return [(type(self.block).__name__, self.block)]

    def forward(self, x: np.ndarray, training: bool = True) -> np.ndarray:
        self._check_structure()
        if self._probe is not None:
            y = self._forward_child(*self.children()[0], x, training)
        else:
            y = self.block.forward(x, training=training)
        if y.shape != x.shape:
            raise ValueError(
                f"Residual: block must preserve the shape of its input, got {x.shape} -> {y.shape}"
            )
        out = x + y
        return read_only(out) if training else out

    def backward(self, dy: np.ndarray, *, input_grad: bool = True) -> np.ndarray | None:
        if self._probe is not None:
            dblock = self._backward_child(*self.children()[0], dy, input_grad)
        elif input_grad:
            dblock = self.block.backward(dy)
        else:
            dblock = backward_without_input_grad(self.block, dy)
        return dy + dblock if input_grad else None

    def get_config(self) -> dict:
        return {"class": "Residual", "block": self.block.get_config()}

    @classmethod
    def from_config(cls, config: dict) -> Residual:
        return cls(layer_from_config(config["block"]))

    def __repr__(self) -> str:
        return f"Residual({self.block!r})"
