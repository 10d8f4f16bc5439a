"""Elementwise activations, compiled (``kernels/dense.c``); contract: ``docs/kernels.md``.

- ``act_forward(x, act, y)``: ``y = act(x)``, any shape; ``y`` may be ``x``.
- ``act_backward(dy, x, y, act, dx)``: ``dx = dy * act'(x)``; ``dx`` may be ``dy`` (or ``x``,
  ``y``: the pass is elementwise).

One specialised loop per activation, OpenMP above 65536 elements (8192 for the transcendental
ones). Same formulas, kinks and NaN behaviour as the reference; float32 math in float32
(gelu's erfc in double, as scipy). Results agree to a few ulp (different libm/SIMD exp).
"""

from gradcore._kernels import act_backward, act_forward

__all__ = ["act_backward", "act_forward"]
