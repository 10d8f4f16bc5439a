"""Containers: ``Sequential`` (a chain of layers) and ``Residual`` (``y = x + block(x)``)."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from .base import Layer, backward_without_input_grad, layer_from_config

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

    @property
    def params(self):
        return self._collect("params")

    @params.setter
    def params(self, value):  # Layer.__init__ assigns {}; containers derive theirs
        pass

    @property
    def grads(self):
        return self._collect("grads")

    @grads.setter
    def grads(self, value):
        pass

    @property
    def buffers(self):
        return self._collect("buffers")

    @buffers.setter
    def buffers(self, value):
        pass

    def named_parameters(self):
        for path, layer in self.named_layers():
            if layer is self or isinstance(layer, _Container):
                continue
            for key in layer.params:
                yield f"{path}.{key}", layer.params[key], layer.grads[key]

    def zero_grad(self) -> None:
        if self._arena is not None:
            self._arena.zero_grad()
            return
        for _, layer in self.children():
            layer.zero_grad()

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


def _check_layer(layer, where: str) -> Layer:
    if not isinstance(layer, Layer):
        raise TypeError(f"{where}: expected a gradcore layer, got {type(layer).__name__}")
    return layer


class Sequential(_Container):
    """A chain of layers: ``forward`` runs them in order, ``backward`` in reverse.

    ``model.layers`` is the list. ``predict(X, batch_size)`` runs in evaluation mode in
    batches and concatenates the outputs. All layers must share one dtype.
    """

    def __init__(self, layers: Iterable[Layer]) -> None:
        layers = list(layers)
        if not layers:
            raise ValueError("Sequential needs at least one layer")
        for i, layer in enumerate(layers):
            _check_layer(layer, f"Sequential: layers[{i}]")
        dtypes = {layer.dtype for layer in layers}
        if len(dtypes) > 1:
            raise TypeError(
                f"Sequential: all layers must share one dtype, got "
                f"{[str(layer.dtype) for layer in layers]}"
            )
        super().__init__(layers[0].dtype)
        self.layers = layers

    def children(self):
        return [(f"{i}.{type(layer).__name__}", layer) for i, layer in enumerate(self.layers)]

    def forward(self, x: np.ndarray, training: bool = True) -> np.ndarray:
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
        _check_layer(block, "Residual: block")
        super().__init__(block.dtype)
        self.block = block

    def children(self):
        return [(type(self.block).__name__, self.block)]

    def forward(self, x: np.ndarray, training: bool = True) -> np.ndarray:
        if self._probe is not None:
            y = self._forward_child(*self.children()[0], x, training)
        else:
            y = self.block.forward(x, training=training)
        if y.shape != x.shape:
            raise ValueError(
                f"Residual: block must preserve the shape of its input, got {x.shape} -> {y.shape}"
            )
        return x + y

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
