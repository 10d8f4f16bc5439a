"""What the gradient monitor recorded: columnar NumPy arrays, bounded in memory.

One *record* is one observed training step. Columns (``R`` = ``len(history)`` records,
``S`` parameter tensors, ``L`` layers, ``T`` time steps of an LSTM), all float64:

- ``history.steps[R]`` (int64: the training step of each record), ``epochs[R]`` (int64),
  ``loss``, ``grad_norm`` (the global gradient norm BEFORE clipping), ``clip_coef`` (the factor
  clipping multiplied the gradients by: 1.0 = not clipped; NaN = unknown), ``lr``;
- ``history.tensor[field]`` ``[R, S]`` for ``field`` in :data:`TENSOR_FIELDS`: ``grad_norm``
  (NaN for frozen tensors), ``param_norm`` and ``update_norm`` -- ``||w' - w||`` and ``||w'||``
  for the update applied right after the record (``w'`` the weights after it; NaN until the
  next step shows it), so ``update_ratio()`` is ``||Δw|| / ||w'||``;
- ``history.layer[field]`` ``[R, L]`` for ``field`` in :data:`LAYER_FIELDS`: the output's
  mean, std, min, max and 25/50/75th percentiles (from a strided sample of at most
  :data:`QUANTILE_SAMPLE` elements), the fraction of saturated elements (sigmoid/tanh
  outputs whose derivative is below the threshold) and of dead units (ReLU units that are 0
  for every row of the batch; NaN for other activations), the fraction of zero outputs,
  ``grad_out`` = ||dL/dy|| arriving at the output, ``grad_in`` = ||dL/dx|| leaving at the
  input (NaN where it is not computed: ``fit`` skips the first layer's input gradient),
  ``nonfinite_out`` / ``nonfinite_grad`` counts, and ``rows`` (batch rows seen);
- ``history.recurrent[name]`` (older name ``history.lstm``): ``{"dh": [R, T], "dc": [R, T],
  "forget": [R]}`` -- ||dL/dh_t|| and ||dL/dc_t|| for every t and the mean forget-gate
  activation, for every recurrent layer (a SimpleRNN's, with one state and no gates: ``dc``
  and ``forget`` NaN).

Memory is bounded by ``max_records``. **Down-sampling rule**: records are taken every
``stride`` steps (initially the monitor's ``every``); when ``max_records`` are held and another
arrives, every second record is dropped (records 0, 2, 4, ... stay) and ``stride`` doubles. So
the history always spans the whole run at uniform spacing (every record at a multiple of
``stride``), with between ``max_records / 2`` and ``max_records`` records, whatever the number
of steps. The first non-finite event is kept apart (``first_nonfinite``) and never dropped; its
step is recorded even off the grid.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = [
    "LAYER_FIELDS",
    "QUANTILE_SAMPLE",
    "STEP_FIELDS",
    "TENSOR_FIELDS",
    "GradientHistory",
    "jsonable",
]

STEP_FIELDS = ("loss", "grad_norm", "clip_coef", "lr")
TENSOR_FIELDS = ("grad_norm", "param_norm", "update_norm")
LAYER_FIELDS = (
    "act_mean",
    "act_std",
    "act_min",
    "act_max",
    "act_q25",
    "act_q50",
    "act_q75",
    "saturated",
    "dead",
    "zero",
    "grad_out",
    "grad_in",
    "nonfinite_out",
    "nonfinite_grad",
    "rows",
)
#: Percentiles come from a strided sample of at most this many output elements.
QUANTILE_SAMPLE = 512


class GradientHistory:
    """Columnar record of a monitored run (see the module docstring for every column).

    Attributes
    ----------
    tensor_names : list[str]  (S) arena segment names, e.g. ``"0.Dense.W"``
    tensor_layers : list[str] (S) the layer each tensor belongs to, e.g. ``"0.Dense"``
    tensor_shapes : list[tuple]
    layer_names : list[str]   (L) leaf layers in forward order, as the probe saw them
    layer_info : dict[str, dict]  class, activation and parameter names of each layer
    stride : int   the current recording interval in steps (doubles on down-sampling)
    first_nonfinite : dict | None  step, epoch, where ("parameter", "forward", "loss",
        "backward"), layer, tensor, detail
    epoch_logs : list[dict]  fit's per-epoch logs (loss, accuracy, val_*), if any
    meta : dict  ``loss`` (the loss class name), ``classes`` (output width) and ``optimizer``
        (class name) when ``fit`` or
        ``check`` told the monitor
    """

    def __init__(self, tensor_names, tensor_layers, tensor_shapes, *, max_records, stride):
        if not isinstance(max_records, int | np.integer) or max_records < 2:
            raise ValueError(f"max_records must be an int >= 2, got {max_records!r}")
        self.max_records = int(max_records)
        self.stride = int(stride)
        self.tensor_names = list(tensor_names)
        self.tensor_layers = list(tensor_layers)
        self.tensor_shapes = [tuple(s) for s in tensor_shapes]
        self.layer_names: list[str] = []
        self.layer_info: dict[str, dict] = {}
        self.first_nonfinite: dict | None = None
        self.epoch_logs: list[dict] = []
        self.meta: dict = {}  # "loss" (class name), "classes" (softmax outputs), when known
        cap, S = self.max_records, len(self.tensor_names)
        self._n = 0
        self._steps = np.zeros(cap, np.int64)
        self._epochs = np.zeros(cap, np.int64)
        # dense blocks, so a record is a handful of NumPy writes (the monitor's cost per step)
        self._step_block = np.full((cap, len(STEP_FIELDS)), np.nan)
        self._tensor_block = np.full((cap, len(TENSOR_FIELDS), S), np.nan)
        self._layer_block = np.full((cap, 0, len(LAYER_FIELDS)), np.nan)
        self._lstm: dict[str, dict[str, np.ndarray]] = {}

    # -- shape of the record ------------------------------------------------------------------
    def __len__(self) -> int:
        return self._n

    def add_layer(self, name: str, info: dict) -> int:
        """Add a layer column (NaN for the records before it appeared); returns its index."""
        if name in self.layer_info:
            return self.layer_names.index(name)
        self.layer_names.append(name)
        self.layer_info[name] = dict(info)
        col = np.full((self.max_records, 1, len(LAYER_FIELDS)), np.nan)
        self._layer_block = np.concatenate([self._layer_block, col], axis=1)
        return len(self.layer_names) - 1

    def _lstm_cols(self, name: str, T: int) -> dict[str, np.ndarray]:
        cols = self._lstm.get(name)
        if cols is None or cols["dh"].shape[1] < T:
            new = {k: np.full((self.max_records, T), np.nan) for k in ("dh", "dc")}
            new["forget"] = np.full(self.max_records, np.nan)
            if cols is not None:  # a longer sequence than before: widen, NaN-padded
                t0 = cols["dh"].shape[1]
                new["dh"][:, :t0], new["dc"][:, :t0] = cols["dh"], cols["dc"]
                new["forget"][:] = cols["forget"]
            self._lstm[name] = cols = new
        return cols

    # -- writing ----------------------------------------------------------------------------
    def new_record(self, step: int, epoch: int, force: bool = False) -> int | None:
        """Append a record (down-sampling first if full); returns its row index, or ``None``
        when the down-sampling just doubled the stride and ``step`` is off the new grid (an odd
        ``max_records``). ``force`` records anyway (the first non-finite step)."""
        if self._n == self.max_records:
            self._downsample()
            if step % self.stride and not force:
                return None
        r = self._n
        self._n += 1
        self._steps[r], self._epochs[r] = step, epoch
        for a in self._blocks():
            a[r] = np.nan
        return r

    def _blocks(self) -> list[np.ndarray]:
        out = [self._step_block, self._tensor_block, self._layer_block]
        for cols in self._lstm.values():
            out += cols.values()
        return out

    def _downsample(self) -> None:
        keep = np.arange(0, self._n, 2)
        k = keep.size
        self._steps[:k] = self._steps[keep]
        self._epochs[:k] = self._epochs[keep]
        for a in self._blocks():
            a[:k] = a[keep]
        self._n = k
        self.stride *= 2

    def set_step(self, r: int, values) -> None:
        """``values`` in :data:`STEP_FIELDS` order."""
        self._step_block[r] = values

    def set_tensors(self, r: int, field: str, values: np.ndarray) -> None:
        self._tensor_block[r, TENSOR_FIELDS.index(field)] = values

    def set_layers(self, r: int, values: np.ndarray) -> None:
        """``values`` ``[L', F]`` for the first L' layers, fields in :data:`LAYER_FIELDS` order."""
        self._layer_block[r, : values.shape[0]] = values

    def set_lstm(self, r: int, name: str, dh, dc, forget: float) -> None:
        cols = self._lstm_cols(name, len(dh))
        cols["dh"][r, : len(dh)] = dh
        cols["dc"][r, : len(dc)] = dc
        cols["forget"][r] = forget

    # -- reading ----------------------------------------------------------------------------
    @property
    def steps(self) -> np.ndarray:
        return self._steps[: self._n]

    @property
    def epochs(self) -> np.ndarray:
        return self._epochs[: self._n]

    def __getattr__(self, name: str):
        if name in STEP_FIELDS:
            return self._step_block[: self._n, STEP_FIELDS.index(name)]
        raise AttributeError(name)

    @property
    def tensor(self) -> dict[str, np.ndarray]:
        """``{field: [R, S]}`` for :data:`TENSOR_FIELDS` (views)."""
        return {f: self._tensor_block[: self._n, k] for k, f in enumerate(TENSOR_FIELDS)}

    @property
    def layer(self) -> dict[str, np.ndarray]:
        """``{field: [R, L]}`` for :data:`LAYER_FIELDS` (views)."""
        return {f: self._layer_block[: self._n, :, k] for k, f in enumerate(LAYER_FIELDS)}

    @property
    def recurrent(self) -> dict[str, dict[str, np.ndarray]]:
        """``{layer name: {"dh": [R, T], "dc": [R, T], "forget": [R]}}`` for every recurrent
        layer (LSTM, SimpleRNN), in the order they were first recorded."""
        return {n: {k: a[: self._n] for k, a in c.items()} for n, c in self._lstm.items()}

    @property
    def lstm(self) -> dict[str, dict[str, np.ndarray]]:
        """The older name of :attr:`recurrent` (``history.json`` keeps the key ``"lstm"``)."""
        return self.recurrent

    def update_ratio(self) -> np.ndarray:
        """``||Δw|| / ||w||`` per record and tensor, ``[R, S]`` (NaN where unknown or w = 0)."""
        t = self.tensor
        with np.errstate(divide="ignore", invalid="ignore"):
            r = t["update_norm"] / t["param_norm"]
        r[~np.isfinite(r)] = np.nan
        return r

    def layer_grad_norms(self, ndim_min: int = 2) -> tuple[list[str], np.ndarray]:
        """Per layer, the norm of its weight gradients (tensors with ``ndim >= ndim_min``; W, Wx,
        Wh), ``(names, [R, L'])`` in model order; layers without such tensors are left out."""
        names: list[str] = []
        cols: list[np.ndarray] = []
        g = self.tensor["grad_norm"]
        for i, (layer, shape) in enumerate(
            zip(self.tensor_layers, self.tensor_shapes, strict=True)
        ):
            if len(shape) < ndim_min:
                continue
            if names and names[-1] == layer:
                cols[-1] = np.sqrt(cols[-1] ** 2 + g[:, i] ** 2)
            else:
                names.append(layer)
                cols.append(g[:, i].copy())
        arr = np.stack(cols, axis=1) if cols else np.zeros((len(self), 0))
        return names, arr

    def to_dict(self) -> dict:
        """Everything as JSON-able values (NaN and inf become ``None``)."""
        return jsonable(
            {
                "stride": self.stride,
                "max_records": self.max_records,
                "steps": self.steps,
                "epochs": self.epochs,
                **{f: getattr(self, f) for f in STEP_FIELDS},
                "tensor_names": self.tensor_names,
                "tensor_layers": self.tensor_layers,
                "tensor_shapes": [list(s) for s in self.tensor_shapes],
                "tensor": self.tensor,
                "layer_names": self.layer_names,
                "layer_info": self.layer_info,
                "layer": self.layer,
                "lstm": self.lstm,
                "first_nonfinite": self.first_nonfinite,
                "epoch_logs": self.epoch_logs,
                "meta": self.meta,
            }
        )

    def __repr__(self) -> str:
        return (
            f"GradientHistory({len(self)} records, stride {self.stride}, "
            f"{len(self.tensor_names)} tensors, {len(self.layer_names)} layers, "
            f"max_records={self.max_records})"
        )


def jsonable(v):
    """Arrays to (nested) lists, NumPy scalars to Python ones, NaN/inf to ``None``."""
    if isinstance(v, dict):
        return {str(k): jsonable(x) for k, x in v.items()}
    if isinstance(v, np.ndarray):
        return jsonable(v.tolist())
    if isinstance(v, list | tuple):
        return [jsonable(x) for x in v]
    if isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, float) and not math.isfinite(v):
        return None
    return v
