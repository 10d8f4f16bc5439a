"""Benchmarks: ``python -m bench`` (see README.md); the code lives in ``gradcore.bench``."""
