"""LSTM over whole batch-first sequences; the time loop runs inside one kernel call."""

from __future__ import annotations

import numpy as np

from .._args import check_real
from . import init as _init
from ._checks import read_only
from ._recurrent import _Recurrent

__all__ = ["LSTM"]


class LSTM(_Recurrent):
    """Long short-term memory layer, batch-first, gate order ``i, f, g, o`` (as PyTorch).

    For each step ``t``: ``a = x_t Wx + h_{t-1} Wh + b``; ``i, f, o = sigmoid(a_i, a_f, a_o)``,
    ``g = tanh(a_g)``; ``c_t = f c_{t-1} + i g``; ``h_t = o tanh(c_t)``.

    Differences from ``torch.nn.LSTM`` (deliberate): ONE bias vector ``b`` (torch has
    ``bias_ih`` + ``bias_hh``; set ``bias_ih = b, bias_hh = 0`` to interoperate), weights stored
    ``[in, 4H]`` (transposes of torch's ``weight_ih_l0``/``weight_hh_l0``), and the forget-gate
    bias initialised to 1.0 (Keras' ``unit_forget_bias``) so gradient flows through time from
    the start. ``Wx`` is Xavier-uniform, ``Wh`` orthogonal per gate block, other biases 0.

    Params: ``Wx`` ``[D, 4H]``, ``Wh`` ``[H, 4H]``, ``b`` ``[4H]``.
    Shapes: ``forward(x[N, T, D], h0=None, c0=None)`` -> ``[N, T, H]`` if
    ``return_sequences`` else ``[N, H]`` (the last hidden state). ``h0``/``c0`` ``[N, H]``
    default to zeros; after ``backward``, ``extra_input_grads`` holds ``{"h0": dh0, "c0": dc0}``
    and ``grad_norms_through_time`` holds ``(||dL/dh_t||, ||dL/dc_t||)`` per step (float64
    ``[T]`` each, Frobenius norms over the batch): the monitor's "gradient through time".
    The final states of the last forward are ``self.hT`` and ``self.cT``. ``N = 0`` (an empty
    batch) gives 0 rows and adds nothing to the gradients; ``T`` must be >= 1.

    Arguments: ``input_size``/``hidden_size`` integers >= 1; ``return_sequences`` bool
    (settable later, checked when set); ``dtype`` float32/float64; ``seed`` None, an int >= 0
    or a ``numpy.random.Generator``; ``forget_bias`` a finite real (the forget gates' initial
    bias).
    """

    _config_fields = ("input_size", "hidden_size", "return_sequences", "dtype", "forget_bias")

    _owner = "LSTM"

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        return_sequences: bool = True,
        dtype=np.float32,
        seed=None,
        forget_bias: float = 1.0,
    ) -> None:
        owner = self._owner
        super().__init__(input_size, hidden_size, return_sequences, dtype)
        self.forget_bias = check_real("forget_bias", forget_bias, owner=owner)
        D, H = self.input_size, self.hidden_size
        rng = _init._make_rng(seed, owner=owner)
        self._add_param("Wx", _init.xavier_uniform((D, 4 * H), rng, self.dtype))
        Wh = np.concatenate([_init.orthogonal((H, H), rng, self.dtype) for _ in range(4)], axis=1)
        self._add_param("Wh", Wh)
        b = np.zeros(4 * H, self.dtype)
        b[H : 2 * H] = self.forget_bias
        self._add_param("b", b)
        self.grad_norms_through_time: tuple[np.ndarray, np.ndarray] | None = None
        self.hT = self.cT = None

    def forward(
        self,
        x: np.ndarray,
        h0: np.ndarray | None = None,
        c0: np.ndarray | None = None,
        training: bool = True,
    ) -> np.ndarray:
        x = self._check_sequence(x)
        N, T, _ = x.shape
        H = self.hidden_size
        h0_, c0_ = self._initial_state(h0, "h0", N), self._initial_state(c0, "c0", N)
        hs = np.empty((N, T, H), self.dtype)
        cs = np.empty((N, T, H), self.dtype)
        gates = np.empty((N, T, 4 * H), self.dtype)
        p = self.params
        self.backend.lstm_forward(x, p["Wx"], p["Wh"], p["b"], h0_, c0_, hs, cs, gates, ws=self.ws)
        self.hT, self.cT = self._output(hs[:, -1], training), self._output(cs[:, -1], training)
        self._cache = {"x": x, "h0": h0_, "c0": c0_, "hs": hs, "cs": cs, "gates": gates}
        return self._sequence_output(hs, training)

    @property
    def gates(self) -> np.ndarray | None:
        """The activated gates ``[i, f, g, o]`` of the last forward, ``[N, T, 4H]`` in the layer's
        dtype (``gates[..., H:2H]`` is the forget gate); ``None`` before the first forward.
        A read-only view (``backward`` uses it)."""
        return None if self._cache is None else read_only(self._cache["gates"])

    def backward(self, dy: np.ndarray, *, input_grad: bool = True) -> np.ndarray:
        c, dhs, dx, dh0, dh_norm = self._backward_start(dy)
        dc0, dc_norm = np.empty_like(dh0), np.empty_like(dh_norm)
        p, g = self.params, self.grads
        self.backend.lstm_backward(
            dhs,
            None,
            None,
            c["x"],
            p["Wx"],
            p["Wh"],
            c["h0"],
            c["c0"],
            c["hs"],
            c["cs"],
            c["gates"],
            dx,
            g["Wx"],
            g["Wh"],
            g["b"],
            dh0,
            dc0,
            dh_norm,
            dc_norm,
            ws=self.ws,
        )
        self.extra_input_grads = {"h0": dh0, "c0": dc0}
        self.grad_norms_through_time = (dh_norm, dc_norm)
        return dx
