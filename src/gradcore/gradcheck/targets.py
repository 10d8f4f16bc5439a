"""What gradcheck can check (the three protocols of the package docstring), each as a
*problem*: the checked tensors (float64, perturbed in place), ``evaluate() -> L`` and
``analytic(rng, eps) -> L`` that fills every tensor's analytic gradient; ``restore()`` puts the
target back as it was found. ``kind(target)`` tells a layer, a loss and a function apart."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from .._args import describe
from .numerics import fd_step

__all__ = ["FunctionProblem", "LayerProblem", "LossProblem", "Problem", "kind", "require_elements"]


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


@dataclass
class _Tensor:
    name: str
    array: np.ndarray  # perturbed in place
    analytic: np.ndarray | None = None
    raw: np.ndarray | None = None  # parameter grads before removing the offset


class Problem:
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


class LayerProblem(Problem):
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
            mag = self.scale * eps / fd_step(self.params[k], eps)
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


class LossProblem(Problem):
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


class FunctionProblem(Problem):
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


def kind(target: Any) -> str:
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


def require_elements(problem: Problem) -> None:
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
