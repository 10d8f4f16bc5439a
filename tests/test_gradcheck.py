"""Tests of ``gradcore.gradcheck`` itself, on toy layers, losses and functions written here.

Correct toys must pass; toys whose backward is deliberately broken (1 % off, a missing term, a
wrong sign, ``=`` instead of ``+=``) must fail -- on the right tensor, at the right element.
The toys are plain NumPy written against the protocols (``params``/``grads``/``buffers``,
``forward``/``backward``/``zero_grad``; losses; ``fn(*inputs) -> (y, vjp)``), so these tests
do not depend on ``gradcore.nn``.
"""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest
import scipy.special
from hypothesis import given
from hypothesis import strategies as st

from gradcore.gradcheck import GradcheckError, GradcheckResult, TensorCheck, gradcheck
from gradcore.testing import strategies as gst

# --------------------------------------------------------------------------------------------
# toy layers


class Toy:
    """Protocol plumbing shared by the toys: ``grads`` mirror ``params``; zero_grad fills 0."""

    def __init__(self, params: dict[str, np.ndarray]) -> None:
        self.params = params
        self.grads = {k: np.zeros_like(v) for k, v in params.items()}

    def zero_grad(self) -> None:
        for g in self.grads.values():
            g.fill(0.0)


class Affine(Toy):
    """``y = x @ W + b`` with the correct backward."""

    def __init__(self, n_in, n_out, rng, *, w_scale=1.0, b_scale=1.0, dtype=np.float64):
        super().__init__(
            {
                "W": (rng.standard_normal((n_in, n_out)) * w_scale).astype(dtype),
                "b": (rng.standard_normal(n_out) * b_scale).astype(dtype),
            }
        )

    def forward(self, x, training=True):
        self.x = x
        return x @ self.params["W"] + self.params["b"]

    def local_grads(self, dy):
        """(dx, dW, db) of this step; the broken variants tamper with them."""
        return dy @ self.params["W"].T, self.x.T @ dy, dy.sum(axis=0)

    def backward(self, dy):
        dx, dW, db = self.local_grads(dy)
        self.grads["W"] += dW
        self.grads["b"] += db
        return dx


class AffineDW1Percent(Affine):
    def local_grads(self, dy):
        dx, dW, db = super().local_grads(dy)
        return dx, 1.01 * dW, db


class AffineDWOneElement(Affine):
    """Only ``dW[1, 2]`` is 1 % off."""

    def local_grads(self, dy):
        dx, dW, db = super().local_grads(dy)
        dW[1, 2] *= 1.01
        return dx, dW, db


class AffineNoDb(Affine):
    def local_grads(self, dy):
        dx, dW, _ = super().local_grads(dy)
        return dx, dW, np.zeros_like(self.params["b"])


class AffineDxSign(Affine):
    def local_grads(self, dy):
        dx, dW, db = super().local_grads(dy)
        return -dx, dW, db


class AffineOverwrites(Affine):
    """``grads[k] = ...`` instead of ``+=``: right values, wrong protocol."""

    def backward(self, dy):
        dx, dW, db = self.local_grads(dy)
        self.grads["W"][...] = dW
        self.grads["b"][...] = db
        return dx


class TwoPath(Toy):
    """``y = x @ W + tanh(x) @ V``: x reaches y through two paths."""

    def __init__(self, n_in, n_out, rng, *, w_scale=1.0):
        super().__init__(
            {
                "W": rng.standard_normal((n_in, n_out)) * w_scale,
                "V": rng.standard_normal((n_in, n_out)) * w_scale,
            }
        )

    def forward(self, x, training=True):
        self.x, self.t = x, np.tanh(x)
        return x @ self.params["W"] + self.t @ self.params["V"]

    def backward(self, dy):
        self.grads["W"] += self.x.T @ dy
        self.grads["V"] += self.t.T @ dy
        return dy @ self.params["W"].T + (dy @ self.params["V"].T) * (1.0 - self.t**2)


class TwoPathMissingDx(TwoPath):
    def backward(self, dy):
        super().backward(dy)
        return dy @ self.params["W"].T  # forgets the path through tanh


ACT = {
    "linear": (lambda z: z, lambda z: np.ones_like(z)),
    "relu": (lambda z: np.maximum(z, 0.0), lambda z: (z > 0).astype(z.dtype)),
    "leaky_relu": (lambda z: np.where(z > 0, z, 0.01 * z), lambda z: np.where(z > 0, 1.0, 0.01)),
    "elu": (
        lambda z: np.where(z > 0, z, np.expm1(np.minimum(z, 0.0))),
        lambda z: np.where(z > 0, 1.0, np.exp(np.minimum(z, 0.0))),
    ),
    "sigmoid": (lambda z: _sig(z), lambda z: _sig(z) * (1.0 - _sig(z))),
    "tanh": (np.tanh, lambda z: 1.0 - np.tanh(z) ** 2),
    "silu": (lambda z: z * _sig(z), lambda z: _sig(z) * (1.0 + z * (1.0 - _sig(z)))),
    "gelu": (
        lambda z: z * _Phi(z),
        lambda z: _Phi(z) + z * np.exp(-0.5 * z * z) / np.sqrt(2.0 * np.pi),
    ),
}


# Forwards must be accurate to a few ulps *relative* for finite differences to see their
# derivative: 1 + erf(z) or 1 + tanh(z) lose all digits in the negative tail, so use erfc and
# exp(-|z|) forms (gradcheck reports such a forward's round-off, see test_noisy_forward_...).


def _sig(z):
    e = np.exp(-np.abs(z))  # never overflows
    return np.where(z >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def _Phi(z):
    return 0.5 * scipy.special.erfc(-z / np.sqrt(2.0))


class DenseAct(Affine):
    """``y = act(x @ W + b)``."""

    def __init__(self, n_in, n_out, act, rng, **kw):
        super().__init__(n_in, n_out, rng, **kw)
        self.f, self.df = ACT[act]

    def forward(self, x, training=True):
        self.z = super().forward(x)
        return self.f(self.z)

    def backward(self, dy):
        return super().backward(dy * self.df(self.z))


class ReLU(Toy):
    """No parameters; relu'(0) = 0 like PyTorch."""

    def __init__(self):
        super().__init__({})

    def forward(self, x, training=True):
        self.x = x
        return np.maximum(x, 0.0)

    def backward(self, dy):
        return dy * (self.x > 0)


class ReLUBadAtZero(ReLU):
    """Right everywhere but at 0, where it returns 2 dy: matches neither one-sided slope."""

    def backward(self, dy):
        return dy * np.where(self.x == 0, 2.0, self.x > 0)


class Centering(Toy):
    """``y = (x - mu) @ W``: mu is the batch mean in training (running_mean and the step
    counter are updated, like BatchNorm), the running mean in eval."""

    def __init__(self, n_in, n_out, rng):
        super().__init__({"W": rng.standard_normal((n_in, n_out))})
        self.buffers = {
            "running_mean": rng.standard_normal(n_in),
            "steps": np.zeros((), dtype=np.int64),
        }

    def forward(self, x, training=True):
        if training:
            mu = x.mean(axis=0)
            self.buffers["running_mean"] *= 0.9
            self.buffers["running_mean"] += 0.1 * mu
            self.buffers["steps"] += 1
        else:
            mu = self.buffers["running_mean"]
        self.training, self.xc = training, x - mu
        return self.xc @ self.params["W"]

    def backward(self, dy):
        self.grads["W"] += self.xc.T @ dy
        dxc = dy @ self.params["W"].T
        return dxc - dxc.mean(axis=0) if self.training else dxc


class Drifting(Toy):
    """``y = x * W + shift``, and every forward moves ``buffers['shift']``: only deterministic
    because gradcheck restores buffers before each forward."""

    def __init__(self, shape, rng):
        super().__init__({"W": rng.standard_normal(shape)})
        self.buffers = {"shift": np.zeros(shape)}

    def forward(self, x, training=True):
        self.x = x
        y = x * self.params["W"] + self.buffers["shift"]
        self.buffers["shift"] += 1.0
        return y

    def backward(self, dy):
        self.grads["W"] += dy * self.x
        return dy * self.params["W"]


class RecurrentStep(Toy):
    """``y = tanh(x @ Wx + h0 @ Wh + b)`` with ``h0`` an extra differentiable input."""

    def __init__(self, n_in, n_hidden, rng):
        super().__init__(
            {
                "Wx": rng.standard_normal((n_in, n_hidden)),
                "Wh": rng.standard_normal((n_hidden, n_hidden)),
                "b": rng.standard_normal(n_hidden),
            }
        )
        self.extra_input_grads: dict[str, np.ndarray] = {}

    def forward(self, x, h0=None, training=True):
        if h0 is None:
            h0 = np.zeros((x.shape[0], self.params["b"].size))
        self.x, self.h0 = x, h0
        self.y = np.tanh(x @ self.params["Wx"] + h0 @ self.params["Wh"] + self.params["b"])
        return self.y

    def backward(self, dy):
        dz = dy * (1.0 - self.y**2)
        self.grads["Wx"] += self.x.T @ dz
        self.grads["Wh"] += self.h0.T @ dz
        self.grads["b"] += dz.sum(axis=0)
        self.extra_input_grads = {"h0": self.dh0(dz)}
        return dz @ self.params["Wx"].T

    def dh0(self, dz):
        return dz @ self.params["Wh"].T


class RecurrentStepBadDh0(RecurrentStep):
    def dh0(self, dz):
        return -super().dh0(dz)


class RecurrentStepNoDh0(RecurrentStep):
    def backward(self, dy):
        dx = super().backward(dy)
        self.extra_input_grads = {}
        return dx


# --------------------------------------------------------------------------------------------
# toy losses and functions


class MSE:
    def forward(self, pred, target):
        self.diff = pred - target
        return float(np.mean(self.diff**2))

    def backward(self):
        return 2.0 * self.diff / self.diff.size


class MSENoFactor2(MSE):
    def backward(self):
        return self.diff / self.diff.size


class SoftmaxXent:
    def forward(self, logits, labels):
        z = logits - logits.max(axis=1, keepdims=True)
        self.p = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
        self.labels = labels
        n = len(labels)
        return float(-np.mean(np.log(self.p[np.arange(n), labels])))

    def backward(self):
        d = self.p.copy()
        d[np.arange(len(self.labels)), self.labels] -= 1.0
        return d / len(self.labels)


def mul(a, b):
    return a * b, lambda dy: (dy * b, dy * a)


def mul_bad(a, b):
    return a * b, lambda dy: (dy * b, dy * b)


def scaled_rows(a, rows, k):
    """``a[rows] * k``: ``rows`` (int) and ``k`` (Python float) are passed through."""

    def vjp(dy):
        da = np.zeros_like(a)
        np.add.at(da, rows, dy * k)
        return da, None, None

    return a[rows] * k, vjp


def frozen_second(a, b):
    """Declares ``b`` non-differentiable (vjp gives None) although it is a float array."""
    return a * b, lambda dy: (dy * b, None)


# --------------------------------------------------------------------------------------------
# correct toys pass; the result's fields


def test_correct_affine_passes(rng):
    layer = Affine(3, 4, rng)
    r = gradcheck(layer, rng.standard_normal((5, 3)))
    assert isinstance(r, GradcheckResult) and r.ok and bool(r)
    assert r.kind == "layer"
    assert list(r.checks) == ["input", "params.W", "params.b"]
    for name, size in (("input", 15), ("params.W", 12), ("params.b", 4)):
        c = r[name]
        assert isinstance(c, TensorCheck) and c.ok
        assert c.checked == size and c.kinks == 0
        assert c.max_rel_error < 1e-7
        assert c.analytic == pytest.approx(c.numeric, rel=1e-6)
    assert r.failures == [] and r.skipped == {}


def test_two_path_and_recurrent_and_centering_pass(rng):
    assert gradcheck(TwoPath(3, 3, rng), rng.standard_normal((4, 3))).ok
    step = RecurrentStep(3, 4, rng)
    r = gradcheck(
        step, rng.standard_normal((2, 3)), extra_inputs={"h0": rng.standard_normal((2, 4))}
    )
    assert r.ok and list(r.checks) == ["input", "h0", "params.Wx", "params.Wh", "params.b"]
    for training in (True, False):
        assert gradcheck(Centering(3, 2, rng), rng.standard_normal((4, 3)), training=training).ok


# --------------------------------------------------------------------------------------------
# broken backwards fail, on the right tensor and element


def test_dW_one_percent_off_fails_only_on_W(rng):
    r = gradcheck(AffineDW1Percent(3, 4, rng), rng.standard_normal((5, 3)))
    assert not r.ok
    assert [c.name for c in r.failures] == ["params.W"]
    # |1.01 g - g| / (|1.01 g| + |g|) at every element
    assert r["params.W"].max_rel_error == pytest.approx(0.01 / 2.01, rel=1e-5)
    assert r["params.W"].analytic / r["params.W"].numeric == pytest.approx(1.01, rel=1e-6)
    assert r["input"].ok and r["params.b"].ok
    assert "FAIL" in r.report()


def test_one_element_off_is_located(rng):
    r = gradcheck(AffineDWOneElement(3, 4, rng), rng.standard_normal((5, 3)))
    c = r["params.W"]
    assert not r.ok and not c.ok
    assert c.worst_index == (1, 2)
    assert c.analytic / c.numeric == pytest.approx(1.01, rel=1e-6)
    assert "(1, 2)" in str(r)


def test_missing_bias_gradient_fails(rng):
    r = gradcheck(AffineNoDb(3, 4, rng), rng.standard_normal((5, 3)))
    assert [c.name for c in r.failures] == ["params.b"]
    c = r["params.b"]
    assert c.max_rel_error == 1.0 and c.analytic == 0.0 and c.numeric != 0.0


def test_missing_path_in_dx_fails(rng):
    r = gradcheck(TwoPathMissingDx(3, 3, rng), rng.standard_normal((4, 3)))
    assert [c.name for c in r.failures] == ["input"]
    assert r["params.W"].ok and r["params.V"].ok


def test_wrong_sign_dx_fails(rng):
    r = gradcheck(AffineDxSign(3, 4, rng), rng.standard_normal((5, 3)))
    assert [c.name for c in r.failures] == ["input"]
    c = r["input"]
    assert c.max_rel_error == pytest.approx(1.0, abs=1e-9)
    assert c.analytic == pytest.approx(-c.numeric, rel=1e-6)


def test_overwriting_grads_instead_of_accumulating_fails_with_a_note(rng):
    r = gradcheck(AffineOverwrites(3, 4, rng), rng.standard_normal((5, 3)))
    assert {c.name for c in r.failures} == {"params.W", "params.b"}
    assert "+=" in r["params.W"].note and "+=" in r["params.b"].note
    assert r["input"].ok
    assert "accumulating" in r.report()


def test_extra_input_gradient_checked(rng):
    x, h0 = rng.standard_normal((2, 3)), rng.standard_normal((2, 4))
    r = gradcheck(RecurrentStepBadDh0(3, 4, rng), x, extra_inputs={"h0": h0})
    assert [c.name for c in r.failures] == ["h0"]
    assert r["h0"].max_rel_error == pytest.approx(1.0, abs=1e-9)
    with pytest.raises(ValueError, match=r"extra_input_grads\['h0'\]"):
        gradcheck(RecurrentStepNoDh0(3, 4, rng), x, extra_inputs={"h0": h0})
    r = gradcheck(RecurrentStepNoDh0(3, 4, rng), x, extra_inputs={"h0": h0}, skip=("h0",))
    assert r.ok and "h0" not in r.checks and "h0" in r.skipped


def test_raise_on_failure_raises_assertion_with_report(rng):
    layer = AffineNoDb(2, 3, rng)
    with pytest.raises(GradcheckError) as info:
        gradcheck(layer, rng.standard_normal((4, 2)), raise_on_failure=True)
    assert isinstance(info.value, AssertionError)
    assert not info.value.result.ok
    assert "params.b" in str(info.value) and "FAIL" in str(info.value)
    # a correct layer does not raise
    gradcheck(Affine(2, 3, rng), rng.standard_normal((4, 2)), raise_on_failure=True)


def test_report_lists_every_tensor(rng):
    r = gradcheck(AffineDxSign(2, 3, rng), rng.standard_normal((4, 2)))
    text = str(r)
    assert text == r.report()
    assert text.startswith("gradcheck FAILED")
    lines = text.splitlines()
    assert any(line.startswith("input") and line.endswith("FAIL") for line in lines)
    assert any(line.startswith("params.W") and line.endswith("ok") for line in lines)


# --------------------------------------------------------------------------------------------
# kinks


def test_relu_input_exactly_at_zero_is_excluded_as_a_kink(rng):
    x = rng.standard_normal((3, 4))
    x[1, 2] = 0.0
    r = gradcheck(ReLU(), x)
    c = r["input"]
    assert r.ok and c.kinks == 1 and c.checked == 12
    assert c.worst_index != (1, 2)
    # without the exclusion the kink is the worst element: relu'(0) = 0 against the central
    # difference, which averages the slopes 0 and 1
    r = gradcheck(ReLU(), x, exclude_kinks=False)
    c = r["input"]
    assert not r.ok and c.kinks == 0 and c.worst_index == (1, 2)
    assert c.analytic == 0.0 and c.max_rel_error == pytest.approx(1.0)


def test_wrong_gradient_at_a_kink_is_not_excluded(rng):
    x = rng.standard_normal((3, 4))
    x[2, 1] = 0.0
    r = gradcheck(ReLUBadAtZero(), x)
    c = r["input"]
    assert not r.ok and c.kinks == 0 and c.worst_index == (2, 1)
    assert "matches neither" in c.note


def test_all_kink_tensor_passes_with_a_note():
    r = gradcheck(ReLU(), np.zeros((2, 2)))
    assert r.ok and r["input"].kinks == 4 and r["input"].worst_index is None
    assert "kink" in r["input"].note


# --------------------------------------------------------------------------------------------
# state: params, buffers, grads and the caller's arrays are left as found


def test_params_buffers_grads_restored(rng):
    layer = Centering(3, 2, rng)
    layer.forward(rng.standard_normal((4, 3)))  # some running state
    layer.grads["W"][...] = rng.standard_normal(layer.grads["W"].shape)  # pending gradient
    ids = {k: id(v) for k, v in layer.params.items()}
    before = {
        k: {n: a.copy() for n, a in d.items()}
        for k, d in (("p", layer.params), ("g", layer.grads), ("b", layer.buffers))
    }
    for training in (True, False):
        assert gradcheck(layer, rng.standard_normal((4, 3)), training=training).ok
        for k, d in (("p", layer.params), ("g", layer.grads), ("b", layer.buffers)):
            for n, a in d.items():
                assert np.array_equal(a, before[k][n]), (k, n)
    assert {k: id(v) for k, v in layer.params.items()} == ids


def test_views_into_a_flat_arena_stay_views(rng):
    layer = Affine(2, 3, rng)
    flat_p, flat_g = np.empty(9), np.full(9, 0.5)
    flat_p[:6], flat_p[6:] = layer.params["W"].ravel(), layer.params["b"]
    layer.params = {"W": flat_p[:6].reshape(2, 3), "b": flat_p[6:]}
    layer.grads = {"W": flat_g[:6].reshape(2, 3), "b": flat_g[6:]}
    p0 = flat_p.copy()
    assert gradcheck(layer, rng.standard_normal((4, 2))).ok
    assert np.array_equal(flat_p, p0) and np.all(flat_g == 0.5)
    assert np.shares_memory(layer.params["W"], flat_p)
    assert np.shares_memory(layer.grads["b"], flat_g)


def test_buffers_restored_before_every_forward(rng):
    layer = Drifting((3, 2), rng)
    r = gradcheck(layer, rng.standard_normal((3, 2)))
    assert r.ok
    assert np.all(layer.buffers["shift"] == 0.0)


def test_callers_arrays_untouched_and_float32_inputs_converted(rng):
    x = rng.standard_normal((4, 3)).astype(np.float32)
    x0 = x.copy()
    r = gradcheck(Affine(3, 2, rng), x)
    assert r.ok and x.dtype == np.float32 and np.array_equal(x, x0)


# --------------------------------------------------------------------------------------------
# losses and functions


def test_loss_checks_pred_only(rng):
    pred, target = rng.standard_normal((4, 3)), rng.standard_normal((4, 3))
    r = gradcheck(MSE(), (pred, target))
    assert r.ok and r.kind == "loss"
    assert list(r.checks) == ["pred"] and "target" in r.skipped
    assert r.objective == pytest.approx(np.mean((pred - target) ** 2), rel=1e-12)
    r = gradcheck(SoftmaxXent(), (pred, np.array([0, 2, 1, 2])))
    assert r.ok and r["pred"].checked == 12


def test_loss_with_a_wrong_factor_fails(rng):
    r = gradcheck(MSENoFactor2(), (rng.standard_normal((4, 3)), rng.standard_normal((4, 3))))
    c = r["pred"]
    assert not r.ok and c.analytic / c.numeric == pytest.approx(0.5, rel=1e-6)


def test_function_form(rng):
    a, b = rng.standard_normal((2, 3)), rng.standard_normal((2, 3))
    r = gradcheck(mul, (a, b))
    assert r.ok and r.kind == "function" and list(r.checks) == ["input0", "input1"]
    r = gradcheck(mul_bad, (a, b))
    assert [c.name for c in r.failures] == ["input1"]
    r = gradcheck(scaled_rows, (a, np.array([1, 1, 0]), 2.5))
    assert r.ok and list(r.checks) == ["input0"]
    assert set(r.skipped) == {"input1", "input2"}
    r = gradcheck(frozen_second, (a, b))
    assert r.ok and list(r.checks) == ["input0"] and "None" in r.skipped["input1"]
    # a single array is a 1-tuple of inputs
    assert gradcheck(lambda x: (np.sin(x), lambda dy: (dy * np.cos(x),)), a).ok


# --------------------------------------------------------------------------------------------
# max_elements, seeds


def test_max_elements_checks_a_seeded_subset(rng):
    layer = Affine(20, 30, rng)
    x = rng.standard_normal((2, 20))
    r = gradcheck(layer, x, max_elements=25)
    assert r.ok
    assert {k: c.checked for k, c in r.checks.items()} == {
        "input": 25,
        "params.W": 25,
        "params.b": 25,
    }
    again = gradcheck(layer, x, max_elements=25)
    assert [c.worst_index for c in again.checks.values()] == [
        c.worst_index for c in r.checks.values()
    ]
    small = gradcheck(Affine(2, 3, rng), rng.standard_normal((1, 2)), max_elements=25)
    assert small["params.W"].checked == 6


# --------------------------------------------------------------------------------------------
# errors


class Blowup(Toy):
    """``y = x`` below 1, inf from 1 on (without a NumPy warning)."""

    def __init__(self):
        super().__init__({})

    def forward(self, x, training=True):
        return np.where(x >= 1.0, np.inf, x)

    def backward(self, dy):
        return dy


class Noisy(Affine):
    def forward(self, x, training=True):
        return super().forward(x) + np.random.default_rng().standard_normal()


class InPlace(Affine):
    def forward(self, x, training=True):
        y = super().forward(x.copy())
        x *= 2.0
        return y


class Float32Out(Affine):
    def forward(self, x, training=True):
        return super().forward(x).astype(np.float32)


class WrongDxShape(Affine):
    def backward(self, dy):
        return super().backward(dy)[:, :1]


class NoZeroGrad(Affine):
    def __init__(self, *args, **kw):
        super().__init__(*args, **kw)
        self.grads["W"] += 1.0  # a pending gradient that zero_grad fails to clear

    def zero_grad(self):
        pass


def test_float32_params_are_refused(rng):
    with pytest.raises(TypeError, match=r"dtype=np\.float64"):
        gradcheck(Affine(3, 2, rng, dtype=np.float32), rng.standard_normal((4, 3)))


def test_non_finite_outputs_raise(rng):
    x = rng.uniform(-0.5, 0.5, (2, 3))
    x[1, 0] = 1.0 - 1e-7  # perturbing it by +1e-6 reaches the blow-up
    with pytest.raises(FloatingPointError, match=r"input\[1, 0\]"):
        gradcheck(Blowup(), x)
    x[1, 0] = 2.0
    with pytest.raises(FloatingPointError, match="non-finite"):
        gradcheck(Blowup(), x)
    x[1, 0] = np.nan
    with pytest.raises(ValueError, match="non-finite"):
        gradcheck(Blowup(), x)


def test_nondeterministic_forward_raises(rng):
    with pytest.raises(RuntimeError, match="not deterministic"):
        gradcheck(Noisy(2, 2, rng), rng.standard_normal((3, 2)))


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"eps": 0.0}, ValueError, "eps"),
        ({"eps": -1e-6}, ValueError, "eps"),
        ({"eps": 0.1}, ValueError, "eps"),
        ({"eps": "1e-6"}, TypeError, "eps"),
        ({"rtol": 0}, ValueError, "rtol"),
        ({"atol": -1.0}, ValueError, "atol"),
        ({"max_elements": 0}, ValueError, "max_elements"),
        ({"max_elements": 2.5}, TypeError, "max_elements"),
        ({"skip": ("params.w",)}, ValueError, "params.w"),
        ({"extra_inputs": [1]}, TypeError, "extra_inputs"),
    ],
)
def test_bad_arguments(rng, kwargs, error, match):
    with pytest.raises(error, match=match):
        gradcheck(Affine(2, 2, rng), rng.standard_normal((3, 2)), **kwargs)


def test_targets_breaking_their_protocol(rng):
    x = rng.standard_normal((3, 2))
    cases = [
        (lambda: gradcheck(42, x), TypeError, "cannot gradcheck"),
        (lambda: gradcheck(Affine(2, 2, rng), (x, x)), ValueError, "one input"),
        (lambda: gradcheck(MSE(), (x.astype(str), x)), TypeError, "numeric"),
        (lambda: gradcheck(MSE(), x), ValueError, "pred, target"),
        (lambda: gradcheck(mul, (x, x), extra_inputs={"h": x}), ValueError, "only for layers"),
        (lambda: gradcheck(lambda a: (a, lambda dy: (dy, dy)), x), ValueError, "1 gradients"),
        (lambda: gradcheck(lambda a: a, x), TypeError, r"\(y, vjp\)"),
        (lambda: gradcheck(WrongDxShape(2, 2, rng), x), ValueError, "shape"),
        (lambda: gradcheck(Float32Out(2, 2, rng), x), TypeError, "float32"),
        (lambda: gradcheck(NoZeroGrad(2, 2, rng), x), ValueError, "zero_grad"),
        (lambda: gradcheck(InPlace(2, 2, rng), x), ValueError, "in place"),
    ]
    for call, error, match in cases:
        with pytest.raises(error, match=match):
            call()
    broken = Affine(2, 2, rng)
    broken.grads = {"W": broken.grads["W"]}
    with pytest.raises(ValueError, match="different keys"):
        gradcheck(broken, x)


def test_failed_call_still_restores_the_layer(rng):
    layer = NoZeroGrad(2, 2, rng)
    layer.grads["W"][...] = 3.0
    p0 = layer.params["W"].copy()
    with pytest.raises(ValueError):
        gradcheck(layer, rng.standard_normal((3, 2)))
    assert np.all(layer.grads["W"] == 3.0) and np.array_equal(layer.params["W"], p0)


def test_import_gradcore_does_not_import_hypothesis():
    code = "import sys, gradcore, gradcore.gradcheck; assert 'hypothesis' not in sys.modules"
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
    subprocess.run([sys.executable, "-c", code], check=True, env=env, timeout=60)


# --------------------------------------------------------------------------------------------
# hypothesis: correct toys pass, broken ones fail, over drawn shapes (incl. 1) and scales

exponents = gst.scales(-3, 2)


@given(dims=gst.shapes(3, max_side=4), sx=exponents, sw=exponents, sb=exponents, data=st.data())
def test_affine_passes_over_shapes_and_scales(dims, sx, sw, sb, data):
    n, i, o = dims
    x = data.draw(gst.arrays((n, i), scale=sx))
    layer = Affine(i, o, np.random.default_rng(data.draw(gst.seeds())), w_scale=sw, b_scale=sb)
    r = gradcheck(layer, x)
    assert r.ok, str(r)


@given(
    dims=gst.shapes(3, max_side=4),
    act=gst.activations(),
    sx=exponents,
    seed=gst.seeds(),
    data=st.data(),
)
def test_dense_toy_passes_for_every_activation(dims, act, sx, seed, data):
    n, i, o = dims
    x = data.draw(gst.arrays((n, i), scale=sx))
    layer = DenseAct(i, o, act, np.random.default_rng(seed), w_scale=1 / np.sqrt(i))
    r = gradcheck(layer, x)
    assert r.ok, str(r)


@given(shape=gst.shapes(2, max_side=4), scale=exponents, data=st.data())
def test_losses_and_functions_pass_over_shapes_and_scales(shape, scale, data):
    pred = data.draw(gst.arrays(shape, scale=scale))
    target = data.draw(gst.arrays(shape, scale=scale))
    assert gradcheck(MSE(), (pred, target)).ok
    labels = data.draw(gst.labels(shape[0], shape[1]))
    assert gradcheck(SoftmaxXent(), (pred, labels)).ok
    assert gradcheck(mul, (pred, target)).ok


BROKEN = [
    (AffineNoDb, {"params.b"}),
    (AffineDxSign, {"input"}),
    (AffineOverwrites, {"params.W", "params.b"}),
]


@pytest.mark.parametrize(("toy", "failing"), BROKEN, ids=[t.__name__ for t, _ in BROKEN])
@given(dims=gst.shapes(3, max_side=4), sx=exponents, sw=exponents, data=st.data())
def test_broken_affine_fails_over_shapes_and_scales(toy, failing, dims, sx, sw, data):
    n, i, o = dims
    x = data.draw(gst.arrays((n, i), scale=sx))
    layer = toy(i, o, np.random.default_rng(data.draw(gst.seeds())), w_scale=sw, b_scale=sw)
    r = gradcheck(layer, x)
    assert {c.name for c in r.failures} == failing, str(r)


@given(dims=gst.shapes(3, min_side=2, max_side=4), sx=exponents, sw=exponents, data=st.data())
def test_one_percent_off_fails_over_shapes_and_scales(dims, sx, sw, data):
    # sides >= 2: with a single element, |dW| could by chance sit at the noise floor
    n, i, o = dims
    x = data.draw(gst.arrays((n, i), scale=sx))
    layer = AffineDW1Percent(i, o, np.random.default_rng(data.draw(gst.seeds())), w_scale=sw)
    r = gradcheck(layer, x)
    assert [c.name for c in r.failures] == ["params.W"], str(r)


@given(dims=gst.shapes(3, max_side=4), data=st.data())
def test_missing_path_fails_over_shapes(dims, data):
    n, i, _ = dims
    x = data.draw(gst.arrays((n, i), scale=1.0))
    layer = TwoPathMissingDx(i, i, np.random.default_rng(data.draw(gst.seeds())))
    r = gradcheck(layer, x)
    assert [c.name for c in r.failures] == ["input"], str(r)


# --------------------------------------------------------------------------------------------
# the strategies themselves


@given(shape=gst.shapes(min_dims=0, max_dims=4, max_side=3), scale=exponents, data=st.data())
def test_arrays_strategy(shape, scale, data):
    a = data.draw(gst.arrays(shape, scale=scale))
    assert a.shape == shape and a.dtype == np.float64 and a.flags.c_contiguous
    assert np.all(np.isfinite(a))
    assert np.all((a == 0) | (np.abs(a) >= np.finfo(np.float64).tiny))
    assert np.all(np.abs(a) <= 10 * scale)


@given(scale=exponents, data=st.data())
def test_arrays_strategy_scale_is_the_rms(scale, data):
    a = data.draw(gst.arrays((400,), scale=scale))
    assert 0.8 * scale < np.sqrt(np.mean(a**2)) < 1.2 * scale
    assert len(np.unique(a)) == a.size  # no repeated fill values


@given(a=gst.arrays(gst.shapes(2), dtype=np.float32))
def test_arrays_strategy_dtype_and_default_scales(a):
    assert a.dtype == np.float32 and a.ndim == 2
    assert np.all(np.abs(a) <= 10 * 1e2)


@given(s=gst.shapes(2, min_side=1, max_side=3), k=st.integers(1, 5), data=st.data())
def test_labels_shapes_activations_strategies(s, k, data):
    assert len(s) == 2 and all(1 <= d <= 3 for d in s)
    y = data.draw(gst.labels(s[0], k))
    assert y.dtype == np.int64 and y.shape == (s[0],)
    assert np.all((0 <= y) & (y < k))
    assert data.draw(gst.activations()) in gst.ACTIVATIONS
    assert data.draw(gst.activations(smooth=True)) not in gst.KINKED_ACTIVATIONS
    assert data.draw(gst.activations(exclude=("gelu",))) != "gelu"


def test_strategies_reject_bad_arguments():
    with pytest.raises(TypeError):
        gst.arrays((2,), dtype=np.int64)
    with pytest.raises(ValueError):
        gst.arrays((2,), scale=0.0)
    with pytest.raises(ValueError):
        gst.activations(exclude=("swish",))
    with pytest.raises(ValueError):
        gst.shapes(min_side=3, max_side=2)
    with pytest.raises(ValueError):
        gst.scales(2, -3)


# --------------------------------------------------------------------------------------------
# finite-difference error is told apart from bugs


def cancelling(x):
    """Identity computed as ``(x + 1e6) - 1e6``: correct backward, forward off by ~1e-10."""
    return (x + 1e6) - 1e6, lambda dy: (dy,)


def normalize_rows(x):
    """``(x - mean) / std`` per row, without an epsilon: bends on the scale of ``std``."""
    xc = x - x.mean(axis=1, keepdims=True)
    s = np.sqrt((xc**2).mean(axis=1, keepdims=True))
    xh = xc / s

    def vjp(dy):
        g = dy - dy.mean(axis=1, keepdims=True) - xh * (dy * xh).mean(axis=1, keepdims=True)
        return (g / s,)

    return xh, vjp


def test_noisy_forward_is_diagnosed_and_atol_overrides(rng):
    x = rng.standard_normal((3, 4))
    r = gradcheck(cancelling, x)
    assert not r.ok and "round-off in the forward" in r["input0"].note
    assert gradcheck(cancelling, x, atol=1e-3).ok


def test_curvature_on_a_small_scale_is_resolved_by_a_smaller_step(rng):
    # rows of scale 3e-4: the step 1e-6 is 1/300 of the curvature length, a truncation error
    # of ~2e-6 relative; the second opinion at h/10 resolves it
    r = gradcheck(normalize_rows, rng.standard_normal((3, 4)) * 3e-4)
    assert r.ok and r["input0"].max_rel_error < 1e-6
