"""Argument checks shared by the backends (the reference, ``numba`` and ``c``): the one Python
validation helper of ``gradcore.backends``.

A backend never imports another backend, so checks that more than one backend needs live
here, in a neutral module: every family's argument checks are written once and called by each
backend's wrapper, so a bad call raises the same error whichever backend runs. Exception types:
a wrong dtype is a ``TypeError``, a wrong shape or a read-only output a ``ValueError``. Compiled
kernels must never see an array they could read or write out of bounds, so every array's shape
and dtype is checked. (The C backend's Cython binding checks again, in C, with the same wording.)

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
    "check_same_shape",
    "check_segments",
    "check_sgd",
    "check_state",
    "check_stats_args",
    "check_step",
    "check_xent",
]

_F64 = np.dtype(np.float64)


def check_float(name: str, a: object) -> np.dtype:
    """``a`` must be a float32/float64 ndarray (``TypeError`` otherwise); returns its dtype."""
    if not isinstance(a, np.ndarray) or a.dtype not in FLOATS:
        got = a.dtype if isinstance(a, np.ndarray) else type(a).__name__
        raise TypeError(f"{name} must be a float32 or float64 ndarray, got {got}")
    return a.dtype


def check_array(name: str, a: object, shape: tuple[int, ...], dtype: np.dtype) -> None:
    """``a`` must be an ndarray of exactly ``dtype`` (TypeError) and ``shape`` (ValueError)."""
    if not isinstance(a, np.ndarray):
        raise TypeError(f"{name} must be a numpy.ndarray, got {type(a).__name__}")
    if a.dtype != dtype:
        raise TypeError(f"{name} has dtype {a.dtype}, expected {np.dtype(dtype)}")
    if a.shape != tuple(shape):
        raise ValueError(f"{name} has shape {a.shape}, expected {tuple(shape)}")


def check_out(name: str, a: object, shape: tuple[int, ...], dtype: np.dtype) -> None:
    """As :func:`check_array`, and ``a`` must be writeable (it is an output)."""
    check_array(name, a, shape, dtype)
    if not a.flags.writeable:  # type: ignore[union-attr]
        raise ValueError(f"{name} is an output and must be writeable")


def check_param(p: object, g: object) -> None:
    """Optimizer parameter ``p`` (float32/float64, writeable: updated in place) and its gradient
    ``g`` (p's dtype: ``TypeError``; p's shape: ``ValueError``)."""
    if not isinstance(p, np.ndarray) or p.dtype not in FLOATS:
        raise TypeError("p must be a float32 or float64 numpy array")
    if not p.flags.writeable:
        raise ValueError("p must be writeable (it is updated in place)")
    if not isinstance(g, np.ndarray) or g.dtype != p.dtype:
        got = g.dtype if isinstance(g, np.ndarray) else type(g).__name__
        raise TypeError(f"g must be a numpy array with p's dtype {p.dtype}, got {got}")
    if g.shape != p.shape:
        raise ValueError(f"g must have p's shape {p.shape}, got {g.shape}")


def check_state(name: str, a: object, p: np.ndarray) -> None:
    """Optimizer state array ``a``: p's dtype (``TypeError``), p's shape and writeable
    (``ValueError``)."""
    if not isinstance(a, np.ndarray) or a.dtype != p.dtype:
        got = a.dtype if isinstance(a, np.ndarray) else type(a).__name__
        raise TypeError(f"state {name} must be a numpy array with p's dtype {p.dtype}, got {got}")
    if a.shape != p.shape:
        raise ValueError(f"state {name} must have p's shape {p.shape}, got {a.shape}")
    if not a.flags.writeable:
        raise ValueError(f"state {name} must be writeable (it is updated in place)")


def check_flat(flat: object, inplace: bool = False) -> None:
    """A flat float32/float64 buffer ``[P]``; ``inplace``: it must also be writeable."""
    if not isinstance(flat, np.ndarray) or flat.ndim != 1:
        raise ValueError("flat must be a 1-d numpy array")
    if flat.dtype not in FLOATS:
        raise TypeError(f"flat has dtype {flat.dtype}, expected float32 or float64")
    if inplace and not flat.flags.writeable:
        raise ValueError("flat must be writeable (it is modified in place)")


def check_step(step: object) -> int:
    """Optimizer step count: an int >= 1 (``ValueError`` otherwise)."""
    if isinstance(step, bool) or not isinstance(step, int | np.integer) or step < 1:
        raise ValueError(f"step must be an int >= 1 (the count after incrementing), got {step!r}")
    return int(step)


def check_labels(labels: object, n: int, k: int) -> None:
    """Class labels for ``[n, k]`` logits: integer dtype (TypeError), shape ``[n]`` and values
    in ``[0, k)`` (ValueError naming the first offending position)."""
    if not isinstance(labels, np.ndarray) or labels.dtype.kind not in "iu":
        got = labels.dtype if isinstance(labels, np.ndarray) else type(labels).__name__
        raise TypeError(f"labels must be an integer ndarray (int64), got {got}")
    if labels.shape != (n,):
        raise ValueError(f"labels must have shape [N] = [{n}], got {list(labels.shape)}")
    bad = np.flatnonzero((labels < 0) | (labels >= k))
    if bad.size:
        i = int(bad[0])
        raise ValueError(
            f"labels must be in [0, {k}) for {k} classes; got labels[{i}] = {int(labels[i])} "
            f"({bad.size} label(s) out of range)"
        )


def check_segments(
    flat: object, offsets: object, values: object, vname: str, nonfinite: object
) -> int:
    """Validate a flat buffer, its segment offsets and the two per-segment outputs (float64
    ``values`` and int64 ``nonfinite``, both ``[S]``; ``nonfinite=None`` for ops without one);
    return the number of segments ``S``."""
    check_flat(flat)
    P = flat.shape[0]  # type: ignore[union-attr]
    if not isinstance(offsets, np.ndarray) or offsets.ndim != 1 or offsets.dtype != np.int64:
        raise TypeError("offsets must be a 1-d int64 numpy array of length S+1")
    if offsets.shape[0] < 1:
        raise ValueError("offsets must have length S+1 >= 1")
    S = offsets.shape[0] - 1
    if offsets[0] != 0:
        raise ValueError(f"offsets[0] must be 0, got {offsets[0]}")
    if offsets[-1] != P:
        raise ValueError(f"offsets[-1] must be len(flat) = {P}, got {offsets[-1]}")
    if S > 1 and (offsets[1:] < offsets[:-1]).any():  # (np.diff: ~3x slower per call)
        raise ValueError("offsets must be non-decreasing")
    for name, arr, dt in ((vname, values, np.float64), ("nonfinite", nonfinite, np.int64)):
        if arr is None and name == "nonfinite":
            continue
        if not isinstance(arr, np.ndarray) or arr.dtype != dt or arr.shape != (S,):
            raise TypeError(f"{name} must be a {np.dtype(dt)} numpy array of shape ({S},)")
        if not arr.flags.writeable:
            raise ValueError(f"{name} is an output and must be writeable")
    return S


def check_stats_args(x, sat, threshold, colnz, out) -> tuple[int, int]:
    """Checks of ``act_stats`` (stats family); returns ``(M, C)``, the 2-D view of ``x``."""
    check_float("x", x)
    if isinstance(sat, bool) or not isinstance(sat, int | np.integer) or sat not in (0, 1, 2):
        raise ValueError(f"sat must be 0 (none), 1 (sigmoid) or 2 (tanh), got {sat!r}")
    if isinstance(threshold, bool) or not isinstance(threshold, int | float | np.floating):
        raise TypeError(f"threshold must be a real number, got {type(threshold).__name__}")
    if not threshold >= 0:
        raise ValueError(f"threshold must be >= 0, got {threshold}")
    C = int(x.shape[-1]) if x.ndim else 1
    M = int(x.size // C) if C else 0
    check_out("colnz", colnz, (C,), np.dtype(np.int64))
    check_out("out", out, (len(STATS_FIELDS),), np.dtype(np.float64))
    return M, C


def check_delta_args(new, prev, offsets, delta_sumsq, new_sumsq) -> int:
    """Checks of ``segment_delta_sumsq`` (stats family); returns the number of segments."""
    check_float("new", new)
    if not isinstance(prev, np.ndarray) or prev.dtype != new.dtype:
        got = prev.dtype if isinstance(prev, np.ndarray) else type(prev).__name__
        raise TypeError(f"prev must be an ndarray with new's dtype {new.dtype}, got {got}")
    if new.ndim != 1 or prev.shape != new.shape:
        raise ValueError(f"new and prev must be 1-d of one length, got {new.shape}, {prev.shape}")
    if not prev.flags.writeable:
        raise ValueError("prev must be writeable (it is overwritten with new)")
    if np.may_share_memory(new, prev):
        raise ValueError("prev must not share memory with new")
    S = check_segments(new, offsets, delta_sumsq, "delta_sumsq", None)
    check_out("new_sumsq", new_sumsq, (S,), np.dtype(np.float64))
    return S


# --------------------------------------------------------------------------- norms, optim


def check_clip(clip: object) -> None:
    """``clip_value_``'s bound: ``clip >= 0`` (``ValueError`` otherwise, NaN included)."""
    if not clip >= 0:
        raise ValueError(f"clip must be >= 0, got {clip}")


def _floats(*values: object) -> tuple[float, ...]:
    """Hyper-parameters as Python floats: NumPy then rounds them to the array dtype (a
    ``np.float64`` scalar would instead promote float32 math to float64)."""
    return tuple(float(v) for v in values)


def check_sgd(p, g, buf, lr, momentum, dampening, nesterov, weight_decay) -> tuple[float, ...]:
    """Checks of ``sgd_step`` (``buf`` only if momentum != 0); returns ``(lr, momentum,
    dampening, weight_decay)`` as Python floats."""
    check_param(p, g)
    lr, momentum, dampening, weight_decay = _floats(lr, momentum, dampening, weight_decay)
    check_nesterov(nesterov, momentum, dampening)
    if momentum != 0:
        check_state("buf", buf, p)
    return lr, momentum, dampening, weight_decay


def check_rmsprop(
    p, g, square_avg, grad_avg, mom_buf, lr, alpha, eps, weight_decay, momentum, centered
) -> tuple[float, ...]:
    """Checks of ``rmsprop_step`` (``grad_avg`` only if centered, ``mom_buf`` only if
    momentum > 0); returns ``(lr, alpha, eps, weight_decay, momentum)`` as Python floats."""
    check_param(p, g)
    check_state("square_avg", square_avg, p)
    lr, alpha, eps, weight_decay, momentum = _floats(lr, alpha, eps, weight_decay, momentum)
    if centered:
        check_state("grad_avg", grad_avg, p)
    if momentum > 0:
        check_state("mom_buf", mom_buf, p)
    return lr, alpha, eps, weight_decay, momentum


def check_adagrad(p, g, state_sum, lr, lr_decay, weight_decay, eps, step) -> tuple:
    """Checks of ``adagrad_step``; returns ``(lr, lr_decay, weight_decay, eps)`` as Python
    floats and ``step`` as an int."""
    check_param(p, g)
    check_state("state_sum", state_sum, p)
    return (*_floats(lr, lr_decay, weight_decay, eps), check_step(step))


def check_adam(p, g, m, v, vmax, lr, beta1, beta2, eps, weight_decay, step, amsgrad) -> tuple:
    """Checks of ``adam_step`` (``vmax`` only if amsgrad); returns ``(lr, beta1, beta2, eps,
    weight_decay)`` as Python floats and ``step`` as an int."""
    check_param(p, g)
    check_state("m", m, p)
    check_state("v", v, p)
    floats = _floats(lr, beta1, beta2, eps, weight_decay)
    if amsgrad:
        check_state("vmax", vmax, p)
    return (*floats, check_step(step))


def check_nesterov(nesterov: object, momentum: float, dampening: float) -> None:
    """SGD's Nesterov rule (torch's): ``nesterov`` requires ``momentum > 0`` and
    ``dampening == 0`` (``ValueError``)."""
    if nesterov and (momentum <= 0 or dampening != 0):
        raise ValueError(
            "sgd_step: nesterov must be False unless momentum > 0 and dampening == 0, got "
            f"momentum={momentum}, dampening={dampening}"
        )


# --------------------------------------------------------------------------- loss


def check_same_shape(name_a: str, a: np.ndarray, name_b: str, b: object) -> None:
    """``b`` must be an ndarray (``TypeError``) of ``a``'s shape (``ValueError``: the losses
    never broadcast)."""
    if not isinstance(b, np.ndarray):
        raise TypeError(f"{name_b} must be a numpy.ndarray, got {type(b).__name__}")
    if a.shape != b.shape:
        raise ValueError(
            f"{name_a} and {name_b} must have the same shape, got {list(a.shape)} and "
            f"{list(b.shape)} (no broadcasting)"
        )


def check_nonempty(name: str, a: np.ndarray) -> None:
    """A mean needs at least one element (``ValueError``; torch would return NaN)."""
    if a.size == 0:
        raise ValueError(
            f"{name} is empty (shape {list(a.shape)}): the mean over zero elements is undefined"
        )


def check_xent(logits: object, labels: object) -> tuple[int, int]:
    """Checks of ``softmax_xent``'s inputs; returns ``(N, K)``."""
    check_float("logits", logits)
    if logits.ndim != 2:
        raise ValueError(f"logits must have shape [N, K], got {list(logits.shape)}")
    N, K = logits.shape
    if N == 0:
        raise ValueError(
            "logits has an empty batch (N = 0): the mean over zero samples is undefined"
        )
    check_labels(labels, N, K)
    return N, K


def check_pair(name: str, a: object, tname: str, t: object) -> np.dtype:
    """``mse``/``bce_with_logits`` inputs: ``a`` float, ``t`` of its shape and dtype, not empty."""
    dt = check_float(name, a)
    check_same_shape(name, a, tname, t)
    check_array(tname, t, a.shape, dt)
    check_nonempty(name, a)
    return dt


def check_grad_out(name: str, g: object, like_name: str, like: np.ndarray) -> None:
    """A loss gradient output (when not None): ``like``'s shape and dtype, writeable."""
    check_same_shape(name, g, like_name, like)
    check_out(name, g, like.shape, like.dtype)


# --------------------------------------------------------------------------- dense


def check_dense(x: object, W: object, b: object) -> tuple[int, int, int, np.dtype]:
    """``x[N,I]`` float, ``W[I,O]`` and ``b[O]`` of x's dtype; returns ``(N, I, O, dtype)``."""
    dt = check_float("x", x)
    if not isinstance(W, np.ndarray) or not isinstance(b, np.ndarray):
        raise TypeError("dense expects numpy arrays x, W, b")
    if x.ndim != 2 or W.ndim != 2 or b.ndim != 1:
        raise ValueError(
            f"dense expects x[N,I], W[I,O], b[O]; got x{list(x.shape)}, W{list(W.shape)}, "
            f"b{list(b.shape)}"
        )
    N, I = x.shape
    if W.shape[0] != I or b.shape[0] != W.shape[1]:
        raise ValueError(
            f"dense shape mismatch: x{list(x.shape)} @ W{list(W.shape)} + b{list(b.shape)} "
            "(W is [in, out])"
        )
    check_array("W", W, W.shape, dt)
    check_array("b", b, b.shape, dt)
    return N, I, W.shape[1], dt


def check_dense_forward(x, W, b, act, z, y) -> tuple[int, int, int, np.dtype]:
    """Checks of ``dense_forward``; returns ``(activation code, N, O, dtype)``."""
    code = activation_code(act)
    N, _, O, dt = check_dense(x, W, b)
    check_out("z", z, (N, O), dt)
    check_out("y", y, (N, O), dt)
    return code, N, O, dt


def check_dense_backward(dy, x, W, z, y, act, dx, dW, db) -> tuple[int, int, int, int, np.dtype]:
    """Checks of ``dense_backward`` (``dx`` may be None); returns ``(code, N, I, O, dtype)``."""
    code = activation_code(act)
    N, I, O, dt = check_dense(x, W, db)
    check_array("dy", dy, (N, O), dt)
    check_array("z", z, (N, O), dt)
    check_array("y", y, (N, O), dt)
    check_out("dW", dW, (I, O), dt)
    check_out("db", db, (O,), dt)
    if dx is not None:
        check_out("dx", dx, (N, I), dt)
    return code, N, I, O, dt


# --------------------------------------------------------------------------- batchnorm, layernorm


def _x2d(family: str, x: object) -> tuple[int, int, np.dtype]:
    dt = check_float("x", x)
    if x.ndim != 2:
        raise ValueError(f"{family} expects x of shape [N, C], got {list(x.shape)}")
    return x.shape[0], x.shape[1], dt


def check_batchnorm_train(
    x, gamma, beta, running_mean, running_var, y, mean, inv_std
) -> tuple[int, int, np.dtype]:
    """Checks of ``batchnorm_forward_train`` (N >= 2, as torch: the unbiased variance needs two
    values); returns ``(N, C, dtype)``."""
    N, C, dt = _x2d("batchnorm", x)
    if N < 2:
        raise ValueError(
            f"batchnorm in training mode needs more than 1 value per feature, got input of "
            f"shape {list(x.shape)} (N={N}); use eval mode or a batch of at least 2"
        )
    for name, a in (("gamma", gamma), ("beta", beta)):
        check_array(name, a, (C,), dt)
    for name, a in (("running_mean", running_mean), ("running_var", running_var)):
        check_out(name, a, (C,), dt)
    check_out("y", y, (N, C), dt)
    check_out("mean", mean, (C,), dt)
    check_out("inv_std", inv_std, (C,), dt)
    return N, C, dt


def check_batchnorm_eval(x, gamma, beta, running_mean, running_var, y) -> tuple[int, int, np.dtype]:
    """Checks of ``batchnorm_forward_eval`` (any N >= 0); returns ``(N, C, dtype)``."""
    N, C, dt = _x2d("batchnorm", x)
    for name, a in (("gamma", gamma), ("beta", beta), ("running_mean", running_mean),
                    ("running_var", running_var)):  # fmt: skip
        check_array(name, a, (C,), dt)
    check_out("y", y, (N, C), dt)
    return N, C, dt


def _layernorm_x(x: object) -> tuple[int, int, np.dtype]:
    N, C, dt = _x2d("layernorm", x)
    if C < 1:
        raise ValueError(f"layernorm needs at least one feature, got x of shape {list(x.shape)}")
    return N, C, dt


def check_layernorm_forward(x, gamma, beta, y, mean, inv_std) -> tuple[int, int, np.dtype]:
    """Checks of ``layernorm_forward`` (C >= 1); returns ``(N, C, dtype)``."""
    N, C, dt = _layernorm_x(x)
    check_array("gamma", gamma, (C,), dt)
    check_array("beta", beta, (C,), dt)
    check_out("y", y, (N, C), dt)
    check_out("mean", mean, (N,), dt)
    check_out("inv_std", inv_std, (N,), dt)
    return N, C, dt


def check_norm_backward(
    family: str, dy, x, gamma, mean, inv_std, dx, dgamma, dbeta
) -> tuple[int, int, np.dtype]:
    """Checks of ``batchnorm_backward`` / ``layernorm_backward`` (``family``): the saved
    ``mean``/``inv_std`` are per feature ``[C]`` for batchnorm, per row ``[N]`` for layernorm;
    returns ``(N, C, dtype)``."""
    N, C, dt = _layernorm_x(x) if family == "layernorm" else _x2d(family, x)
    stat = (N,) if family == "layernorm" else (C,)
    check_array("dy", dy, (N, C), dt)
    check_array("gamma", gamma, (C,), dt)
    check_array("mean", mean, stat, dt)
    check_array("inv_std", inv_std, stat, dt)
    check_out("dx", dx, (N, C), dt)
    check_out("dgamma", dgamma, (C,), dt)
    check_out("dbeta", dbeta, (C,), dt)
    return N, C, dt


# --------------------------------------------------------------------------- lstm


def _lstm_dims(x: object, Wh: object) -> tuple[int, int, int, int, np.dtype]:
    """(N, T, D, H, dtype) from x[N,T,D] and Wh[H,4H]; T >= 1 and H >= 1."""
    if not isinstance(x, np.ndarray) or x.ndim != 3:
        raise ValueError("x must be a 3-d numpy array [N, T, D]")
    if x.dtype not in FLOATS:
        raise TypeError(f"x has dtype {x.dtype}, expected float32 or float64")
    if not isinstance(Wh, np.ndarray) or Wh.ndim != 2:
        raise ValueError("Wh must be a 2-d numpy array [H, 4H]")
    N, T, D = x.shape
    H = Wh.shape[0]
    if T < 1:
        raise ValueError(f"sequence length T must be >= 1, got x.shape={x.shape}")
    if H < 1:
        raise ValueError(f"hidden size H must be >= 1, got Wh.shape={Wh.shape}")
    return N, T, D, H, x.dtype


def check_lstm_forward(x, Wx, Wh, b, h0, c0, hs, cs, gates) -> tuple[int, int, int, int, np.dtype]:
    """Checks of ``lstm_forward``; returns ``(N, T, D, H, dtype)``."""
    N, T, D, H, dt = _lstm_dims(x, Wh)
    check_array("Wx", Wx, (D, 4 * H), dt)
    check_array("Wh", Wh, (H, 4 * H), dt)
    check_array("b", b, (4 * H,), dt)
    check_array("h0", h0, (N, H), dt)
    check_array("c0", c0, (N, H), dt)
    check_out("hs", hs, (N, T, H), dt)
    check_out("cs", cs, (N, T, H), dt)
    check_out("gates", gates, (N, T, 4 * H), dt)
    return N, T, D, H, dt


def check_lstm_backward(
    dhs, dhT, dcT, x, Wx, Wh, h0, c0, hs, cs, gates, dx, dWx, dWh, db, dh0, dc0, dh_norm, dc_norm
) -> tuple[int, int, int, int, np.dtype]:
    """Checks of ``lstm_backward`` (``dhT``/``dcT`` may be None; the norms are float64);
    returns ``(N, T, D, H, dtype)``."""
    N, T, D, H, dt = _lstm_dims(x, Wh)
    check_array("dhs", dhs, (N, T, H), dt)
    if dhT is not None:
        check_array("dhT", dhT, (N, H), dt)
    if dcT is not None:
        check_array("dcT", dcT, (N, H), dt)
    check_array("Wx", Wx, (D, 4 * H), dt)
    check_array("Wh", Wh, (H, 4 * H), dt)
    check_array("h0", h0, (N, H), dt)
    check_array("c0", c0, (N, H), dt)
    check_array("hs", hs, (N, T, H), dt)
    check_array("cs", cs, (N, T, H), dt)
    check_array("gates", gates, (N, T, 4 * H), dt)
    for name, a, shape in (("dx", dx, (N, T, D)), ("dWx", dWx, (D, 4 * H)),
                           ("dWh", dWh, (H, 4 * H)), ("db", db, (4 * H,)),
                           ("dh0", dh0, (N, H)), ("dc0", dc0, (N, H))):  # fmt: skip
        check_out(name, a, shape, dt)
    check_out("dh_norm", dh_norm, (T,), _F64)
    check_out("dc_norm", dc_norm, (T,), _F64)
    return N, T, D, H, dt
