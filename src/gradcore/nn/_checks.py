"""The argument and input checks every layer of ``gradcore.nn`` shares.

Constructor arguments and settable attributes (``check_activation``, ``check_layer_dtype``,
``check_size``, ``activation_property``, ``real_property``) use the ``gradcore._args`` wording
``"{owner}: {name} must be {expected}, got {given}"``; ``check_array`` validates the arrays
``forward``/``backward`` receive, ``check_samples`` the ``X`` of ``predict``. One module below
the layers, so a layer imports only this, ``nn.base`` and ``nn.init``, never a sibling layer.

Input conventions of every layer (``forward``/``backward``): ``x`` must be a ``numpy.ndarray``
of the layer's dtype (no silent casts: an integer or float64 array given to a float32 layer is
a ``TypeError`` saying how to convert) and of the documented rank and feature sizes
(``ValueError``); non-contiguous and read-only arrays are accepted (copied once if not
C-contiguous) and give exactly the results of plain ones. A batch of 0 rows goes through
(0 rows out, nothing added to the gradients), except ``BatchNorm`` in training, which needs
2 rows or more (as torch). Layers do not scan inputs for NaN/inf: that is a pass over the data
per step, and detecting non-finite values is the gradient monitor's job (``gc.monitor``) and
``fit``'s (it checks the data once).
"""

from __future__ import annotations

from operator import attrgetter

import numpy as np

from .._args import check_choice, check_int, check_real, describe
from ..backends import ACTIVATIONS
from . import init as _init

__all__ = [
    "activation_property",
    "check_activation",
    "check_array",
    "check_dtype",
    "check_layer_dtype",
    "check_samples",
    "check_size",
    "read_only",
    "real_property",
]

_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))


def check_activation(activation: str | None, owner: str | None = None) -> str:
    """An activation name of ``gc.backends.ACTIVATIONS`` (``None`` means ``'linear'``)."""
    if activation is None:
        return "linear"
    return check_choice("activation", activation, ACTIVATIONS, owner=owner)


def activation_property(owner: str, what: str = "activation") -> property:
    """The settable ``activation`` of a layer (Dense, Activation): checked when set, and a
    change discards the last forward, so ``backward`` cannot mix the old activation's outputs
    with the new one. Stored in ``self._activation``."""

    def get(self) -> str:
        return self._activation

    def set(self, value) -> None:
        act = check_activation(value, owner=owner)
        if act != getattr(self, "_activation", act):
            self._cache = None
        self._activation = act

    return property(
        get,
        set,
        doc=f"The {what}'s name (settable; checked when set; a change discards the last forward).",
    )


def real_property(name: str, owner: str, doc: str, **bounds) -> property:
    """A settable real-number hyper-parameter of a layer (``BatchNorm.eps``, ``Dropout.p``),
    checked when set with ``check_real(name, value, owner=owner, **bounds)``; stored in
    ``self._<name>``."""
    attr = f"_{name}"

    def set(self, value) -> None:
        setattr(self, attr, check_real(name, value, owner=owner, **bounds))

    # (attrgetter: the getter runs per forward; a C getter costs no more than the attribute)
    return property(attrgetter(attr), set, doc=doc)


def check_layer_dtype(dtype, owner: str) -> np.dtype:
    """A layer dtype: float32 or float64, given as a NumPy type, dtype or name. ``None`` is
    refused (``np.dtype(None)`` would silently be float64)."""
    return _init._check_dtype(dtype, owner)


def check_size(name: str, value, owner: str) -> int:
    """A feature/unit count: an integer >= 1 (NumPy integers too, never bool)."""
    return check_int(name, value, owner=owner, min=1)


def check_dtype(dtype) -> np.dtype:
    """Normalise a layer dtype argument; only float32 and float64 are supported."""
    try:
        dt = np.dtype(dtype)
    except TypeError:
        raise TypeError(f"dtype must be np.float32 or np.float64, got {dtype!r}") from None
    if dt not in _FLOATS:
        raise TypeError(f"dtype must be np.float32 or np.float64, got {dt}")
    return dt


def check_array(
    x,
    name: str,
    *,
    owner: str,
    dtype: np.dtype,
    ndim: int | None = None,
    shape: tuple[int | None, ...] | None = None,
) -> np.ndarray:
    """Validate an input array and return it C-contiguous.

    ``shape`` entries of ``None`` are free; a non-contiguous array is copied once (documented
    behaviour; a 0-d array keeps its shape); an ndarray subclass is viewed as a plain ndarray;
    a read-only array is accepted as it is (layers only read their inputs); a wrong
    type, dtype, rank or size raises with a message naming ``owner`` and ``name``, what was
    expected and what was given. Empty axes (a batch of 0 samples) pass here: a layer that
    cannot handle them checks ``x.shape[0]`` itself.
    """
    if not isinstance(x, np.ndarray):
        raise TypeError(f"{owner}: {name} must be a numpy.ndarray, got {type(x).__name__}")
    if x.dtype != dtype:
        raise TypeError(
            f"{owner}: {name} has dtype {x.dtype}, expected {dtype} (the layer's dtype); "
            f"convert with {name}.astype(np.{dtype})"
        )
    if shape is not None:
        ndim = len(shape)
    if ndim is not None and x.ndim != ndim:
        raise ValueError(f"{owner}: {name} must be {ndim}-D, got shape {x.shape}")
    if shape is not None:
        for axis, (want, got) in enumerate(zip(shape, x.shape, strict=True)):
            if want is not None and want != got:
                pretty = "[" + ", ".join("*" if s is None else str(s) for s in shape) + "]"
                raise ValueError(
                    f"{owner}: {name} must have shape {pretty}, got {x.shape} "
                    f"(axis {axis}: expected {want}, got {got})"
                )
    if type(x) is not np.ndarray:  # a subclass (np.matrix, a memmap): plain ndarray semantics
        x = np.asarray(x)
    # (not np.ascontiguousarray: it turns a 0-d array into shape (1,))
    return x if x.flags.c_contiguous else np.ascontiguousarray(x)


def read_only(y: np.ndarray) -> np.ndarray:
    """A read-only view of ``y`` (the base stays writeable for the layer's own use).

    Layers return their training-mode outputs through this: ``backward`` reads them (as this
    layer's saved output or the next layer's saved input), so an in-place edit between
    ``forward`` and ``backward`` would silently change the gradient; NumPy now refuses it.
    """
    v = y.view()
    v.flags.writeable = False
    return v


def check_samples(X, dtype: np.dtype, *, owner: str) -> np.ndarray:
    """A batch of samples for a whole-model call (``predict``): a real ``numpy.ndarray`` with a
    batch axis of at least 1 row, returned cast to the model's ``dtype`` (``ValueError`` if a
    value overflows it)."""
    if not isinstance(X, np.ndarray):
        raise TypeError(f"{owner}: X must be a numpy.ndarray, got {describe(X)}")
    if X.ndim == 0:
        raise ValueError(f"{owner}: X must have a batch axis (at least 1-D), got a 0-d array")
    if len(X) == 0:
        raise ValueError(f"{owner}: X must have at least 1 row, got shape {X.shape}")
    if not np.issubdtype(X.dtype, np.number) or np.iscomplexobj(X):
        raise TypeError(f"{owner}: X must hold real numbers, got dtype {X.dtype}")
    try:
        with np.errstate(over="raise"):
            return np.asarray(X, dtype=dtype)
    except FloatingPointError:
        raise ValueError(
            f"{owner}: X holds values beyond the range of the model's dtype {dtype} "
            f"(largest |x| = {float(np.max(np.abs(X))):.3g})"
        ) from None
