"""Dense (fully connected) layer with a fused activation: ``y = act(x @ W + b)``.

The constructor-argument checks the layers share (``check_activation``, ``check_layer_dtype``,
``check_size``, ``activation_property``) live in ``gradcore.nn._checks`` (with the input
conventions of every layer); they are re-exported here for code that imported them from this
module.
"""

from __future__ import annotations

import numpy as np

from .._args import check_bool
from . import init as _init
from ._checks import (
    activation_property,
    check_activation,
    check_array,
    check_layer_dtype,
    check_size,
    read_only,
)
from .base import Layer

__all__ = ["Dense", "activation_property", "check_activation", "check_layer_dtype", "check_size"]


class Dense(Layer):
    """Fully connected layer ``y = act(x @ W + b)`` with the activation fused into the kernel.

    Parameters: ``W`` ``[in_features, out_features]`` (note: the transpose of PyTorch's
    ``Linear.weight``), ``b`` ``[out_features]`` (zeros). ``init`` initialises ``W`` (a name from
    ``gc.init`` or a callable ``(shape, rng, dtype)``); ``seed`` makes it reproducible.

    Shapes: ``x`` ``[N, in_features]`` -> ``y`` ``[N, out_features]``, in the layer's dtype
    (``N = 0`` gives 0 rows and adds nothing to the gradients, as ``torch.nn.Linear``).

    Arguments: ``in_features``/``out_features`` integers >= 1; ``activation`` a name of
    ``gc.backends.ACTIVATIONS`` or ``None`` (linear; settable later, checked when set);
    ``init`` a name or callable returning a finite array of shape ``[in, out]``; ``dtype``
    float32/float64; ``seed`` None, an int >= 0 or a ``numpy.random.Generator``; ``bias`` bool.
    Bad arguments raise ``TypeError`` (type) or ``ValueError`` (value) naming them.
    """

    _config_fields = ("in_features", "out_features", "activation", "dtype", "bias=use_bias")

    activation = activation_property("Dense", "fused activation")

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
        owner = "Dense"
        super().__init__(check_layer_dtype(dtype, owner))
        self.in_features = check_size("in_features", in_features, owner)
        self.out_features = check_size("out_features", out_features, owner)
        self.activation = activation
        bias = check_bool("bias", bias, owner=owner)
        rng = _init._make_rng(seed, owner=owner)
        shape = (self.in_features, self.out_features)
        self._add_param("W", _init._initialize(init, shape, rng, self.dtype, owner=owner))
        self.use_bias = bias
        if bias:
            self._add_param("b", np.zeros(self.out_features, self.dtype))
        self._zero_b = None if bias else np.zeros(self.out_features, self.dtype)

    @property
    def preactivation(self) -> np.ndarray | None:
        """``z = x @ W + b`` of the last forward (``[N, out_features]``, the layer's dtype),
        before the activation; ``None`` before the first forward. A read-only view
        (``backward`` uses it). ``gc.init.lsuv`` rescales ``W`` from its variance."""
        return None if self._cache is None else read_only(self._cache["z"])

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

    def extra_repr(self) -> str:
        return f"{self.in_features}, {self.out_features}, activation={self.activation!r}"
