"""The gradient monitor: a ``fit`` callback and an ``nn`` probe that records, cheaply, what the
gradients and activations of every layer do.

Free first: per-tensor gradient norms come from the arena's norms pass that ``fit`` (and
``clip_grad_norm``) already make; the LSTM's gradient through time from its kernel. What needs
a pass over an activation is one ``act_stats`` kernel call per layer output, one
``segment_sumsq`` per gradient array, and one ``segment_delta_sumsq`` pass over the parameter
buffer gives every tensor's update/weight ratio.

It observes, it never changes the math: it only reads the arrays the layers hand over, keeps
its own copy of the parameters for the update ratio, and draws no random numbers. A model
trained with and without it ends bit-identical (tested).
"""

from __future__ import annotations

import math
from numbers import Real

import numpy as np

from .. import losses as _losses
from .._args import check_int, describe
from .._data_checks import check_data
from ..backends import get_backend
from ..backends._validate import SATURATION
from ..callbacks import Callback
from ..optim import Optimizer
from ..optim.clip import tensor_grad_norms
from .diagnosis import diagnose
from .findings import Diagnosis, Thresholds
from .history import LAYER_FIELDS, QUANTILE_SAMPLE, GradientHistory
from .report import save_report as _save_report

_F = {f: k for k, f in enumerate(LAYER_FIELDS)}
_NF = len(LAYER_FIELDS)

__all__ = ["GradientMonitor", "check"]

_QS = (0.25, 0.5, 0.75)


def _layer_info(layer) -> dict:
    info = {"class": type(layer).__name__, "params": sorted(layer.own_params())}
    act = getattr(layer, "activation", None)
    if isinstance(act, str):
        info["activation"] = act
    for attr in ("in_features", "out_features", "input_size", "hidden_size", "num_features"):
        v = getattr(layer, attr, None)
        if isinstance(v, int):
            info[attr] = v
    return info


class GradientMonitor(Callback):
    """Record every layer's gradients and activations during training, then diagnose them.

    Use it as a ``fit`` callback::

        mon = gc.monitor.GradientMonitor(model, every=1)
        model.fit(X, y, optimizer=opt, epochs=5, callbacks=[mon])
        print(mon.diagnose())            # the health report
        mon.save_report("run1/")         # PNG figures + report.md + history.json

    or in a hand-written loop, calling :meth:`record` after ``backward`` (and clipping) and
    before ``opt.step()``::

        mon = gc.monitor.GradientMonitor(model)
        for xb, yb in batches:
            model.zero_grad()
            value = loss.forward(model.forward(xb), yb)
            model.backward(loss.backward())
            mon.record(loss=value, lr=opt.lr)
            opt.step()

    Parameters
    ----------
    model : a gradcore model (``Sequential`` / ``Residual`` root for per-layer statistics; any
        layer for per-tensor ones). The monitor attaches a probe to it (``model.set_probe``)
        until :meth:`detach`; one monitor per model at a time.
    every : record every ``every``-th step (step 0 first). Other steps cost one test per layer.
    max_records : bound on the records kept (``GradientHistory`` doubles its stride and drops
        every second record when full, so memory stays fixed for any run length).
    thresholds : :class:`Thresholds` for :meth:`diagnose` (defaults documented there).
    optimizer : read ``lr`` from it in a hand-written loop (``fit`` passes its own).

    Works on every backend and for float32 and float64 models; statistics are float64.

    Attributes
    ----------
    history : :class:`GradientHistory`, the columnar record (empty until the first step)
    """

    def __init__(
        self,
        model,
        every: int = 1,
        *,
        max_records: int = 2048,
        thresholds: Thresholds | None = None,
        optimizer=None,
    ) -> None:
        owner = "GradientMonitor"
        _check_model(model, owner)
        every = check_int("every", every, owner=owner, min=1)
        max_records = check_int("max_records", max_records, owner=owner, min=2)
        if thresholds is not None and not isinstance(thresholds, Thresholds):
            raise TypeError(
                f"{owner}: thresholds must be None or a gc.monitor.Thresholds, got "
                f"{describe(thresholds)}"
            )
        if optimizer is not None and not isinstance(optimizer, Optimizer):
            raise TypeError(
                f"{owner}: optimizer must be None or a gc.optim optimizer (read for its lr), "
                f"got {describe(optimizer)}"
            )
        self.model = model
        self.every = int(every)
        self.thresholds = thresholds or Thresholds()
        self.optimizer = optimizer
        arena = model.parameters()
        self.arena = arena
        self.history = GradientHistory(
            [s.name for s in arena.segments],
            [s.name.rsplit(".", 1)[0] if "." in s.name else "" for s in arena.segments],
            [s.shape for s in arena.segments],
            max_records=int(max_records),
            stride=self.every,
        )
        S = len(arena)
        self._sumsq = np.empty(S, np.float64)
        self._sumsq2 = np.empty(S, np.float64)
        self._prev: np.ndarray | None = None  # the parameters at the pending record
        self._pending: int | None = None  # row whose update norm the next call completes
        self._step = 0
        self._epoch = 0
        self._recording = True
        self._cur = np.full((0, _NF), np.nan)  # this step's layer statistics [L, F]
        self._lstm_cur: dict[str, tuple] = {}
        self._last_out: dict[str, np.ndarray] = {}  # references, for locating a NaN
        self._last_grad: dict[str, tuple] = {}
        self._order: list[str] = []  # layers in forward order
        self._layers: dict[str, object] = {}
        self._meta: dict[str, tuple] = {}
        self._sat_thr = float(self.thresholds.saturation_derivative)
        self._version_at_backward = -1
        self._version_at_record = arena.norms_version
        self._prev_dx = None
        self._prev_dx_norm = (math.nan, 0)
        self._bufs: dict[str, np.ndarray] = {}
        self._offsets: dict[int, np.ndarray] = {}
        self._out6 = np.empty(6, np.float64)
        self._one = np.empty(1, np.float64)
        self._one_nf = np.empty(1, np.int64)
        self.attached = False
        self.attach()

    # -- the probe (gradcore.nn.probe) ----------------------------------------------------------
    def attach(self) -> None:
        """Attach the probe to the model (done by the constructor)."""
        set_probe = getattr(self.model, "set_probe", None)
        if set_probe is not None:
            set_probe(self)
            self.attached = True

    def detach(self) -> None:
        """Stop observing the model's layers (the history stays readable)."""
        if self.attached and getattr(self.model, "_probe", None) is self:
            self.model.set_probe(None)
        self.attached = False

    def _see(self, name: str, layer) -> tuple:
        """Per-layer constants, computed once: (row in the history's layer block, saturation
        code, is ReLU, its recurrence: 0 none, 1 a gradient through time (the public
        ``grad_norms_through_time``, e.g. SimpleRNN), 2 that and gates (the LSTM's forget gate
        is recorded too))."""
        meta = self._meta.get(name)
        if meta is None or self._layers.get(name) is not layer:
            act = getattr(layer, "activation", None)
            act = act if isinstance(act, str) else None
            j = self.history.add_layer(name, _layer_info(layer))
            if name not in self._layers:
                self._order.append(name)
            if j >= self._cur.shape[0]:
                grown = np.full((2 * j + 4, _NF), np.nan)
                grown[: self._cur.shape[0]] = self._cur
                self._cur = grown
            rec = hasattr(layer, "grad_norms_through_time")
            rec += rec and hasattr(type(layer), "gates")
            meta = (j, SATURATION.get(act, 0), act == "relu", rec)
            self._meta[name] = meta
            self._layers[name] = layer
        return meta

    def forward(self, name: str, layer, y: np.ndarray, training: bool) -> None:
        if not training:
            return
        self._last_out[name] = y
        if not self._recording:
            return
        j, sat, relu, rec = self._see(name, layer)
        C = y.shape[-1] if y.ndim else 1
        colnz = self._bufs.get(name)
        if colnz is None or colnz.shape[0] != C:
            colnz = self._bufs[name] = np.empty(C, np.int64)
        yc = y if y.flags.c_contiguous else np.ascontiguousarray(y)
        out = self._out6
        get_backend().act_stats(yc, sat, self._sat_thr, colnz, out)
        n = yc.size
        row = self._cur[j]
        row[_F["rows"]] = n // C if C else 0
        row[_F["nonfinite_out"]] = out[5]
        if n:
            s, ss, mn, mx, nsat, nbad = out.tolist()
            mean = s / n
            sample = yc.reshape(-1)[:: max(1, n // QUANTILE_SAMPLE)]
            k = sample.size - 1
            idx = [round(q * k) for q in _QS]
            part = np.partition(sample, idx)
            row[: _F["zero"] + 1] = (
                mean,
                math.sqrt(max(ss / n - mean * mean, 0.0)) if nbad == 0 else math.nan,
                mn,
                mx,
                part[idx[0]],
                part[idx[1]],
                part[idx[2]],
                nsat / n if sat else math.nan,
                int(np.count_nonzero(colnz == 0)) / C if relu else math.nan,
                (n - int(colnz.sum())) / n,
            )
        if rec == 2 and isinstance(layer.gates, np.ndarray):
            g = layer.gates
            H = g.shape[-1] // 4
            self._lstm_cur[name] = (float(np.mean(g[..., H : 2 * H], dtype=np.float64)),)
        elif rec == 1:  # no gates: the through-time norms only (no forget gate: NaN)
            self._lstm_cur[name] = (math.nan,)

    def _norm(self, a: np.ndarray) -> tuple[float, int]:
        flat = (a if a.flags.c_contiguous else np.ascontiguousarray(a)).reshape(-1)
        off = self._offsets.get(flat.size)
        if off is None:
            off = self._offsets[flat.size] = np.array([0, flat.size], np.int64)
        get_backend().segment_sumsq(flat, off, self._one, self._one_nf)
        return math.sqrt(self._one[0]), int(self._one_nf[0])

    def backward(self, name: str, layer, dy: np.ndarray, dx: np.ndarray | None) -> None:
        self._version_at_backward = self.arena.norms_version
        self._last_grad[name] = (dy, dx)
        if not self._recording:
            return
        j, _, _, rec = self._see(name, layer)
        row = self._cur[j]
        if dy is self._prev_dx:
            gout, nf_out = self._prev_dx_norm
        else:
            gout, nf_out = self._norm(dy)
        row[_F["grad_out"]] = gout
        if dx is not None:
            gin, nf_in = self._norm(dx)
            self._prev_dx, self._prev_dx_norm = dx, (gin, nf_in)
            row[_F["grad_in"]] = gin
        else:
            nf_in = 0
            self._prev_dx = None
        row[_F["nonfinite_grad"]] = nf_out + nf_in
        # ||dL/dh_t|| (and the LSTM's ||dL/dc_t||; NaN for a layer with one state)
        tt = layer.grad_norms_through_time if rec else None
        if isinstance(tt, tuple) and tt and name in self._lstm_cur:
            dh = tt[0].copy()
            dc = tt[1].copy() if len(tt) > 1 else np.full(dh.shape, np.nan)
            self._lstm_cur[name] = (self._lstm_cur[name][0], dh, dc)

    # -- recording --------------------------------------------------------------------------
    def _grad_norms(self) -> tuple[np.ndarray, float, float, np.ndarray]:
        """(per-tensor norms [S], pre-clip total, clip coefficient, non-finite counts): the
        arena's own if measured after the last backward, else one norms pass of ours."""
        a = self.arena
        if self._arena_fresh():
            return a.grad_norms, float(a.total_grad_norm), float(a.clip_coef), a.grad_nonfinite
        total, norms, nonfinite = tensor_grad_norms(a)
        return norms, total, math.nan, nonfinite

    def record(self, loss: float | None = None, lr: float | None = None) -> None:
        """Observe the current step: call after ``backward`` (and clipping), before the update.

        ``loss``: the step's loss value; ``lr``: the learning rate (default: the optimizer's).
        Every call counts one step; every ``every``-th (the history's stride) is recorded. A
        non-finite loss, or a non-finite global gradient norm when the arena's norms are fresh
        (``fit`` and ``clip_grad_norm`` measure them every step), is located and recorded at
        whatever step it happens. Both are real numbers (NumPy scalars accepted; a NaN or
        infinite loss is what the monitor is there to locate, so it is accepted) or ``None``.
        """
        for nm, v in (("loss", loss), ("lr", lr)):
            if v is not None and (isinstance(v, bool | np.bool_) or not isinstance(v, Real)):
                raise TypeError(
                    f"GradientMonitor.record: {nm} must be None or a real number, got {describe(v)}"
                )
        given = loss is not None
        loss = float(loss) if given else math.nan
        if lr is None and self.optimizer is not None:
            lr = getattr(self.optimizer, "lr", None)
            self.history.meta.setdefault("optimizer", type(self.optimizer).__name__)
        arena, hist, be = self.arena, self.history, get_backend()
        if self._pending is not None:  # the update after the pending record is now applied
            if self._prev is None or self._prev.shape != arena.data.shape:
                self._pending = None
            else:
                be.segment_delta_sumsq(
                    arena.data, self._prev, arena.offsets, self._sumsq, self._sumsq2
                )
                self._store_update(self._pending)
                snap_is_current = True
                self._pending = None
        else:
            snap_is_current = False
        bad_loss = given and not math.isfinite(loss)
        norms = total = coef = nonfinite = None
        if self._recording or bad_loss:
            norms, total, coef, nonfinite = self._grad_norms()
        elif self._arena_fresh():  # a non-recorded step: the global norm is still free
            total = float(arena.total_grad_norm)
        nonfinite_now = bad_loss or (total is not None and not math.isfinite(total))
        if nonfinite_now and hist.first_nonfinite is None:
            if norms is None:
                norms, total, coef, nonfinite = self._grad_norms()
            hist.first_nonfinite = self._locate(loss, nonfinite)
        forced = nonfinite_now and hist.first_nonfinite["step"] == self._step
        r = hist.new_record(self._step, self._epoch, forced) if self._recording or forced else None
        if r is not None:
            hist.set_step(r, (loss, total, coef, math.nan if lr is None else float(lr)))
            hist.set_tensors(r, "grad_norm", norms)
            hist.set_layers(r, self._cur[: len(hist.layer_names)])
            for name, vals in self._lstm_cur.items():
                if len(vals) == 3:
                    hist.set_lstm(r, name, vals[1], vals[2], vals[0])
            if self._prev is None or self._prev.shape != arena.data.shape:
                self._prev = np.empty_like(arena.data)
                snap_is_current = False
            if not snap_is_current:
                np.copyto(self._prev, arena.data)
            self._pending = r
        self._cur.fill(np.nan)
        self._lstm_cur.clear()
        self._prev_dx = None
        self._version_at_record = arena.norms_version
        self._step += 1
        self._recording = self._step % hist.stride == 0

    def _arena_fresh(self) -> bool:
        """The arena's norms were measured after the last backward pass the probe saw (or,
        without a probe, since the last record)."""
        a = self.arena
        if a.grad_norms is None:
            return False
        if self._version_at_backward >= 0:
            return a.norms_version > self._version_at_backward
        return a.norms_version != self._version_at_record

    def _locate(self, loss: float, nonfinite: np.ndarray | None) -> dict:
        """The first non-finite value of this step, in the order the step computes them:
        parameters, layer outputs (forward order), the loss, gradients (backward order)."""
        a = self.arena
        ev = {"step": self._step, "epoch": self._epoch, "layer": None, "tensor": None}
        for s in a.segments:
            if not np.isfinite(a.data[s.offset : s.stop]).all():
                return {
                    **ev,
                    "where": "parameter",
                    "tensor": s.name,
                    "layer": s.name.rsplit(".", 1)[0],
                    "detail": f"parameter {s.name!r} holds NaN/inf before the step",
                }
        for name in self._order + [n for n in self._last_out if n not in self._order]:
            y = self._last_out.get(name)
            if y is not None and not np.isfinite(y).all():
                idx = tuple(int(i) for i in np.argwhere(~np.isfinite(y))[0])
                return {
                    **ev,
                    "where": "forward",
                    "layer": name,
                    "detail": f"output of {name} in the forward pass, first at index {idx}",
                }
        if not math.isfinite(loss):
            return {**ev, "where": "loss", "detail": f"the loss is {loss} with finite outputs"}
        for name in reversed(self._order):
            g = self._last_grad.get(name)
            if g is None:
                continue
            dy, dx = g
            if not np.isfinite(dy).all():
                return {
                    **ev,
                    "where": "backward",
                    "layer": name,
                    "detail": f"gradient arriving at the output of {name}",
                }
            bad = [
                s.name
                for s in a.segments
                if s.name.rsplit(".", 1)[0] == name
                and nonfinite is not None
                and nonfinite[s.index] > 0
            ]
            if bad:
                return {
                    **ev,
                    "where": "backward",
                    "layer": name,
                    "tensor": bad[0],
                    "detail": f"gradient of {bad[0]!r} (backward pass)",
                }
            if dx is not None and not np.isfinite(dx).all():
                return {
                    **ev,
                    "where": "backward",
                    "layer": name,
                    "detail": f"gradient leaving the input of {name}",
                }
        if nonfinite is not None and np.any(nonfinite > 0):
            s = a.segments[int(np.flatnonzero(nonfinite > 0)[-1])]
            return {
                **ev,
                "where": "backward",
                "tensor": s.name,
                "layer": s.name.rsplit(".", 1)[0],
                "detail": f"gradient of {s.name!r}",
            }
        return {**ev, "where": "unknown", "detail": "not found in the kept arrays"}

    # -- the fit callback protocol ------------------------------------------------------------
    def on_train_begin(self, trainer) -> None:
        if trainer.model is not self.model:
            raise ValueError("GradientMonitor: fit trains another model than the one monitored")
        if not self.attached:
            self.attach()
        self.optimizer = trainer.optimizer
        self.history.meta["optimizer"] = type(trainer.optimizer).__name__
        self.set_loss(trainer.loss)

    def set_loss(self, loss) -> None:
        """Tell the diagnosis which loss is trained (``fit`` and ``check`` do): for a softmax
        cross-entropy it then also judges "stalled at chance level" (loss near ln K)."""
        self.history.meta["loss"] = type(loss).__name__
        out = getattr(self.model, "layers", [self.model])[-1] if self.model is not None else None
        k = getattr(out, "out_features", None)
        if isinstance(k, int):
            self.history.meta["classes"] = k

    def on_batch_end(self, trainer, step, logs) -> None:
        self._epoch = int(trainer.epoch)
        self.record(loss=logs.get("loss"), lr=getattr(trainer.optimizer, "lr", None))
        ev = self.history.first_nonfinite
        if ev is not None and ev["step"] == self._step - 1 and getattr(trainer, "skip_update", 0):
            # fold in fit's TerminateOnNonFinite: it stopped before this step's update
            ev["fit_stopped"] = str(trainer.stop_reason)

    def on_epoch_end(self, trainer, epoch, logs) -> None:
        self.history.epoch_logs.append(
            {"epoch": int(epoch), **{k: float(v) for k, v in logs.items()}}
        )

    def on_train_end(self, trainer) -> None:
        self.finish()

    def finish(self) -> None:
        """Complete the last record's update ratio from the current parameters (``fit`` calls
        it at the end; in a hand-written loop call it after the last ``opt.step()``)."""
        if self._pending is not None and self._prev is not None:
            a, be = self.arena, get_backend()
            be.segment_delta_sumsq(a.data, self._prev, a.offsets, self._sumsq, self._sumsq2)
            self._store_update(self._pending)
            self._pending = None

    def _store_update(self, r: int) -> None:
        np.sqrt(self._sumsq, out=self._sumsq)
        np.sqrt(self._sumsq2, out=self._sumsq2)
        self.history.set_tensors(r, "update_norm", self._sumsq)
        self.history.set_tensors(r, "param_norm", self._sumsq2)

    # -- results ------------------------------------------------------------------------------
    def diagnose(self, thresholds: Thresholds | None = None) -> Diagnosis:
        """The health report of what was recorded (:class:`Diagnosis`)."""
        if thresholds is not None and not isinstance(thresholds, Thresholds):
            raise TypeError(
                "GradientMonitor.diagnose: thresholds must be None or a gc.monitor.Thresholds, "
                f"got {describe(thresholds)}"
            )
        return diagnose(self.history, self.model, thresholds or self.thresholds)

    def save_report(self, out, *, diagnosis: Diagnosis | None = None) -> dict:
        """Write ``out/``: PNG figures, ``report.md`` and ``history.json``; returns the paths."""
        return _save_report(self, out, diagnosis=diagnosis)

    def __repr__(self) -> str:
        return f"GradientMonitor(every={self.every}, {self.history!r})"


def _check_model(model, owner: str) -> None:
    from ..nn.base import Layer

    if not isinstance(model, Layer):
        raise TypeError(f"{owner}: model must be a gradcore layer/model, got {describe(model)}")


def check(
    model,
    X: np.ndarray,
    y: np.ndarray,
    loss="cross_entropy",
    *,
    thresholds: Thresholds | None = None,
) -> Diagnosis:
    """Diagnose ``model`` on one batch without training it.

    One forward pass in training mode, the loss, one backward pass (with the input gradient,
    so every layer's gain is measured), the statistics, the diagnosis. The model is left as it
    was: gradients, BatchNorm running statistics and Dropout generators are restored. Loss-trend
    and update-ratio findings need training and are not judged here.

    ``X`` ``[N, ...]`` (cast to the model's dtype), ``y`` labels/targets as for ``fit``;
    ``loss`` a ``gc.losses`` object or name. Returns a :class:`Diagnosis`.
    """
    _check_model(model, "check")
    if not isinstance(loss, _losses.Loss | str):
        raise TypeError(
            f"check: loss must be a gc.losses.Loss or one of "
            f"{', '.join(repr(n) for n in _losses.LOSSES)}, got {describe(loss)}"
        )
    loss_fn = _losses.get(loss)
    X, y = check_data(X, y, loss_fn, model.dtype, "check")
    if thresholds is not None and not isinstance(thresholds, Thresholds):
        raise TypeError(
            f"check: thresholds must be None or a gc.monitor.Thresholds, got {describe(thresholds)}"
        )
    arena = model.parameters()
    grads = arena.grad.copy()
    buffers = {k: v.copy() for k, v in model.buffers.items()}
    states = [(layer, layer.get_state()) for _, layer in model.named_layers()]
    probe_before = getattr(model, "_probe", None)
    mon = GradientMonitor(model, every=1, max_records=2, thresholds=thresholds)
    try:
        arena.zero_grad()
        value = loss_fn.forward(model.forward(X, training=True), y)
        model.backward(loss_fn.backward())
        mon.set_loss(loss_fn)
        mon.record(loss=value)
        mon._pending = None  # no update follows
    finally:
        mon.detach()
        if probe_before is not None:
            model.set_probe(probe_before)
        arena.grad[...] = grads
        for k, v in model.buffers.items():
            v[...] = buffers[k]
        for layer, st in states:
            if st:
                layer.set_state(st)
    return mon.diagnose()
