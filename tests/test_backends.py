"""Backend registry and Workspace."""

import os
import subprocess
import sys

import numpy as np
import pytest

import gradcore as gc
from gradcore.backends import ACTIVATIONS, Workspace

CONTRACT = [
    "act_forward",
    "act_backward",
    "dense_forward",
    "dense_backward",
    "batchnorm_forward_train",
    "batchnorm_forward_eval",
    "batchnorm_backward",
    "layernorm_forward",
    "layernorm_backward",
    "lstm_forward",
    "lstm_backward",
    "softmax_xent",
    "mse",
    "bce_with_logits",
    "segment_sumsq",
    "segment_absmax",
    "scale_",
    "clip_value_",
    "sgd_step",
    "rmsprop_step",
    "adagrad_step",
    "adam_step",
    "act_stats",
    "segment_delta_sumsq",
]


def test_numpy_backend_always_available_and_complete():
    names = gc.available_backends()
    assert "numpy" in names
    for name in names:
        with gc.use_backend(name) as be:
            missing = [op for op in CONTRACT if not callable(getattr(be, op, None))]
            assert not missing, f"backend {name} lacks {missing}"


def test_unknown_backend_lists_available():
    with pytest.raises(ValueError, match=r"available: .*'numpy'"):
        gc.set_backend("cuda")
    with pytest.raises(ValueError, match="unknown or unavailable backend 'nope'"):
        with gc.use_backend("nope"):
            pass
    with pytest.raises(TypeError):
        gc.set_backend(3)


def test_use_backend_restores_previous():
    before = gc.get_backend_name()
    with gc.use_backend("numpy") as be:
        assert gc.get_backend_name() == "numpy"
        assert gc.get_backend() is be
    assert gc.get_backend_name() == before


def test_set_backend_is_case_insensitive():
    before = gc.get_backend_name()
    try:
        gc.set_backend(" NumPy ")
        assert gc.get_backend_name() == "numpy"
    finally:
        gc.set_backend(before)


def _run(code, **env):
    full = {**os.environ, **env}
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=full, check=False
    )


def test_env_variable_selects_backend():
    r = _run("import gradcore as gc; print(gc.get_backend_name())", GRADCORE_BACKEND="numpy")
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "numpy"


def test_env_variable_unknown_backend_is_a_clear_error():
    r = _run("import gradcore as gc; gc.get_backend_name()", GRADCORE_BACKEND="fortran")
    assert r.returncode != 0
    assert "GRADCORE_BACKEND='fortran'" in r.stderr and "available" in r.stderr


def test_activation_names_are_the_contract():
    assert ACTIVATIONS == ("linear", "relu", "leaky_relu", "elu", "sigmoid", "tanh", "silu", "gelu")


def test_workspace_reuses_buffers():
    ws = Workspace()
    a = ws.get("dz", (4, 5), np.float32)
    assert a.shape == (4, 5) and a.dtype == np.float32 and a.flags.c_contiguous
    b = ws.get("dz", (2, 3), np.float32)  # smaller: same memory
    assert np.shares_memory(a, b)
    c = ws.get("dz", (10, 10), np.float32)  # larger: grows
    assert c.shape == (10, 10) and not np.shares_memory(a, c)
    d = ws.get("dz", (2, 2), np.float64)  # other dtype: new buffer
    assert d.dtype == np.float64
    assert ws.get("empty", (0, 3), np.float32).shape == (0, 3)
    assert ws.nbytes > 0
    ws.clear()
    assert ws.nbytes == 0


@pytest.mark.parametrize("shape", [(-1, 3), (-1, -3), (2, -1)])
def test_workspace_refuses_negative_sizes(shape):
    ws = gc.Workspace()  # (-1, 3) used to give an empty (0, 3) array
    with pytest.raises(ValueError, match=r"Workspace.get: shape must have sizes >= 0"):
        ws.get("a", shape, np.float32)
