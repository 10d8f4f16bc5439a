"""Weight initializers (``gc.nn.init``, also importable as ``gc.init``, the same module).

The floor of ``gradcore.nn``: it imports no layer, and the layers import it (for ``init=``
names, seeds and dtypes). ``lsuv`` drives a whole model, but only through the public layer
protocol (``named_layers()``, ``params``, ``buffers``, ``dtype``, ``forward`` and a layer's
``preactivation``), so it lives here too without importing a layer.

Every initializer is a function ``init(shape, rng, dtype, **kw) -> ndarray``; layers accept
either such a callable or its name (``init="he_normal"``). Fans follow gradcore's layout:
a dense weight ``W`` has shape ``[in, out]``, so ``fan_in = shape[0]`` and ``fan_out = shape[1]``
(the transpose of PyTorch's ``[out, in]``; the numbers are the same as ``torch.nn.init``'s).

Gains (``calculate_gain(nonlinearity)``, as PyTorch's): linear/sigmoid 1, tanh 5/3,
relu sqrt(2), leaky_relu sqrt(2 / (1 + 0.01^2)); other activations (elu, silu, gelu) use the
relu gain, the usual choice for rectifier-like units.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable

import numpy as np

from .._args import check_bool, check_choice, check_int, check_real, check_seed, describe

__all__ = [
    "calculate_gain",
    "constant",
    "get",
    "he_normal",
    "he_uniform",
    "lsuv",
    "normal",
    "ones",
    "orthogonal",
    "uniform",
    "xavier_normal",
    "xavier_uniform",
    "zeros",
]

Initializer = Callable[..., np.ndarray]

_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))

#: Gains by nonlinearity name (PyTorch's ``calculate_gain`` values; elu/silu/gelu: relu's).
_GAINS = {
    "linear": 1.0,
    "sigmoid": 1.0,
    "tanh": 5.0 / 3.0,
    "relu": math.sqrt(2.0),
    "leaky_relu": math.sqrt(2.0 / (1.0 + 0.01**2)),
    "elu": math.sqrt(2.0),
    "silu": math.sqrt(2.0),
    "gelu": math.sqrt(2.0),
}


def calculate_gain(nonlinearity: str = "linear") -> float:
    """Recommended gain for a nonlinearity (PyTorch's ``calculate_gain``): a name of
    ``linear, sigmoid, tanh, relu, leaky_relu, elu, silu, gelu``; ``ValueError`` otherwise."""
    return _GAINS[check_choice("nonlinearity", nonlinearity, _GAINS, owner="calculate_gain")]


# --- argument checks shared by the initializers (and by the layers, for seeds) ------------
def _check_shape(shape, owner: str) -> tuple[int, ...]:
    """``shape`` as a tuple of Python ints >= 0: a tuple/list of integers (NumPy's too), or one
    integer for a 1-D shape (as ``np.zeros``)."""
    what = "a tuple of integers >= 0"
    if isinstance(shape, numbers.Integral) and not isinstance(shape, bool | np.bool_):
        shape = (shape,)
    if not isinstance(shape, tuple | list):
        raise TypeError(f"{owner}: shape must be {what}, got {describe(shape)}")
    for d in shape:
        if isinstance(d, bool | np.bool_) or not isinstance(d, numbers.Integral):
            raise TypeError(f"{owner}: shape must be {what}, got {tuple(shape)!r:.80}")
        if d < 0:
            raise ValueError(f"{owner}: shape must be {what}, got {tuple(shape)!r:.80}")
    return tuple(int(d) for d in shape)


def _check_rng(rng, owner: str) -> np.random.Generator:
    if not isinstance(rng, np.random.Generator):
        raise TypeError(
            f"{owner}: rng must be a numpy.random.Generator (np.random.default_rng(seed)), "
            f"got {describe(rng)}"
        )
    return rng


def _check_dtype(dtype, owner: str) -> np.dtype:
    """float32 or float64 (``None`` is refused: ``np.dtype(None)`` would be float64)."""
    what = "np.float32 or np.float64"
    try:
        dt = None if dtype is None else np.dtype(dtype)
    except Exception:  # np.dtype(",") is a SyntaxError, np.dtype("f4,") a ValueError, ...
        dt = None
    if dt is None or dt not in _FLOATS:
        got = describe(dtype) if dt is None else f"dtype {dt}"
        raise TypeError(f"{owner}: dtype must be {what}, got {got}")
    return dt


def _make_rng(seed, *, owner: str, name: str = "seed") -> np.random.Generator:
    """The generator for a ``seed`` argument: ``None`` (fresh OS entropy), an integer >= 0 (a
    reproducible stream) or a ``numpy.random.Generator`` (used as it is, not copied)."""
    if seed is None:
        return np.random.default_rng()
    if isinstance(seed, np.random.Generator):
        return seed
    if isinstance(seed, bool | np.bool_) or not isinstance(seed, numbers.Integral):
        raise TypeError(
            f"{owner}: {name} must be None, an integer >= 0 or a numpy.random.Generator, "
            f"got {describe(seed)}"
        )
    return np.random.default_rng(check_seed(seed, owner=owner, name=name))


def _fans(shape: tuple[int, ...], owner: str) -> tuple[int, int]:
    if len(shape) < 1:
        raise ValueError(
            f"{owner}: shape must have at least one dimension to define a fan, got {shape}"
        )
    if len(shape) == 1:
        return shape[0], shape[0]
    receptive = math.prod(shape[2:])
    return shape[0] * receptive, shape[1] * receptive


def _fan(shape, mode: str, owner: str) -> int:
    mode = check_choice("mode", mode, ("fan_in", "fan_out"), owner=owner)
    fan_in, fan_out = _fans(shape, owner)
    return max(fan_in if mode == "fan_in" else fan_out, 1)


def _args(owner: str, shape, rng, dtype, random: bool = True):
    shape = _check_shape(shape, owner)
    if random:
        rng = _check_rng(rng, owner)
    return shape, rng, _check_dtype(dtype, owner)


def _gain(gain, owner: str) -> float:
    return check_real("gain", gain, owner=owner, min=0)


def _finish(w: np.ndarray, dt: np.dtype, owner: str, scale: str) -> np.ndarray:
    """``w`` (float64) as ``dt``; ``ValueError`` if a value is not finite there (a scale such
    as ``std=1e300`` overflows float32, or float64 itself, instead of initialising)."""
    with np.errstate(over="ignore", invalid="ignore"):
        out = np.asarray(w, dtype=np.float64).astype(dt)
    if not np.all(np.isfinite(out)):
        raise ValueError(f"{owner}: {scale} gives values that overflow {dt}; use a smaller scale")
    return out


def _uniform(rng, low: float, high: float, shape, owner: str, scale: str) -> np.ndarray:
    try:
        return rng.uniform(low, high, size=shape)
    except OverflowError:  # numpy: "high - low range exceeds valid bounds"
        raise ValueError(f"{owner}: {scale} is too wide a range (high - low overflows)") from None


# --- the initializers ------------------------------------------------------------------
# Each takes ``shape`` (tuple of ints >= 0), ``rng`` (numpy Generator; unused by the constant
# ones, which accept None) and ``dtype`` (float32/float64) and returns a new C-contiguous
# array of that shape and dtype; bad arguments raise TypeError/ValueError naming them.


def zeros(shape, rng=None, dtype=np.float32) -> np.ndarray:
    """All zeros."""
    shape, _, dt = _args("init.zeros", shape, rng, dtype, random=False)
    return np.zeros(shape, dtype=dt)


def ones(shape, rng=None, dtype=np.float32) -> np.ndarray:
    """All ones."""
    shape, _, dt = _args("init.ones", shape, rng, dtype, random=False)
    return np.ones(shape, dtype=dt)


def constant(shape, rng=None, dtype=np.float32, value: float = 0.0) -> np.ndarray:
    """All ``value`` (a finite real number)."""
    shape, _, dt = _args("init.constant", shape, rng, dtype, random=False)
    value = check_real("value", value, owner="init.constant")
    return _finish(np.full(shape, value), dt, "init.constant", f"value={value!r}")


def normal(shape, rng, dtype=np.float32, std: float = 0.01, mean: float = 0.0) -> np.ndarray:
    """N(mean, std^2); ``std`` finite >= 0, ``mean`` finite."""
    owner = "init.normal"
    shape, rng, dt = _args(owner, shape, rng, dtype)
    std = check_real("std", std, owner=owner, min=0)
    mean = check_real("mean", mean, owner=owner)
    with np.errstate(over="ignore", invalid="ignore"):
        w = rng.normal(mean, std, size=shape)
    return _finish(w, dt, owner, f"mean={mean!r}, std={std!r}")


def uniform(shape, rng, dtype=np.float32, low: float = -0.05, high: float = 0.05) -> np.ndarray:
    """U(low, high); ``low < high``, both finite."""
    owner = "init.uniform"
    shape, rng, dt = _args(owner, shape, rng, dtype)
    low = check_real("low", low, owner=owner)
    high = check_real("high", high, owner=owner, min=low, min_open=True)
    scale = f"low={low!r}, high={high!r}"
    return _finish(_uniform(rng, low, high, shape, owner, scale), dt, owner, scale)


def _xavier(owner: str, shape, rng, dtype, gain, numerator: float):
    """The checked arguments of a Glorot initializer and its scale
    ``gain sqrt(numerator / (fan_in + fan_out))``."""
    shape, rng, dt = _args(owner, shape, rng, dtype)
    gain = _gain(gain, owner)
    fan_in, fan_out = _fans(shape, owner)
    return shape, rng, dt, gain, gain * math.sqrt(numerator / max(fan_in + fan_out, 1))


def xavier_uniform(shape, rng, dtype=np.float32, gain: float = 1.0) -> np.ndarray:
    """Glorot: U(-a, a), a = gain sqrt(6 / (fan_in + fan_out)); ``gain`` finite >= 0."""
    owner = "init.xavier_uniform"
    shape, rng, dt, gain, a = _xavier(owner, shape, rng, dtype, gain, 6.0)
    scale = f"gain={gain!r}"
    return _finish(_uniform(rng, -a, a, shape, owner, scale), dt, owner, scale)


def xavier_normal(shape, rng, dtype=np.float32, gain: float = 1.0) -> np.ndarray:
    """Glorot: N(0, std^2), std = gain sqrt(2 / (fan_in + fan_out)); ``gain`` finite >= 0."""
    owner = "init.xavier_normal"
    shape, rng, dt, gain, std = _xavier(owner, shape, rng, dtype, gain, 2.0)
    return _finish(rng.normal(0.0, std, size=shape), dt, owner, f"gain={gain!r}")


def he_uniform(shape, rng, dtype=np.float32, mode="fan_in", nonlinearity="relu") -> np.ndarray:
    """He/Kaiming: U(-b, b), b = gain sqrt(3 / fan); ``mode`` 'fan_in' or 'fan_out'."""
    owner = "init.he_uniform"
    shape, rng, dt = _args(owner, shape, rng, dtype)
    b = calculate_gain(nonlinearity) * math.sqrt(3.0 / _fan(shape, mode, owner))
    return rng.uniform(-b, b, size=shape).astype(dt)


def he_normal(shape, rng, dtype=np.float32, mode="fan_in", nonlinearity="relu") -> np.ndarray:
    """He/Kaiming: N(0, std^2), std = gain / sqrt(fan); ``mode`` 'fan_in' or 'fan_out'."""
    owner = "init.he_normal"
    shape, rng, dt = _args(owner, shape, rng, dtype)
    std = calculate_gain(nonlinearity) / math.sqrt(_fan(shape, mode, owner))
    return rng.normal(0.0, std, size=shape).astype(dt)


def orthogonal(shape, rng, dtype=np.float32, gain: float = 1.0) -> np.ndarray:
    """(Semi-)orthogonal matrix from the QR of a Gaussian matrix (Saxe et al. 2014).

    For ``[rows, cols]`` (``shape`` with at least 2 dimensions, trailing ones flattened into
    ``cols``) the rows (if rows <= cols) or the columns are orthonormal, times ``gain``
    (finite >= 0). Signs are fixed with ``sign(diag(R))`` so the distribution is uniform (Haar).
    """
    owner = "init.orthogonal"
    shape, rng, dt = _args(owner, shape, rng, dtype)
    gain = _gain(gain, owner)
    if len(shape) < 2:
        raise ValueError(f"{owner}: shape must have at least 2 dimensions, got {shape}")
    rows, cols = shape[0], math.prod(shape[1:])
    if rows == 0 or cols == 0:
        return np.zeros(shape, dtype=dt)
    a = rng.normal(0.0, 1.0, size=(max(rows, cols), min(rows, cols)))
    q, r = np.linalg.qr(a)
    q *= np.where(np.diag(r) < 0, -1.0, 1.0)  # sign(0) would zero a column
    if rows < cols:
        q = q.T
    return _finish((gain * q).reshape(shape), dt, owner, f"gain={gain!r}")


_REGISTRY: dict[str, Initializer] = {
    f.__name__: f
    for f in (
        zeros,
        ones,
        normal,
        uniform,
        xavier_uniform,
        xavier_normal,
        he_uniform,
        he_normal,
        orthogonal,
    )
}


def get(init: str | Initializer, *, owner: str = "init.get") -> Initializer:
    """Resolve an initializer name (``zeros, ones, normal, uniform, xavier_uniform,
    xavier_normal, he_uniform, he_normal, orthogonal``) or pass a callable through.

    An unknown name is a ``ValueError`` listing the known ones; anything that is neither a
    string nor callable is a ``TypeError``. ``owner`` prefixes the message (the layer asking).
    """
    if callable(init) and not isinstance(init, str):
        return init
    if not isinstance(init, str):
        raise TypeError(
            f"{owner}: init must be a callable (shape, rng, dtype) -> ndarray or one of "
            f"{', '.join(repr(n) for n in sorted(_REGISTRY))}, got {describe(init)}"
        )
    return _REGISTRY[check_choice("init", init, sorted(_REGISTRY), owner=owner)]


def _initialize(init, shape: tuple[int, ...], rng, dtype, *, owner: str) -> np.ndarray:
    """``get(init)(shape, rng, dtype)``, checked: the result must be a real array of exactly
    ``shape`` with finite values (a user callable that returns another shape or NaN would
    otherwise be broadcast or trained silently). Returns it as ``dtype``, C-contiguous."""
    w = get(init, owner=owner)(shape, rng, dtype)
    if not isinstance(w, np.ndarray) or not (
        np.issubdtype(w.dtype, np.floating) or np.issubdtype(w.dtype, np.integer)
    ):
        raise TypeError(f"{owner}: init must return a real numpy array, got {describe(w)}")
    if w.shape != tuple(shape):
        raise ValueError(f"{owner}: init must return an array of shape {shape}, got {w.shape}")
    if not np.all(np.isfinite(w)):
        raise ValueError(f"{owner}: init returned non-finite values (NaN or inf)")
    return np.ascontiguousarray(w, dtype=dtype)


def lsuv(
    model,
    X: np.ndarray,
    *,
    tol: float = 0.05,
    max_iter: int = 10,
    seed=0,
    orthogonal_first: bool = True,
) -> dict[str, float]:
    """Layer-sequential unit-variance initialisation (Mishkin & Matas, ICLR 2016), in place.

    For every ``Dense`` layer in forward order: (optionally) re-initialise ``W`` as an
    orthonormal matrix and ``b`` as 0, then repeat {forward the sample batch ``X``; divide
    ``W`` by the standard deviation of the layer's pre-activation ``z = x W + b``} until
    ``|var(z) - 1| < tol`` or ``max_iter`` rounds. Deeper layers see the already-rescaled
    earlier ones, so every layer starts with unit-variance pre-activations.

    A "Dense layer" is any layer with a ``W`` parameter and a ``preactivation`` property (the
    last forward's ``z``): ``lsuv`` uses only the public layer protocol and imports no layer.

    BatchNorm running statistics are restored afterwards (LSUV must not leak the sample
    batch's statistics into evaluation). LSTM layers are left as they are. Returns the final
    ``var(z)`` of every rescaled layer, by path name. ``seed`` (None, an int >= 0 or a
    Generator) makes it reproducible.

    ``X``: real ``[N, ...]`` array, ``N >= 2``, finite (cast to the model's dtype); ``tol`` finite
    > 0; ``max_iter`` int >= 1. Raises ``FloatingPointError`` if a layer's pre-activation
    variance is 0 or not finite (it cannot be rescaled), e.g. for constant ``X``.
    """
    owner = "lsuv"
    for attr in ("named_layers", "forward", "buffers", "dtype"):
        if not hasattr(model, attr):
            raise TypeError(
                f"{owner}: model must be a gradcore layer or model, got {describe(model)}"
            )
    if not isinstance(X, np.ndarray):
        raise TypeError(f"{owner}: X must be a numpy.ndarray, got {describe(X)}")
    if X.dtype == np.bool_ or not (
        np.issubdtype(X.dtype, np.floating) or np.issubdtype(X.dtype, np.integer)
    ):
        raise TypeError(f"{owner}: X must hold real numbers, got dtype {X.dtype}")
    if X.ndim < 1 or len(X) < 2:
        raise ValueError(f"{owner}: X must have at least 2 samples, got shape {X.shape}")
    if not np.all(np.isfinite(X)):
        raise ValueError(f"{owner}: X must be finite, got NaN or inf values")
    tol = check_real("tol", tol, owner=owner, min=0, min_open=True)
    max_iter = check_int("max_iter", max_iter, owner=owner, min=1)
    orthogonal_first = check_bool("orthogonal_first", orthogonal_first, owner=owner)
    rng = _make_rng(seed, owner=owner)
    X = np.asarray(X, dtype=model.dtype)
    saved = {k: v.copy() for k, v in model.buffers.items()}
    result: dict[str, float] = {}
    try:
        for path, layer in model.named_layers():
            if "W" not in layer.params or not hasattr(type(layer), "preactivation"):
                continue
            W = layer.params["W"]
            if orthogonal_first:
                W[...] = orthogonal(W.shape, rng, W.dtype)
                if "b" in layer.params:
                    layer.params["b"][...] = 0
            for _ in range(max_iter):
                model.forward(X, training=True)
                var = float(np.var(layer.preactivation, dtype=np.float64))
                if not np.isfinite(var) or var == 0.0:
                    raise FloatingPointError(
                        f"lsuv: layer {path!r} has pre-activation variance {var}; cannot rescale"
                    )
                if abs(var - 1.0) < tol:
                    break
                W /= W.dtype.type(math.sqrt(var))
            else:
                model.forward(X, training=True)
                var = float(np.var(layer.preactivation, dtype=np.float64))
            result[path] = var
    finally:
        for k, v in model.buffers.items():
            v[...] = saved[k]
    return result
