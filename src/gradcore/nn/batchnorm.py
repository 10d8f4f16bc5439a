"""BatchNorm over the features of ``[N, C]`` inputs, with PyTorch ``BatchNorm1d`` semantics."""

from __future__ import annotations

import numpy as np

from .._args import check_bool
from ._checks import check_array, real_property
from ._norm import _AffineNorm

__all__ = ["BatchNorm"]


class BatchNorm(_AffineNorm):
    """Batch normalization ``y = gamma (x - mean) / sqrt(var + eps) + beta`` per feature.

    Training: batch mean and *biased* variance normalise; the running statistics are updated
    as ``running = (1 - momentum) running + momentum batch_stat`` with the *unbiased* batch
    variance for ``running_var`` (exactly ``torch.nn.BatchNorm1d``). A training batch of one
    sample raises ``ValueError`` (as torch). Evaluation uses the running statistics.

    Params ``gamma`` (ones), ``beta`` (zeros), ``[C]``; buffers ``running_mean`` (zeros),
    ``running_var`` (ones), ``num_batches_tracked``. Shapes: ``x`` ``[N, C]`` -> ``y`` ``[N, C]``
    (in evaluation ``N = 0`` gives 0 rows; training needs ``N >= 2``).

    Arguments: ``num_features`` an integer >= 1; ``momentum`` a finite real in ``[0, 1]``, the
    weight of the new batch (torch's convention; torch's ``momentum=None``, a cumulative
    average, is not supported); ``eps`` a finite real > 0 (0 would divide by zero on a
    constant feature). ``momentum`` and ``eps`` can be set later and are checked when set.
    """

    _config_fields = ("num_features", "momentum", "eps", "dtype")

    momentum = real_property(
        "momentum",
        "BatchNorm",
        "Weight of the new batch in the running statistics, in ``[0, 1]`` (checked when set).",
        min=0,
        max=1,
    )
    eps = real_property(
        "eps",
        "BatchNorm",
        "Added to the variance before the square root, finite > 0 (checked when set).",
        min=0,
        min_open=True,
    )

    def __init__(
        self, num_features: int, momentum: float = 0.1, eps: float = 1e-5, dtype=np.float32
    ) -> None:
        super().__init__(num_features, dtype, "BatchNorm")
        self.momentum, self.eps = momentum, eps
        self.buffers["running_mean"] = np.zeros(self.num_features, self.dtype)
        self.buffers["running_var"] = np.ones(self.num_features, self.dtype)
        self.buffers["num_batches_tracked"] = np.zeros((), np.int64)

    def forward(self, x: np.ndarray, training: bool = True) -> np.ndarray:
        x = check_array(
            x, "x", owner="BatchNorm.forward", dtype=self.dtype, shape=(None, self.num_features)
        )
        training = check_bool("training", training, owner="BatchNorm.forward")
        y = np.empty_like(x)
        p, b = self.params, self.buffers
        if training:
            if x.shape[0] < 2:
                raise ValueError(
                    f"BatchNorm.forward: training needs more than one sample per batch to "
                    f"estimate the variance, got x of shape {x.shape} (use training=False "
                    f"to normalise with the running statistics)"
                )
            mean = np.empty(self.num_features, self.dtype)
            inv_std = np.empty(self.num_features, self.dtype)
            self.backend.batchnorm_forward_train(
                x,
                p["gamma"],
                p["beta"],
                b["running_mean"],
                b["running_var"],
                self.momentum,
                self.eps,
                y,
                mean,
                inv_std,
            )
            b["num_batches_tracked"] += 1
        else:
            self.backend.batchnorm_forward_eval(
                x, p["gamma"], p["beta"], b["running_mean"], b["running_var"], self.eps, y
            )
            mean = b["running_mean"].copy()
            inv_std = (1.0 / np.sqrt(b["running_var"].astype(np.float64) + self.eps)).astype(
                self.dtype
            )
        self._cache = {"x": x, "mean": mean, "inv_std": inv_std, "training": training}
        return self._output(y, training)

    def backward(self, dy: np.ndarray, *, input_grad: bool = True) -> np.ndarray:
        c = self._need_cache()
        dy = self._check_dy(dy, c["x"].shape)
        if c["training"]:
            return self._backward_op(self.backend.batchnorm_backward, c, dy)
        dx = np.empty_like(dy)
        # Evaluation mode is a per-feature affine map with fixed statistics:
        # dx = dy gamma inv_std, dgamma += sum dy xhat, dbeta += sum dy.
        xhat = (c["x"] - c["mean"]) * c["inv_std"]
        self.grads["beta"] += dy.sum(axis=0, dtype=np.float64).astype(self.dtype)
        self.grads["gamma"] += (dy * xhat).sum(axis=0, dtype=np.float64).astype(self.dtype)
        np.multiply(dy, self.params["gamma"] * c["inv_std"], out=dx)
        return dx

    def extra_repr(self) -> str:
        return f"{self.num_features}, momentum={self.momentum}, eps={self.eps}"
