"""A plain tanh RNN over whole batch-first sequences; the time loop runs inside one kernel call."""

from __future__ import annotations

import numpy as np

from . import init as _init
from ._checks import read_only
from ._recurrent import _Recurrent

__all__ = ["SimpleRNN"]


class SimpleRNN(_Recurrent):
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

    _owner = "SimpleRNN"
    _config_fields = ("input_size", "hidden_size", "return_sequences", "dtype")

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        return_sequences: bool = True,
        dtype=np.float32,
        seed=None,
    ) -> None:
        super().__init__(input_size, hidden_size, return_sequences, dtype)
        D, H = self.input_size, self.hidden_size
        rng = _init._make_rng(seed, owner=self._owner)
        self._add_param("Wx", _init.xavier_uniform((D, H), rng, self.dtype))
        self._add_param("Wh", _init.orthogonal((H, H), rng, self.dtype))
        self._add_param("b", np.zeros(H, self.dtype))
        self.grad_norms_through_time: tuple[np.ndarray] | None = None
        self.hT = None

    def forward(
        self, x: np.ndarray, h0: np.ndarray | None = None, training: bool = True
    ) -> np.ndarray:
        x = self._check_sequence(x)
        N, T, _ = x.shape
        H = self.hidden_size
        h0 = self._initial_state(h0, "h0", N)
        hs = np.empty((N, T, H), self.dtype)
        p = self.params
        self.backend.rnn_forward(x, p["Wx"], p["Wh"], p["b"], h0, hs, ws=self.ws)
        self.hT = self._output(hs[:, -1], training)
        self._cache = {"x": x, "h0": h0, "hs": hs}
        return self._sequence_output(hs, training)

    @property
    def hs(self) -> np.ndarray | None:
        """Every step's hidden state ``h_t`` of the last forward, ``[N, T, H]`` in the layer's
        dtype; ``None`` before the first forward. A read-only view (``backward`` uses it)."""
        return None if self._cache is None else read_only(self._cache["hs"])

    def backward(self, dy: np.ndarray, *, input_grad: bool = True) -> np.ndarray:
        c, dhs, dx, dh0, dh_norm = self._backward_start(dy)
        p, g = self.params, self.grads
        self.backend.rnn_backward(
            dhs, None, c["x"], p["Wx"], p["Wh"], c["h0"], c["hs"],
            dx, g["Wx"], g["Wh"], g["b"], dh0, dh_norm, ws=self.ws,
        )  # fmt: skip
        self.extra_input_grads = {"h0": dh0}
        self.grad_norms_through_time = (dh_norm,)
        return dx
