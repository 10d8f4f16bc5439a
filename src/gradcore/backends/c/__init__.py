"""The compiled C backend: thin adapters over ``gradcore._kernels`` (contract: docs/kernels.md)."""
