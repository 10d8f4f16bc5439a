"""The Layer base class: the layer protocol.

The input checks every layer shares (``check_array``, ``check_dtype``, ``read_only``) live in
``nn._checks`` and the registry of layer classes (``LAYER_TYPES``, ``layer_from_config``) in
``nn.registry``; both are re-exported here, where custom layers have always found them. A
model's side of the parameter arena (building it, rebinding ``params``/``grads`` to its views,
telling it when the model no longer matches) is ``nn._arena``.

A layer is small and explicit: ``params`` and ``grads`` dicts with the same keys (gradients
ACCUMULATE across backward calls until ``zero_grad``), optional ``buffers`` (state that is not
trained, e.g. BatchNorm running statistics), ``forward(x, training=True)`` and
``backward(dy) -> dx``. A layer remembers only what its last forward needs for backward (one
cache, replaced on every forward; never a growing list) and holds no optimizer.
Kernels come from the active backend (``gc.set_backend``) at call time.

Misuse that would give silently wrong gradients is refused:

- one layer *instance* may appear only once in a model (its single forward cache would be
  overwritten by the second use): containers raise ``ValueError`` at construction and when
  their children are changed (a cycle too);
- in training mode (``training=True``) a layer's output is handed out as a READ-ONLY view,
  because ``backward`` (this layer's, or the next layer's, which keeps it as its input) reads
  it: ``y *= 2`` / ``y[0] = 0`` raise NumPy's "read-only" ``ValueError``. Copy it
  (``y = y.copy()``) to edit it. Evaluation-mode outputs (``training=False``, ``predict``) are
  ordinary writeable arrays: they are the caller's;
- a model whose structure changed after ``model.parameters()`` was built gets a new arena from
  the next ``model.parameters()`` call, and an optimizer bound to the old one raises at
  ``step()`` (see :mod:`gradcore.params`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from operator import attrgetter

import numpy as np

from .._args import check_int, describe
from ..backends import Workspace, get_backend
from ..params import TrackedDict, structure_changed
from ._arena import build_arena
from ._checks import check_array, check_dtype, check_samples, read_only
from .registry import LAYER_TYPES, layer_from_config, register_layer_class

__all__ = [
    "LAYER_TYPES",
    "Layer",
    "check_array",
    "check_dtype",
    "layer_from_config",
    "read_only",
    "register_training_loop",
]

#: ``fit`` and ``evaluate`` of the training loop, plugged in by ``gradcore.train`` when it is
#: imported (``import gradcore`` does). The loop sits floors above the layers: ``Layer.fit``
#: calls it through this table, so ``nn`` never imports ``train``.
_TRAINING_LOOP: dict[str, Callable] = {}


def register_training_loop(fit: Callable, evaluate: Callable) -> None:
    """Install the functions behind :meth:`Layer.fit` / :meth:`Layer.evaluate`."""
    _TRAINING_LOOP.update(fit=fit, evaluate=evaluate)


def _loop(name: str) -> Callable:
    fn = _TRAINING_LOOP.get(name)
    if fn is None:
        raise RuntimeError(f"Layer.{name} needs the training loop: import gradcore.train first")
    return fn


def _tracked_dict(attr: str, doc: str) -> property:
    """``Layer.params`` / ``Layer.grads``: assigning a dict stores it as a
    :class:`~gradcore.params.TrackedDict` (every later change of an entry is seen by the arena)
    and is itself a structure change. (attrgetter: read per op call; a C getter costs no more
    than the attribute.)"""

    def set(self, value) -> None:
        setattr(self, attr, TrackedDict(value))
        structure_changed()

    return property(attrgetter(attr), set, doc=doc)


class Layer:
    """Base class: parameter/gradient dicts, buffers, a workspace and a single forward cache.

    Contract for subclasses (and what users may rely on):

    - ``forward(x, training=True)`` returns, in training mode, a READ-ONLY view of its output
      (``return self._output(y, training)``): ``backward`` reads it (this layer's saved output
      or the next layer's saved input), so an in-place edit in between (``y *= 2``) raises
      NumPy's "read-only" ``ValueError`` instead of silently changing the gradient. Edit a
      copy (``y.copy()``). In evaluation mode the output is a plain writeable array.
    - ``params`` / ``grads`` are dicts that report every change (a new key, a replaced array)
      to the parameter arena: write values in place (``params["W"][...] = v``); a replaced
      array or a new key makes the next ``model.parameters()`` build a new arena, and an
      optimizer bound to the old one raises at ``step()``.
    - one instance belongs to at most one place in a model (one cache); containers enforce it.
    - a subclass is registered in :data:`LAYER_TYPES` by class name for checkpoints; a name
      already taken raises ``TypeError`` unless ``class X(Layer, replace=True)``
      (``register=False`` keeps it out).
    """

    def __init_subclass__(cls, *, register: bool = True, replace: bool = False, **kwargs):
        """Register the class in :data:`LAYER_TYPES` under its name (not ``_private`` ones, nor
        with ``class X(Layer, register=False)``); see :func:`~gradcore.nn.registry.
        register_layer_class` (a name taken by another class needs ``replace=True``)."""
        super().__init_subclass__(**kwargs)
        if register and not cls.__name__.startswith("_"):
            register_layer_class(cls, replace=replace)

    def __init__(self, dtype=np.float32) -> None:
        self.dtype = check_dtype(dtype)
        self.params = {}  # (TrackedDicts: a change of an entry is seen by the arena)
        self.grads = {}
        self.buffers: dict[str, np.ndarray] = {}
        self.ws = Workspace()
        self._cache: dict | None = None
        self._frozen: set[str] = set()  # names of params that optimizers and clipping skip
        self._arena = None

    # -- parameters -------------------------------------------------------------------
    params = _tracked_dict(
        "_params", "Trainable arrays by name (a dict that reports every change to the arena)."
    )
    grads = _tracked_dict(
        "_grads", "Gradients, same keys and shapes as ``params`` (accumulated by ``backward``)."
    )

    def _set_frozen_names(self, names) -> None:
        self._frozen.clear()  # (in place: the parameter arena holds this very set)
        self._frozen.update(names)

    frozen = property(
        attrgetter("_frozen"),
        _set_frozen_names,
        doc="Names of this layer's parameters that optimizers and clipping skip (a set; "
        "``freeze``/``unfreeze`` change it; assigning replaces its contents).",
    )

    def _add_param(self, name: str, value: np.ndarray) -> None:
        value = np.ascontiguousarray(value, dtype=self.dtype)
        self.params[name] = value
        self.grads[name] = np.zeros_like(value)

    def zero_grad(self) -> None:
        """Set every gradient to zero (gradients accumulate across ``backward`` calls)."""
        if self._arena is not None and self._arena.stale() is None:
            self._arena.zero_grad()
            return
        for _, layer in self.named_layers():
            for g in layer.grads.values():
                g.fill(0)

    def parameters(self):
        """The flat parameter arena of this layer/model (built on first call, then cached).

        Building it moves every parameter and gradient of this layer and its sub-layers into
        two flat buffers and rebinds ``params``/``grads`` to views (see ``gradcore.params``).
        If the model changed since (a layer added to or replaced in a container, a ``params``
        entry added or replaced), a new arena is built from the current values, and optimizers
        bound to the old one raise at their next ``step()``: create them again from this.
        """
        arena = self._arena
        why = None if arena is None else arena.stale()
        if arena is None or why is not None:
            new = build_arena(self)
            if arena is not None:
                arena.supersede(why)
            self._arena = arena = new
        return arena

    def freeze(self, *names: str) -> None:
        """Exclude parameters from optimizer updates and clipping (all of them if no names).

        Gradients are still computed (the monitor can read them); they are just not applied.
        On a container, freezes every parameter of every sub-layer.
        """
        self._set_frozen(names, True)

    def unfreeze(self, *names: str) -> None:
        """Undo :meth:`freeze` (all parameters if no names)."""
        self._set_frozen(names, False)

    def _set_frozen(self, names, frozen: bool) -> None:
        own = self.own_params()
        if names:
            owner = f"{type(self).__name__}.{'freeze' if frozen else 'unfreeze'}"
            for i, n in enumerate(names):
                if not isinstance(n, str):
                    raise TypeError(
                        f"{owner}: names[{i}] must be a parameter name (str), got {describe(n)}"
                    )
            unknown = [n for n in names if n not in own]
            if unknown:
                has = (
                    ", ".join(map(repr, own))
                    if own
                    else "it has none of its own: freeze a sub-layer, e.g. "
                    "model.layers[0].freeze('W'), or call freeze() for all"
                )
                raise ValueError(
                    f"{owner}: names must be names of this layer's parameters ({has}), "
                    f"got {unknown[0]!r}"
                )
            targets = [(self, n) for n in names]
        else:
            targets = [(layer, k) for _, layer in self.named_layers() for k in layer.own_params()]
        for layer, k in targets:
            (layer.frozen.add if frozen else layer.frozen.discard)(k)

    def own_params(self) -> dict[str, np.ndarray]:
        """Parameters stored on this layer itself (containers hold none of their own)."""
        return self.params

    def children(self) -> list[tuple[str, Layer]]:
        """Sub-layers with their path names (containers override)."""
        return []

    def named_layers(self, prefix: str = "") -> Iterator[tuple[str, Layer]]:
        """This layer and every sub-layer, depth first, with dotted path names."""
        yield prefix, self
        for name, child in self.children():
            yield from child.named_layers(f"{prefix}.{name}" if prefix else name)

    def named_parameters(self) -> Iterator[tuple[str, np.ndarray, np.ndarray]]:
        """``(path, param, grad)`` for every parameter of this layer and its sub-layers."""
        for path, layer in self.named_layers():
            for key in layer.params:
                full = f"{path}.{key}" if path else key
                yield full, layer.params[key], layer.grads[key]

    @property
    def num_params(self) -> int:
        return sum(p.size for _, p, _ in self.named_parameters())

    # -- running --------------------------------------------------------------------
    @property
    def backend(self):
        return get_backend()

    def forward(self, x: np.ndarray, training: bool = True) -> np.ndarray:
        raise NotImplementedError

    def backward(self, dy: np.ndarray, *, input_grad: bool = True) -> np.ndarray | None:
        """Accumulate parameter gradients from ``dy`` (dL/dy, the output's shape and dtype) and
        return dL/dx. ``input_grad=False`` says the caller does not need dL/dx (the model's
        first layer: the data needs no gradient); a layer may then skip computing it and
        return ``None`` (``Dense`` skips its largest GEMM, as torch does for inputs that do not
        require grad)."""
        raise NotImplementedError

    def __call__(self, x: np.ndarray, training: bool = True, **kwargs) -> np.ndarray:
        return self.forward(x, training=training, **kwargs)

    def _need_cache(self) -> dict:
        if self._cache is None:
            raise RuntimeError(
                f"{type(self).__name__}.backward called before forward (or twice after one "
                "forward with a layer that frees its cache)"
            )
        return self._cache

    @staticmethod
    def _output(y: np.ndarray, training: bool) -> np.ndarray:
        """What ``forward`` returns: in training mode a read-only view of ``y`` (``backward``
        reads it; see :func:`read_only`), in evaluation mode ``y`` itself (the caller's)."""
        return read_only(y) if training else y

    def _check_dy(self, dy, shape: tuple[int, ...]) -> np.ndarray:
        return check_array(
            dy, "dy", owner=f"{type(self).__name__}.backward", dtype=self.dtype, shape=shape
        )

    def extra_repr(self) -> str:
        return ""

    # -- whole-model conveniences ------------------------------------------------------------
    def predict(self, X: np.ndarray, batch_size: int = 256) -> np.ndarray:
        """Outputs for ``X`` in evaluation mode, computed ``batch_size`` rows at a time.

        ``X`` is cast to the model's dtype (as in ``fit``); the result is a new array.
        """
        batch_size = check_int("batch_size", batch_size, owner="predict", min=1)
        X = check_samples(X, self.dtype, owner="predict")
        outs = [
            self.forward(X[i : i + batch_size], training=False)
            for i in range(0, len(X), batch_size)
        ]
        return np.concatenate(outs, axis=0)

    def fit(self, X: np.ndarray, y: np.ndarray, **kwargs):
        """Train this model: see :func:`gradcore.train.fit` for the arguments."""
        return _loop("fit")(self, X, y, **kwargs)

    def evaluate(
        self, X: np.ndarray, y: np.ndarray, loss="cross_entropy", batch_size: int = 256
    ) -> dict[str, float]:
        """Mean loss (and accuracy) in evaluation mode: :func:`gradcore.train.evaluate`."""
        return _loop("evaluate")(self, X, y, loss=loss, batch_size=batch_size)

    # -- serialization (checkpoints) ------------------------------------------------------
    def get_config(self) -> dict:
        """JSON-able description that rebuilds this layer (without its parameter values)."""
        return {"class": type(self).__name__, "args": self._config_args()}

    #: The constructor arguments :meth:`get_config` saves, in order, each read from the
    #: attribute of the same name (``"arg=attribute"`` where they differ); ``dtype`` is saved by
    #: its name. A layer may instead define ``_config_args`` itself.
    _config_fields: tuple[str, ...] = ()

    def _config_args(self) -> dict:
        if not self._config_fields:
            raise NotImplementedError(
                f"{type(self).__name__} does not implement _config_args(); define it "
                "(constructor arguments as JSON-able values) to save this layer in a checkpoint"
            )
        args = {}
        for field in self._config_fields:
            arg, _, attr = field.partition("=")
            value = getattr(self, attr or arg)
            args[arg] = value.name if arg == "dtype" else value
        return args

    @classmethod
    def from_config(cls, config: dict) -> Layer:
        return cls(**config["args"])

    def get_state(self) -> dict:
        """JSON-able non-array state (e.g. a random generator's state); {} for most layers."""
        return {}

    def set_state(self, state: dict) -> None:
        if state:
            raise ValueError(f"{type(self).__name__} has no state to restore, got {list(state)}")

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.extra_repr()})"


_ACCEPTS_INPUT_GRAD: dict[type, bool] = {}


def backward_without_input_grad(layer: Layer, dy: np.ndarray):
    """``layer.backward(dy, input_grad=False)`` if the layer's ``backward`` takes that keyword
    (every gradcore layer does), else ``layer.backward(dy)`` (user layers)."""
    cls = type(layer)
    ok = _ACCEPTS_INPUT_GRAD.get(cls)
    if ok is None:
        import inspect

        try:
            params = inspect.signature(cls.backward).parameters
            ok = "input_grad" in params or any(
                p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()
            )
        except (TypeError, ValueError):
            ok = False
        _ACCEPTS_INPUT_GRAD[cls] = ok
    return layer.backward(dy, input_grad=False) if ok else layer.backward(dy)
