"""Thread settings: one process-wide knob for gradcore's kernels, validated and never a crash;
gradcore's BLAS pinned, NumPy's untouched; results that do not depend on which threads ran."""

import subprocess
import sys
import textwrap
import threading

import numpy as np
import pytest

import gradcore as gc
from gradcore.threads import MAX_THREADS

K = gc.threads._kernels()
HAVE_OMP = K is not None and K.have_openmp()
MSG = r"set_num_threads: n must be an integer in \[1, \d+\], got "


@pytest.fixture
def restore_threads():
    before = gc.get_num_threads()
    yield
    gc.set_num_threads(before)


@pytest.fixture
def restore_policy():
    if K is None:
        yield None
        return
    before = K.fork_policy()
    yield K
    K.fork_policy(adaptive=before["adaptive"], fork_scale=before["fork_scale"], backoff=0)


# ---- validation --------------------------------------------------------------------------


@pytest.mark.parametrize("bad", [True, False, np.bool_(True), 2.0, np.float32(2), "2", None, [2]])
def test_set_num_threads_rejects_non_integers(bad, restore_threads):
    with pytest.raises(TypeError, match=MSG):
        gc.set_num_threads(bad)


@pytest.mark.parametrize(
    "bad", [0, -1, -(2**40), MAX_THREADS + 1, 100_000, 2**40, 2**200, np.int64(2**40)]
)
def test_set_num_threads_rejects_out_of_range(bad, restore_threads):
    before = gc.get_num_threads()
    with pytest.raises(ValueError, match=MSG + str(int(bad)) + "$"):
        gc.set_num_threads(bad)
    assert gc.get_num_threads() == before  # nothing half-applied


def test_the_cap_is_documented_and_safe():
    import os

    assert MAX_THREADS == min(256, 8 * (os.cpu_count() or 1))
    if K is not None:
        assert MAX_THREADS <= K.MAX_THREADS == 256


@pytest.mark.parametrize("n", [1, 2, np.int64(2), np.int32(1), np.uint8(2), MAX_THREADS])
def test_set_num_threads_accepts_ints_and_numpy_ints(n, restore_threads):
    gc.set_num_threads(n)
    if HAVE_OMP:
        assert gc.get_num_threads() == int(n)
        assert type(gc.get_num_threads()) is int


@pytest.mark.skipif(K is None, reason="the c extension is not built")
def test_binding_validates_too(restore_threads):
    # was: OverflowError from inside the binding ("int n"), and no upper bound at all
    with pytest.raises(ValueError, match=r"set_num_threads: n must be in \[1, 256\], got 1099"):
        K.set_num_threads(2**40)
    with pytest.raises(ValueError, match=r"in \[1, 256\], got 257"):
        K.set_num_threads(257)
    with pytest.raises(TypeError, match="must be an int, got True"):
        K.set_num_threads(True)
    K.set_num_threads(np.int64(1))
    assert K.max_threads() == 1


@pytest.mark.skipif(not HAVE_OMP, reason="kernels built without OpenMP")
def test_the_setting_is_process_wide(restore_threads):
    """omp_set_num_threads reaches only the calling OS thread: a Python thread started later
    used to run with OMP_NUM_THREADS / the core count whatever set_num_threads said."""
    gc.set_num_threads(1)
    seen = []
    t = threading.Thread(target=lambda: seen.append(K.max_threads()))
    t.start()
    t.join()
    assert seen == [1]
    gc.set_num_threads(3)
    t = threading.Thread(target=lambda: seen.append(gc.get_num_threads()))
    t.start()
    t.join()
    assert seen == [1, 3]


# ---- no value in range can crash (subprocesses: a crash fails the test, not pytest) ---------

STEP = """
import sys
import numpy as np
import gradcore as gc

def step(backend):
    with gc.use_backend(backend):
        m = gc.nn.Sequential([gc.nn.Dense(40, 256, "relu", seed=0),
                              gc.nn.Dense(256, 512, "relu", seed=1),
                              gc.nn.Dense(512, 10, seed=2)])
        arena = m.parameters()
        opt = gc.optim.Adam(arena, lr=1e-3)
        loss = gc.losses.SoftmaxCrossEntropy()
        rng = np.random.default_rng(0)
        x = rng.standard_normal((300, 40)).astype(np.float32)
        y = rng.integers(0, 10, 300)
        for _ in range(2):
            m.zero_grad()
            v = loss.forward(m.forward(x), y)
            m.backward(loss.backward())
            gc.clip_grad_norm(arena, 1.0)
            opt.step()
        assert np.isfinite(v) and np.isfinite(arena.data).all()
"""


def _run(code, env=None, timeout=300):
    import os

    full_env = dict(os.environ)
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=full_env,
    )


def test_training_at_the_cap_with_every_backend():
    code = (
        STEP
        + """
gc.set_num_threads(gc.threads.MAX_THREADS)
for b in gc.available_backends():
    step(b)
    print("ok", b, gc.get_num_threads())
"""
    )
    out = _run(code)
    assert out.returncode == 0, out.stderr[-2000:]
    done = [line.split()[1] for line in out.stdout.splitlines() if line.startswith("ok")]
    assert done == gc.available_backends()
    assert "numpy" in done


def test_the_issue_example_raises_and_training_goes_on():
    """gc.set_num_threads(100000) then a training step killed the process (SIGSEGV: libgomp
    put ~0.1 KiB per requested thread on the stack, 12 MiB > the 8 MiB stack)."""
    code = (
        STEP
        + """
try:
    gc.set_num_threads(100000)
except ValueError as e:
    print("refused", e)
for b in gc.available_backends():
    step(b)
print("ok")
"""
    )
    out = _run(code)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "refused set_num_threads: n must be an integer in [1, " in out.stdout
    assert out.stdout.rstrip().endswith("ok")


@pytest.mark.skipif(not HAVE_OMP, reason="kernels built without OpenMP")
def test_a_huge_OMP_NUM_THREADS_is_clamped_not_a_crash():
    code = (
        STEP
        + """
from gradcore import _kernels
print("threads", _kernels.max_threads())
step("c")
print("ok")
"""
    )
    out = _run(code, env={"OMP_NUM_THREADS": "100000"})
    assert out.returncode == 0, out.stderr[-2000:]
    assert "threads 256" in out.stdout and "ok" in out.stdout


# ---- determinism ---------------------------------------------------------------------------


def _train(backend, seed, steps=3, dims=(64, 384, 256, 10), batch=256):
    """A few Adam steps with clipping of an MLP big enough that every kernel forks at 2
    threads (GEMMs above 2^21 multiply-adds, Adam and the norms above 65536 elements)."""
    with gc.use_backend(backend):
        layers = [
            gc.nn.Dense(
                dims[i], dims[i + 1], "relu" if i < len(dims) - 2 else "linear", seed=seed + i
            )
            for i in range(len(dims) - 1)
        ]
        m = gc.nn.Sequential(layers)
        arena = m.parameters()
        opt = gc.optim.Adam(arena, lr=1e-3)
        loss = gc.losses.SoftmaxCrossEntropy()
        rng = np.random.default_rng(seed)
        losses = []
        for _ in range(steps):
            x = rng.standard_normal((batch, dims[0])).astype(np.float32)
            y = rng.integers(0, dims[-1], batch)
            m.zero_grad()
            losses.append(loss.forward(m.forward(x), y))
            m.backward(loss.backward())
            losses.append(gc.clip_grad_norm(arena, 1.0))
            opt.step()
        return np.array(losses), arena.data.copy(), arena.grad.copy()


def _assert_same(a, b):
    for u, v in zip(a, b, strict=True):
        np.testing.assert_array_equal(u, v)


COMPILED = [b for b in ("c", "numba") if b in gc.available_backends()]


@pytest.mark.parametrize("backend", COMPILED)
def test_four_python_threads_train_bit_identically_to_serial_runs(backend, restore_threads):
    """Four models trained at once from four Python threads (each its own model, optimizer and
    workspaces; the kernels release the GIL) give exactly the serial results: no scratch,
    GEMM state or thread-count setting is shared between the calls."""
    gc.set_num_threads(2)
    seeds = [11, 22, 33, 44]
    serial = {s: _train(backend, s) for s in seeds}
    got, errors = {}, []
    start = threading.Barrier(len(seeds))

    def work(s):
        try:
            start.wait()
            got[s] = _train(backend, s)
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(s,)) for s in seeds]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    for s in seeds:
        _assert_same(got[s], serial[s])


@pytest.mark.parametrize("backend", COMPILED)
def test_same_thread_count_same_bits(backend, restore_threads):
    gc.set_num_threads(2)
    _assert_same(_train(backend, 5), _train(backend, 5))


@pytest.mark.skipif(not HAVE_OMP, reason="kernels built without OpenMP")
@pytest.mark.parametrize("nth", [2, 3])
def test_results_do_not_depend_on_how_many_threads_ran(nth, restore_threads, restore_policy):
    """The configured count fixes the chunking; the contention back-off (every region on the
    calling thread) and the fork threshold (no region forks) only change who runs the chunks."""
    gc.set_num_threads(nth)
    K.fork_policy(adaptive=False)  # no back-off from the machine's own load during the runs
    free = _train("c", 7)
    K.fork_policy(adaptive=True, backoff=3600)
    assert K.fork_policy()["backoff_left"] > 3000
    backed_off = _train("c", 7)
    K.fork_policy(adaptive=False, backoff=0, fork_scale=1e12)
    never_forks = _train("c", 7)
    _assert_same(backed_off, free)
    _assert_same(never_forks, free)


@pytest.mark.skipif("numba" not in gc.available_backends(), reason="numba not installed")
def test_numba_results_do_not_depend_on_the_thread_count(restore_threads):
    """numba's parallel kernels cut fixed CHUNK-element chunks: 1 and 2 threads agree."""
    gc.set_num_threads(1)
    one = _train("numba", 9)
    gc.set_num_threads(2)
    _assert_same(_train("numba", 9), one)


@pytest.mark.skipif(K is None, reason="the c extension is not built")
def test_fork_policy_validates(restore_policy):
    with pytest.raises(ValueError, match="fork_scale must be > 0"):
        K.fork_policy(fork_scale=0)
    with pytest.raises(ValueError, match="backoff must be in"):
        K.fork_policy(backoff=-1)
    p = K.fork_policy(fork_scale=2.5)
    assert p["fork_scale"] == 2.5 and set(p) == {
        "adaptive",
        "fork_scale",
        "contended",
        "backoff_left",
    }


# ---- BLAS ----------------------------------------------------------------------------------


def test_pinning_touches_only_scipys_blas():
    # in a fresh process: numpy's OpenBLAS keeps its threads, scipy's goes to 1
    code = """
import threadpoolctl, numpy, scipy.linalg
before = {i["filepath"]: i["num_threads"] for i in threadpoolctl.threadpool_info()}
import gradcore.threads as t
pinned = t.pin_gemm_blas()
after = {i["filepath"]: i["num_threads"] for i in threadpoolctl.threadpool_info()}
for path, n in after.items():
    if path in pinned:
        assert n == 1, (path, n)
    else:
        assert n == before.get(path, n), (path, before.get(path), n)
bundled = any("scipy.libs" in p for p in before)
assert bool(pinned) == bundled, (pinned, list(before))
print(len(pinned))
"""
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    assert out.stdout.strip() in {"0", "1"}


# ---- the contention bench: its competitors never outlive it -----------------------------------


def test_contention_bench_cleans_up_its_competitors():
    from gradcore.bench.contention import competitors

    with competitors(2, max_seconds=60) as comp:
        procs = list(comp.procs)
        assert len(procs) == 2 and all(p.is_alive() for p in procs)
    assert not any(p.is_alive() for p in procs)
    with pytest.raises(RuntimeError, match="boom"), competitors(1, max_seconds=60) as comp:
        procs = list(comp.procs)
        raise RuntimeError("boom")
    assert not any(p.is_alive() for p in procs)


def test_contention_bench_worker_reports_every_variant(restore_threads, restore_policy):
    from gradcore.bench.contention import worker

    r = worker("gradcore", gc.get_backend_name(), blocks=2, steps=1, warmup=1)
    assert set(r["ms_per_step"]) == {"default", "no back-off", "1 thread"}
    assert all(len(v) == 2 and min(v) > 0 for v in r["ms_per_step"].values())
