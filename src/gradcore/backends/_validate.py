"""Argument checks shared by the backends (the reference, ``numba`` and ``c``): the one Python
validation helper of ``gradcore.backends``.

A backend never imports another backend, so checks that more than one backend needs live
here, in a neutral module: every family's argument checks are written once and called by each
backend's wrapper, so a bad call raises the same error whichever backend runs. Exception types:
a wrong dtype is a ``TypeError``, a wrong shape or a read-only output a ``ValueError``. Compiled
kernels must never see an array they could read or write out of bounds, so every array's shape
and dtype is checked. (The C backend's Cython binding checks again, in C, with the same wording.)

Wording: ``"{op}: {name} must be {expected}, got {given}"`` (as ``gradcore._args``), e.g.
``"layernorm_forward: gamma must have shape (8,), got (7,)"``; every checker takes the op's
name first.

Pure NumPy, no state. Imports only :mod:`._contract` (below it): safe to import from any backend.
"""

from __future__ import annotations

import numpy as np

from ._contract import FLOATS, SATURATION, STATS_FIELDS, activation_code

__all__ = [
    "FLOATS",
    "SATURATION",
    "STATS_FIELDS",
    "activation_code",
    "check_adagrad",
    "check_adam",
    "check_array",
    "check_batchnorm_eval",
    "check_batchnorm_train",
    "check_clip",
    "check_delta_args",
    "check_dense",
    "check_dense_backward",
    "check_dense_forward",
    "check_flat",
    "check_float",
    "check_grad_out",
    "check_labels",
    "check_layernorm_forward",
    "check_lstm_backward",
    "check_lstm_forward",
    "check_nesterov",
    "check_nonempty",
    "check_norm_backward",
    "check_out",
    "check_pair",
    "check_param",
    "check_rmsprop",
    "check_rnn_backward",
    "check_rnn_forward",
    "check_same_shape",
    "check_segments",
    "check_sgd",
    "check_state",
    "check_stats_args",
    "check_step",
    "check_xent",
]

_F64 = np.dtype(np.float64)
_I64 = np.dtype(np.int64)


def _got(a: object) -> object:
    """What a message says was given: an array's dtype, else the type's name."""
    return a.dtype if isinstance(a, np.ndarray) else type(a).__name__


def check_float(op: str, name: str, a: object) -> np.dtype:
    """``a`` must be a float32/float64 ndarray (``TypeError`` otherwise); returns its dtype."""
    if not isinstance(a, np.ndarray) or a.dtype not in FLOATS:
        raise TypeError(f"{op}: {name} must be a float32 or float64 ndarray, got {_got(a)}")
    return a.dtype


def check_array(op: str, name: str, a: object, shape: tuple[int, ...], dtype: np.dtype) -> None:
    """``a`` must be an ndarray of exactly ``dtype`` (TypeError) and ``shape`` (a tuple;
    ValueError)."""
    if not isinstance(a, np.ndarray):
        raise TypeError(f"{op}: {name} must be a numpy.ndarray, got {type(a).__name__}")
    if a.dtype != dtype:
        raise TypeError(f"{op}: {name} must have dtype {np.dtype(dtype)}, got {a.dtype}")
    if a.shape != shape:  # (no tuple(shape) here: ~60 ns, on every array of every op call)
        raise ValueError(f"{op}: {name} must have shape {tuple(shape)}, got {a.shape}")


def check_out(op: str, name: str, a: object, shape: tuple[int, ...], dtype: np.dtype) -> None:
    """As :func:`check_array`, and ``a`` must be writeable (it is an output)."""
    check_array(op, name, a, shape, dtype)
    if not a.flags.writeable:  # type: ignore[union-attr]
        raise ValueError(f"{op}: {name} must be writeable (it is an output), got a read-only array")


def check_param(op: str, p: object, g: object) -> None:
    """Optimizer parameter ``p`` (float32/float64, writeable: updated in place) and its gradient
    ``g`` (p's dtype: ``TypeError``; p's shape: ``ValueError``)."""
    if not isinstance(p, np.ndarray) or p.dtype not in FLOATS:
        raise TypeError(f"{op}: p must be a float32 or float64 numpy array, got {_got(p)}")
    if not p.flags.writeable:
        raise ValueError(f"{op}: p must be writeable (it is updated in place)")
    if not isinstance(g, np.ndarray) or g.dtype != p.dtype:
        raise TypeError(f"{op}: g must be a numpy array with p's dtype {p.dtype}, got {_got(g)}")
    if g.shape != p.shape:
        raise ValueError(f"{op}: g must have p's shape {p.shape}, got {g.shape}")


def check_state(op: str, name: str, a: object, p: np.ndarray) -> None:
    """Optimizer state array ``a``: p's dtype (``TypeError``), p's shape and writeable
    (``ValueError``)."""
    if not isinstance(a, np.ndarray) or a.dtype != p.dtype:
        raise TypeError(
            f"{op}: state {name} must be a numpy array with p's dtype {p.dtype}, got {_got(a)}"
        )
    if a.shape != p.shape:
        raise ValueError(f"{op}: state {name} must have p's shape {p.shape}, got {a.shape}")
    if not a.flags.writeable:
        raise ValueError(f"{op}: state {name} must be writeable (it is updated in place)")


def check_flat(op: str, flat: object, inplace: bool = False) -> None:
    """A flat float32/float64 buffer ``[P]``; ``inplace``: it must also be writeable."""
    if not isinstance(flat, np.ndarray) or flat.ndim != 1:
        got = f"shape {flat.shape}" if isinstance(flat, np.ndarray) else type(flat).__name__
        raise ValueError(f"{op}: flat must be a 1-d numpy array, got {got}")
    if flat.dtype not in FLOATS:
        raise TypeError(f"{op}: flat must have dtype float32 or float64, got {flat.dtype}")
    if inplace and not flat.flags.writeable:
        raise ValueError(f"{op}: flat must be writeable (it is modified in place)")


def check_step(op: str, step: object) -> int:
    """Optimizer step count: an int >= 1 (``ValueError`` otherwise)."""
    if isinstance(step, bool) or not isinstance(step, int | np.integer) or step < 1:
        raise ValueError(
            f"{op}: step must be an int >= 1 (the count after incrementing), got {step!r}"
        )
    return int(step)


def check_labels(op: str, labels: object, n: int, k: int) -> None:
    """Class labels for ``[n, k]`` logits: integer dtype (TypeError), shape ``[n]`` and values
    in ``[0, k)`` (ValueError naming the first offending position)."""
    if not isinstance(labels, np.ndarray) or labels.dtype.kind not in "iu":
        raise TypeError(f"{op}: labels must be an integer ndarray (int64), got {_got(labels)}")
    if labels.shape != (n,):
        raise ValueError(f"{op}: labels must have shape [N] = [{n}], got {list(labels.shape)}")
    bad = np.flatnonzero((labels < 0) | (labels >= k))
    if bad.size:
        i = int(bad[0])
        raise ValueError(
            f"{op}: labels must be in [0, {k}) for {k} classes; got labels[{i}] = "
            f"{int(labels[i])} ({bad.size} label(s) out of range)"
        )


def check_segments(
    op: str, flat: object, offsets: object, values: object, vname: str, nonfinite: object
) -> int:
    """Validate a flat buffer, its segment offsets and the two per-segment outputs (float64
    ``values`` and int64 ``nonfinite``, both ``[S]``; ``nonfinite=None`` for ops without one);
    return the number of segments ``S``."""
    check_flat(op, flat)
    P = flat.shape[0]  # type: ignore[union-attr]
    if not isinstance(offsets, np.ndarray) or offsets.ndim != 1 or offsets.dtype != np.int64:
        raise TypeError(
            f"{op}: offsets must be a 1-d int64 numpy array of length S+1, got {_got(offsets)}"
        )
    if offsets.shape[0] < 1:
        raise ValueError(f"{op}: offsets must have length S+1 >= 1, got length 0")
    S = offsets.shape[0] - 1
    if offsets[0] != 0:
        raise ValueError(f"{op}: offsets[0] must be 0, got {offsets[0]}")
    if offsets[-1] != P:
        raise ValueError(f"{op}: offsets[-1] must be len(flat) = {P}, got {offsets[-1]}")
    if S > 1 and (offsets[1:] < offsets[:-1]).any():  # (np.diff: ~3x slower per call)
        raise ValueError(f"{op}: offsets must be non-decreasing, got {offsets}")
    for name, arr, dt in ((vname, values, _F64), ("nonfinite", nonfinite, _I64)):
        if arr is None and name == "nonfinite":
            continue
        if not isinstance(arr, np.ndarray) or arr.dtype != dt or arr.shape != (S,):
            got = f"{arr.dtype} {arr.shape}" if isinstance(arr, np.ndarray) else _got(arr)
            raise TypeError(f"{op}: {name} must be a {dt} numpy array of shape ({S},), got {got}")
        if not arr.flags.writeable:
            raise ValueError(f"{op}: {name} must be writeable (it is an output)")
    return S


def check_stats_args(x, sat, threshold, colnz, out) -> tuple[int, int]:
    """Checks of ``act_stats`` (stats family); returns ``(M, C)``, the 2-D view of ``x``."""
    op = "act_stats"
    check_float(op, "x", x)
    if isinstance(sat, bool) or not isinstance(sat, int | np.integer) or sat not in (0, 1, 2):
        raise ValueError(f"{op}: sat must be 0 (none), 1 (sigmoid) or 2 (tanh), got {sat!r}")
    if isinstance(threshold, bool) or not isinstance(threshold, int | float | np.floating):
        raise TypeError(f"{op}: threshold must be a real number, got {type(threshold).__name__}")
    if not threshold >= 0:
        raise ValueError(f"{op}: threshold must be >= 0, got {threshold}")
    C = int(x.shape[-1]) if x.ndim else 1
    M = int(x.size // C) if C else 0
    check_out(op, "colnz", colnz, (C,), _I64)
    check_out(op, "out", out, (len(STATS_FIELDS),), _F64)
    return M, C


def check_delta_args(new, prev, offsets, delta_sumsq, new_sumsq) -> int:
    """Checks of ``segment_delta_sumsq`` (stats family); returns the number of segments."""
    op = "segment_delta_sumsq"
    check_float(op, "new", new)
    if not isinstance(prev, np.ndarray) or prev.dtype != new.dtype:
        raise TypeError(
            f"{op}: prev must be an ndarray with new's dtype {new.dtype}, got {_got(prev)}"
        )
    if new.ndim != 1 or prev.shape != new.shape:
        raise ValueError(
            f"{op}: new and prev must be 1-d of one length, got {new.shape}, {prev.shape}"
        )
    if not prev.flags.writeable:
        raise ValueError(f"{op}: prev must be writeable (it is overwritten with new)")
    if np.may_share_memory(new, prev):
        raise ValueError(f"{op}: prev must not share memory with new")
    S = check_segments(op, new, offsets, delta_sumsq, "delta_sumsq", None)
    check_out(op, "new_sumsq", new_sumsq, (S,), _F64)
    return S


# --------------------------------------------------------------------------- norms, optim


def check_clip(clip: object) -> None:
    """``clip_value_``'s bound: ``clip >= 0`` (``ValueError`` otherwise, NaN included)."""
    if not clip >= 0:
        raise ValueError(f"clip_value_: clip must be >= 0, got {clip}")


def _floats(*values: object) -> tuple[float, ...]:
    """Hyper-parameters as Python floats: NumPy then rounds them to the array dtype (a
    ``np.float64`` scalar would instead promote float32 math to float64)."""
    return tuple(map(float, values))


def check_sgd(p, g, buf, lr, momentum, dampening, nesterov, weight_decay) -> tuple[float, ...]:
    """Checks of ``sgd_step`` (``buf`` only if momentum != 0); returns ``(lr, momentum,
    dampening, weight_decay)`` as Python floats."""
    check_param("sgd_step", p, g)
    lr, momentum, dampening, weight_decay = _floats(lr, momentum, dampening, weight_decay)
    check_nesterov(nesterov, momentum, dampening)
    if momentum != 0:
        check_state("sgd_step", "buf", buf, p)
    return lr, momentum, dampening, weight_decay


def check_rmsprop(
    p, g, square_avg, grad_avg, mom_buf, lr, alpha, eps, weight_decay, momentum, centered
) -> tuple[float, ...]:
    """Checks of ``rmsprop_step`` (``grad_avg`` only if centered, ``mom_buf`` only if
    momentum > 0); returns ``(lr, alpha, eps, weight_decay, momentum)`` as Python floats."""
    op = "rmsprop_step"
    check_param(op, p, g)
    check_state(op, "square_avg", square_avg, p)
    lr, alpha, eps, weight_decay, momentum = _floats(lr, alpha, eps, weight_decay, momentum)
    if centered:
        check_state(op, "grad_avg", grad_avg, p)
    if momentum > 0:
        check_state(op, "mom_buf", mom_buf, p)
    return lr, alpha, eps, weight_decay, momentum


def check_adagrad(p, g, state_sum, lr, lr_decay, weight_decay, eps, step) -> tuple:
    """Checks of ``adagrad_step``; returns ``(lr, lr_decay, weight_decay, eps)`` as Python
    floats and ``step`` as an int."""
    check_param("adagrad_step", p, g)
    check_state("adagrad_step", "state_sum", state_sum, p)
    return (*_floats(lr, lr_decay, weight_decay, eps), check_step("adagrad_step", step))


def check_adam(p, g, m, v, vmax, lr, beta1, beta2, eps, weight_decay, step, amsgrad) -> tuple:
    """Checks of ``adam_step`` (``vmax`` only if amsgrad); returns ``(lr, beta1, beta2, eps,
    weight_decay)`` as Python floats and ``step`` as an int."""
    op = "adam_step"
    check_param(op, p, g)
    check_state(op, "m", m, p)
    check_state(op, "v", v, p)
    floats = _floats(lr, beta1, beta2, eps, weight_decay)
    if amsgrad:
        check_state(op, "vmax", vmax, p)
    return (*floats, check_step(op, step))


def check_nesterov(nesterov: object, momentum: float, dampening: float) -> None:
    """SGD's Nesterov rule (torch's): ``nesterov`` requires ``momentum > 0`` and
    ``dampening == 0`` (``ValueError``)."""
    if nesterov and (momentum <= 0 or dampening != 0):
        raise ValueError(
            "sgd_step: nesterov must be False unless momentum > 0 and dampening == 0, got "
            f"momentum={momentum}, dampening={dampening}"
        )


# --------------------------------------------------------------------------- loss


def check_same_shape(op: str, name_a: str, a: np.ndarray, name_b: str, b: object) -> None:
    """``b`` must be an ndarray (``TypeError``) of ``a``'s shape (``ValueError``: the losses
    never broadcast)."""
    if not isinstance(b, np.ndarray):
        raise TypeError(f"{op}: {name_b} must be a numpy.ndarray, got {type(b).__name__}")
    if a.shape != b.shape:
        raise ValueError(
            f"{op}: {name_a} and {name_b} must have the same shape, got {list(a.shape)} and "
            f"{list(b.shape)} (no broadcasting)"
        )


def check_nonempty(op: str, name: str, a: np.ndarray) -> None:
    """A mean needs at least one element (``ValueError``; torch would return NaN)."""
    if a.size == 0:
        raise ValueError(
            f"{op}: {name} must not be empty (the mean over zero elements is undefined), got "
            f"shape {list(a.shape)}"
        )


def check_xent(logits: object, labels: object) -> tuple[int, int]:
    """Checks of ``softmax_xent``'s inputs; returns ``(N, K)``."""
    op = "softmax_xent"
    check_float(op, "logits", logits)
    if logits.ndim != 2:
        raise ValueError(f"{op}: logits must have shape [N, K], got {list(logits.shape)}")
    N, K = logits.shape
    if N == 0:
        raise ValueError(
            f"{op}: logits must not be an empty batch (the mean over zero samples is "
            f"undefined), got N = 0"
        )
    check_labels(op, labels, N, K)
    return N, K


def check_pair(op: str, name: str, a: object, tname: str, t: object) -> np.dtype:
    """``mse``/``bce_with_logits`` inputs: ``a`` float, ``t`` of its shape and dtype, not empty."""
    dt = check_float(op, name, a)
    check_same_shape(op, name, a, tname, t)
    check_array(op, tname, t, a.shape, dt)
    check_nonempty(op, name, a)
    return dt


def check_grad_out(op: str, name: str, g: object, like_name: str, like: np.ndarray) -> None:
    """A loss gradient output (when not None): ``like``'s shape and dtype, writeable."""
    check_same_shape(op, name, g, like_name, like)
    check_out(op, name, g, like.shape, like.dtype)


# --------------------------------------------------------------------------- dense


def check_dense(op: str, x: object, W: object, b: object) -> tuple[int, int, int, np.dtype]:
    """``x[N,I]`` float, ``W[I,O]`` and ``b[O]`` of x's dtype; returns ``(N, I, O, dtype)``."""
    dt = check_float(op, "x", x)
    if not isinstance(W, np.ndarray) or not isinstance(b, np.ndarray):
        raise TypeError(f"{op}: W and b must be numpy arrays, got {_got(W)}, {_got(b)}")
    if x.ndim != 2 or W.ndim != 2 or b.ndim != 1:
        raise ValueError(
            f"{op}: the arrays must be x[N,I], W[I,O], b[O], got x{list(x.shape)}, "
            f"W{list(W.shape)}, b{list(b.shape)}"
        )
    N, I = x.shape
    if W.shape[0] != I or b.shape[0] != W.shape[1]:
        raise ValueError(
            f"{op}: shape mismatch, x{list(x.shape)} @ W{list(W.shape)} + b{list(b.shape)} "
            "(W is [in, out])"
        )
    check_array(op, "W", W, W.shape, dt)
    check_array(op, "b", b, b.shape, dt)
    return N, I, W.shape[1], dt


def check_dense_forward(x, W, b, act, z, y) -> tuple[int, int, int, np.dtype]:
    """Checks of ``dense_forward``; returns ``(activation code, N, O, dtype)``."""
    op = "dense_forward"
    code = activation_code(act)
    N, _, O, dt = check_dense(op, x, W, b)
    check_out(op, "z", z, (N, O), dt)
    check_out(op, "y", y, (N, O), dt)
    return code, N, O, dt


def check_dense_backward(dy, x, W, z, y, act, dx, dW, db) -> tuple[int, int, int, int, np.dtype]:
    """Checks of ``dense_backward`` (``dx`` may be None); returns ``(code, N, I, O, dtype)``."""
    op = "dense_backward"
    code = activation_code(act)
    N, I, O, dt = check_dense(op, x, W, db)
    for name, a in (("dy", dy), ("z", z), ("y", y)):
        check_array(op, name, a, (N, O), dt)
    check_out(op, "dW", dW, (I, O), dt)
    check_out(op, "db", db, (O,), dt)
    if dx is not None:
        check_out(op, "dx", dx, (N, I), dt)
    return code, N, I, O, dt


# --------------------------------------------------------------------------- batchnorm, layernorm


def _x2d(op: str, x: object) -> tuple[int, int, np.dtype]:
    dt = check_float(op, "x", x)
    if x.ndim != 2:
        raise ValueError(f"{op}: x must have shape [N, C], got {list(x.shape)}")
    return x.shape[0], x.shape[1], dt


def check_batchnorm_train(
    x, gamma, beta, running_mean, running_var, y, mean, inv_std
) -> tuple[int, int, np.dtype]:
    """Checks of ``batchnorm_forward_train`` (N >= 2, as torch: the unbiased variance needs two
    values); returns ``(N, C, dtype)``."""
    op = "batchnorm_forward_train"
    N, C, dt = _x2d(op, x)
    if N < 2:
        raise ValueError(
            f"{op}: batchnorm in training mode needs more than 1 value per feature, got input "
            f"of shape {list(x.shape)} (N={N}); use eval mode or a batch of at least 2"
        )
    for name, a in (("gamma", gamma), ("beta", beta)):
        check_array(op, name, a, (C,), dt)
    for name, a in (("running_mean", running_mean), ("running_var", running_var),
                    ("mean", mean), ("inv_std", inv_std)):  # fmt: skip
        check_out(op, name, a, (C,), dt)
    check_out(op, "y", y, (N, C), dt)
    return N, C, dt


def check_batchnorm_eval(x, gamma, beta, running_mean, running_var, y) -> tuple[int, int, np.dtype]:
    """Checks of ``batchnorm_forward_eval`` (any N >= 0); returns ``(N, C, dtype)``."""
    op = "batchnorm_forward_eval"
    N, C, dt = _x2d(op, x)
    for name, a in (("gamma", gamma), ("beta", beta), ("running_mean", running_mean),
                    ("running_var", running_var)):  # fmt: skip
        check_array(op, name, a, (C,), dt)
    check_out(op, "y", y, (N, C), dt)
    return N, C, dt


def _layernorm_x(op: str, x: object) -> tuple[int, int, np.dtype]:
    N, C, dt = _x2d(op, x)
    if C < 1:
        raise ValueError(f"{op}: x must have at least one feature, got shape {list(x.shape)}")
    return N, C, dt


def check_layernorm_forward(x, gamma, beta, y, mean, inv_std) -> tuple[int, int, np.dtype]:
    """Checks of ``layernorm_forward`` (C >= 1); returns ``(N, C, dtype)``."""
    op = "layernorm_forward"
    N, C, dt = _layernorm_x(op, x)
    check_array(op, "gamma", gamma, (C,), dt)
    check_array(op, "beta", beta, (C,), dt)
    check_out(op, "y", y, (N, C), dt)
    check_out(op, "mean", mean, (N,), dt)
    check_out(op, "inv_std", inv_std, (N,), dt)
    return N, C, dt


def check_norm_backward(
    op: str, dy, x, gamma, mean, inv_std, dx, dgamma, dbeta
) -> tuple[int, int, np.dtype]:
    """Checks of ``op`` = ``batchnorm_backward`` or ``layernorm_backward``: the saved
    ``mean``/``inv_std`` are per feature ``[C]`` for batchnorm, per row ``[N]`` for layernorm;
    returns ``(N, C, dtype)``."""
    per_row = op == "layernorm_backward"
    N, C, dt = _layernorm_x(op, x) if per_row else _x2d(op, x)
    stat = (N,) if per_row else (C,)
    check_array(op, "dy", dy, (N, C), dt)
    check_array(op, "gamma", gamma, (C,), dt)
    check_array(op, "mean", mean, stat, dt)
    check_array(op, "inv_std", inv_std, stat, dt)
    check_out(op, "dx", dx, (N, C), dt)
    check_out(op, "dgamma", dgamma, (C,), dt)
    check_out(op, "dbeta", dbeta, (C,), dt)
    return N, C, dt


# --------------------------------------------------------------------------- lstm


def _lstm_dims(
    op: str, x: object, Wh: object, wh: str = "[H, 4H]"
) -> tuple[int, int, int, int, np.dtype]:
    """(N, T, D, H, dtype) from x[N,T,D] and Wh[H,4H] (``wh``: Wh's dimensions as messages name
    them; the rnn family's is ``[H, H]``); T >= 1 and H >= 1."""
    if not isinstance(x, np.ndarray) or x.ndim != 3:
        raise ValueError(f"{op}: x must be a 3-d numpy array [N, T, D], got {_shape(x)}")
    if x.dtype not in FLOATS:
        raise TypeError(f"{op}: x must have dtype float32 or float64, got {x.dtype}")
    if not isinstance(Wh, np.ndarray) or Wh.ndim != 2:
        raise ValueError(f"{op}: Wh must be a 2-d numpy array {wh}, got {_shape(Wh)}")
    N, T, D = x.shape
    H = Wh.shape[0]
    if T < 1:
        raise ValueError(f"{op}: the sequence length T must be >= 1, got x.shape={x.shape}")
    if H < 1:
        raise ValueError(f"{op}: the hidden size H must be >= 1, got Wh.shape={Wh.shape}")
    return N, T, D, H, x.dtype


def _shape(a: object) -> object:
    return f"shape {a.shape}" if isinstance(a, np.ndarray) else type(a).__name__


def check_lstm_forward(x, Wx, Wh, b, h0, c0, hs, cs, gates) -> tuple[int, int, int, int, np.dtype]:
    """Checks of ``lstm_forward``; returns ``(N, T, D, H, dtype)``."""
    op = "lstm_forward"
    N, T, D, H, dt = _lstm_dims(op, x, Wh)
    for name, a, shape in (("Wx", Wx, (D, 4 * H)), ("Wh", Wh, (H, 4 * H)), ("b", b, (4 * H,)),
                           ("h0", h0, (N, H)), ("c0", c0, (N, H))):  # fmt: skip
        check_array(op, name, a, shape, dt)
    for name, a, shape in (("hs", hs, (N, T, H)), ("cs", cs, (N, T, H)),
                           ("gates", gates, (N, T, 4 * H))):  # fmt: skip
        check_out(op, name, a, shape, dt)
    return N, T, D, H, dt


def check_lstm_backward(
    dhs, dhT, dcT, x, Wx, Wh, h0, c0, hs, cs, gates, dx, dWx, dWh, db, dh0, dc0, dh_norm, dc_norm
) -> tuple[int, int, int, int, np.dtype]:
    """Checks of ``lstm_backward`` (``dhT``/``dcT`` may be None; the norms are float64);
    returns ``(N, T, D, H, dtype)``."""
    op = "lstm_backward"
    N, T, D, H, dt = _lstm_dims(op, x, Wh)
    check_array(op, "dhs", dhs, (N, T, H), dt)
    if dhT is not None:
        check_array(op, "dhT", dhT, (N, H), dt)
    if dcT is not None:
        check_array(op, "dcT", dcT, (N, H), dt)
    for name, a, shape in (("Wx", Wx, (D, 4 * H)), ("Wh", Wh, (H, 4 * H)), ("h0", h0, (N, H)),
                           ("c0", c0, (N, H)), ("hs", hs, (N, T, H)), ("cs", cs, (N, T, H)),
                           ("gates", gates, (N, T, 4 * H))):  # fmt: skip
        check_array(op, name, a, shape, dt)
    for name, a, shape in (("dx", dx, (N, T, D)), ("dWx", dWx, (D, 4 * H)),
                           ("dWh", dWh, (H, 4 * H)), ("db", db, (4 * H,)),
                           ("dh0", dh0, (N, H)), ("dc0", dc0, (N, H))):  # fmt: skip
        check_out(op, name, a, shape, dt)
    check_out(op, "dh_norm", dh_norm, (T,), _F64)
    check_out(op, "dc_norm", dc_norm, (T,), _F64)
    return N, T, D, H, dt


# --------------------------------------------------------------------------- rnn


def check_rnn_forward(x, Wx, Wh, b, h0, hs) -> tuple[int, int, int, int, np.dtype]:
    """Checks of ``rnn_forward``; returns ``(N, T, D, H, dtype)``."""
    op = "rnn_forward"
    N, T, D, H, dt = _lstm_dims(op, x, Wh, "[H, H]")
    for name, a, shape in (("Wx", Wx, (D, H)), ("Wh", Wh, (H, H)), ("b", b, (H,)),
                           ("h0", h0, (N, H))):  # fmt: skip
        check_array(op, name, a, shape, dt)
    check_out(op, "hs", hs, (N, T, H), dt)
    return N, T, D, H, dt


def check_rnn_backward(
    dhs, dhT, x, Wx, Wh, h0, hs, dx, dWx, dWh, db, dh0, dh_norm
) -> tuple[int, int, int, int, np.dtype]:
    """Checks of ``rnn_backward`` (``dhT`` may be None; ``dh_norm`` is float64); returns
    ``(N, T, D, H, dtype)``."""
    op = "rnn_backward"
    N, T, D, H, dt = _lstm_dims(op, x, Wh, "[H, H]")
    check_array(op, "dhs", dhs, (N, T, H), dt)
    if dhT is not None:
        check_array(op, "dhT", dhT, (N, H), dt)
    for name, a, shape in (("Wx", Wx, (D, H)), ("Wh", Wh, (H, H)), ("h0", h0, (N, H)),
                           ("hs", hs, (N, T, H))):  # fmt: skip
        check_array(op, name, a, shape, dt)
    for name, a, shape in (("dx", dx, (N, T, D)), ("dWx", dWx, (D, H)), ("dWh", dWh, (H, H)),
                           ("db", db, (H,)), ("dh0", dh0, (N, H))):  # fmt: skip
        check_out(op, name, a, shape, dt)
    check_out(op, "dh_norm", dh_norm, (T,), _F64)
    return N, T, D, H, dt
