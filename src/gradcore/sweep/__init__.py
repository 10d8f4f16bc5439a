"""Sweeps: run a trial over a grid, on Dask (local processes by default, or a cluster).

::

    grid = gc.sweep.Grid(depth=[10, 30, 100], sigma_w2=np.linspace(0.5, 4, 15), seed=range(3))
    res = gc.sweep.run("trainability", grid, out="sweeps/edge.jsonl")           # local processes
    res = gc.sweep.run("trainability", grid, out=..., client="tcp://scheduler:8786")  # a cluster
    print(res.table()); res.plot_heatmap(x="sigma_w2", y="depth", value="test_accuracy")

Results stream to ``out`` (JSON lines, one per finished trial) and a rerun skips the finished
ones; ``gc.sweep.load(out)`` reads them back. Dask (``pip install gradcore[distributed]``) is
optional: without it the local default uses a process pool. See :func:`run`.
"""

from ._grid import Grid, config_key, parse_axis
from ._result import SweepResult, load
from ._run import run

__all__ = ["Grid", "SweepResult", "config_key", "load", "parse_axis", "run"]
