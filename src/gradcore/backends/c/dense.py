"""Dense layer with fused activation, compiled (``kernels/dense.c``); contract: ``docs/kernels.md``.

- ``dense_forward(x, W, b, act, z, y)``: one GEMM ``z = x @ W`` (BLAS via ``gc_gemm``), then ONE
  pass adding ``b`` and applying ``act`` (writes ``z`` and ``y``; ``y`` may be ``z`` for
  ``"linear"``).
- ``dense_backward(dy, x, W, z, y, act, dx, dW, db, ws=None)``: ONE pass computing
  ``dz = dy * act'(z)`` and ``db += sum_n dz`` (double column sums, columns split across
  threads), then ``dW += x^T dz`` (GEMM, beta = 1) and ``dx = dz @ W^T`` (skipped if None).
  ``dz`` is ``ws.get("dense_dz", (N, O), dtype)`` when a Workspace is given, else allocated.
"""

from gradcore._kernels import dense_backward, dense_forward

__all__ = ["dense_backward", "dense_forward"]
