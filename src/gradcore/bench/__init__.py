"""Benchmarks of the gradcore backends against the NumPy reference and PyTorch CPU.

``gradcore bench [--quick] [--out DIR] ...`` (also ``python -m gradcore.bench``) runs a grid
of kernel x backend x dtype x size with warm-up, threads pinned and recorded, and writes
``bench.json``, ``bench.md`` and ``bench.png``. What is measured and how to read it:
``bench/README.md`` of the source tree. Timing is for this harness only: tests never assert on
time.

It ships inside the wheel on purpose: ``gradcore bench``, ``python -m gradcore.bench.contention``
and ``python -m gradcore.bench.monitor_cost`` are user commands that measure gradcore (against
NumPy, and PyTorch when installed) on the user's own CPU, which needs the code installed. It
imports nothing at ``import gradcore`` time (``gradcore bench`` imports it on demand).
"""

from .run import FAMILIES, default_out, main, run

__all__ = ["FAMILIES", "default_out", "main", "run"]
