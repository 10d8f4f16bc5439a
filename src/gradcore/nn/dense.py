"""Dense (fully connected) layer with a fused activation: ``y = act(x @ W + b)``.

Also the constructor-argument checks the layers of ``gradcore.nn`` share (``check_activation``,
``check_layer_dtype``, ``check_size``), in the ``gradcore._args`` wording
``"{owner}: {name} must be {expected}, got {given}"``.

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

import numpy as np

from .. import init as _init
from .._args import check_bool, check_choice, check_int
from ..backends import ACTIVATIONS
from .base import Layer, check_array, read_only

__all__ = ["Dense", "activation_property", "check_activation", "check_layer_dtype", "check_size"]


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


def check_layer_dtype(dtype, owner: str) -> np.dtype:
    """A layer dtype: float32 or float64, given as a NumPy type, dtype or name. ``None`` is
    refused (``np.dtype(None)`` would silently be float64)."""
    return _init._check_dtype(dtype, owner)


def check_size(name: str, value, owner: str) -> int:
    """A feature/unit count: an integer >= 1 (NumPy integers too, never bool)."""
    return check_int(name, value, owner=owner, min=1)


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
