"""A plain tanh RNN over whole batch-first sequences; the time loop runs inside one kernel call."""

from __future__ import annotations

import numpy as np

from .._args import check_bool
from . import init as _init
from ._checks import check_layer_dtype, check_size
from .base import Layer, check_array, read_only

__all__ = ["SimpleRNN"]


class SimpleRNN(Layer):
    """Fully connected recurrent layer with tanh (Elman; Keras' ``SimpleRNN``), batch-first.

    For each step ``t``: ``h_t = tanh(x_t Wx + h_{t-1} Wh + b)``.

    As :class:`~gradcore.nn.LSTM` (deliberate differences from
    ``torch.nn.RNN(nonlinearity='tanh')``): ONE bias vector ``b`` (torch has ``bias_ih`` +
    ``bias_hh``; set ``bias_ih = b, bias_hh = 0`` to interoperate) and weights stored
    ``[in, H]`` (transposes of torch's ``weight_ih_l0``/``weight_hh_l0``). Initialised as
    Keras' ``SimpleRNN``: ``Wx`` Xavier-uniform, ``Wh`` orthogonal, ``b`` zeros.

    Params: ``Wx`` ``[D, H]``, ``Wh`` ``[H, H]``, ``b`` ``[H]``.
    Shapes: ``forward(x[N, T, D], h0=None)`` -> ``[N, T, H]`` if ``return_sequences`` else
    ``[N, H]`` (the last hidden state). ``h0`` ``[N, H]`` defaults to zeros; after ``backward``,
    ``extra_input_grads`` holds ``{"h0": dh0}`` and ``grad_norms_through_time`` holds
    ``(||dL/dh_t||,)``, a 1-tuple (one state, where the LSTM's has two) of a float64 ``[T]``
    array of Frobenius norms over the batch, from the kernel: the gradient through time.
    The final state of the last forward is ``self.hT``; ``self.hs`` is every step's state
    (read-only, ``[N, T, H]``). ``N = 0`` (an empty batch) gives 0 rows and adds nothing to the
    gradients; ``T`` must be >= 1.

    Arguments: ``input_size``/``hidden_size`` integers >= 1; ``return_sequences`` bool
    (settable later, checked when set); ``dtype`` float32/float64; ``seed`` None, an int >= 0
    or a ``numpy.random.Generator``.
    """

    @property
    def return_sequences(self) -> bool:
        """Whether ``forward`` returns every hidden state or only the last (checked when set)."""
        return self._return_sequences

    @return_sequences.setter
    def return_sequences(self, value) -> None:
        value = check_bool("return_sequences", value, owner="SimpleRNN")
        if value != getattr(self, "_return_sequences", value):
            self._cache = None  # backward must see the dy shape of the forward it follows
        self._return_sequences = value

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        return_sequences: bool = True,
        dtype=np.float32,
        seed=None,
    ) -> None:
        owner = "SimpleRNN"
        super().__init__(check_layer_dtype(dtype, owner))
        self.input_size = check_size("input_size", input_size, owner)
        self.hidden_size = check_size("hidden_size", hidden_size, owner)
        self.return_sequences = return_sequences
        D, H = self.input_size, self.hidden_size
        rng = _init._make_rng(seed, owner=owner)
        self._add_param("Wx", _init.xavier_uniform((D, H), rng, self.dtype))
        self._add_param("Wh", _init.orthogonal((H, H), rng, self.dtype))
        self._add_param("b", np.zeros(H, self.dtype))
        self.extra_input_grads: dict[str, np.ndarray] = {}
        self.grad_norms_through_time: tuple[np.ndarray] | None = None
        self.hT = None

    def forward(
        self, x: np.ndarray, h0: np.ndarray | None = None, training: bool = True
    ) -> np.ndarray:
        D, H = self.input_size, self.hidden_size
        owner = "SimpleRNN.forward"
        x = check_array(x, "x", owner=owner, dtype=self.dtype, shape=(None, None, D))
        N, T, _ = x.shape
        if T < 1:
            raise ValueError(f"{owner}: x must have at least one time step, got {x.shape}")
        if h0 is None:
            h0 = np.zeros((N, H), self.dtype)
        else:
            h0 = check_array(h0, "h0", owner=owner, dtype=self.dtype, shape=(N, H))
        hs = np.empty((N, T, H), self.dtype)
        p = self.params
        self.backend.rnn_forward(x, p["Wx"], p["Wh"], p["b"], h0, hs, ws=self.ws)
        self.hT = self._output(hs[:, -1], training)
        self._cache = {"x": x, "h0": h0, "hs": hs}
        return self._output(hs if self.return_sequences else hs[:, -1].copy(), training)

    @property
    def hs(self) -> np.ndarray | None:
        """Every step's hidden state ``h_t`` of the last forward, ``[N, T, H]`` in the layer's
        dtype; ``None`` before the first forward. A read-only view (``backward`` uses it)."""
        return None if self._cache is None else read_only(self._cache["hs"])

    def backward(self, dy: np.ndarray, *, input_grad: bool = True) -> np.ndarray:
        c = self._need_cache()
        x, hs = c["x"], c["hs"]
        N, T, _ = x.shape
        H = self.hidden_size
        if self.return_sequences:
            dhs = self._check_dy(dy, hs.shape)
        else:
            dy = self._check_dy(dy, (N, H))
            dhs = np.zeros_like(hs)
            dhs[:, -1] = dy
        dx = np.empty_like(x)
        dh0 = np.empty((N, H), self.dtype)
        dh_norm = np.empty(T, np.float64)
        p, g = self.params, self.grads
        self.backend.rnn_backward(
            dhs, None, x, p["Wx"], p["Wh"], c["h0"], hs,
            dx, g["Wx"], g["Wh"], g["b"], dh0, dh_norm, ws=self.ws,
        )  # fmt: skip
        self.extra_input_grads = {"h0": dh0}
        self.grad_norms_through_time = (dh_norm,)
        return dx

    def _config_args(self) -> dict:
        return {
            "input_size": self.input_size,
            "hidden_size": self.hidden_size,
            "return_sequences": self.return_sequences,
            "dtype": self.dtype.name,
        }

    def extra_repr(self) -> str:
        return f"{self.input_size}, {self.hidden_size}, return_sequences={self.return_sequences}"
