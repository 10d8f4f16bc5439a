"""Optimizers over the flat parameter arena, with the semantics of ``torch.optim``.

Each optimizer keeps its state (momentum, ``exp_avg``, ...) in flat arrays with the arena's
layout, so a step is ONE kernel call over the whole model (the active backend's
``*_step`` op, see ``docs/kernels.md``) -- or one per contiguous run of trainable tensors that
share a step count, when some tensors are frozen or were frozen for a while.

Semantics follow the PyTorch optimizers of the same name (single parameter group): the same
update formulas in the same operation order, the same defaults, the same per-tensor step
counts (a frozen tensor does not step; its bias corrections continue where they stopped when
it is unfrozen). Differences from torch, by design:

- one parameter group (``opt.lr`` is the learning rate; schedules change it);
- a frozen tensor is skipped, like a torch parameter whose ``.grad`` is ``None``; a trainable
  tensor with an all-zero gradient still steps (weight decay, momentum), as in torch;
- no ``maximize``, ``foreach``/``fused``/``capturable`` switches (there is one fused path).
"""

from __future__ import annotations

import numpy as np

from ..backends import get_backend
from ..params import ParameterArena

__all__ = ["SGD", "AdaGrad", "Adagrad", "Adam", "AdamW", "Optimizer", "RMSprop"]


def _as_arena(params) -> ParameterArena:
    if isinstance(params, ParameterArena):
        params.check_bound()  # a stale arena (the model changed since) must not be used
        return params
    parameters = getattr(params, "parameters", None)
    if callable(parameters):  # a model: use its arena
        arena = parameters()
        if isinstance(arena, ParameterArena):
            return arena
    raise TypeError(
        "params must be a model's parameter arena (model.parameters()) or a gradcore model, "
        f"got {type(params).__name__}"
    )


def _nonneg(name: str, value) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | np.floating | np.integer):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__}")
    value = float(value)
    if not value >= 0.0 or not np.isfinite(value):
        raise ValueError(f"invalid {name}: {value} (expected a finite value >= 0)")
    return value


def _unit(name: str, value) -> float:
    value = _nonneg(name, value)
    if not value < 1.0:
        raise ValueError(f"invalid {name}: {value} (expected 0 <= {name} < 1)")
    return value


class Optimizer:
    """Base class: a flat-state optimizer bound to one :class:`~gradcore.params.ParameterArena`.

    Attributes
    ----------
    params : ParameterArena
        What it updates (``model.parameters()``).
    lr : float
        The learning rate (schedules write it).
    state : dict[str, ndarray [P]]
        Flat state arrays in the arena's layout and dtype (e.g. ``"exp_avg"``).
    steps : ndarray [S] int64
        Per-tensor step counts (torch's ``state[p]["step"]``).
    """

    #: names of the flat state arrays, created zero-filled (subclasses)
    state_names: tuple[str, ...] = ()

    def __init__(self, params, lr: float, **hyper) -> None:
        self.params = _as_arena(params)
        self.lr = _nonneg("lr", lr)
        self.initial_lr = self.lr
        self.hyper = hyper
        dt = self.params.dtype
        self.state: dict[str, np.ndarray] = {
            k: np.zeros(self.params.size, dt) for k in self._active_state_names()
        }
        self.steps = np.zeros(len(self.params), np.int64)
        self._empty = np.empty(0, dt)

    # -- subclass interface ---------------------------------------------------------------
    def _active_state_names(self) -> tuple[str, ...]:
        return self.state_names

    def _update(self, be, a: int, b: int, step: int) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    # -- public ---------------------------------------------------------------------------
    def _s(self, name: str, a: int, b: int) -> np.ndarray:
        arr = self.state.get(name)
        return self._empty if arr is None else arr[a:b]

    def runs(self) -> list[tuple[int, int, int]]:
        """``(start, stop, step)`` element ranges updated by the next kernel calls: contiguous
        trainable tensors with equal step counts (one run when nothing is frozen)."""
        out: list[tuple[int, int, int]] = []
        for s in self.params.segments:
            if not s.requires_grad or s.size == 0:
                continue
            k = int(self.steps[s.index])
            if out and out[-1][1] == s.offset and out[-1][2] == k:
                out[-1] = (out[-1][0], s.stop, k)
            else:
                out.append((s.offset, s.stop, k))
        return out

    def step(self) -> None:
        """Apply one update to every trainable parameter from its gradient in the arena."""
        arena = self.params
        arena.check_bound()
        trainable = arena.trainable
        self.steps[trainable] += 1
        be = get_backend()
        for a, b, k in self.runs():
            self._update(be, a, b, k)

    def zero_grad(self) -> None:
        """Zero every gradient of the arena (one fill)."""
        self.params.zero_grad()

    def hyperparameters(self) -> dict:
        """The constructor arguments (``lr`` is the current learning rate)."""
        return {"lr": self.lr, **self.hyper}

    def state_dict(self) -> dict:
        """A copy of the optimizer's state: ``type``, ``hyper`` (constructor arguments),
        ``initial_lr``, ``layout`` (tensor names and shapes), ``steps`` and ``state`` arrays."""
        return {
            "type": type(self).__name__,
            "hyper": _jsonable_hyper(self.hyperparameters()),
            "initial_lr": self.initial_lr,
            "layout": [[s.name, list(s.shape)] for s in self.params.segments],
            "dtype": self.params.dtype.name,
            "steps": self.steps.copy(),
            "state": {k: v.copy() for k, v in self.state.items()},
        }

    def load_state_dict(self, sd: dict) -> None:
        """Restore a :meth:`state_dict`. The type, the tensor layout, the dtype and every state
        array's size must match (``ValueError`` otherwise); hyper-parameters are taken over."""
        if not isinstance(sd, dict):
            raise TypeError(f"state_dict must be a dict, got {type(sd).__name__}")
        if sd.get("type") != type(self).__name__:
            raise ValueError(f"state_dict is for {sd.get('type')!r}, not {type(self).__name__}")
        layout = [[s.name, list(s.shape)] for s in self.params.segments]
        got = [[str(n), [int(d) for d in shp]] for n, shp in sd.get("layout", [])]
        if got != layout:
            raise ValueError(
                f"state_dict layout does not match the parameters: expected {layout}, got {got}"
            )
        if sd.get("dtype", self.params.dtype.name) != self.params.dtype.name:
            raise ValueError(
                f"state_dict dtype {sd.get('dtype')} does not match the parameters' "
                f"{self.params.dtype.name}"
            )
        hyper = dict(sd.get("hyper", {}))
        lr = hyper.pop("lr", self.lr)
        probe = type(self)(self.params, lr=lr, **hyper)  # validates the hyper-parameters
        state = sd.get("state", {})
        if set(state) != set(probe.state):
            raise ValueError(
                f"state_dict has state {sorted(state)}, expected {sorted(probe.state)}"
            )
        for k, v in state.items():
            v = np.asarray(v)
            if v.shape != (self.params.size,) or v.dtype != self.params.dtype:
                raise ValueError(
                    f"state {k!r} must be [{self.params.size}] {self.params.dtype}, "
                    f"got {list(v.shape)} {v.dtype}"
                )
        steps = np.asarray(sd.get("steps", np.zeros(len(self.params), np.int64)))
        if steps.shape != (len(self.params),) or not np.issubdtype(steps.dtype, np.integer):
            raise ValueError(f"steps must be [{len(self.params)}] integers, got {steps!r}")
        if (steps < 0).any():
            raise ValueError("steps must be >= 0")
        self.lr, self.hyper = probe.lr, probe.hyper
        self.initial_lr = float(sd.get("initial_lr", self.lr))
        self.state = {k: np.array(v, copy=True) for k, v in state.items()}
        self.steps = steps.astype(np.int64, copy=True)
        self._after_load()

    def _after_load(self) -> None:
        pass

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.hyperparameters().items())
        return f"{type(self).__name__}({args}; {self.params!r})"


def _jsonable_hyper(h: dict) -> dict:
    out = {}
    for k, v in h.items():
        if isinstance(v, tuple):
            v = [float(x) for x in v]
        elif isinstance(v, bool | np.bool_):
            v = bool(v)
        elif isinstance(v, int | float | np.floating | np.integer):
            v = float(v) if isinstance(v, float | np.floating) else int(v)
        out[k] = v
    return out


class SGD(Optimizer):
    """Stochastic gradient descent, as ``torch.optim.SGD``::

    d = g + weight_decay p
    buf = d (first step), else momentum buf + (1 - dampening) d
    d = d + momentum buf (nesterov) or buf          (if momentum != 0)
    p = p - lr d
    """

    def __init__(
        self,
        params,
        lr: float = 1e-3,
        momentum: float = 0.0,
        dampening: float = 0.0,
        weight_decay: float = 0.0,
        nesterov: bool = False,
    ) -> None:
        momentum = _nonneg("momentum", momentum)
        dampening = float(dampening)
        weight_decay = _nonneg("weight_decay", weight_decay)
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("nesterov momentum requires a momentum > 0 and zero dampening")
        super().__init__(
            params,
            lr,
            momentum=momentum,
            dampening=dampening,
            weight_decay=weight_decay,
            nesterov=bool(nesterov),
        )

    def _active_state_names(self):
        return ("momentum_buffer",) if self.hyper["momentum"] != 0 else ()

    def _update(self, be, a, b, step):
        h = self.hyper
        be.sgd_step(
            self.params.data[a:b],
            self.params.grad[a:b],
            self._s("momentum_buffer", a, b),
            self.lr,
            h["momentum"],
            h["dampening"],
            h["nesterov"],
            h["weight_decay"],
            step == 1,
        )


class RMSprop(Optimizer):
    """RMSprop, as ``torch.optim.RMSprop`` (eps outside the root; optional centered and
    momentum)::

        square_avg = alpha square_avg + (1 - alpha) d²,  d = g + weight_decay p
        avg = sqrt(square_avg - grad_avg²) (centered) or sqrt(square_avg), plus eps
        p = p - lr d / avg   (or through a momentum buffer)
    """

    def __init__(
        self,
        params,
        lr: float = 1e-2,
        alpha: float = 0.99,
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        momentum: float = 0.0,
        centered: bool = False,
    ) -> None:
        super().__init__(
            params,
            lr,
            alpha=_nonneg("alpha", alpha),
            eps=_nonneg("eps", eps),
            weight_decay=_nonneg("weight_decay", weight_decay),
            momentum=_nonneg("momentum", momentum),
            centered=bool(centered),
        )

    def _active_state_names(self):
        names = ["square_avg"]
        if self.hyper["centered"]:
            names.append("grad_avg")
        if self.hyper["momentum"] > 0:
            names.append("momentum_buffer")
        return tuple(names)

    def _update(self, be, a, b, step):
        h = self.hyper
        be.rmsprop_step(
            self.params.data[a:b],
            self.params.grad[a:b],
            self._s("square_avg", a, b),
            self._s("grad_avg", a, b),
            self._s("momentum_buffer", a, b),
            self.lr,
            h["alpha"],
            h["eps"],
            h["weight_decay"],
            h["momentum"],
            h["centered"],
        )


class AdaGrad(Optimizer):
    """AdaGrad, as ``torch.optim.Adagrad``::

    d = g + weight_decay p;  clr = lr / (1 + (step - 1) lr_decay)
    sum = sum + d²  (starts at initial_accumulator_value)
    p = p - clr d / (sqrt(sum) + eps)
    """

    def __init__(
        self,
        params,
        lr: float = 1e-2,
        lr_decay: float = 0.0,
        weight_decay: float = 0.0,
        initial_accumulator_value: float = 0.0,
        eps: float = 1e-10,
    ) -> None:
        super().__init__(
            params,
            lr,
            lr_decay=_nonneg("lr_decay", lr_decay),
            weight_decay=_nonneg("weight_decay", weight_decay),
            initial_accumulator_value=_nonneg(
                "initial_accumulator_value", initial_accumulator_value
            ),
            eps=_nonneg("eps", eps),
        )
        self.state["sum"].fill(self.hyper["initial_accumulator_value"])

    state_names = ("sum",)

    def _update(self, be, a, b, step):
        h = self.hyper
        be.adagrad_step(
            self.params.data[a:b],
            self.params.grad[a:b],
            self.state["sum"][a:b],
            self.lr,
            h["lr_decay"],
            h["weight_decay"],
            h["eps"],
            step,
        )


#: torch's spelling
Adagrad = AdaGrad


class Adam(Optimizer):
    """Adam, as ``torch.optim.Adam`` (weight decay is an L2 term added to the gradient;
    ``amsgrad`` keeps the max of the raw second moment)::

        m = beta1 m + (1 - beta1) d;  v = beta2 v + (1 - beta2) d²
        p = p - (lr / (1 - beta1^t)) m / (sqrt(v) / sqrt(1 - beta2^t) + eps)
    """

    _decoupled = False

    def __init__(
        self,
        params,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        amsgrad: bool = False,
    ) -> None:
        if not (isinstance(betas, tuple | list) and len(betas) == 2):
            raise ValueError(f"betas must be a pair (beta1, beta2), got {betas!r}")
        b1, b2 = _unit("beta1", betas[0]), _unit("beta2", betas[1])
        super().__init__(
            params,
            lr,
            betas=(b1, b2),
            eps=_nonneg("eps", eps),
            weight_decay=_nonneg("weight_decay", weight_decay),
            amsgrad=bool(amsgrad),
        )

    def _active_state_names(self):
        return (
            ("exp_avg", "exp_avg_sq", "max_exp_avg_sq")
            if self.hyper["amsgrad"]
            else ("exp_avg", "exp_avg_sq")
        )

    def _update(self, be, a, b, step):
        h = self.hyper
        be.adam_step(
            self.params.data[a:b],
            self.params.grad[a:b],
            self.state["exp_avg"][a:b],
            self.state["exp_avg_sq"][a:b],
            self._s("max_exp_avg_sq", a, b),
            self.lr,
            h["betas"][0],
            h["betas"][1],
            h["eps"],
            h["weight_decay"],
            step,
            h["amsgrad"],
            self._decoupled,
        )


class AdamW(Adam):
    """AdamW, as ``torch.optim.AdamW``: Adam with decoupled weight decay
    (``p = p (1 - lr weight_decay)`` before the Adam update). Default weight_decay 0.01."""

    _decoupled = True

    def __init__(
        self,
        params,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 1e-2,
        amsgrad: bool = False,
    ) -> None:
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad)
