"""Run a grid of trials on Dask (a given scheduler, or a local cluster), or on a local process
pool when Dask is not installed; stream each finished trial to a JSON-lines file."""

from __future__ import annotations

import concurrent.futures as cf
import json
import logging
import multiprocessing
import os
import sys
from pathlib import Path

from .._args import check_int, describe
from ._grid import Grid, config_key
from ._result import SweepResult, load, read_records
from ._trial import execute, resolve

__all__ = ["run"]

#: Where the embedded cluster listens: this machine only.
LOCALHOST = "127.0.0.1"


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def _bar(progress, total: int, initial: int):
    if progress is None or progress is False:
        return None
    if progress is True:
        from tqdm.auto import tqdm

        return tqdm(total=total, initial=initial, desc="sweep", unit="trial", file=sys.stderr)
    if callable(progress):
        return progress(total=total, initial=initial)
    raise TypeError(
        f"sweep: progress must be True, False, None or a factory like tqdm.tqdm, got "
        f"{describe(progress)}"
    )


def _have_dask() -> bool:
    try:
        import distributed  # noqa: F401
    except ImportError:
        return False
    return True


def _dask(spec, todo, client, workers, threads):
    """Yield ``(key, config, record)`` as Dask finishes the trials. A worker that dies is
    replaced and its trial rerun by Dask (the scheduler's ``allowed-failures``, 3 by default);
    a trial that kills workers more often than that is recorded as an error."""
    from distributed import Client, LocalCluster, as_completed

    own = []
    if client is None:
        cluster = LocalCluster(
            n_workers=workers,
            threads_per_worker=1,
            processes=True,
            host=LOCALHOST,
            # The scheduler's HTTP server starts even without a dashboard (on 8787 by default,
            # taken by any other cluster): bind it to this machine, on any free port.
            dashboard_address=f"{LOCALHOST}:0",
            silence_logs=logging.ERROR,
        )
        client = Client(cluster)
        own = [client, cluster]
    elif isinstance(client, str):
        client = Client(client, timeout="30s")
        own = [client]
    elif not isinstance(client, Client):
        raise TypeError(
            "sweep: client must be None (a local cluster), a scheduler address "
            f"('tcp://host:8786') or a distributed.Client, got {describe(client)}"
        )
    try:
        futures = {}
        for key, cfg in todo:
            fut = client.submit(execute, spec, cfg, threads, key=f"trial-{key}", pure=False)
            futures[fut] = (key, cfg)
        for fut in as_completed(futures):
            key, cfg = futures[fut]
            try:
                rec = fut.result()
            except Exception as exc:
                rec = {"status": "error", "error": f"{type(exc).__name__}: {exc}"}
            yield key, cfg, rec
    finally:
        for obj in own:
            obj.close()


def _pool(spec, todo, workers, threads):
    """Yield ``(key, config, record)`` from a local process pool (no Dask). A worker that dies
    breaks the pool: it is rebuilt and the unfinished trials run again (each once more)."""
    ctx = multiprocessing.get_context("spawn")  # a fresh interpreter: no forked OpenMP pool
    left = dict(todo)
    for attempt in range(2):
        with cf.ProcessPoolExecutor(max_workers=workers, mp_context=ctx) as pool:
            futures = {pool.submit(execute, spec, cfg, threads): key for key, cfg in left.items()}
            try:
                for fut in cf.as_completed(futures):
                    key = futures[fut]
                    try:
                        rec = fut.result()
                    except cf.process.BrokenProcessPool:
                        raise
                    except Exception as exc:
                        rec = {"status": "error", "error": f"{type(exc).__name__}: {exc}"}
                    yield key, left.pop(key), rec
            except cf.process.BrokenProcessPool:
                if attempt == 1:
                    for key, cfg in left.items():
                        yield key, cfg, {"status": "error", "error": "worker process died twice"}
                    return
                continue
        return


def run(
    trial,
    grid,
    out,
    *,
    client=None,
    workers: int | None = None,
    threads_per_worker: int | None = None,
    progress=True,
) -> SweepResult:
    """Run ``trial`` at every point of ``grid`` and return the results.

    ``trial``: a name (:data:`gradcore.experiments.TRIALS`, e.g. ``"trainability"``, or a
    classic experiment, whose grid point gives ``quick``/``seed``/``data``), a string
    ``"package.module:function"``, or a module-level function. It is called with one grid
    point as keyword arguments and returns a dict of numbers (an optional ``"monitor"`` entry,
    a dict, is stored apart); it must be deterministic given its config and seed.

    ``grid``: a :class:`Grid` (or a dict of axes for one). ``out``: the JSON-lines file the
    results stream to, one line per finished trial (config, metrics, status, error, seconds,
    gradcore version, backend, host). A rerun with the same ``out`` skips the trials already
    recorded as ``ok`` (a stopped sweep resumes); failed ones run again, the latest line wins.

    Where the trials run: ``client=None`` uses a Dask ``LocalCluster`` on 127.0.0.1 (no
    dashboard) with ``workers`` processes of one Dask thread each, or, without Dask installed,
    a local process pool; ``client`` may be a scheduler address (``"tcp://host:8786"``) or a
    ``distributed.Client``. gradcore's kernel threads per trial: ``threads_per_worker``, by
    default ``cores // workers`` locally (so workers x threads <= cores) and 1 on a given
    cluster. ``workers`` defaults to ``min(trials to run, cores)``.

    A trial that raises is recorded with its error and the sweep goes on; a worker that dies
    mid-trial is replaced and the trial rerun (Dask's retries; the local pool retries once).
    ``progress``: a tqdm bar over trials on stderr (True), none (False/None) or a factory.
    """
    name, spec = resolve(trial)
    if isinstance(grid, dict):
        grid = Grid(**grid)
    if not isinstance(grid, Grid):
        raise TypeError(
            f"sweep: grid must be a gc.sweep.Grid or a dict of axes, got {describe(grid)}"
        )
    out = Path(out)
    if out.exists() and out.is_dir():
        raise IsADirectoryError(f"sweep: out must be a file (JSON lines), got the folder {out}")
    out.parent.mkdir(parents=True, exist_ok=True)
    points = [(config_key(name, cfg), cfg) for cfg in grid]
    done = {k for k, r in read_records(out, trial=name)[0].items() if r.get("status") == "ok"}
    todo = [(k, cfg) for k, cfg in points if k not in done]
    cores = _cores()
    if workers is None:
        workers = max(1, min(len(todo), cores))
    workers = check_int("workers", workers, owner="sweep", min=1, max=4096)
    local = client is None
    if threads_per_worker is None:
        threads_per_worker = max(1, cores // workers) if local else 1
    threads = check_int("threads_per_worker", threads_per_worker, owner="sweep", min=1, max=1024)
    bar = _bar(progress, len(points), len(points) - len(todo))
    try:
        if todo:
            if local and not _have_dask():
                results = _pool(spec, todo, workers, threads)
            else:
                results = _dask(spec, todo, client, workers, threads)
            with open(out, "a", encoding="utf-8") as f:
                for key, cfg, rec in results:
                    line = {"trial": name, "key": key, "config": cfg, **rec}
                    f.write(json.dumps(line, allow_nan=False) + "\n")
                    f.flush()
                    os.fsync(f.fileno())
                    if bar is not None:
                        bar.update(1)
                        if rec.get("status") != "ok":
                            bar.set_postfix_str(f"{rec.get('error', 'error')}"[:60])
    finally:
        if bar is not None:
            bar.close()
    return load(out, trial=name, keys=[k for k, _ in points])
