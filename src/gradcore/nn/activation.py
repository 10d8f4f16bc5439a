"""Stand-alone activation and dropout layers (no parameters)."""

from __future__ import annotations

import numpy as np

from .._args import check_bool, describe
from . import init as _init
from ._checks import activation_property, check_array, check_layer_dtype, real_property
from .base import Layer

__all__ = ["Activation", "Dropout"]


class Activation(Layer):
    """Elementwise activation ``y = act(x)`` for any input shape (0-d, ``[N, C]``, N-D; a
    non-contiguous or read-only ``x`` gives the same values), in the layer's dtype.

    ``act`` is one of ``gc.backends.ACTIVATIONS`` (or ``None``: linear); settable later, checked
    when set. Prefer ``Dense(..., activation=...)`` where possible: there the activation is
    fused with the matrix product.
    """

    _config_fields = ("activation", "dtype")

    def __init__(self, activation: str, dtype=np.float32) -> None:
        super().__init__(check_layer_dtype(dtype, "Activation"))
        self.activation = activation

    activation = activation_property("Activation")

    def forward(self, x: np.ndarray, training: bool = True) -> np.ndarray:
        x = check_array(x, "x", owner="Activation.forward", dtype=self.dtype)  # keeps 0-d 0-d
        y = np.empty_like(x)
        self.backend.act_forward(x, self.activation, y)
        self._cache = {"x": x, "y": y}
        return self._output(y, training)

    def backward(self, dy: np.ndarray, *, input_grad: bool = True) -> np.ndarray:
        c = self._need_cache()
        dy = self._check_dy(dy, c["x"].shape).reshape(c["x"].shape)
        dx = np.empty_like(dy)
        self.backend.act_backward(dy, c["x"], c["y"], self.activation, dx)
        return dx

    def extra_repr(self) -> str:
        return repr(self.activation)


class Dropout(Layer):
    """Inverted dropout: in training ``y = x * mask / (1 - p)`` with ``mask ~ Bernoulli(1 - p)``;
    in evaluation ``y = x``. Any input shape (0-d and N-D too), in the layer's dtype.

    ``p``: a real number in ``[0, 1)`` (Python or NumPy; settable later, checked when set).
    ``p = 1`` is refused, stricter than torch: it zeroes every output and every gradient
    upstream, so the model would silently train nothing. ``seed`` (None, an int >= 0 or a
    ``numpy.random.Generator``) seeds the layer's own generator, so a run is reproducible.
    """

    _config_fields = ("p", "dtype")

    def __init__(self, p: float = 0.5, dtype=np.float32, seed=None) -> None:
        super().__init__(check_layer_dtype(dtype, "Dropout"))
        self.p = p
        self.rng = _init._make_rng(seed, owner="Dropout")

    p = real_property(
        "p",
        "Dropout",
        "The drop probability, in ``[0, 1)`` (checked when set).",
        min=0,
        max=1,
        max_open=True,
    )

    def forward(self, x: np.ndarray, training: bool = True) -> np.ndarray:
        if isinstance(x, np.ndarray) and x.ndim == 0:  # run a 0-d x as shape (1,), hand back 0-d
            y = self.forward(x.reshape(1), training=training)
            self._cache["shape"] = ()  # backward then takes a 0-d dy only
            return y.reshape(())
        x = check_array(x, "x", owner="Dropout.forward", dtype=self.dtype)
        training = check_bool("training", training, owner="Dropout.forward")
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
        if c["shape"] == ():  # the 0-d forward above ran as shape (1,): so does its backward
            dy = self._check_dy(dy, ())  # checked 0-d; check_array hands it back as (1,)
            return (dy.copy() if c["scale"] is None else dy * c["scale"]).reshape(())
        dy = self._check_dy(dy, c["shape"])
        if c["scale"] is None:
            return dy.copy()
        with np.errstate(invalid="ignore"):
            return dy * c["scale"]

    def get_state(self) -> dict:
        # the generator's exact state, so a resumed run draws the same masks
        return {"rng": self.rng.bit_generator.state}

    def set_state(self, state: dict) -> None:
        """Restore :meth:`get_state` output (``{"rng": bit-generator state dict}``)."""
        if not isinstance(state, dict) or not isinstance(state.get("rng"), dict):
            raise ValueError(
                f"Dropout.set_state: state must be a dict {{'rng': generator state}}, "
                f"got {describe(state)}"
            )
        try:
            self.rng.bit_generator.state = state["rng"]
        except (KeyError, TypeError, ValueError) as e:
            raise ValueError(
                f"Dropout.set_state: state['rng'] is not a valid generator state ({e})"
            ) from None

    def extra_repr(self) -> str:
        return f"p={self.p}"
