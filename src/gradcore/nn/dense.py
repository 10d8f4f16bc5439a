"""Dense (fully connected) layer with a fused activation: ``y = act(x @ W + b)``."""

from __future__ import annotations

import numpy as np

from .. import init as _init
from ..backends import ACTIVATIONS
from .base import Layer, check_array

__all__ = ["Dense", "check_activation"]


def check_activation(activation: str | None) -> str:
    act = "linear" if activation is None else activation
    if act not in ACTIVATIONS:
        raise ValueError(f"unknown activation {activation!r}; expected one of {ACTIVATIONS}")
    return act


class Dense(Layer):
    """Fully connected layer ``y = act(x @ W + b)`` with the activation fused into the kernel.

    Parameters: ``W`` ``[in_features, out_features]`` (note: the transpose of PyTorch's
    ``Linear.weight``), ``b`` ``[out_features]`` (zeros). ``init`` initialises ``W`` (a name from
    ``gc.init`` or a callable ``(shape, rng, dtype)``); ``seed`` makes it reproducible.

    Shapes: ``x`` ``[N, in_features]`` -> ``y`` ``[N, out_features]``, in the layer's dtype.
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        activation: str | None = "relu",
        init="he_normal",
        dtype=np.float32,
        seed=None,
        bias: bool = True,
    ) -> None:
        super().__init__(dtype)
        for nm, v in (("in_features", in_features), ("out_features", out_features)):
            if not isinstance(v, int | np.integer) or v < 1:
                raise ValueError(f"Dense: {nm} must be a positive int, got {v!r}")
        self.in_features, self.out_features = int(in_features), int(out_features)
        self.activation = check_activation(activation)
        rng = np.random.default_rng(seed)
        self._add_param(
            "W", _init.get(init)((self.in_features, self.out_features), rng, self.dtype)
        )
        self.use_bias = bias
        if bias:
            self._add_param("b", np.zeros(self.out_features, self.dtype))
        self._zero_b = None if bias else np.zeros(self.out_features, self.dtype)

    @property
    def preactivation(self) -> np.ndarray | None:
        """``z = x @ W + b`` of the last forward (``[N, out_features]``, the layer's dtype),
        before the activation; ``None`` before the first forward. Read it, do not write it
        (``backward`` uses it). ``gc.init.lsuv`` rescales ``W`` from its variance."""
        return None if self._cache is None else self._cache["z"]

    def _b(self):
        return self.params["b"] if self.use_bias else self._zero_b

    def forward(self, x: np.ndarray, training: bool = True) -> np.ndarray:
        x = check_array(
            x, "x", owner="Dense.forward", dtype=self.dtype, shape=(None, self.in_features)
        )
        n = x.shape[0]
        z = np.empty((n, self.out_features), self.dtype)
        y = z if self.activation == "linear" else np.empty_like(z)
        self.backend.dense_forward(x, self.params["W"], self._b(), self.activation, z, y)
        self._cache = {"x": x, "z": z, "y": y}
        return self._output(y, training)

    def backward(self, dy: np.ndarray, *, input_grad: bool = True) -> np.ndarray | None:
        c = self._need_cache()
        x = c["x"]
        dy = self._check_dy(dy, c["z"].shape)
        dx = np.empty_like(x) if input_grad else None  # None: skip the dx = dz W^T GEMM
        db = (
            self.grads["b"]
            if self.use_bias
            else self.ws.get("db", (self.out_features,), self.dtype)
        )
        self.backend.dense_backward(
            dy,
            x,
            self.params["W"],
            c["z"],
            c["y"],
            self.activation,
            dx,
            self.grads["W"],
            db,
            ws=self.ws,
        )
        return dx

    def _config_args(self) -> dict:
        return {
            "in_features": self.in_features,
            "out_features": self.out_features,
            "activation": self.activation,
            "dtype": self.dtype.name,
            "bias": self.use_bias,
        }

    def extra_repr(self) -> str:
        return f"{self.in_features}, {self.out_features}, activation={self.activation!r}"
