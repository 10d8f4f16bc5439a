"""Choosing the GEMM provider of the C kernels: scipy's OpenBLAS (default) or MKL (optional).

``GRADCORE_GEMM=auto|openblas|mkl`` (default ``auto``: MKL if its runtime loads, else
OpenBLAS), read when the ``c`` backend is first loaded; :func:`select` switches at run time.
MKL comes from the optional extra ``gradcore[mkl]`` (the ``mkl`` wheel: ~940 MiB with its
dependencies and Intel's licence, hence never a hard dependency). It is loaded with ctypes,
its threading layer set to GNU (the libgomp that gradcore's kernels already use, so there is
one thread pool) and its thread count to 1 *before its first call*; gradcore's own OpenMP
threads split large GEMMs. No import-time micro-benchmark decides (timings here vary up to
2.5x run to run): the choice is the environment's.

Its floor (the import contract in ``pyproject.toml``): below ``backends`` (the ``c`` backend
calls :func:`select` when it loads), above ``threads`` (whose ``pin_gemm_blas`` is the fallback
for an OpenBLAS without a thread-local switch) and the compiled ``_kernels``; it never imports
upwards.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import glob
import os
import sys
import warnings

__all__ = ["ENV", "current", "load_mkl", "select"]

ENV = "GRADCORE_GEMM"
_CHOICES = ("auto", "openblas", "mkl")
_MKL_THREADING_GNU = 3
_MKL_INTERFACE_LP64 = 0
_mkl: dict = {}


def _mkl_candidates() -> list[str]:
    out = []
    for prefix in dict.fromkeys([sys.prefix, sys.base_prefix]):
        out += sorted(glob.glob(os.path.join(prefix, "lib", "libmkl_rt.so*")))
    found = ctypes.util.find_library("mkl_rt")
    if found:
        out.append(found)
    return out


def load_mkl() -> tuple[ctypes.CDLL, str] | None:
    """Load ``libmkl_rt`` once, configured (GNU threading layer, LP64, 1 thread); None if absent."""
    if "lib" in _mkl:
        return _mkl["lib"]
    result = None
    for path in _mkl_candidates():
        try:
            lib = ctypes.CDLL(path)
            # order matters: the layers must be set before any other MKL call
            lib.MKL_Set_Threading_Layer.argtypes = [ctypes.c_int]
            lib.MKL_Set_Interface_Layer.argtypes = [ctypes.c_int]
            lib.MKL_Set_Threading_Layer(_MKL_THREADING_GNU)
            lib.MKL_Set_Interface_Layer(_MKL_INTERFACE_LP64)
            lib.MKL_Set_Num_Threads.argtypes = [ctypes.c_int]
            lib.MKL_Set_Num_Threads(1)
            lib.cblas_sgemm  # noqa: B018  (symbols must exist)
            lib.cblas_dgemm  # noqa: B018
        except (OSError, AttributeError):
            continue
        result = (lib, path)
        break
    _mkl["lib"] = result
    return result


def _address(fn) -> int:
    return ctypes.cast(fn, ctypes.c_void_p).value or 0


def select(provider: str | None = None) -> str:
    """Point the C kernels' GEMM at ``provider`` (``"auto"``, ``"openblas"`` or ``"mkl"``;
    default: env ``GRADCORE_GEMM`` or ``"auto"``); returns the provider now in use.

    ``"mkl"`` when MKL cannot be loaded warns and falls back to OpenBLAS.
    """
    from . import _kernels
    from .threads import pin_gemm_blas

    choice = (provider or os.environ.get(ENV, "") or "auto").strip().lower()
    if choice not in _CHOICES:
        raise ValueError(f"{ENV} / provider must be one of {_CHOICES}, got {choice!r}")
    if choice in ("auto", "mkl"):
        loaded = load_mkl()
        if loaded is not None:
            lib, _ = loaded
            # the C entry (the lowercase name is the Fortran one: it takes an int *)
            local = getattr(lib, "MKL_Set_Num_Threads_Local", None)  # MKL >= 10.3
            _kernels.use_cblas(
                _address(lib.cblas_sgemm),
                _address(lib.cblas_dgemm),
                "mkl",
                _address(local) if local is not None else 0,
            )
            return "mkl"
        if choice == "mkl":
            warnings.warn(
                f"{ENV}=mkl but MKL's runtime (libmkl_rt) was not found; using OpenBLAS. "
                'Install it with: pip install "gradcore[mkl]"',
                RuntimeWarning,
                stacklevel=2,
            )
    _kernels.use_openblas()
    if not _kernels.BLAS_THREADS_PINNED:
        # no thread-local switch in this OpenBLAS (< 0.3.27): pin scipy's copy process-wide
        pin_gemm_blas()
    return "openblas"


def current() -> str:
    """The GEMM provider the C kernels call now (``"openblas"``, ``"mkl"``) or ``"none"``."""
    try:
        from . import _kernels
    except ImportError:
        return "none"
    return _kernels.gemm_provider()
