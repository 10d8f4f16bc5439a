"""numba backend specifics: pure-Python mode (NUMBA_DISABLE_JIT=1), compilation caching with and
without a writable cache location, registration. Op-by-op equivalence with the reference is in
``test_equivalence.py``; these tests run in subprocesses so environment variables read by numba
at import take effect."""

import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import gradcore as gc

if "numba" not in gc.available_backends():
    pytest.skip("numba is not installed (or broken): no numba backend", allow_module_level=True)

PKG_DIR = Path(gc.__file__).resolve().parent

# A few ops of every family vs the reference, including sizes above the parallel threshold
# (prange paths); exits non-zero on any mismatch or warning (-W error).
CHECK_SCRIPT = textwrap.dedent(
    """
    import numpy as np
    import gradcore as gc
    from gradcore.backends import numba as nb, reference as ref

    assert "numba" in gc.available_backends(), gc.available_backends()
    rng = np.random.default_rng(0)
    for dt in (np.float32, np.float64):
        tol = 2e-5 if dt == np.float32 else 1e-12
        def close(a, b):
            np.testing.assert_allclose(a, b, rtol=tol, atol=tol * max(1.0, np.abs(b).max()))
        x = rng.standard_normal((4, 5)).astype(dt)
        for act in gc.backends.ACTIVATIONS:
            outs = []
            for be in (ref, nb):
                y = np.empty_like(x); dx = np.empty_like(x)
                be.act_forward(x, act, y)
                be.act_backward(np.ones_like(x), x, y, act, dx)
                outs.append((y, dx))
            for a, b in zip(outs[1], outs[0]):
                close(a, b)
        W = rng.standard_normal((5, 3)).astype(dt); bb = rng.standard_normal(3).astype(dt)
        outs = []
        for be in (ref, nb):
            z = np.empty((4, 3), dt); y = np.empty((4, 3), dt)
            be.dense_forward(x, W, bb, "gelu", z, y)
            dx = np.empty_like(x); dW = np.zeros_like(W); db = np.zeros_like(bb)
            be.dense_backward(np.ones_like(y), x, W, z, y, "gelu", dx, dW, db)
            yb = np.empty_like(x); m = np.empty(5, dt); s = np.empty(5, dt)
            be.batchnorm_forward_train(x, np.ones(5, dt), np.zeros(5, dt), np.zeros(5, dt),
                                       np.ones(5, dt), 0.1, 1e-5, yb, m, s)
            yl = np.empty_like(x); ml = np.empty(4, dt); sl = np.empty(4, dt)
            be.layernorm_forward(x, np.ones(5, dt), np.zeros(5, dt), 1e-5, yl, ml, sl)
            loss = be.softmax_xent(x, np.array([0, 1, 2, 3]), None)
            outs.append((z, y, dx, dW, db, yb, yl, np.array(loss)))
        for a, b in zip(outs[1], outs[0]):
            close(a, b)
        N, T, D, H = 2, 3, 5, 2
        xs = rng.standard_normal((N, T, D)).astype(dt)
        Wx = (0.3 * rng.standard_normal((D, 4 * H))).astype(dt)
        Wh = (0.3 * rng.standard_normal((H, 4 * H))).astype(dt)
        h0 = np.zeros((N, H), dt)
        outs = []
        for be in (ref, nb):
            hs = np.empty((N, T, H), dt); cs = np.empty_like(hs); g = np.empty((N, T, 4 * H), dt)
            be.lstm_forward(xs, Wx, Wh, np.zeros(4 * H, dt), h0, h0, hs, cs, g)
            o = [np.empty_like(xs), np.zeros_like(Wx), np.zeros_like(Wh), np.zeros(4 * H, dt),
                 np.empty_like(h0), np.empty_like(h0), np.empty(T), np.empty(T)]
            be.lstm_backward(np.ones_like(hs), None, None, xs, Wx, Wh, h0, h0, hs, cs, g, *o)
            outs.append([hs, *o])
        for a, b in zip(outs[1], outs[0]):
            close(a, b)
        for n in (10, 70_000):
            flat = rng.standard_normal(n).astype(dt)
            offs = np.array([0, 3, n], np.int64)
            r = [np.empty(2), np.empty(2, np.int64), np.empty(2), np.empty(2, np.int64)]
            q = [np.empty(2), np.empty(2, np.int64), np.empty(2), np.empty(2, np.int64)]
            ref.segment_sumsq(flat, offs, r[0], r[1]); nb.segment_sumsq(flat, offs, q[0], q[1])
            ref.segment_absmax(flat, offs, r[2], r[3]); nb.segment_absmax(flat, offs, q[2], q[3])
            for a, b in zip(q, r):
                np.testing.assert_allclose(a, b, rtol=1e-12)
            runs = []
            for be in (ref, nb):
                p = [flat.copy() for _ in range(4)]
                z = [np.zeros_like(flat) for _ in range(8)]
                for step in (1, 2):
                    be.adam_step(p[0], flat, z[0], z[1], z[2], 1e-3, 0.9, 0.999, 1e-8, 1e-2,
                                 step, True, True)
                    be.sgd_step(p[1], flat, z[3], 0.1, 0.9, 0.0, True, 0.0, step == 1)
                    be.rmsprop_step(p[2], flat, z[4], z[5], z[6], 0.01, 0.99, 1e-8, 0.0, 0.9,
                                    True)
                    be.adagrad_step(p[3], flat, z[7], 0.01, 0.0, 0.0, 1e-10, step)
                    be.scale_(p[0], 0.5)
                    be.clip_value_(p[1], 1.0)
                runs.append(p + z)
            for a, b in zip(runs[1], runs[0]):
                np.testing.assert_allclose(a, b, rtol=1e-6 if dt == np.float32 else 1e-15,
                                           equal_nan=False)
    print("OK")
    """
)

# One dense step and one optimizer step vs the reference: enough to compile, cache and load.
SMALL_SCRIPT = textwrap.dedent(
    """
    import numpy as np
    from gradcore.backends import numba as nb, reference as ref
    rng = np.random.default_rng(0)
    x = rng.standard_normal((4, 5)).astype(np.float32)
    W = rng.standard_normal((5, 3)).astype(np.float32)
    b = np.zeros(3, np.float32)
    res = []
    for be in (ref, nb):
        z = np.empty((4, 3), np.float32); y = np.empty_like(z)
        be.dense_forward(x, W, b, "tanh", z, y)
        p = W.copy().reshape(-1); m = np.zeros_like(p); v = np.zeros_like(p)
        be.adam_step(p, np.ones_like(p), m, v, m[:0], 1e-3, 0.9, 0.999, 1e-8, 0.0, 1, False,
                     False)
        res.append((y, p))
    for a, r in zip(res[1], res[0]):
        np.testing.assert_allclose(a, r, rtol=2e-5)
    print("OK")
    """
)


def _run(code, env_extra, tmp_path, pythonpath=None):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NUMBA_", "GRADCORE_"))}
    env.update(env_extra)
    env["PYTHONPATH"] = str(PKG_DIR.parent if pythonpath is None else pythonpath)
    return subprocess.run(
        [sys.executable, "-W", "error", "-c", code],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        check=False,
        timeout=600,
    )


def test_registered_and_default_without_c():
    assert "numba" in gc.available_backends()
    names = gc.available_backends()
    assert names.index("numba") < names.index("numpy")
    with gc.use_backend("numba") as be:
        assert be.NAME == "numba"


def test_disable_jit_runs_the_same_code_as_pure_python(tmp_path):
    probe = (
        "from gradcore.backends.numba import activations as a, optim as o\n"
        "import numba\n"
        "assert not isinstance(a.forward_loop, numba.core.dispatcher.Dispatcher)\n"
        "assert not isinstance(o._update_par, numba.core.dispatcher.Dispatcher)\n"
    )
    r = _run(probe + CHECK_SCRIPT, {"NUMBA_DISABLE_JIT": "1"}, tmp_path)
    assert r.returncode == 0 and r.stdout.strip().endswith("OK"), r.stderr[-3000:]


def test_cache_is_written_to_numba_cache_dir(tmp_path):
    cache = tmp_path / "cache"
    r = _run(SMALL_SCRIPT, {"NUMBA_CACHE_DIR": str(cache)}, tmp_path)
    assert r.returncode == 0, r.stderr[-3000:]
    assert list(cache.rglob("*.nbi")), "no numba cache index written"
    # a second process loads from the cache (and still agrees with the reference)
    r = _run(SMALL_SCRIPT, {"NUMBA_CACHE_DIR": str(cache)}, tmp_path)
    assert r.returncode == 0 and r.stdout.strip() == "OK", r.stderr[-3000:]


def test_import_and_run_without_any_writable_cache_location(tmp_path):
    """A read-only install with no writable cache anywhere: numba refuses ``cache=True``; the
    backend compiles without a cache, silently (``-W error``), and still computes right.

    "Read-only" is simulated so that it also holds for root: every place numba could cache in
    sits below a regular file, so creating the directory fails."""
    blocker = tmp_path / "blocker"
    blocker.write_text("not a directory")
    site = tmp_path / "site"
    shutil.copytree(PKG_DIR, site / "gradcore", ignore=shutil.ignore_patterns("__pycache__"))
    for pkg in (site / "gradcore").rglob("__init__.py"):
        (pkg.parent / "__pycache__").write_text("blocks the in-tree cache")
    env = {
        "NUMBA_CACHE_DIR": str(blocker / "numba"),
        "HOME": str(blocker / "home"),
        "XDG_CACHE_HOME": str(blocker / "xdg"),
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    code = (
        # an editable install's import hook would find the source tree first: drop it
        "import sys\n"
        "sys.meta_path[:] = [f for f in sys.meta_path if 'editable' not in repr(f).lower()]\n"
        "import gradcore, gradcore.backends.numba as nb\n"
        f"assert gradcore.__file__.startswith({str(site)!r}), gradcore.__file__\n"
        "assert nb.cache_disabled_functions(), 'expected uncached kernels'\n" + SMALL_SCRIPT
    )
    r = _run(code, env, tmp_path, pythonpath=site)
    assert r.returncode == 0 and r.stdout.strip().endswith("OK"), r.stderr[-3000:]


@pytest.mark.parametrize("error", ["ImportError", "RuntimeError"])
def test_registry_omits_numba_when_it_cannot_be_imported(tmp_path, error):
    """A missing (ImportError) or broken (any exception) numba leaves only the reference."""
    fake = tmp_path / "fake"
    (fake / "numba").mkdir(parents=True)
    (fake / "numba" / "__init__.py").write_text(f"raise {error}('no numba here')\n")
    code = (
        "import gradcore as gc\n"
        "assert 'numba' not in gc.available_backends(), gc.available_backends()\n"
        "assert gc.get_backend_name() != 'numba'\n"
        "print('OK')\n"
    )
    r = _run(code, {}, tmp_path, pythonpath=f"{fake}{os.pathsep}{PKG_DIR.parent}")
    assert r.returncode == 0 and r.stdout.strip() == "OK", r.stderr[-3000:]
