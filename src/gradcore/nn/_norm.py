"""What the normalisation layers share (``BatchNorm``, ``LayerNorm``): ``num_features``, the
affine parameters ``gamma`` (ones) and ``beta`` (zeros) ``[C]``, and one backward op signature
``op(dy, x, gamma, mean, inv_std, dx, dgamma, dbeta)``. A base class below both, so neither
imports the other."""

from __future__ import annotations

import numpy as np

from ._checks import check_layer_dtype, check_size
from .base import Layer

__all__: list[str] = []


class _AffineNorm(Layer):
    """Base of ``BatchNorm`` and ``LayerNorm`` (private: not a layer type of its own)."""

    def __init__(self, num_features: int, dtype, owner: str) -> None:
        super().__init__(check_layer_dtype(dtype, owner))
        self.num_features = check_size("num_features", num_features, owner)
        self._add_param("gamma", np.ones(self.num_features))
        self._add_param("beta", np.zeros(self.num_features))

    def _backward_op(self, op, c: dict, dy: np.ndarray) -> np.ndarray:
        """``dx`` from the backend's ``op`` (``batchnorm_backward``/``layernorm_backward``) over
        the cache ``c`` of the last forward; ``dgamma``/``dbeta`` accumulate into ``grads``."""
        dx = np.empty_like(dy)
        p, g = self.params, self.grads
        op(dy, c["x"], p["gamma"], c["mean"], c["inv_std"], dx, g["gamma"], g["beta"])
        return dx
