"""Stand-alone activation and dropout layers (no parameters)."""

from __future__ import annotations

import numpy as np

from .base import Layer, check_array
from .dense import check_activation

__all__ = ["Activation", "Dropout"]


class Activation(Layer):
    """Elementwise activation ``y = act(x)`` for any input shape.

    ``act`` is one of ``gc.backends.ACTIVATIONS``. Prefer ``Dense(..., activation=...)``
    where possible: there the activation is fused with the matrix product.
    """

    def __init__(self, activation: str, dtype=np.float32) -> None:
        super().__init__(dtype)
        self.activation = check_activation(activation)

    def forward(self, x: np.ndarray, training: bool = True) -> np.ndarray:
        x = check_array(x, "x", owner="Activation.forward", dtype=self.dtype)
        y = np.empty_like(x)
        self.backend.act_forward(x, self.activation, y)
        self._cache = {"x": x, "y": y}
        return self._output(y, training)

    def backward(self, dy: np.ndarray, *, input_grad: bool = True) -> np.ndarray:
        c = self._need_cache()
        dy = self._check_dy(dy, c["x"].shape)
        dx = np.empty_like(dy)
        self.backend.act_backward(dy, c["x"], c["y"], self.activation, dx)
        return dx

    def _config_args(self) -> dict:
        return {"activation": self.activation, "dtype": self.dtype.name}

    def extra_repr(self) -> str:
        return repr(self.activation)


class Dropout(Layer):
    """Inverted dropout: in training ``y = x * mask / (1 - p)`` with ``mask ~ Bernoulli(1 - p)``;
    in evaluation ``y = x``. ``p`` in ``[0, 1]`` (``p = 1`` zeroes everything, as torch).

    ``seed`` seeds the layer's own generator, so a run is reproducible.
    """

    def __init__(self, p: float = 0.5, dtype=np.float32, seed=None) -> None:
        super().__init__(dtype)
        if not (isinstance(p, float | int) and 0.0 <= p <= 1.0):
            raise ValueError(f"Dropout: p must be a probability in [0, 1], got {p!r}")
        self.p = float(p)
        self.rng = np.random.default_rng(seed)

    def forward(self, x: np.ndarray, training: bool = True) -> np.ndarray:
        x = check_array(x, "x", owner="Dropout.forward", dtype=self.dtype)
        if not training or self.p == 0.0:
            self._cache = {"scale": None, "shape": x.shape}
            return x.copy()
        keep = self.rng.random(x.shape) >= self.p
        scale = keep.astype(self.dtype)
        if self.p < 1.0:
            scale /= self.dtype.type(1.0 - self.p)
        self._cache = {"scale": scale, "shape": x.shape}
        with np.errstate(invalid="ignore"):  # inf * 0 is NaN (as torch), without a warning
            return self._output(x * scale, training)

    def backward(self, dy: np.ndarray, *, input_grad: bool = True) -> np.ndarray:
        c = self._need_cache()
        dy = self._check_dy(dy, c["shape"])
        if c["scale"] is None:
            return dy.copy()
        with np.errstate(invalid="ignore"):
            return dy * c["scale"]

    def _config_args(self) -> dict:
        return {"p": self.p, "dtype": self.dtype.name}

    def get_state(self) -> dict:
        # the generator's exact state, so a resumed run draws the same masks
        return {"rng": self.rng.bit_generator.state}

    def set_state(self, state: dict) -> None:
        self.rng.bit_generator.state = state["rng"]

    def extra_repr(self) -> str:
        return f"p={self.p}"
