"""Reference kernels (lstm, norms, optim) against PyTorch as an oracle, float64 (and float32
where torch's fused multiply-adds allow a meaningful tolerance)."""

import math

import numpy as np
import pytest

from gradcore.backends import reference as ref

torch = pytest.importorskip("torch")

F64 = np.float64

# =========================================================================== LSTM


def _lstm_problem(rng, N, T, D, H, scale=1.0):
    x = rng.standard_normal((N, T, D)) * scale
    Wx = rng.standard_normal((D, 4 * H)) * scale / np.sqrt(D)
    Wh = rng.standard_normal((H, 4 * H)) * scale / np.sqrt(H)
    b = rng.standard_normal(4 * H) * scale
    h0 = rng.standard_normal((N, H)) * 0.5
    c0 = rng.standard_normal((N, H))
    return x, Wx, Wh, b, h0, c0


def _ours(x, Wx, Wh, b, h0, c0, dhs, dhT, dcT):
    N, T, _ = x.shape
    H = Wh.shape[0]
    hs, cs, gates = (np.empty((N, T, k)) for k in (H, H, 4 * H))
    ref.lstm_forward(x, Wx, Wh, b, h0, c0, hs, cs, gates)
    out = dict(
        x=np.empty_like(x), Wx=np.zeros_like(Wx), Wh=np.zeros_like(Wh), b=np.zeros_like(b),
        h0=np.empty_like(h0), c0=np.empty_like(c0), dh_norm=np.empty(T), dc_norm=np.empty(T),
    )  # fmt: skip
    ref.lstm_backward(
        dhs, dhT, dcT, x, Wx, Wh, h0, c0, hs, cs, gates,
        out["x"], out["Wx"], out["Wh"], out["b"], out["h0"], out["c0"],
        out["dh_norm"], out["dc_norm"],
    )  # fmt: skip
    return hs, cs, out


def _t(a, grad=False):
    return torch.tensor(a, dtype=torch.float64, requires_grad=grad)


@pytest.mark.parametrize("N, T, D, H", [(1, 1, 1, 1), (3, 5, 4, 2), (2, 8, 3, 5), (4, 2, 6, 1)])
@pytest.mark.parametrize("final_grads", [False, True])
def test_lstm_matches_torch_nn_lstm(rng, N, T, D, H, final_grads):
    x, Wx, Wh, b, h0, c0 = _lstm_problem(rng, N, T, D, H)
    dhs = rng.standard_normal((N, T, H))
    dhT = rng.standard_normal((N, H)) if final_grads else None
    dcT = rng.standard_normal((N, H)) if final_grads else None
    hs, cs, got = _ours(x, Wx, Wh, b, h0, c0, dhs, dhT, dcT)

    lstm = torch.nn.LSTM(D, H, batch_first=True, dtype=torch.float64)
    with torch.no_grad():  # our [in, 4H] weights are torch's [4H, in]; b = bias_ih + bias_hh
        lstm.weight_ih_l0.copy_(_t(Wx.T))
        lstm.weight_hh_l0.copy_(_t(Wh.T))
        lstm.bias_ih_l0.copy_(_t(b))
        lstm.bias_hh_l0.zero_()
    tx, th0, tc0 = _t(x, True), _t(h0[None], True), _t(c0[None], True)
    out, (hn, cn) = lstm(tx, (th0, tc0))
    np.testing.assert_allclose(hs, out.detach().numpy(), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(cs[:, -1], cn[0].detach().numpy(), rtol=1e-12, atol=1e-14)
    loss = (out * _t(dhs)).sum()
    if final_grads:
        loss = loss + (hn[0] * _t(dhT)).sum() + (cn[0] * _t(dcT)).sum()
    loss.backward()

    def close(ours, theirs, name):
        theirs = theirs.detach().numpy()
        scale = max(np.abs(theirs).max(initial=0.0), 1e-300)
        np.testing.assert_allclose(ours, theirs, rtol=1e-10, atol=1e-12 * scale, err_msg=name)

    close(got["x"], tx.grad, "dx")
    close(got["Wx"], lstm.weight_ih_l0.grad.T, "dWx")
    close(got["Wh"], lstm.weight_hh_l0.grad.T, "dWh")
    close(got["b"], lstm.bias_ih_l0.grad, "db")
    close(got["b"], lstm.bias_hh_l0.grad, "db (hh)")
    close(got["h0"], th0.grad[0], "dh0")
    close(got["c0"], tc0.grad[0], "dc0")


@pytest.mark.parametrize("N, T, D, H", [(1, 1, 2, 1), (3, 6, 2, 3)])
def test_lstm_step_norms_match_torch_retained_grads(rng, N, T, D, H):
    # Unroll torch.nn.LSTMCell and retain the gradient of every h_t and c_t: h_t feeds both the
    # output and the next step, c_t both h_t and c_{t+1}, so .grad is the TOTAL gradient.
    x, Wx, Wh, b, h0, c0 = _lstm_problem(rng, N, T, D, H)
    dhs = rng.standard_normal((N, T, H))
    dhT, dcT = rng.standard_normal((N, H)), rng.standard_normal((N, H))
    _, _, got = _ours(x, Wx, Wh, b, h0, c0, dhs, dhT, dcT)

    cell = torch.nn.LSTMCell(D, H, dtype=torch.float64)
    with torch.no_grad():
        cell.weight_ih.copy_(_t(Wx.T))
        cell.weight_hh.copy_(_t(Wh.T))
        cell.bias_ih.copy_(_t(b))
        cell.bias_hh.zero_()
    h, c = _t(h0), _t(c0)
    hs, cs = [], []
    for t in range(T):
        h, c = cell(_t(x[:, t]), (h, c))
        h.retain_grad()
        c.retain_grad()
        hs.append(h)
        cs.append(c)
    loss = sum((hs[t] * _t(dhs[:, t])).sum() for t in range(T))
    loss = loss + (hs[-1] * _t(dhT)).sum() + (cs[-1] * _t(dcT)).sum()
    loss.backward()
    dh_norm = [float(torch.linalg.vector_norm(h.grad)) for h in hs]
    dc_norm = [float(torch.linalg.vector_norm(c.grad)) for c in cs]
    np.testing.assert_allclose(got["dh_norm"], dh_norm, rtol=1e-10)
    np.testing.assert_allclose(got["dc_norm"], dc_norm, rtol=1e-10)


# =========================================================================== optimizers

SIZES = (7, 0, 3)  # a zero-size parameter in the middle
STEPS = 12
ZERO_STEP = 5  # this step gets an all-zero gradient


def _gradients(rng, dtype):
    gs = [
        [rng.standard_normal(n).astype(dtype) * (0.5 + k % 3) for n in SIZES] for k in range(STEPS)
    ]
    gs[ZERO_STEP] = [np.zeros(n, dtype) for n in SIZES]
    return gs


def _torch_params(p0s):
    return [torch.nn.Parameter(torch.from_numpy(p.copy())) for p in p0s]


def _compare(ours, theirs, name, rtol, atol):
    theirs = theirs.detach().numpy()
    np.testing.assert_allclose(ours, theirs, rtol=rtol, atol=atol, err_msg=name)


# (rtol, atol) per dtype; values are O(0.01..3). float64: the contract's ~1e-12 (measured
# worst normwise ~1e-15). float32: torch's vectorized CPU loops use fused multiply-adds
# (add with alpha, addcmul, lerp) that NumPy cannot reproduce, so results differ by a few ulp
# per step and drift over 12 steps; atol 1e-6 is ~8 float32 ulp at 1.
TOL = {np.float64: (1e-12, 1e-14), np.float32: (2e-5, 1e-6)}


def _run_optimizer(rng, dtype, make_torch, init_state, our_step, state_names):
    """Drive torch and our kernel side by side; compare params and state after every step.

    ``init_state(p)`` returns our state arrays for one parameter, keyed by torch's state names;
    ``our_step(p, g, state, step)`` updates that parameter (``step`` counts from 1)."""
    p0s = [rng.standard_normal(n).astype(dtype) for n in SIZES]
    grads = _gradients(rng, dtype)
    tparams = _torch_params(p0s)
    opt = make_torch(tparams)
    ours = [p.copy() for p in p0s]
    states = [init_state(p) for p in ours]
    rtol, atol = TOL[dtype]
    for step in range(1, STEPS + 1):
        for tp, g in zip(tparams, grads[step - 1], strict=True):
            tp.grad = torch.from_numpy(g.copy())
        opt.step()
        for k, (p, g) in enumerate(zip(ours, grads[step - 1], strict=True)):
            g_before = g.copy()
            our_step(p, g, states[k], step)
            np.testing.assert_array_equal(g, g_before)
            _compare(p, tparams[k], f"param {k} step {step}", rtol, atol)
            for name in state_names:
                _compare(states[k][name], opt.state[tparams[k]][name], f"{name} {k}", rtol, atol)


DTYPES = [np.float64, np.float32]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(
    "momentum, dampening, nesterov, wd",
    [
        (0.0, 0.0, False, 0.0),
        (0.0, 0.0, False, 0.01),
        (0.9, 0.0, False, 0.0),
        (0.9, 0.3, False, 0.01),
        (0.9, 0.0, True, 0.0),
        (0.5, 0.0, True, 0.01),
    ],
)
def test_sgd_matches_torch(rng, dtype, momentum, dampening, nesterov, wd):
    lr = 0.05

    def step(p, g, s, k):
        ref.sgd_step(p, g, s["momentum_buffer"], lr, momentum, dampening, nesterov, wd, k == 1)

    names = ["momentum_buffer"] if momentum else []
    _run_optimizer(
        rng, dtype,
        lambda ps: torch.optim.SGD(ps, lr=lr, momentum=momentum, dampening=dampening,
                                   nesterov=nesterov, weight_decay=wd, foreach=False),
        lambda p: {"momentum_buffer": np.zeros_like(p)}, step, names,
    )  # fmt: skip


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("centered", [False, True])
@pytest.mark.parametrize("momentum", [0.0, 0.5])
@pytest.mark.parametrize("wd, alpha", [(0.0, 0.99), (0.1, 0.9)])
def test_rmsprop_matches_torch(rng, dtype, centered, momentum, wd, alpha):
    lr, eps = 0.01, 1e-8

    def step(p, g, s, k):
        ref.rmsprop_step(
            p, g, s["square_avg"], s["grad_avg"], s["momentum_buffer"],
            lr, alpha, eps, wd, momentum, centered,
        )  # fmt: skip

    names = ["square_avg"] + ["grad_avg"] * centered + ["momentum_buffer"] * (momentum > 0)
    _run_optimizer(
        rng, dtype,
        lambda ps: torch.optim.RMSprop(ps, lr=lr, alpha=alpha, eps=eps, weight_decay=wd,
                                       momentum=momentum, centered=centered, foreach=False),
        lambda p: {k: np.zeros_like(p) for k in ("square_avg", "grad_avg", "momentum_buffer")},
        step, names,
    )  # fmt: skip


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("lr_decay", [0.0, 0.1])
@pytest.mark.parametrize("init", [0.0, 0.5])
@pytest.mark.parametrize("wd", [0.0, 0.1])
def test_adagrad_matches_torch(rng, dtype, lr_decay, init, wd):
    lr, eps = 0.1, 1e-10

    def step(p, g, s, k):
        ref.adagrad_step(p, g, s["sum"], lr, lr_decay, wd, eps, k)

    _run_optimizer(
        rng, dtype,
        lambda ps: torch.optim.Adagrad(ps, lr=lr, lr_decay=lr_decay, weight_decay=wd,
                                       initial_accumulator_value=init, eps=eps, foreach=False),
        lambda p: {"sum": np.full_like(p, init)}, step, ["sum"],
    )  # fmt: skip


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("decoupled", [False, True])
@pytest.mark.parametrize("amsgrad", [False, True])
@pytest.mark.parametrize("wd", [0.0, 0.1])
def test_adam_adamw_match_torch(rng, dtype, decoupled, amsgrad, wd):
    lr, betas, eps = 0.01, (0.9, 0.999), 1e-8
    cls = torch.optim.AdamW if decoupled else torch.optim.Adam

    def step(p, g, s, k):
        ref.adam_step(
            p, g, s["exp_avg"], s["exp_avg_sq"], s["max_exp_avg_sq"],
            lr, betas[0], betas[1], eps, wd, k, amsgrad, decoupled,
        )  # fmt: skip

    names = ["exp_avg", "exp_avg_sq"] + ["max_exp_avg_sq"] * amsgrad
    _run_optimizer(
        rng, dtype,
        lambda ps: cls(ps, lr=lr, betas=betas, eps=eps, weight_decay=wd, amsgrad=amsgrad,
                       foreach=False),
        lambda p: {k: np.zeros_like(p) for k in ("exp_avg", "exp_avg_sq", "max_exp_avg_sq")},
        step, names,
    )  # fmt: skip


# =========================================================================== clipping


def _flat_grads(rng, sizes, specials=()):
    flat = rng.standard_normal(sum(sizes)) * 3.0
    for k, v in specials:
        flat[k] = v
    offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
    return flat, offsets


def _torch_clip(flat, offsets, max_norm, norm_type):
    params = []
    for s in range(len(offsets) - 1):
        p = torch.nn.Parameter(torch.zeros(int(offsets[s + 1] - offsets[s]), dtype=torch.float64))
        p.grad = torch.from_numpy(flat[offsets[s] : offsets[s + 1]].copy())
        params.append(p)
    total = torch.nn.utils.clip_grad_norm_(params, max_norm, norm_type=norm_type)
    return float(total), np.concatenate([p.grad.numpy() for p in params])


def _our_clip(flat, offsets, max_norm, norm_type):
    """clip_grad_norm_ from the kernels: total from one segment pass, then one scale."""
    S = len(offsets) - 1
    values, nonfinite = np.empty(S), np.empty(S, np.int64)
    if norm_type == 2.0:
        ref.segment_sumsq(flat, offsets, values, nonfinite)
        total = math.sqrt(values.sum())
    else:
        ref.segment_absmax(flat, offsets, values, nonfinite)
        total = float(values.max())
    coef = min(max_norm / (total + 1e-6), 1.0)
    ref.scale_(flat, coef)
    return total, flat


@pytest.mark.parametrize("norm_type", [2.0, math.inf])
@pytest.mark.parametrize("max_norm", [0.5, 1e6])
def test_clip_grad_norm_matches_torch(rng, norm_type, max_norm):
    # torch raises on the inf-norm of an empty tensor, so empty segments only for norm 2
    sizes = [5, 0, 12, 1, 7] if norm_type == 2.0 else [5, 12, 1, 7]
    flat, offsets = _flat_grads(rng, sizes)
    t_total, t_clipped = _torch_clip(flat, offsets, max_norm, norm_type)
    total, clipped = _our_clip(flat.copy(), offsets, max_norm, norm_type)
    assert total == pytest.approx(t_total, rel=1e-13)
    np.testing.assert_allclose(clipped, t_clipped, rtol=1e-13, atol=0)


@pytest.mark.parametrize("norm_type", [2.0, math.inf])
@pytest.mark.parametrize(
    "specials", [[(3, math.inf)], [(3, math.nan)], [(3, math.inf), (9, math.nan)]]
)
def test_clip_grad_norm_nonfinite_matches_torch(rng, norm_type, specials):
    sizes = [5, 12, 1, 7]
    flat, offsets = _flat_grads(rng, sizes, specials)
    t_total, t_clipped = _torch_clip(flat, offsets, 1.0, norm_type)
    total, clipped = _our_clip(flat.copy(), offsets, 1.0, norm_type)
    assert (math.isnan(total) and math.isnan(t_total)) or total == t_total
    np.testing.assert_array_equal(np.isnan(clipped), np.isnan(t_clipped))
    np.testing.assert_allclose(clipped, t_clipped, rtol=1e-13, atol=0)


def test_clip_grad_value_matches_torch(rng):
    flat = rng.standard_normal(40) * 3.0
    flat[[1, 2, 3]] = [math.inf, -math.inf, math.nan]
    p = torch.nn.Parameter(torch.zeros(40, dtype=torch.float64))
    p.grad = torch.from_numpy(flat.copy())
    torch.nn.utils.clip_grad_value_([p], 1.5)
    ref.clip_value_(flat, 1.5)
    np.testing.assert_array_equal(flat, p.grad.numpy())
