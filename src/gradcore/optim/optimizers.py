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
- no ``maximize``, ``foreach``/``fused``/``capturable`` switches (there is one fused path);
- stricter arguments (``gradcore._args`` wording, ``TypeError`` for a wrong type,
  ``ValueError`` for a wrong value): every real hyper-parameter finite (also in the
  parameters' dtype), ``eps > 0`` (torch allows 0, which makes 0/0 = NaN of every parameter
  with a zero gradient), SGD ``dampening`` in ``[0, 1]``, RMSprop ``alpha`` in ``[0, 1)``;
  booleans must be bools. Changes after construction (``opt.lr = x``,
  ``opt.hyper[name] = x``, :meth:`Optimizer.load_state_dict`) are validated when they are
  made, with the same rules, so ``step()`` itself checks nothing and costs what it cost.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

import numpy as np

from .._args import check_bool, check_real, describe
from ..backends import get_backend
from ..params import ParameterArena

__all__ = ["SGD", "AdaGrad", "Adagrad", "Adam", "AdamW", "Optimizer", "RMSprop"]


def _as_arena(params, owner: str | None = None) -> ParameterArena:
    """``params`` as an arena: an arena itself, or a model whose ``parameters()`` gives one."""
    if isinstance(params, ParameterArena):
        params.check_bound()  # a stale arena (the model changed since) must not be used
        return params
    parameters = getattr(params, "parameters", None)
    if callable(parameters) and not isinstance(params, type):  # a model: use its arena
        arena = parameters()
        if isinstance(arena, ParameterArena):
            return arena
    prefix = f"{owner}: " if owner else ""
    raise TypeError(
        f"{prefix}params must be a model's parameter arena (model.parameters()) or a gradcore "
        f"model, got {describe(params)}"
    )


class HyperParameters(Mapping):
    """``optimizer.hyper``: the optimizer's hyper-parameters (all but ``lr``), read like a
    dict; ``hyper[name] = value`` and ``update(...)`` validate the new value (with the same
    rules as the constructor) before it is taken, so a step never sees an invalid one."""

    __slots__ = ("_opt",)

    def __init__(self, optimizer: Optimizer) -> None:
        self._opt = optimizer

    def __getitem__(self, key: str):
        return self._opt._hyper[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._opt._hyper)

    def __len__(self) -> int:
        return len(self._opt._hyper)

    def __setitem__(self, key: str, value) -> None:
        self._opt._set_hyper({key: value})

    def __delitem__(self, key: str) -> None:
        raise TypeError(f"{self._opt._owner}: hyper-parameters cannot be removed (got del {key!r})")

    def update(self, other=(), /, **kw) -> None:
        """Set several at once (all validated together, then all taken, or none)."""
        changes = dict(other, **kw)
        self._opt._set_hyper(changes)

    def __repr__(self) -> str:
        return repr(self._opt._hyper)


class Optimizer:
    """Base class: a flat-state optimizer bound to one :class:`~gradcore.params.ParameterArena`.

    Hyper-parameters are validated where they enter: by the constructor, by the ``lr`` setter
    (``opt.lr = x``, which every schedule goes through), by ``opt.hyper[name] = x`` and by
    :meth:`load_state_dict`, with the rules of the constructor (so ``step()`` itself adds no
    check: it costs what it cost). Every real hyper-parameter must be finite, also once
    rounded to the parameters' dtype (the kernels compute in it): ``lr=1e39`` is refused for a
    float32 model. A hyper-parameter that decides which state buffers exist (SGD's/RMSprop's
    ``momentum`` between zero and non-zero, ``centered``, ``amsgrad``) cannot be changed
    after construction (``ValueError``): create a new optimizer.

    Attributes
    ----------
    params : ParameterArena
        What it updates (``model.parameters()``).
    lr : float
        The learning rate, a finite real >= 0 (schedules write it; the setter validates).
    hyper : mapping str -> float | bool | tuple
        The other constructor arguments (validated on assignment).
    state : dict[str, ndarray [P]]
        Flat state arrays in the arena's layout and dtype (e.g. ``"exp_avg"``).
    steps : ndarray [S] int64
        Per-tensor step counts (torch's ``state[p]["step"]``).
    """

    #: names of the flat state arrays, created zero-filled (subclasses)
    state_names: tuple[str, ...] = ()

    def __init__(self, params, lr: float, **hyper) -> None:
        if type(self) is Optimizer:
            raise TypeError(
                "Optimizer is a base class: use SGD, Adam, AdamW, RMSprop or AdaGrad "
                "(or subclass it and define _update)"
            )
        self.params = _as_arena(params, self._owner)
        dt = self.params.dtype
        self._dtype_max = float(np.finfo(dt).max)
        self._lr = self._check_lr(lr)
        self.initial_lr = self._lr
        self._hyper = self._validate(dict(hyper))
        self.state: dict[str, np.ndarray] = {
            k: np.zeros(self.params.size, dt) for k in self._active_state_names(self._hyper)
        }
        self.steps = np.zeros(len(self.params), np.int64)
        self._empty = np.empty(0, dt)

    # -- validation -----------------------------------------------------------------------
    @property
    def _owner(self) -> str:
        return type(self).__name__

    def _real(self, name: str, value, **rng) -> float:
        """``check_real`` (finite, in range), and finite once rounded to the arena's dtype."""
        v = check_real(name, value, owner=self._owner, **rng)
        if abs(v) > self._dtype_max:
            raise ValueError(
                f"{self._owner}: {name} must be finite in the parameters' dtype "
                f"{self.params.dtype} (magnitude <= {self._dtype_max:.8g}), got {v!r}"
            )
        return v

    def _eps(self, value, name: str = "eps") -> float:
        """A denominator's floor: > 0, and a normal number of the arena's dtype (a smaller one
        rounds to 0 in float32: a zero gradient would give 0/0 = NaN)."""
        v = self._real(name, value, min=0, min_open=True)
        tiny = float(np.finfo(self.params.dtype).tiny)
        if v < tiny:
            raise ValueError(
                f"{self._owner}: {name} must be a finite real number >= {tiny:.8g} (the "
                f"smallest normal {self.params.dtype}; it rounds to 0 below that), got {v!r}"
            )
        return v

    def _check_lr(self, value, owner: str | None = None, name: str = "lr") -> float:
        try:
            return self._real(name, value, min=0)
        except (TypeError, ValueError) as exc:
            if owner is None:
                raise
            msg = str(exc).split(": ", 1)[1]
            raise type(exc)(f"{owner}: {msg}") from None

    def _validate(self, h: dict) -> dict:
        """The hyper-parameters (all but lr), checked and converted; subclasses override."""
        return h

    def _set_hyper(self, changes: dict) -> None:
        unknown = [k for k in changes if k not in self._hyper]
        if unknown:
            known = ", ".join(repr(k) for k in self._hyper) or "none"
            extra = " (the learning rate is opt.lr)" if "lr" in unknown else ""
            raise ValueError(
                f"{self._owner}: hyper has no {unknown[0]!r}{extra}; its keys are {known}"
            )
        new = self._validate({**self._hyper, **changes})
        before, after = self._active_state_names(self._hyper), self._active_state_names(new)
        if before != after:
            key = next(iter(changes))
            raise ValueError(
                f"{self._owner}: {key} cannot change from {self._hyper[key]!r} to "
                f"{new[key]!r} after construction: it decides the state buffers "
                f"({', '.join(before) or 'none'} -> {', '.join(after) or 'none'}); "
                "create a new optimizer"
            )
        self._hyper = new

    @property
    def lr(self) -> float:
        """The learning rate (float >= 0, finite in the parameters' dtype)."""
        return self._lr

    @lr.setter
    def lr(self, value) -> None:
        self._lr = self._check_lr(value)

    @property
    def hyper(self) -> HyperParameters:
        """The hyper-parameters but ``lr`` (a validating mapping; see the class docstring)."""
        return HyperParameters(self)

    # -- subclass interface ---------------------------------------------------------------
    def _active_state_names(self, h: dict) -> tuple[str, ...]:
        """The state buffers hyper-parameters ``h`` need (all of ``state_names`` by default)."""
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
        return {"lr": self._lr, **self._hyper}

    def state_dict(self) -> dict:
        """A copy of the optimizer's state: ``type``, ``hyper`` (constructor arguments),
        ``initial_lr``, ``layout`` (tensor names and shapes), ``dtype``, ``steps`` and
        ``state`` arrays."""
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
        """Restore a :meth:`state_dict` (all or nothing: on any error the optimizer is left as
        it was). ``sd`` must be a mapping (``TypeError``) with exactly the keys
        :meth:`state_dict` writes; every defect in its content is a ``ValueError`` naming the
        entry: another type, layout or dtype, invalid hyper-parameters (checked by the
        constructor's rules), state arrays that are not ``[P]`` of the arena's dtype or hold
        NaN/inf (or negative second moments), steps that are not ``[S]`` integers >= 0."""
        owner = f"{self._owner}.load_state_dict"
        if not isinstance(sd, Mapping):
            raise TypeError(f"{owner}: state_dict must be a dict, got {describe(sd)}")

        def bad(msg: str):
            return ValueError(f"{owner}: {msg}")

        check_state_dict_keys(sd, _SD_KEYS, owner)
        if sd["type"] != type(self).__name__:
            raise bad(f"state_dict is for {sd['type']!r}, not {type(self).__name__}")
        layout = [[s.name, list(s.shape)] for s in self.params.segments]
        got = _layout(sd["layout"])
        if got != layout:
            raise bad(
                f"state_dict layout does not match the parameters: expected {layout}, "
                f"got {got if got is not None else describe(sd['layout'])}"
            )
        if sd["dtype"] != self.params.dtype.name:
            raise bad(
                f"state_dict dtype {sd['dtype']!r} does not match the parameters' "
                f"{self.params.dtype.name}"
            )
        if not isinstance(sd["hyper"], Mapping):
            raise bad(f"state_dict['hyper'] must be a dict, got {describe(sd['hyper'])}")
        hyper = dict(sd["hyper"])
        if "lr" not in hyper:
            raise bad("state_dict['hyper'] has no 'lr'")
        lr = hyper.pop("lr")
        try:
            probe = type(self)(self.params, lr=lr, **hyper)  # the constructor's rules
        except (TypeError, ValueError) as exc:
            raise bad(f"state_dict['hyper']: {exc}") from None
        try:
            initial_lr = self._check_lr(sd["initial_lr"], name="state_dict['initial_lr']")
        except (TypeError, ValueError) as exc:
            raise bad(str(exc).split(": ", 1)[1]) from None
        state = sd["state"]
        if not isinstance(state, Mapping):
            raise bad(f"state_dict['state'] must be a dict, got {describe(state)}")
        if set(state) != set(probe.state):
            raise bad(
                f"state_dict has state {sorted(map(str, state))}, expected {sorted(probe.state)}"
            )
        P, dt = self.params.size, self.params.dtype
        arrays = {}
        for k, v in state.items():
            if not isinstance(v, np.ndarray) or v.shape != (P,) or v.dtype != dt:
                shown = f"{list(v.shape)} {v.dtype}" if isinstance(v, np.ndarray) else describe(v)
                raise bad(f"state {k!r} must be [{P}] {dt}, got {shown}")
            if not np.isfinite(v).all():
                raise bad(f"state {k!r} must be finite, got {int((~np.isfinite(v)).sum())} NaN/inf")
            if k in _NONNEG_STATE and (v < 0).any():
                raise bad(f"state {k!r} (a sum of squares) must be >= 0, got {v.min()!r}")
            arrays[k] = np.array(v, copy=True)
        steps = sd["steps"]
        S = len(self.params)
        if (
            not isinstance(steps, np.ndarray)
            or steps.shape != (S,)
            or not np.issubdtype(steps.dtype, np.integer)
        ):
            shown = (
                f"{list(steps.shape)} {steps.dtype}"
                if isinstance(steps, np.ndarray)
                else describe(steps)
            )
            raise bad(f"steps must be [{S}] integers, got {shown}")
        if (steps < 0).any():
            raise bad(f"steps must be >= 0, got {int(steps.min())}")
        self._lr, self._hyper = probe._lr, probe._hyper
        self.initial_lr = initial_lr
        self.state = arrays
        self.steps = steps.astype(np.int64, copy=True)
        self._after_load()

    def _after_load(self) -> None:
        pass

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.hyperparameters().items())
        return f"{type(self).__name__}({args}; {self.params!r})"


#: the keys of Optimizer.state_dict()
_SD_KEYS = frozenset({"type", "hyper", "initial_lr", "layout", "dtype", "steps", "state"})
#: state arrays that accumulate squares (a negative entry would make a NaN root)
_NONNEG_STATE = frozenset({"square_avg", "exp_avg_sq", "max_exp_avg_sq", "sum"})


def check_state_dict_keys(sd: Mapping, want, owner: str) -> None:
    """``sd`` has exactly the keys ``want`` (an optimizer's or a schedule's ``state_dict``), else
    a ``ValueError`` naming the missing and the unknown ones."""
    keys = set(sd)
    missing, unknown = sorted(set(want) - keys), sorted(map(repr, keys - set(want)))
    if missing or unknown:
        raise ValueError(
            f"{owner}: state_dict must have the keys {sorted(want)}, got "
            + "; ".join(
                ([f"missing {missing}"] if missing else [])
                + ([f"unknown {', '.join(unknown)}"] if unknown else [])
            )
        )


def _layout(value) -> list | None:
    """A state_dict's layout as ``[[name, [dims]], ...]``, or None if it is not one."""
    if not isinstance(value, list | tuple):
        return None
    out = []
    for item in value:
        if not (isinstance(item, list | tuple) and len(item) == 2):
            return None
        name, shape = item
        if not isinstance(name, str) or not isinstance(shape, list | tuple):
            return None
        if not all(isinstance(d, int | np.integer) and not isinstance(d, bool) for d in shape):
            return None
        out.append([name, [int(d) for d in shape]])
    return out


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

    Parameters (finite reals; NumPy scalars accepted): ``lr >= 0``, ``momentum >= 0``,
    ``dampening`` in ``[0, 1]``, ``weight_decay >= 0``; ``nesterov`` (bool) requires
    ``momentum > 0`` and ``dampening == 0``.
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
        super().__init__(
            params,
            lr,
            momentum=momentum,
            dampening=dampening,
            weight_decay=weight_decay,
            nesterov=nesterov,
        )

    def _validate(self, h):
        out = {
            "momentum": self._real("momentum", h["momentum"], min=0),
            "dampening": self._real("dampening", h["dampening"], min=0, max=1),
            "weight_decay": self._real("weight_decay", h["weight_decay"], min=0),
            "nesterov": check_bool("nesterov", h["nesterov"], owner=self._owner),
        }
        if out["nesterov"] and (out["momentum"] <= 0 or out["dampening"] != 0):
            raise ValueError(
                "SGD: nesterov must be False unless momentum > 0 and dampening == 0, got "
                f"True with momentum={out['momentum']!r} and dampening={out['dampening']!r}"
            )
        return out

    def _active_state_names(self, h):
        return ("momentum_buffer",) if h["momentum"] != 0 else ()

    def _update(self, be, a, b, step):
        h = self._hyper
        be.sgd_step(
            self.params.data[a:b],
            self.params.grad[a:b],
            self._s("momentum_buffer", a, b),
            self._lr,
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

    Parameters (finite reals; NumPy scalars accepted): ``lr >= 0``, ``alpha`` in ``[0, 1)``
    (torch allows 1, which freezes ``square_avg`` at 0), ``eps > 0`` (torch allows 0: a zero
    gradient would give 0/0), ``weight_decay >= 0``, ``momentum >= 0``; ``centered`` (bool).
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
            alpha=alpha,
            eps=eps,
            weight_decay=weight_decay,
            momentum=momentum,
            centered=centered,
        )

    def _validate(self, h):
        return {
            "alpha": self._real("alpha", h["alpha"], min=0, max=1, max_open=True),
            "eps": self._eps(h["eps"]),
            "weight_decay": self._real("weight_decay", h["weight_decay"], min=0),
            "momentum": self._real("momentum", h["momentum"], min=0),
            "centered": check_bool("centered", h["centered"], owner=self._owner),
        }

    def _active_state_names(self, h):
        names = ["square_avg"]
        if h["centered"]:
            names.append("grad_avg")
        if h["momentum"] > 0:
            names.append("momentum_buffer")
        return tuple(names)

    def _update(self, be, a, b, step):
        h = self._hyper
        be.rmsprop_step(
            self.params.data[a:b],
            self.params.grad[a:b],
            self._s("square_avg", a, b),
            self._s("grad_avg", a, b),
            self._s("momentum_buffer", a, b),
            self._lr,
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

    Parameters (finite reals; NumPy scalars accepted): ``lr >= 0``, ``lr_decay >= 0``,
    ``weight_decay >= 0``, ``initial_accumulator_value >= 0``, ``eps > 0`` (torch allows 0).
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
            lr_decay=lr_decay,
            weight_decay=weight_decay,
            initial_accumulator_value=initial_accumulator_value,
            eps=eps,
        )
        self.state["sum"].fill(self._hyper["initial_accumulator_value"])

    state_names = ("sum",)

    def _validate(self, h):
        return {
            "lr_decay": self._real("lr_decay", h["lr_decay"], min=0),
            "weight_decay": self._real("weight_decay", h["weight_decay"], min=0),
            "initial_accumulator_value": self._real(
                "initial_accumulator_value", h["initial_accumulator_value"], min=0
            ),
            "eps": self._eps(h["eps"]),
        }

    def _update(self, be, a, b, step):
        h = self._hyper
        be.adagrad_step(
            self.params.data[a:b],
            self.params.grad[a:b],
            self.state["sum"][a:b],
            self._lr,
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

    Parameters (finite reals; NumPy scalars accepted): ``lr >= 0``, ``betas`` a tuple or list
    of two reals in ``[0, 1)``, ``eps > 0`` (torch allows 0: a zero gradient would give 0/0),
    ``weight_decay >= 0``; ``amsgrad`` (bool).
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
        super().__init__(
            params,
            lr,
            betas=betas,
            eps=eps,
            weight_decay=weight_decay,
            amsgrad=amsgrad,
        )

    def _validate(self, h):
        betas = h["betas"]
        if not isinstance(betas, tuple | list):
            raise TypeError(
                f"{self._owner}: betas must be a tuple (beta1, beta2) of real numbers in "
                f"[0, 1), got {describe(betas)}"
            )
        if len(betas) != 2:
            raise ValueError(
                f"{self._owner}: betas must be a tuple (beta1, beta2) of real numbers in "
                f"[0, 1), got {len(betas)} values"
            )
        b1, b2 = (
            self._real(f"betas[{i}]", b, min=0, max=1, max_open=True) for i, b in enumerate(betas)
        )
        return {
            "betas": (b1, b2),
            "eps": self._eps(h["eps"]),
            "weight_decay": self._real("weight_decay", h["weight_decay"], min=0),
            "amsgrad": check_bool("amsgrad", h["amsgrad"], owner=self._owner),
        }

    def _active_state_names(self, h):
        return (
            ("exp_avg", "exp_avg_sq", "max_exp_avg_sq")
            if h["amsgrad"]
            else ("exp_avg", "exp_avg_sq")
        )

    def _update(self, be, a, b, step):
        h = self._hyper
        be.adam_step(
            self.params.data[a:b],
            self.params.grad[a:b],
            self.state["exp_avg"][a:b],
            self.state["exp_avg_sq"][a:b],
            self._s("max_exp_avg_sq", a, b),
            self._lr,
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
    (``p = p (1 - lr weight_decay)`` before the Adam update). Default weight_decay 0.01;
    parameters as :class:`Adam`."""

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
