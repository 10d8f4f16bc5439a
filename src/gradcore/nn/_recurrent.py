"""What the recurrent layers share (``SimpleRNN``, ``LSTM``): ``input_size``/``hidden_size``,
``return_sequences`` (checked when set), the input and initial-state checks of ``forward``, the
``dL/dh_t`` of every step that ``backward`` hands the kernel, and the gradient through time
(``grad_norms_through_time``, ``extra_input_grads``). A base class below both, so neither
imports the other (as ``_norm.py`` for BatchNorm/LayerNorm)."""

from __future__ import annotations

import numpy as np

from .._args import check_bool
from ._checks import check_array, check_layer_dtype, check_size
from .base import Layer

__all__: list[str] = []


class _Recurrent(Layer):
    """Base of ``SimpleRNN`` and ``LSTM`` (private: not a layer type of its own). ``_owner``
    is the name the error messages give (the public class's)."""

    _owner = "_Recurrent"

    def __init__(self, input_size: int, hidden_size: int, return_sequences: bool, dtype) -> None:
        owner = self._owner
        super().__init__(check_layer_dtype(dtype, owner))
        self.input_size = check_size("input_size", input_size, owner)
        self.hidden_size = check_size("hidden_size", hidden_size, owner)
        self.return_sequences = return_sequences
        self.extra_input_grads: dict[str, np.ndarray] = {}
        #: per-step Frobenius norms over the batch of dL/d(state_t), one float64 [T] array per
        #: state (the RNN: (dh,); the LSTM: (dh, dc)); None before the first backward
        self.grad_norms_through_time: tuple[np.ndarray, ...] | None = None

    @property
    def return_sequences(self) -> bool:
        """Whether ``forward`` returns every hidden state or only the last (checked when set)."""
        return self._return_sequences

    @return_sequences.setter
    def return_sequences(self, value) -> None:
        value = check_bool("return_sequences", value, owner=self._owner)
        if value != getattr(self, "_return_sequences", value):
            self._cache = None  # backward must see the dy shape of the forward it follows
        self._return_sequences = value

    def _check_sequence(self, x) -> np.ndarray:
        """``x`` checked as ``[N, T, input_size]`` in the layer's dtype with ``T >= 1``."""
        owner = f"{self._owner}.forward"
        x = check_array(x, "x", owner=owner, dtype=self.dtype, shape=(None, None, self.input_size))
        if x.shape[1] < 1:
            raise ValueError(f"{owner}: x must have at least one time step, got {x.shape}")
        return x

    def _initial_state(self, s, name: str, N: int) -> np.ndarray:
        """An initial state ``[N, hidden_size]``: zeros for None, else ``s`` checked."""
        H = self.hidden_size
        if s is None:
            return np.zeros((N, H), self.dtype)
        return check_array(s, name, owner=f"{self._owner}.forward", dtype=self.dtype, shape=(N, H))

    def _sequence_output(self, hs: np.ndarray, training: bool) -> np.ndarray:
        """``forward``'s result from every step's state ``hs`` ``[N, T, H]``: ``hs`` with
        ``return_sequences``, else the last step's ``[N, H]`` (a copy)."""
        return self._output(hs if self.return_sequences else hs[:, -1].copy(), training)

    def _backward_start(self, dy: np.ndarray) -> tuple:
        """What ``backward`` starts from: the cache of the last forward, dL/dh_t of every step
        (:meth:`_step_grads`), and fresh outputs for the kernel: ``dx`` ``[N, T, D]``, ``dh0``
        ``[N, H]`` (layer dtype) and ``dh_norm`` ``[T]`` (float64)."""
        c = self._need_cache()
        x, hs = c["x"], c["hs"]
        N, T, _ = x.shape
        dhs = self._step_grads(dy, hs)
        dh0 = np.empty((N, self.hidden_size), self.dtype)
        return c, dhs, np.empty_like(x), dh0, np.empty(T, np.float64)

    def _step_grads(self, dy: np.ndarray, hs: np.ndarray) -> np.ndarray:
        """dL/dh_t of every step ``[N, T, H]`` from ``backward``'s ``dy``: ``dy`` itself with
        ``return_sequences``, else zeros but the last step."""
        if self.return_sequences:
            return self._check_dy(dy, hs.shape)
        dy = self._check_dy(dy, (hs.shape[0], self.hidden_size))
        dhs = np.zeros_like(hs)
        dhs[:, -1] = dy
        return dhs

    def extra_repr(self) -> str:
        return f"{self.input_size}, {self.hidden_size}, return_sequences={self.return_sequences}"
