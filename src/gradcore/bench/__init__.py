"""Benchmarks of the gradcore backends against the NumPy reference and PyTorch CPU.

``gradcore bench [--quick] [--out DIR] ...`` (also ``python -m bench`` in a source tree, and
``python -m gradcore.bench``) runs a grid of kernel x backend x dtype x size with warm-up,
threads pinned and recorded, and writes ``bench.json``, ``bench.md`` and ``bench.png``.
What is measured and how to read it: ``bench/README.md``. Timing is for this harness only:
tests never assert on time.
"""

from .run import FAMILIES, default_out, main, run

__all__ = ["FAMILIES", "default_out", "main", "run"]
