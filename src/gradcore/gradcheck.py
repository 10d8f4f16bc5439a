"""Finite-difference gradient checking in float64, for layers, losses and plain functions.

``gradcheck(target, inputs)`` compares the gradients a ``backward`` computes (the *analytic*
gradient) with central finite differences of the forward (the *numeric* gradient), tensor by
tensor, and returns a :class:`GradcheckResult` that says which tensor is wrong, where, and by
how much. It is written against protocols, not classes, so it checks user layers as well as
gradcore's own.

What can be checked
-------------------
- **Layer**: an object with ``params`` and ``grads`` (dicts of ndarrays, same keys and shapes),
  optional ``buffers`` (dict of ndarrays a training forward may mutate, e.g. running stats),
  ``forward(x, training=True, **extra) -> y``, ``backward(dy) -> dx`` that ACCUMULATES into
  ``grads`` and ``zero_grad()``. Extra differentiable inputs (``h0``, ``c0`` of an LSTM) are
  passed as ``extra_inputs={"h0": ...}``; their gradients are read from
  ``layer.extra_input_grads[name]`` after ``backward``. Checked tensors: ``"input"``,
  one per extra input (its keyword name) and ``"params.<name>"``.
- **Loss**: an object with ``forward(pred, target) -> float`` and ``backward() -> dpred`` (and
  no ``params``). ``inputs = (pred, target)``; only ``pred`` is differentiated (``"pred"``);
  the target is passed through.
- **Function**: a callable ``fn(*inputs) -> (y, vjp)`` with ``vjp(dy) -> tuple`` holding one
  gradient per input (``None`` for a non-differentiable input). Checked tensors:
  ``"input0"``, ``"input1"``, ...

Floating-point arrays among the inputs are copied to float64 (the caller's arrays are never
modified) and are differentiable; anything else (integer labels, strings, Python scalars) is
passed through unchanged. A layer's parameters must already be float64: gradcheck raises a
``TypeError`` asking for ``dtype=np.float64`` rather than casting them behind your back (a
float32 layer cannot be checked by finite differences: its rounding noise, ~1e-7 relative,
divided by the step swamps the signal).

Method
------
The scalar objective is ``L = sum(P * y)`` with ``P`` a seeded standard-normal projection of
the output's shape (for a loss, ``L`` is the loss value itself). So ``dL/dy = P``:

1. *Analytic*: ``zero_grad()`` (which must leave the grads at 0), ``forward``, then every
   ``grads[name]`` is filled with a seeded random offset ``G`` (of magnitude
   ``S / max(rms(param), 1)``, see below), then ``backward(P)``; the parameter gradient is read
   as ``grads[name] - G``. Reading it as a difference makes a backward that *overwrites* the
   gradient instead of accumulating into it (``=`` for ``+=``) fail, and the report says so.
2. *Numeric*: for every element ``x_i`` of every checked tensor (or a random subset of
   ``max_elements`` of them), perturbed in place by ``h`` and restored exactly afterwards,
   ``n_i = (L(x_i + h) - L(x_i - h)) / ((x_i + h) - (x_i - h))`` -- the denominator is the
   step actually represented in floating point.

The step is one per tensor, ``h = eps * max(rms(tensor), 1)``: absolute for tensors of scale
up to 1, relative for larger ones (the usual ``eps * max(|x|, 1)`` rule). A purely relative
step would make a small tensor feeding a large output (a bias of scale 1e-3 under outputs of
1e4) drown in round-off and hide bugs; the price of the absolute part is truncation error
``~ (h / l)**2`` for a function that bends on a length ``l`` much smaller than 1 -- e.g. a
normalization without epsilon applied to data of scale 1e-3 is off by ~1e-6 at ``h``.

*Second opinions.* An element that fails at ``h`` (and is not a kink, below) is differenced
again with ``10 h`` (10x less round-off) and ``h / 10`` (100x less truncation), judged with the
same floor, and the best agreement counts. A correct gradient then fails only if no step
resolves it; a wrong one is off at every step (a 1 % error is far above the finite-difference
error at all three), so this costs no sensitivity. When the error shrinks ~10x with the larger
step, the report notes that round-off in the *forward* dominates: a forward that loses relative
precision (``1 + erf(z)`` or ``1 + tanh(z)`` in the negative tail, ``(x + 1e6) - 1e6``) makes
noisy numeric derivatives however correct its backward is.

Before every forward the layer's ``buffers`` are restored from a snapshot, so the objective is
a pure function of inputs and parameters even when a training forward updates running stats.
Forward twice at the same point must give the same ``L``: a layer that draws fresh randomness
per call (``Dropout`` in training mode) is reported with a ``RuntimeError``.

Error measure and the floor
---------------------------
Per element, the CS231n relative error ``|a - n| / max(|a| + |n|, floor)``; a tensor passes
when the largest one is ``<= rtol``. Equivalently an element passes when
``|a - n| <= max(rtol * (|a| + |n|), atol)`` with ``atol = rtol * floor``.

The floor guards elements whose true gradient is (nearly) zero, where the numeric value is
pure noise. The absolute error of a central difference is truncation ``~ h**2 |f'''| / 6``
plus round-off ``~ u * S / h``, where ``u`` is the float64 unit round-off and ``S`` the
magnitude at which ``L`` is computed: ``S = sum(|P * y|)`` for layers and functions (the
terms of the final sum), ``|L| + mean(|pred|)`` for losses. For functions smooth on the scale
of the step the truncation term is ~``eps**2`` relative (negligible); the round-off term is
not, so by default ``atol = NOISE_FACTOR * u * S / h`` (per tensor, as ``h`` is), with
``NOISE_FACTOR = 256``: round-off inside the forward (cancellation in sums, normalizations)
is larger than the round-off of the last sum alone, and measured errors of correct layers stay
more than 10x below this bound. It is tiny in absolute terms (``~3e-8 * S`` at ``eps=1e-6``
and unit-scale tensors), so a bug hides under it only when its absolute size is within a few
hundred times the unavoidable finite-difference noise. Pass ``atol=`` to override it (e.g.
for a forward known to be noisy).

Kinks
-----
At a kink (ReLU at 0, ``max``, ``abs``...) the central difference averages the two one-sided
slopes and disagrees with the subgradient the backward (correctly) picks. So ``L(x)`` is
computed once more and, per element, the one-sided differences ``(L(x+h) - L(x)) / h`` and
``(L(x) - L(x-h)) / h``. For a smooth function they differ by ``~ h |f''|``, i.e. by
``~ h / l`` relative to the slope for a function that bends on a length ``l``, and the
analytic derivative lies halfway between them. When the perturbation crosses a kink they
differ by the jump of the slope, ``O(1)`` relative, and the correct one-sided derivative
matches the slope on the side that did not cross. So an element that fails the ``rtol`` test
is *excluded as a kink* when

(a) its one-sided slopes disagree by more than ``sqrt(eps)`` relative (same floor) -- far more
    than smooth curvature allows unless ``l`` is within ~1000 steps, and
(b) the analytic value is within a tenth of that disagreement of one of the two slopes -- a
    smooth function that is merely too curved for the step sits halfway (it gets its second
    opinions instead), and so does a wrong gradient (it fails, with a note).

Excluded elements are counted in ``TensorCheck.kinks`` and left out of the maximum (a tensor
whose every element is excluded passes with a note). For random data such elements are rare:
a perturbation of size ``h`` crosses a kink with probability ``~ h * density``, i.e. ``~eps``
per element; exact zeros (a ReLU input at exactly 0, a zero batch with a zero bias) are the
usual cause. ``exclude_kinks=False`` turns the exclusion off.

State
-----
gradcheck leaves the layer as it found it: parameters, buffers and gradients are snapshotted
and copied back in place (so views into a flat parameter arena stay views). Caches a layer
keeps for its backward and ``extra_input_grads`` hold the values of gradcheck's own pass, so
call ``forward`` again before the next ``backward``.

Cost: two forwards per checked element (four more for an element that fails), plus two
forwards and one backward. Use ``max_elements`` for large tensors.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ._args import check_bool, check_int, check_real, check_seed, describe

__all__ = ["NOISE_FACTOR", "GradcheckError", "GradcheckResult", "TensorCheck", "gradcheck"]

#: Safety factor on the round-off estimate ``u * S / h`` that sets the default ``atol``.
NOISE_FACTOR = 256.0

_U = float(np.finfo(np.float64).eps) / 2.0  # float64 unit round-off
_TINY = float(np.finfo(np.float64).tiny)


class GradcheckError(AssertionError):
    """Raised by ``gradcheck(..., raise_on_failure=True)``; ``.result`` holds the full result."""

    def __init__(self, result: GradcheckResult) -> None:
        super().__init__(result.report())
        self.result = result


@dataclass(frozen=True)
class TensorCheck:
    """The comparison for one tensor.

    ``max_rel_error`` is the largest relative error over the checked, non-kink elements;
    ``worst_index`` (a tuple into the tensor's shape) is where it occurs, with the ``analytic``
    and ``numeric`` gradient values there (``None``/NaN when no element was compared).
    ``checked`` counts the elements evaluated (all, or ``max_elements`` of them), ``kinks``
    those of them excluded as kinks. ``step`` is the finite-difference step ``h`` and ``atol``
    the absolute tolerance (``rtol * floor``) used for this tensor.
    """

    name: str
    shape: tuple[int, ...]
    ok: bool
    max_rel_error: float
    worst_index: tuple[int, ...] | None
    analytic: float
    numeric: float
    checked: int
    kinks: int
    step: float
    atol: float
    note: str = ""


@dataclass(frozen=True)
class GradcheckResult:
    """Outcome of :func:`gradcheck`; truthy iff every checked tensor passed.

    ``checks`` maps tensor names (``"input"``, ``"h0"``, ``"params.W"``, ``"pred"``,
    ``"input0"``...) to :class:`TensorCheck`; ``skipped`` maps names of tensors not checked to
    the reason. ``objective`` is ``L`` at the unperturbed point.
    """

    ok: bool
    kind: str
    checks: dict[str, TensorCheck]
    skipped: dict[str, str] = field(default_factory=dict)
    objective: float = 0.0
    eps: float = 1e-6
    rtol: float = 1e-6

    @property
    def failures(self) -> list[TensorCheck]:
        """The checks that failed, in check order."""
        return [c for c in self.checks.values() if not c.ok]

    def __getitem__(self, name: str) -> TensorCheck:
        return self.checks[name]

    def __bool__(self) -> bool:
        return self.ok

    def report(self) -> str:
        """A readable table: one line per tensor, failures marked, notes and skips below."""
        verdict = "passed" if self.ok else "FAILED"
        what = "L = loss" if self.kind == "loss" else "L = sum(P * y)"
        lines = [
            f"gradcheck {verdict}: {self.kind}, {what} = {self.objective:.6g}, "
            f"eps={self.eps:g}, rtol={self.rtol:g}"
        ]
        header = ("tensor", "shape", "checked", "kinks", "max rel err", "worst index",
                  "analytic", "numeric", "")  # fmt: skip
        rows = [header]
        for c in self.checks.values():
            has = c.worst_index is not None
            rows.append(
                (
                    c.name,
                    str(c.shape),
                    str(c.checked),
                    str(c.kinks),
                    f"{c.max_rel_error:.3e}",
                    str(c.worst_index) if has else "-",
                    f"{c.analytic:.6e}" if has else "-",
                    f"{c.numeric:.6e}" if has else "-",
                    "ok" if c.ok else "FAIL",
                )
            )
        widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
        for r in rows:
            lines.append("  ".join(s.ljust(w) for s, w in zip(r, widths, strict=True)).rstrip())
        for c in self.checks.values():
            if c.note:
                lines.append(f"note: {c.name}: {c.note}")
        for name, why in self.skipped.items():
            lines.append(f"skipped: {name}: {why}")
        if self.failures and all(c.max_rel_error < 1e-3 for c in self.failures):
            lines.append(
                "hint: a small error may be finite-difference error rather than a bug: rerun "
                "with eps=1e-8 and eps=1e-4; a wrong backward fails at every step"
            )
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.report()


# --------------------------------------------------------------------------------------------
# helpers


def _is_float_array(v: Any) -> bool:
    return isinstance(v, np.ndarray) and np.issubdtype(v.dtype, np.floating)


def _to_f64(v: Any, name: str) -> np.ndarray:
    """A fresh, writable, C-contiguous float64 copy of a real numeric array."""
    a = np.asarray(v)
    if not (np.issubdtype(a.dtype, np.floating) or np.issubdtype(a.dtype, np.integer)):
        raise TypeError(f"gradcheck: {name} must be a real numeric array, got dtype {a.dtype}")
    out = np.array(a, dtype=np.float64, order="C", copy=True)
    bad = ~np.isfinite(out)
    if bad.any():
        idx = tuple(int(i) for i in np.argwhere(bad)[0])
        raise ValueError(
            f"gradcheck: {name} must be finite, got {int(bad.sum())} non-finite values "
            f"(NaN or inf), first at index {idx}"
        )
    return out


def _refuse_complex(v: Any, name: str) -> None:
    """A complex array would be passed through undifferentiated (it is not real floating
    point): refuse it rather than check nothing."""
    if isinstance(v, np.ndarray | np.complexfloating | complex) and np.iscomplexobj(v):
        raise TypeError(
            f"gradcheck: {name} must be real (finite differences of a real objective), got "
            f"{describe(v)}"
        )


def _output(y: Any, what: str) -> np.ndarray:
    if not isinstance(y, np.ndarray):
        if isinstance(y, (float, int, np.floating)) and not isinstance(y, bool):
            y = np.asarray(y, dtype=np.float64)
        else:
            raise TypeError(f"{what} must return an ndarray, got {type(y).__name__}")
    if y.dtype != np.float64:
        raise TypeError(
            f"{what} returned dtype {y.dtype}; gradcheck needs the computation in float64 "
            "(build the layer/function with dtype=np.float64)"
        )
    if not np.all(np.isfinite(y)):
        raise FloatingPointError(f"{what} produced non-finite output (NaN or inf)")
    return y


def _grad(g: Any, shape: tuple[int, ...], what: str) -> np.ndarray:
    if not isinstance(g, np.ndarray):
        raise TypeError(f"{what} must be an ndarray, got {type(g).__name__}")
    if g.shape != shape:
        raise ValueError(f"{what} has shape {g.shape}, expected {shape}")
    if g.dtype != np.float64:
        raise TypeError(f"{what} has dtype {g.dtype}, expected float64")
    out = np.array(g, dtype=np.float64, copy=True)
    if not np.all(np.isfinite(out)):
        raise FloatingPointError(f"{what} contains non-finite values")
    return out


def _step(arr: np.ndarray, eps: float) -> float:
    """The finite-difference step for ``arr``: ``eps * max(rms(arr), 1)``."""
    m = float(np.max(np.abs(arr))) if arr.size else 0.0
    if m <= 1.0:
        return eps
    return eps * max(m * math.sqrt(float(np.mean(np.square(arr / m)))), 1.0)  # no overflow


def _rel(a: np.ndarray | float, b: np.ndarray | float, floor: float) -> Any:
    """CS231n relative error ``|a-b| / max(|a|+|b|, floor)`` (elementwise)."""
    return np.abs(a - b) / np.maximum(np.abs(a) + np.abs(b), floor)


@dataclass
class _Tensor:
    name: str
    array: np.ndarray  # perturbed in place
    analytic: np.ndarray | None = None
    raw: np.ndarray | None = None  # parameter grads before removing the offset


class _Problem:
    """One objective ``L(tensors)`` with its analytic gradient; subclassed per target kind."""

    kind = ""

    def __init__(self) -> None:
        self.tensors: list[_Tensor] = []
        self.skipped: dict[str, str] = {}
        self.scale = 0.0  # S, the magnitude at which L is computed

    def evaluate(self) -> float:
        raise NotImplementedError

    def analytic(self, rng: np.random.Generator, eps: float) -> float:
        """Compute every tensor's analytic gradient; return L at this point."""
        raise NotImplementedError

    def restore(self) -> None:
        pass

    def names(self) -> list[str]:
        return [t.name for t in self.tensors] + list(self.skipped)


class _LayerProblem(_Problem):
    kind = "layer"

    def __init__(self, layer, inputs, extra, training, check_params):
        super().__init__()
        for attr in ("forward", "backward", "zero_grad"):
            if not callable(getattr(layer, attr, None)):
                raise TypeError(f"layer {type(layer).__name__} has no {attr}() method")
        self.layer = layer
        self.training = training
        params, grads = layer.params, layer.grads
        if not isinstance(params, Mapping) or not isinstance(grads, Mapping):
            raise TypeError("layer.params and layer.grads must be dicts of ndarrays")
        if set(params) != set(grads):
            raise ValueError(
                f"layer.params and layer.grads have different keys: {sorted(params)} vs "
                f"{sorted(grads)}"
            )
        for k, p in params.items():
            g = grads[k]
            if not isinstance(p, np.ndarray) or not isinstance(g, np.ndarray):
                raise TypeError(f"layer.params[{k!r}] and layer.grads[{k!r}] must be ndarrays")
            if p.dtype != np.float64 or g.dtype != np.float64:
                bad = p.dtype if p.dtype != np.float64 else g.dtype
                raise TypeError(
                    f"gradcheck works in float64, but parameter {k!r} of "
                    f"{type(layer).__name__} is {bad}; build the layer with dtype=np.float64 "
                    "(gradcheck does not cast parameters)"
                )
            if p.shape != g.shape:
                raise ValueError(f"params[{k!r}] has shape {p.shape} but grads[{k!r}] {g.shape}")
        buffers = getattr(layer, "buffers", None) or {}
        if not isinstance(buffers, Mapping):
            raise TypeError("layer.buffers must be a dict of ndarrays")
        for k, b in buffers.items():
            if not isinstance(b, np.ndarray):
                raise TypeError(f"layer.buffers[{k!r}] must be an ndarray")
        self.params, self.grads, self.buffers = params, grads, buffers
        self.p0 = {k: v.copy() for k, v in params.items()}
        self.g0 = {k: v.copy() for k, v in grads.items()}
        self.b0 = {k: v.copy() for k, v in buffers.items()}

        if isinstance(inputs, (list, tuple)):
            if len(inputs) != 1:
                raise ValueError(
                    f"a layer takes one input; got {len(inputs)} (pass extra differentiable "
                    "inputs such as h0/c0 as extra_inputs={...})"
                )
            inputs = inputs[0]
        _refuse_complex(inputs, "input")
        x = np.asarray(inputs)
        if np.issubdtype(x.dtype, np.floating):
            self.x = _to_f64(x, "input")
            self.tensors.append(_Tensor("input", self.x))
        else:
            self.x = inputs
            self.skipped["input"] = f"not floating point (dtype {x.dtype})"

        self.extra: dict[str, Any] = {}
        for k, v in (extra or {}).items():
            if not isinstance(k, str) or not k.isidentifier() or k == "training":
                raise ValueError(
                    f"gradcheck: extra_inputs keys must be keyword names of forward (not "
                    f"'training'), got {k!r}"
                )
            _refuse_complex(v, f"extra_inputs[{k!r}]")
            if _is_float_array(v):
                self.extra[k] = _to_f64(v, f"extra_inputs[{k!r}]")
                self.tensors.append(_Tensor(k, self.extra[k]))
            else:
                self.extra[k] = v
                self.skipped[k] = "not a floating-point array (passed through)"
        for k, p in params.items():
            if check_params:
                self.tensors.append(_Tensor(f"params.{k}", p))
            else:
                self.skipped[f"params.{k}"] = "check_params=False"

    def _forward(self) -> np.ndarray:
        for k, v in self.b0.items():
            np.copyto(self.buffers[k], v)
        y = self.layer.forward(self.x, training=self.training, **self.extra)
        return _output(y, f"{type(self.layer).__name__}.forward")

    def evaluate(self) -> float:
        return float(np.sum(self.P * self._forward()))

    def analytic(self, rng, eps):
        self.layer.zero_grad()
        for k, g in self.grads.items():
            if np.any(g != 0):
                raise ValueError(f"zero_grad() left grads[{k!r}] nonzero")
        y = self._forward()
        self.P = rng.standard_normal(y.shape)
        value = float(np.sum(self.P * y))
        self.scale = float(np.sum(np.abs(self.P * y)))
        # offsets of magnitude S * eps / h = S / max(rms(param), 1): large enough that
        # overwriting them is caught, small enough that removing them costs << atol
        offsets = {}
        for k, g in self.grads.items():
            mag = self.scale * eps / _step(self.params[k], eps)
            offsets[k] = rng.uniform(-mag, mag, g.shape)
            np.copyto(g, offsets[k])
        dx = self.layer.backward(self.P.copy())
        extra_grads = getattr(self.layer, "extra_input_grads", None)
        name = type(self.layer).__name__
        for t in self.tensors:
            if t.name == "input":
                if dx is None:
                    raise ValueError(
                        f"{name}.backward returned None instead of dx (pass "
                        "skip=('input',) if the input is not differentiable)"
                    )
                t.analytic = _grad(dx, t.array.shape, f"{name}.backward's dx")
            elif t.name.startswith("params."):
                k = t.name[len("params.") :]
                t.raw = _grad(self.grads[k], t.array.shape, f"grads[{k!r}]")
                t.analytic = t.raw - offsets[k]
            else:
                if not isinstance(extra_grads, Mapping) or t.name not in extra_grads:
                    raise ValueError(
                        f"{name} has no extra_input_grads[{t.name!r}] after backward (expose "
                        f"it, or pass skip=({t.name!r},) if {t.name} is not differentiable)"
                    )
                t.analytic = _grad(extra_grads[t.name], t.array.shape, f"dL/d{t.name}")
        return value

    def restore(self):
        for src, dst in ((self.p0, self.params), (self.g0, self.grads), (self.b0, self.buffers)):
            for k, v in src.items():
                np.copyto(dst[k], v)


class _LossProblem(_Problem):
    kind = "loss"

    def __init__(self, loss, inputs):
        super().__init__()
        if not isinstance(inputs, (list, tuple)) or len(inputs) != 2:
            raise ValueError("a loss is checked with inputs=(pred, target)")
        self.loss = loss
        _refuse_complex(inputs[0], "pred")
        _refuse_complex(inputs[1], "target")
        self.pred = _to_f64(inputs[0], "pred")
        target = inputs[1]
        self.target = _to_f64(target, "target") if _is_float_array(target) else target
        self.tensors.append(_Tensor("pred", self.pred))
        self.skipped["target"] = "targets are passed through, not differentiated"

    def evaluate(self) -> float:
        value = self.loss.forward(self.pred, self.target)
        what = f"{type(self.loss).__name__}.forward"
        if np.ndim(value) != 0:
            raise TypeError(f"{what} must return a scalar, got shape {np.shape(value)}")
        return float(value)

    def analytic(self, rng, eps):
        value = self.evaluate()
        self.scale = abs(value) + (float(np.mean(np.abs(self.pred))) if self.pred.size else 0.0)
        d = self.loss.backward()
        self.tensors[0].analytic = _grad(
            d, self.pred.shape, f"{type(self.loss).__name__}.backward's dpred"
        )
        return value


class _FunctionProblem(_Problem):
    kind = "function"

    def __init__(self, fn, inputs):
        super().__init__()
        self.fn = fn
        if isinstance(inputs, np.ndarray) or not isinstance(inputs, (list, tuple)):
            inputs = (inputs,)
        self.args: list[Any] = []
        for i, v in enumerate(inputs):
            _refuse_complex(v, f"input{i}")
            if _is_float_array(v):
                self.args.append(_to_f64(v, f"input{i}"))
                self.tensors.append(_Tensor(f"input{i}", self.args[i]))
            else:
                self.args.append(v)
                self.skipped[f"input{i}"] = "not a floating-point array (passed through)"

    def _call(self):
        out = self.fn(*self.args)
        if not isinstance(out, tuple) or len(out) != 2 or not callable(out[1]):
            raise TypeError("a function must return (y, vjp) with vjp(dy) -> input gradients")
        return _output(out[0], "the function"), out[1]

    def evaluate(self) -> float:
        return float(np.sum(self.P * self._call()[0]))

    def analytic(self, rng, eps):
        y, vjp = self._call()
        self.P = rng.standard_normal(y.shape)
        value = float(np.sum(self.P * y))
        self.scale = float(np.sum(np.abs(self.P * y)))
        grads = vjp(self.P.copy())
        if isinstance(grads, np.ndarray) and len(self.args) == 1:
            grads = (grads,)
        if not isinstance(grads, (list, tuple)) or len(grads) != len(self.args):
            raise ValueError(
                f"vjp must return a tuple of {len(self.args)} gradients (one per input, None "
                f"for non-differentiable ones), got {type(grads).__name__}"
                + (f" of length {len(grads)}" if isinstance(grads, (list, tuple)) else "")
            )
        for t in list(self.tensors):
            g = grads[int(t.name[len("input") :])]
            if g is None:
                self.skipped[t.name] = "vjp returned None (not differentiable)"
                self.tensors.remove(t)
            else:
                t.analytic = _grad(g, t.array.shape, f"vjp's gradient for {t.name}")
        return value


def _kind(target: Any) -> str:
    if isinstance(target, type):  # Dense, not Dense(...): its methods would be unbound
        raise TypeError(
            f"gradcheck: target must be a layer or loss instance or a function, got the class "
            f"{target.__name__}; build one first, e.g. {target.__name__}(...)"
        )
    has = lambda a: callable(getattr(target, a, None))  # noqa: E731
    if hasattr(target, "params") and hasattr(target, "grads") and has("forward"):
        return "layer"
    if has("forward") and has("backward"):
        return "loss"
    if callable(target):
        return "function"
    raise TypeError(
        f"cannot gradcheck a {type(target).__name__}: expected a layer (params, grads, forward, "
        "backward, zero_grad), a loss (forward(pred, target), backward()) or a function "
        "fn(*inputs) -> (y, vjp)"
    )


def _require_elements(problem: _Problem) -> None:
    """A check that compares nothing must not pass: refuse empty tensors and a problem with
    no tensor left to check (all skipped, or none differentiable)."""
    empty = [f"{t.name} {tuple(t.array.shape)}" for t in problem.tensors if t.array.size == 0]
    if empty:
        raise ValueError(
            f"gradcheck: every checked tensor must have at least one element, got empty "
            f"{', '.join(empty)}; give a non-empty input (or skip=... the empty tensor)"
        )
    if not problem.tensors:
        raise ValueError(
            "gradcheck: nothing to check: no differentiable tensor is left ("
            + ("; ".join(f"{k}: {v}" for k, v in problem.skipped.items()) or "no inputs")
            + ")"
        )


# --------------------------------------------------------------------------------------------


def gradcheck(
    target: Any,
    inputs: Any,
    *,
    extra_inputs: Mapping[str, Any] | None = None,
    eps: float = 1e-6,
    rtol: float = 1e-6,
    atol: float | None = None,
    seed: int | None = 0,
    training: bool = True,
    check_params: bool = True,
    skip: Collection[str] = (),
    exclude_kinks: bool = True,
    max_elements: int | None = None,
    raise_on_failure: bool = False,
) -> GradcheckResult:
    """Check ``target``'s backward against central finite differences in float64.

    Parameters
    ----------
    target
        A layer, a loss or a function ``fn(*inputs) -> (y, vjp)`` (see the module docstring
        for the three protocols; the kind is recognized by its attributes).
    inputs
        Layer: the input ``x`` (an array, or a 1-tuple). Loss: ``(pred, target)``. Function:
        the tuple of positional inputs (a single array is taken as a 1-tuple). Floating-point
        arrays are copied to float64 and differentiated; other values are passed through.
    extra_inputs
        Layer only: keyword inputs of ``forward`` (e.g. ``{"h0": h0, "c0": c0}``). Floating
        arrays among them are differentiated against ``layer.extra_input_grads[name]``.
    eps
        Finite-difference step: ``h = eps * max(rms(tensor), 1)`` per tensor.
    rtol
        Largest allowed relative error ``|a - n| / max(|a| + |n|, atol / rtol)``.
    atol
        Absolute tolerance below which differences are noise; default: estimated per tensor
        as ``NOISE_FACTOR * u * S / h`` (see "Error measure and the floor").
    seed
        Seeds the projection ``P``, the gradient offsets and the ``max_elements`` subsets.
    training
        Passed to ``layer.forward``.
    check_params
        Layer only: also check ``params`` (else only the inputs).
    skip
        Names of tensors not to check (``"input"``, ``"h0"``, ``"params.b"``, ``"input1"``).
    exclude_kinks
        Exclude elements whose perturbation crosses a kink (see "Kinks").
    max_elements
        Check at most this many randomly chosen elements per tensor.
    raise_on_failure
        Raise :class:`GradcheckError` (an ``AssertionError``) with the report on failure.

    Returns
    -------
    GradcheckResult
        ``.ok``, per-tensor ``.checks[name]`` and ``.report()``.

    Raises
    ------
    TypeError, ValueError
        Bad arguments, a target that does not follow its protocol, float32 parameters or
        outputs, gradients of the wrong shape.
    FloatingPointError
        A non-finite output, objective or gradient.
    RuntimeError
        A forward that is not deterministic (two calls at the same point disagree).
    """
    owner = "gradcheck"
    eps = check_real("eps", eps, owner=owner, min=0.0, max=1e-2, min_open=True, max_open=True)
    rtol = check_real("rtol", rtol, owner=owner, min=0.0, min_open=True)
    if atol is not None:
        atol = check_real("atol", atol, owner=owner, min=0.0)
    if seed is not None:
        seed = check_seed(seed, owner=owner)
    training = check_bool("training", training, owner=owner)
    check_params = check_bool("check_params", check_params, owner=owner)
    exclude_kinks = check_bool("exclude_kinks", exclude_kinks, owner=owner)
    raise_on_failure = check_bool("raise_on_failure", raise_on_failure, owner=owner)
    if max_elements is not None:
        max_elements = check_int("max_elements", max_elements, owner=owner, min=1)
    if isinstance(skip, str):
        skip = (skip,)
    if not isinstance(skip, Collection) or not all(isinstance(k, str) for k in skip):
        raise TypeError(
            f"gradcheck: skip must be a tensor name or a collection of them (str), got "
            f"{describe(skip)}"
        )
    skip = set(skip)

    kind = _kind(target)
    if kind != "layer" and extra_inputs is not None:
        raise ValueError(f"gradcheck: extra_inputs is only for layers, got a {kind} target")
    if extra_inputs is not None and not isinstance(extra_inputs, Mapping):
        raise TypeError(
            "gradcheck: extra_inputs must be a dict of keyword inputs, got "
            f"{describe(extra_inputs)}"
        )
    if kind == "layer":
        problem: _Problem = _LayerProblem(target, inputs, extra_inputs, training, check_params)
    elif kind == "loss":
        problem = _LossProblem(target, inputs)
    else:
        problem = _FunctionProblem(target, inputs)
    if unknown := skip - set(problem.names()):
        raise ValueError(
            f"gradcheck: skip must name tensors of this target ({problem.names()}), got "
            f"unknown {sorted(unknown)}"
        )

    for t in list(problem.tensors):
        if t.name in skip:
            problem.skipped[t.name] = "in skip"
            problem.tensors.remove(t)
    _require_elements(problem)

    rng = np.random.default_rng(seed)
    try:
        before = {t.name: t.array.copy() for t in problem.tensors}
        value = problem.analytic(rng, eps)
        if not math.isfinite(value):
            raise FloatingPointError(f"the objective L is not finite ({value}) at the input point")
        for t in problem.tensors:
            if not np.array_equal(t.array, before[t.name]):
                raise ValueError(f"forward/backward modified {t.name} in place")
        _require_elements(problem)  # a vjp may have declared every input non-differentiable
        f0 = problem.evaluate()
        if abs(f0 - value) > NOISE_FACTOR * _U * problem.scale:
            raise RuntimeError(
                f"forward is not deterministic: L = {value!r} then {f0!r} at the same point "
                "(dropout in training mode? use training=False or a fixed mask)"
            )
        checks = {}
        for t in problem.tensors:
            checks[t.name] = _check_tensor(
                problem, t, f0, eps, rtol, atol, exclude_kinks, max_elements, rng
            )
    finally:
        problem.restore()

    # report tensors in the order they were declared; skipped ones last
    skipped = {k: v for k, v in problem.skipped.items() if k not in checks}
    result = GradcheckResult(
        ok=all(c.ok for c in checks.values()),
        kind=kind,
        checks=checks,
        skipped=skipped,
        objective=f0,
        eps=eps,
        rtol=rtol,
    )
    if raise_on_failure and not result.ok:
        raise GradcheckError(result)
    return result


def _central(problem, t, idx, x0, step):
    """``L(x0 + step)`` and ``L(x0 - step)`` at element ``idx`` of ``t``, restored after."""
    arr = t.array
    xp, xm = x0 + step, x0 - step
    where = f"when {t.name}{list(idx)} = {x0!r} is perturbed by +-{step:.3g}"
    if xp == xm:  # the step is below float64 resolution at x0
        raise ValueError(
            f"gradcheck: eps must give a step that changes {t.name}{list(idx)} = {x0!r} in "
            f"float64, got a step of {step:.3g} that vanishes there; use a larger eps (1e-6)"
        )
    try:
        arr[idx] = xp
        fp = problem.evaluate()
        arr[idx] = xm
        fm = problem.evaluate()
    except FloatingPointError as exc:
        raise FloatingPointError(f"{exc} {where}") from exc
    finally:
        arr[idx] = x0
    if not (math.isfinite(fp) and math.isfinite(fm)):
        raise FloatingPointError(f"L is not finite {where}: L(x+h) = {fp}, L(x-h) = {fm}")
    return fp, fm, xp, xm


def _check_tensor(problem, t, f0, eps, rtol, atol, exclude_kinks, max_elements, rng):
    arr, a_full = t.array, t.analytic
    size = arr.size
    h = _step(arr, eps)
    tol = atol if atol is not None else NOISE_FACTOR * _U * problem.scale / h
    floor = max(tol / rtol, _TINY)
    kink_tol = math.sqrt(eps)

    if max_elements is not None and size > max_elements:
        flat = np.sort(rng.choice(size, size=max_elements, replace=False))
    else:
        flat = np.arange(size)
    n = len(flat)
    analytic = np.empty(n)
    numeric = np.empty(n)
    kink = np.zeros(n, dtype=bool)
    notes: dict[str, str] = {}
    for j, i in enumerate(flat):
        idx = tuple(int(v) for v in np.unravel_index(int(i), arr.shape))
        x0 = float(arr[idx])
        a = float(a_full[idx])
        fp, fm, xp, xm = _central(problem, t, idx, x0, h)
        c = (fp - fm) / (xp - xm)
        r = _rel(a, c, floor)
        analytic[j], numeric[j] = a, c
        if r <= rtol:
            continue
        if exclude_kinks:
            fwd, bwd = (fp - f0) / (xp - x0), (f0 - fm) / (x0 - xm)
            gap = _rel(fwd, bwd, floor)
            side = min(_rel(a, fwd, floor), _rel(a, bwd, floor))
            if gap > kink_tol and side <= 0.1 * gap:
                kink[j] = True
                continue
            if gap > kink_tol:
                notes.setdefault(
                    "gap",
                    f"at {t.name}{list(idx)} the one-sided slopes {fwd:.6g} and {bwd:.6g} "
                    "disagree more than smooth curvature allows (a kink, curvature on the "
                    "scale of the step, or round-off) and the analytic value matches neither",
                )
        # second opinions: less round-off (10 h), less truncation (h / 10); same floor
        err_h = abs(a - c)
        for step in (10.0 * h, 0.1 * h):
            fp, fm, xp, xm = _central(problem, t, idx, x0, step)
            c2 = (fp - fm) / (xp - xm)
            r2 = _rel(a, c2, floor)
            if r2 < r:
                numeric[j], r = c2, r2
            if r <= rtol:
                break
            if step > h and abs(a - c2) < 0.3 * err_h:
                notes.setdefault(
                    "noise",
                    f"at {t.name}{list(idx)} the error falls ~1/h with a 10x step: round-off in "
                    "the forward dominates (it loses precision there, e.g. by cancellation), "
                    "not a backward bug; make the forward accurate or pass a larger atol",
                )

    rel = _rel(analytic, numeric, floor)
    keep = ~kink
    if np.any(keep):
        rel_kept = np.where(keep, rel, -1.0)
        w = int(np.argmax(rel_kept))
        max_rel = float(rel[w])
        worst = tuple(int(v) for v in np.unravel_index(int(flat[w]), arr.shape))
        a_w, n_w = float(analytic[w]), float(numeric[w])
    else:
        max_rel, worst, a_w, n_w = 0.0, None, math.nan, math.nan
    ok = max_rel <= rtol
    if n and not np.any(keep):
        notes = {"kinks": "every checked element was excluded as a kink"}
    elif ok:
        notes = {}
    if not ok and t.raw is not None:
        raw = t.raw.reshape(-1)[flat]
        if np.all(_rel(raw, numeric, floor)[keep] <= rtol):
            notes = {"+=": "backward overwrites grads instead of accumulating into them (+=)"}
    note = "; ".join(notes.values())
    return TensorCheck(
        name=t.name,
        shape=tuple(arr.shape),
        ok=ok,
        max_rel_error=max_rel,
        worst_index=worst,
        analytic=a_w,
        numeric=n_w,
        checked=n,
        kinks=int(np.count_nonzero(kink)),
        step=h,
        atol=tol,
        note=note,
    )
