"""Test helpers for gradcore's own suite and for users testing their layers.

:mod:`gradcore.testing.strategies` holds hypothesis strategies (shapes, well-conditioned float
arrays of controlled magnitude, activation names, integer labels) meant to be used together
with :func:`gradcore.gradcheck.gradcheck`::

    from hypothesis import given
    from gradcore.testing import strategies as gst

    @given(x=gst.arrays(gst.shapes(2)), act=gst.activations())
    def test_my_layer(x, act): ...

This subpackage needs hypothesis (a test-only dependency: ``pip install "gradcore[test]"``);
``import gradcore`` never imports it.
"""

try:
    import hypothesis  # noqa: F401
except ModuleNotFoundError as exc:  # pragma: no cover - depends on the environment
    raise ModuleNotFoundError(
        "gradcore.testing needs hypothesis, a test-only dependency: "
        'pip install "gradcore[test]" (or pip install hypothesis)'
    ) from exc

from . import strategies
from .strategies import activations, arrays, labels, scales, seeds, shapes

__all__ = ["activations", "arrays", "labels", "scales", "seeds", "shapes", "strategies"]
