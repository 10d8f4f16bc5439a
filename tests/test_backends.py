"""Backend registry and Workspace."""

import os
import re
import subprocess
import sys
import types
from pathlib import Path

import numpy as np
import pytest

import gradcore as gc
from gradcore.backends import ACTIVATIONS, Workspace, _contract

DOCS = Path(__file__).resolve().parents[1] / "docs" / "kernels.md"


def _documented_ops() -> dict[str, tuple[str, ...]]:
    """``op -> parameter names`` of every signature written in docs/kernels.md (a list item
    opening with ```op(...)```; shapes such as ``[N,I]``, types and ``| None`` stripped)."""
    ops = {}
    for m in re.finditer(r"^- `(\w+)\(([^`]*)\)", DOCS.read_text(encoding="utf-8"), re.M):
        args = re.sub(r"\[[^\]]*\]", "", m.group(2))
        ops[m.group(1)] = tuple(re.match(r"\s*(\w+)", a).group(1) for a in args.split(","))
    return ops


def test_the_contract_is_the_documented_one():
    assert _documented_ops() == _contract.OPS
    assert list(_contract.OPS) == [op for fam in _contract.FAMILIES.values() for op in fam]


def test_numpy_backend_always_available_and_complete():
    names = gc.available_backends()
    assert "numpy" in names
    for name in names:
        with gc.use_backend(name) as be:
            missing = [op for op in _contract.OPS if not callable(getattr(be, op, None))]
            assert not missing, f"backend {name} lacks {missing}"
            _contract.verify(be)
            assert set(be.__all__) >= set(_contract.OPS)


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


def _partial_backend(**replace):
    """A module with every reference op, some replaced (``None`` deletes one)."""
    mod = types.ModuleType("partial_backend")
    mod.NAME = "partial"
    ref = gc.backends.get_backend("numpy")
    mod.__dict__.update({op: getattr(ref, op) for op in _contract.OPS})
    for op, fn in replace.items():
        if fn is None:
            delattr(mod, op)
        else:
            setattr(mod, op, fn)
    return mod


def test_verify_accepts_every_available_backend():
    for name in gc.available_backends():
        _contract.verify(gc.backends.get_backend(name))  # no exception


def test_verify_names_a_missing_op_and_a_wrong_signature():
    def adam_step(p, g, m, v, vmax, lr, beta1, beta2, eps, weight_decay, step, amsgrad):
        pass

    with pytest.raises(ImportError, match=r"'partial'.*mse is missing.*adam_step\(p, g"):
        _contract.verify(_partial_backend(mse=None, adam_step=adam_step))
    with pytest.raises(ImportError, match=r"scale_ is missing"):
        _contract.verify(_partial_backend(scale_=42))  # not callable


def test_registry_refuses_a_backend_that_misses_an_op(monkeypatch):
    mod = _partial_backend(segment_delta_sumsq=None)
    monkeypatch.setitem(sys.modules, "partial_backend", mod)
    monkeypatch.setitem(gc.backends._CANDIDATES, "partial", "partial_backend")
    monkeypatch.setattr(gc.backends, "_PREFERENCE", [*gc.backends._PREFERENCE, "partial"])
    monkeypatch.setattr(gc.backends, "_failed", {})
    assert "partial" not in gc.available_backends()
    assert "segment_delta_sumsq is missing" in gc.backends._failed["partial"]
    with pytest.raises(ValueError, match=r"unavailable backend 'partial' \(ImportError: .*"):
        gc.set_backend("partial")


def test_get_backend_by_name_does_not_switch():
    before = gc.get_backend_name()
    ref = gc.backends.get_backend("numpy")
    assert ref.NAME == "numpy" and gc.get_backend_name() == before
    with pytest.raises(ValueError, match="unknown or unavailable backend 'nope'"):
        gc.backends.get_backend("nope")


def test_activation_code_is_the_one_check():
    assert [_contract.activation_code(a) for a in ACTIVATIONS] == list(range(len(ACTIVATIONS)))
    for bad in ("swish", None, 3, ["relu"]):
        with pytest.raises(ValueError, match=r"unknown activation .*valid activations are: 'lin"):
            _contract.activation_code(bad)


def test_backends_import_nothing_above_them():
    """_contract imports nothing of gradcore; no backend module imports the registry (the
    package ``gradcore.backends`` itself: ``from . import`` in backends/, ``from .. import``
    one folder down)."""
    src = Path(gc.backends.__file__).parent
    contract = (src / "_contract.py").read_text(encoding="utf-8")
    assert not re.search(r"^\s*(from \.|from gradcore|import gradcore)", contract, re.M)
    for path in src.rglob("*.py"):
        if path == src / "__init__.py":
            continue
        registry = r"^from \. import" if path.parent == src else r"^from \.\. import"
        assert not re.search(registry, path.read_text(encoding="utf-8"), re.M), path
