"""GEMM provider selection for the C kernels (OpenBLAS default, MKL optional)."""

import numpy as np
import pytest

K = pytest.importorskip("gradcore._kernels")
from gradcore import _gemm  # noqa: E402


@pytest.fixture
def restore_provider():
    before = K.gemm_provider()
    yield
    _gemm.select(before)


def _check_gemm(rng):
    for ta in (False, True):
        for tb in (False, True):
            for M, N, k in [(3, 5, 4), (1, 1, 0), (70, 90, 33)]:
                A = rng.standard_normal((k, M) if ta else (M, k))
                B = rng.standard_normal((N, k) if tb else (k, N))
                C = rng.standard_normal((M, N))
                want = 0.5 * ((A.T if ta else A) @ (B.T if tb else B)) + 2.0 * C
                K.gemm(A, B, C, ta, tb, 0.5, 2.0)
                np.testing.assert_allclose(C, want, rtol=1e-12, atol=1e-12)


def test_openblas_selected_explicitly(restore_provider, rng):
    assert _gemm.select("openblas") == "openblas" == K.gemm_provider() == _gemm.current()
    _check_gemm(rng)


def test_bad_provider_name():
    with pytest.raises(ValueError, match="must be one of"):
        _gemm.select("blis")


def test_mkl_requested_but_missing_falls_back_with_a_warning(restore_provider, monkeypatch):
    monkeypatch.setattr(_gemm, "_mkl", {})
    monkeypatch.setattr(_gemm, "_mkl_candidates", lambda: [])
    with pytest.warns(RuntimeWarning, match=r"gradcore\[mkl\]"):
        assert _gemm.select("mkl") == "openblas"
    assert _gemm.select("auto") == "openblas"


def test_mkl_when_installed(restore_provider, rng):
    if _gemm.load_mkl() is None:
        pytest.skip("MKL (optional extra gradcore[mkl]) is not installed")
    assert _gemm.select("mkl") == "mkl" == K.gemm_provider()
    _check_gemm(rng)
