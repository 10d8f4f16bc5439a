"""LayerNorm over the last axis of ``[N, C]`` inputs, with PyTorch ``LayerNorm`` semantics."""

from __future__ import annotations

import numpy as np

from ._checks import check_array, real_property
from ._norm import _AffineNorm

__all__ = ["LayerNorm"]


class LayerNorm(_AffineNorm):
    """Layer normalization ``y = gamma (x - mean) / sqrt(var + eps) + beta`` per sample.

    Statistics over the ``C`` features of each row (biased variance, as torch); the same in
    training and evaluation. Params ``gamma`` (ones), ``beta`` (zeros), ``[C]``.
    Shapes: ``x`` ``[N, C]`` -> ``y`` ``[N, C]`` (``N = 0`` gives 0 rows, as torch).

    Arguments: ``num_features`` an integer >= 1; ``eps`` a finite real > 0 (settable later,
    checked when set); ``dtype`` float32/float64.
    """

    _config_fields = ("num_features", "eps", "dtype")

    eps = real_property(
        "eps",
        "LayerNorm",
        "Added to the variance before the square root, finite > 0 (checked when set).",
        min=0,
        min_open=True,
    )

    def __init__(self, num_features: int, eps: float = 1e-5, dtype=np.float32) -> None:
        super().__init__(num_features, dtype, "LayerNorm")
        self.eps = eps

    def forward(self, x: np.ndarray, training: bool = True) -> np.ndarray:
        x = check_array(
            x, "x", owner="LayerNorm.forward", dtype=self.dtype, shape=(None, self.num_features)
        )
        n = x.shape[0]
        y = np.empty_like(x)
        mean = np.empty(n, self.dtype)
        inv_std = np.empty(n, self.dtype)
        self.backend.layernorm_forward(
            x, self.params["gamma"], self.params["beta"], self.eps, y, mean, inv_std
        )
        self._cache = {"x": x, "mean": mean, "inv_std": inv_std}
        return self._output(y, training)

    def backward(self, dy: np.ndarray, *, input_grad: bool = True) -> np.ndarray:
        c = self._need_cache()
        dy = self._check_dy(dy, c["x"].shape)
        return self._backward_op(self.backend.layernorm_backward, c, dy)

    def extra_repr(self) -> str:
        return f"{self.num_features}, eps={self.eps}"
