"""Shared fixtures, hypothesis profiles, and the required-backends mode.

Hypothesis: ``ci`` (derandomized, more examples) is used when ``CI`` is set, ``dev`` otherwise;
``HYPOTHESIS_PROFILE`` overrides both.

Required backends: ``GRADCORE_REQUIRE_BACKENDS=c,numba`` (set by ``.ci/run``) turns every skip
caused by an unavailable compiled backend into a failure: a module-level
``pytest.importorskip("gradcore._kernels")`` or "no numba backend" skip becomes a collection
error, and :func:`each_backend` runs every required backend, failing where one does not load.
Without the variable a missing ``c``/``numba`` backend only skips (a source checkout without
a build still runs the reference tests).
"""

import os
import zlib

import numpy as np
import pytest
from hypothesis import HealthCheck, settings

settings.register_profile(
    "ci",
    settings.get_profile("ci"),
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile(
    "dev", max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile(os.getenv("HYPOTHESIS_PROFILE", "ci" if os.getenv("CI") else "dev"))

REQUIRE_ENV = "GRADCORE_REQUIRE_BACKENDS"
_PREFERENCE = ("c", "numba", "numpy")  # gradcore.backends' order (fastest first)
# Words in a skip reason that mean "this backend is not there" (the module-level skips of
# tests/test_c_*.py, test_gemm_provider.py, the equivalence suite (tests/_equivalence.py),
# test_numba_backend.py, the c-only tests of the suite, and the skips of this conftest and
# test_packaging.py).
_SKIP_MARKERS = {
    "c": ("gradcore._kernels", "gradcore.backends.c", "compiled backend", "backend 'c'"),
    "numba": ("numba", "compiled backend"),
    "numpy": ("backend 'numpy'",),
}


def required_backends() -> tuple[str, ...]:
    """The backends named in ``GRADCORE_REQUIRE_BACKENDS`` (comma-separated), in order."""
    names = [n.strip().lower() for n in os.environ.get(REQUIRE_ENV, "").split(",")]
    names = [n for n in names if n]
    unknown = [n for n in names if n not in _PREFERENCE]
    if unknown:
        raise pytest.UsageError(
            f"{REQUIRE_ENV}: unknown backend(s) {', '.join(map(repr, unknown))}; "
            f"known: {', '.join(_PREFERENCE)}"
        )
    return tuple(dict.fromkeys(names))


def pytest_configure(config):
    required_backends()  # a typo in the variable is a usage error, not a silent no-op


def pytest_sessionfinish(session):
    """With ``GRADCORE_TOL_LOG=path``: write the largest error seen per tolerance-table entry
    (``tests/_tolerances.py``), the measurement its ``observed`` column records."""
    path = os.environ.get("GRADCORE_TOL_LOG")
    if path:
        import json

        import _tolerances

        seen = {f"{k} {d}": v for (k, d), v in sorted(_tolerances.report_observed().items())}
        with open(path, "w") as f:
            json.dump(seen, f, indent=1)


def pytest_report_header(config):
    req = required_backends()
    if req:
        import gradcore as gc

        return (
            f"gradcore: required backends {', '.join(req)} ({REQUIRE_ENV}); "
            f"available: {', '.join(gc.available_backends())}"
        )
    return None


def _skip_reason(report) -> str | None:
    if not report.skipped or hasattr(report, "wasxfail"):
        return None
    longrepr = report.longrepr
    if isinstance(longrepr, tuple) and len(longrepr) == 3:
        return str(longrepr[2])
    return str(longrepr)


def _fail_if_backend_skip(report) -> None:
    req = required_backends()
    reason = _skip_reason(report) if req else None
    if reason is None:
        return
    hit = [b for b in req if any(m in reason for m in _SKIP_MARKERS[b])]
    if hit:
        report.outcome = "failed"
        report.longrepr = (
            f"{REQUIRE_ENV}={','.join(req)}: a skip because backend {'/'.join(hit)} is "
            f"unavailable is a failure here. Skip reason: {reason}"
        )


@pytest.hookimpl(hookwrapper=True)
def pytest_make_collect_report(collector):
    outcome = yield
    _fail_if_backend_skip(outcome.get_result())


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    _fail_if_backend_skip(outcome.get_result())


@pytest.fixture
def rng(request):
    """A NumPy Generator seeded from the test's name: reproducible, different per test."""
    seed = zlib.crc32(request.node.nodeid.encode())
    return np.random.default_rng(seed)


def _each_backend_params() -> list[str]:
    available = set(__import__("gradcore").available_backends())
    wanted = available | set(required_backends())
    return [b for b in _PREFERENCE if b in wanted]


@pytest.fixture(params=_each_backend_params())
def each_backend(request):
    """Run the test once per available backend (``numpy``, and ``c``/``numba`` when built),
    and once per required backend (``GRADCORE_REQUIRE_BACKENDS``): a required backend that
    does not load fails the test. Modules opt in with
    ``pytestmark = pytest.mark.usefixtures("each_backend")``."""
    import gradcore as gc

    if request.param not in gc.available_backends():
        try:
            gc.set_backend(request.param)  # raises, with the import error as the reason
        except ValueError as exc:
            pytest.fail(f"{REQUIRE_ENV}: required backend {request.param!r}: {exc}")
    with gc.use_backend(request.param):
        yield request.param
