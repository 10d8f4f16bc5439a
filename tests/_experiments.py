"""What the experiment tests share: whether an offline dataset is there, and the module-scoped
fixture that runs one experiment once with ``--quick`` (seed 0) for a whole test file."""

from __future__ import annotations

import pytest

from gradcore import experiments


def dataset_available() -> bool:
    """Whether the default dataset (MNIST, else mnist1d, else digits) loads offline."""
    try:
        experiments.load_dataset(None, quick=True, seed=0)
    except RuntimeError:
        return False
    return True


#: Skip a test (or, as ``pytestmark``, a file) that needs one of the classification datasets.
needs_data = pytest.mark.skipif(
    not dataset_available(), reason="no offline dataset (mnist1d/sklearn)"
)


def quick_run(name: str):
    """A module-scoped fixture ``quick`` -> ``(out folder, results)`` of ``name --quick``."""

    @pytest.fixture(scope="module")
    def quick(tmp_path_factory):
        out = tmp_path_factory.mktemp(name)
        return out, experiments.run(name, quick=True, seed=0, out=out, progress=False)

    return quick
