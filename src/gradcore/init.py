"""Weight initializers.

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
from collections.abc import Callable

import numpy as np

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


def calculate_gain(nonlinearity: str = "linear") -> float:
    """Recommended gain for a nonlinearity (PyTorch's ``calculate_gain``)."""
    table = {
        "linear": 1.0,
        "sigmoid": 1.0,
        "tanh": 5.0 / 3.0,
        "relu": math.sqrt(2.0),
        "leaky_relu": math.sqrt(2.0 / (1.0 + 0.01**2)),
        "elu": math.sqrt(2.0),
        "silu": math.sqrt(2.0),
        "gelu": math.sqrt(2.0),
    }
    if nonlinearity not in table:
        raise ValueError(f"unknown nonlinearity {nonlinearity!r}; expected one of {sorted(table)}")
    return table[nonlinearity]


def _fans(shape: tuple[int, ...]) -> tuple[int, int]:
    if len(shape) < 1:
        raise ValueError("initializer needs a shape with at least one dimension")
    if len(shape) == 1:
        return shape[0], shape[0]
    receptive = int(np.prod(shape[2:])) if len(shape) > 2 else 1
    return shape[0] * receptive, shape[1] * receptive


def _fan(shape, mode: str) -> int:
    fan_in, fan_out = _fans(shape)
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"mode must be 'fan_in' or 'fan_out', got {mode!r}")
    return max(fan_in if mode == "fan_in" else fan_out, 1)


def zeros(shape, rng=None, dtype=np.float32) -> np.ndarray:
    return np.zeros(shape, dtype=dtype)


def ones(shape, rng=None, dtype=np.float32) -> np.ndarray:
    return np.ones(shape, dtype=dtype)


def constant(shape, rng=None, dtype=np.float32, value: float = 0.0) -> np.ndarray:
    return np.full(shape, value, dtype=dtype)


def normal(shape, rng, dtype=np.float32, std: float = 0.01, mean: float = 0.0) -> np.ndarray:
    """N(mean, std^2)."""
    return rng.normal(mean, std, size=shape).astype(dtype)


def uniform(shape, rng, dtype=np.float32, low: float = -0.05, high: float = 0.05) -> np.ndarray:
    """U(low, high)."""
    return rng.uniform(low, high, size=shape).astype(dtype)


def xavier_uniform(shape, rng, dtype=np.float32, gain: float = 1.0) -> np.ndarray:
    """Glorot: U(-a, a), a = gain sqrt(6 / (fan_in + fan_out))."""
    fan_in, fan_out = _fans(shape)
    a = gain * math.sqrt(6.0 / max(fan_in + fan_out, 1))
    return rng.uniform(-a, a, size=shape).astype(dtype)


def xavier_normal(shape, rng, dtype=np.float32, gain: float = 1.0) -> np.ndarray:
    """Glorot: N(0, std^2), std = gain sqrt(2 / (fan_in + fan_out))."""
    fan_in, fan_out = _fans(shape)
    std = gain * math.sqrt(2.0 / max(fan_in + fan_out, 1))
    return rng.normal(0.0, std, size=shape).astype(dtype)


def he_uniform(shape, rng, dtype=np.float32, mode="fan_in", nonlinearity="relu") -> np.ndarray:
    """He/Kaiming: U(-b, b), b = gain sqrt(3 / fan)."""
    b = calculate_gain(nonlinearity) * math.sqrt(3.0 / _fan(shape, mode))
    return rng.uniform(-b, b, size=shape).astype(dtype)


def he_normal(shape, rng, dtype=np.float32, mode="fan_in", nonlinearity="relu") -> np.ndarray:
    """He/Kaiming: N(0, std^2), std = gain / sqrt(fan)."""
    std = calculate_gain(nonlinearity) / math.sqrt(_fan(shape, mode))
    return rng.normal(0.0, std, size=shape).astype(dtype)


def orthogonal(shape, rng, dtype=np.float32, gain: float = 1.0) -> np.ndarray:
    """(Semi-)orthogonal matrix from the QR of a Gaussian matrix (Saxe et al. 2014).

    For ``[rows, cols]`` the rows (if rows <= cols) or the columns are orthonormal, times gain.
    Signs are fixed with ``sign(diag(R))`` so the distribution is uniform (Haar).
    """
    if len(shape) < 2:
        raise ValueError(f"orthogonal init needs at least 2 dimensions, got shape {shape}")
    rows, cols = shape[0], int(np.prod(shape[1:]))
    a = rng.normal(0.0, 1.0, size=(max(rows, cols), min(rows, cols)))
    q, r = np.linalg.qr(a)
    q *= np.sign(np.diag(r))
    if rows < cols:
        q = q.T
    return (gain * q).reshape(shape).astype(dtype)


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


def get(init: str | Initializer) -> Initializer:
    """Resolve an initializer name (or pass a callable through)."""
    if callable(init):
        return init
    if not isinstance(init, str) or init not in _REGISTRY:
        raise ValueError(
            f"unknown initializer {init!r}; expected a callable or one of {sorted(_REGISTRY)}"
        )
    return _REGISTRY[init]


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
    last forward's ``z``): this module sits below ``nn`` and never imports it.

    BatchNorm running statistics are restored afterwards (LSUV must not leak the sample
    batch's statistics into evaluation). LSTM layers are left as they are. Returns the final
    ``var(z)`` of every rescaled layer, by path name. ``seed`` makes it reproducible.
    """
    if not isinstance(X, np.ndarray) or len(X) < 2:
        raise ValueError("lsuv: X must be a numpy array with at least 2 samples")
    if not tol > 0 or max_iter < 1:
        raise ValueError(f"lsuv: need tol > 0 and max_iter >= 1, got {tol}, {max_iter}")
    X = np.asarray(X, dtype=model.dtype)
    rng = np.random.default_rng(seed)
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
