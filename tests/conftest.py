"""Shared fixtures and hypothesis profiles.

``ci`` (derandomized, more examples) is used when ``CI`` is set, ``dev`` otherwise;
``HYPOTHESIS_PROFILE`` overrides both.
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


@pytest.fixture
def rng(request):
    """A NumPy Generator seeded from the test's name: reproducible, different per test."""
    seed = zlib.crc32(request.node.nodeid.encode())
    return np.random.default_rng(seed)


@pytest.fixture(params=__import__("gradcore").available_backends())
def each_backend(request):
    """Run the test once per available backend (``numpy``, and ``c``/``numba`` when built):
    modules opt in with ``pytestmark = pytest.mark.usefixtures("each_backend")``."""
    import gradcore as gc

    with gc.use_backend(request.param):
        yield request.param
