"""Packaging: what ``import gradcore`` loads, the lazy submodules, the compiled backends.

Each check runs in a fresh interpreter (``subprocess``), since this test process has long
imported everything. They assert behaviour (which modules are in ``sys.modules``, exit codes),
never timings.
"""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

import gradcore as gc
from gradcore.backends import reference as ref

TESTS = Path(__file__).resolve().parent

# Top-level packages `import gradcore` must not load: each costs 0.1-1 s and is needed only
# by one feature (scipy.special: the reference gelu; matplotlib: figures; numba: the numba
# backend; tqdm: fit's progress bar; torch/sklearn/mnist1d: tests and datasets).
HEAVY = (
    "scipy", "matplotlib", "numba", "llvmlite", "torch", "tqdm", "sklearn", "mnist1d", "dask",
    "distributed",
)  # fmt: skip


def _python(code: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    full = {k: v for k, v in os.environ.items() if k != "GRADCORE_BACKEND"}
    full.update(env or {})
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        env=full,
        timeout=300,
    )


def _loaded_after(code: str, env: dict[str, str] | None = None) -> set[str]:
    """Top-level names in ``sys.modules`` (plus ``gradcore.*`` submodules) after ``code``."""
    out = _python(
        textwrap.dedent(code) + "\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))",
        env,
    )
    assert out.returncode == 0, out.stderr
    names = json.loads(out.stdout.strip().splitlines()[-1])
    return {n.split(".")[0] for n in names} | {n for n in names if n.startswith("gradcore.")}


def test_numba_and_matplotlib_are_regular_dependencies():
    """Installed metadata: both are required without any extra (``pip install gradcore``)."""
    from importlib.metadata import requires
    from re import match

    regular = {
        match(r"[A-Za-z0-9_.-]+", r).group(0).lower()
        for r in requires("gradcore") or []
        if "extra ==" not in r
    }
    assert {"numba", "matplotlib", "numpy", "scipy"} <= regular, regular


def test_import_gradcore_loads_no_heavy_dependency():
    loaded = _loaded_after("import gradcore")
    assert sorted(loaded & set(HEAVY)) == []
    # the lazy submodules stay unloaded until used
    lazy = {"data", "monitor", "experiments", "sweep", "meanfield"}
    assert {f"gradcore.{m}" for m in lazy}.isdisjoint(loaded)


def test_training_on_the_default_backend_does_not_import_numba_or_matplotlib():
    code = """
        import numpy as np, gradcore as gc
        m = gc.nn.Sequential([gc.nn.Dense(4, 8, "gelu"), gc.nn.Dense(8, 3, "linear")])
        opt = gc.optim.Adam(m.parameters(), lr=1e-3)
        x = np.ones((5, 4), np.float32)
        loss = gc.losses.SoftmaxCrossEntropy()
        loss.forward(m.forward(x, training=True), np.array([0, 1, 2, 0, 1]))
        m.backward(loss.backward())
        opt.step()
        print("backend", gc.get_backend_name())
        """
    # the default is the fastest backend that loads: c when built; numba is then not imported
    loaded = _loaded_after(code)
    if "gradcore._kernels" in loaded:
        assert "numba" not in loaded and "matplotlib" not in loaded
    else:
        pytest.skip("backend 'c' (gradcore._kernels) is not available: default is not c")
    # selected by the environment: the reference backend needs neither
    loaded = _loaded_after(code, {"GRADCORE_BACKEND": "numpy"})
    assert {"numba", "matplotlib", "gradcore._kernels"}.isdisjoint(loaded)


def test_numba_is_imported_when_selected():
    # the counterpart of the test above: the check can see numba when it is loaded
    loaded = _loaded_after("import gradcore as gc\ngc.set_backend('numba')")
    assert "numba" in loaded


def test_monitor_imports_matplotlib_only_to_draw():
    loaded = _loaded_after("import gradcore as gc\ngc.monitor.GradientMonitor")
    assert "gradcore.monitor" in loaded and "matplotlib" not in loaded


def test_lazy_submodules_work_and_dir_is_complete():
    out = _python(
        """
        import gradcore as gc
        names = dir(gc)
        assert {"data", "monitor", "experiments", "__version__"} <= set(names), names
        assert set(gc.__all__) <= set(names), set(gc.__all__) - set(names)
        assert all(getattr(gc, n) is not None for n in gc.__all__)
        assert gc.data.spirals(n_per_class=3, seed=0)[0].shape == (9, 2)
        from gradcore import monitor
        import gradcore.experiments
        assert monitor is gc.monitor and gc.experiments.digits_mlp
        assert isinstance(gc.__version__, str) and gc.__version__
        try:
            gc.no_such_thing
        except AttributeError as exc:
            assert "no_such_thing" in str(exc), exc
        else:
            raise SystemExit("gc.no_such_thing did not raise")
        print("ok")
        """
    )
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr


# The public names before issue 12's refactor (the floors were cut: init moved under nn, the
# layer registry and checks into their own modules, _version.py): none may go missing.
PUBLIC = {
    "gradcore": """Checkpoint CheckpointError GradcheckError GradcheckResult StaleArenaError
        TensorCheck Workspace __version__ available_backends backends callbacks checkpoint
        clip_grad_norm clip_grad_value data experiments get_backend get_backend_name
        get_num_threads gradcheck init load losses monitor nn optim params save set_backend
        set_num_threads threads train use_backend""",
    "gradcore.nn": """Activation BatchNorm Dense Dropout LAYER_TYPES LSTM Layer LayerNorm Residual
        Sequential activation base batchnorm container dense layer_from_config layernorm lstm""",
    "gradcore.init": """Initializer calculate_gain constant get he_normal he_uniform lsuv normal
        ones orthogonal uniform xavier_normal xavier_uniform zeros""",
    "gradcore.nn.base": """LAYER_TYPES Layer backward_without_input_grad check_array check_dtype
        layer_from_config read_only register_training_loop""",
    "gradcore.nn.dense": "Dense activation_property check_activation check_layer_dtype check_size",
    "gradcore.params": """ParameterArena Segment StaleArenaError TrackedDict structure_changed
        structure_token""",
}


@pytest.mark.parametrize("module", sorted(PUBLIC))
def test_the_public_api_did_not_shrink(module):
    import importlib

    names = set(dir(importlib.import_module(module)))
    assert set(PUBLIC[module].split()) <= names, sorted(set(PUBLIC[module].split()) - names)


def test_moved_names_are_the_same_objects():
    import gradcore.init
    from gradcore.init import lsuv
    from gradcore.nn import base, dense, registry

    assert gradcore.init is gc.init is gc.nn.init and lsuv is gc.nn.init.lsuv
    assert gc.init.he_normal.__module__ == "gradcore.nn.init"
    assert base.LAYER_TYPES is registry.LAYER_TYPES is gc.nn.LAYER_TYPES
    assert base.layer_from_config is registry.layer_from_config is gc.nn.layer_from_config
    assert dense.check_size is gc.nn._checks.check_size


def test_the_version_is_written_once():
    """``_version.py`` is what the build reads (pyproject: the regex metadata provider), and
    it imports nothing, so checkpoint can record it without importing the package."""
    from importlib.metadata import version

    from gradcore import _version

    assert gc.__version__ == _version.__version__ == version("gradcore")
    tree = ast.parse(Path(_version.__file__).read_text())
    assert not [n for n in ast.walk(tree) if isinstance(n, ast.Import | ast.ImportFrom)]


@pytest.mark.parametrize("name", ["c", "numba"])
def test_compiled_backend_runs_a_kernel(name):
    """The CI check's contract: each compiled backend loads and computes (relu is exact)."""
    if name not in gc.available_backends():
        pytest.skip(f"backend {name!r} is not available")
    x = np.linspace(-2.0, 2.0, 24).reshape(4, 6)
    want = np.empty_like(x)
    ref.act_forward(x, "relu", want)
    got = np.full_like(x, np.nan)
    with gc.use_backend(name) as backend:
        backend.act_forward(x, "relu", got)
    np.testing.assert_array_equal(got, want)


# Hides modules from the import system, then runs pytest: a checkout whose extension is not
# built (or whose numba is broken) as seen by the test suite.
_WITHOUT = """
import importlib.abc, sys
class _Hide(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name in {HIDE!r} or name.split(".")[0] in {HIDE!r}:
            raise ModuleNotFoundError(f"{{name}} hidden by test_packaging", name=name)
        return None
sys.meta_path.insert(0, _Hide())
import pytest
sys.exit(pytest.main({ARGS!r}))
"""


def test_required_backends_mode_turns_backend_skips_into_failures():
    args = [
        "-q",
        "-p",
        "no:cacheprovider",
        "-o",
        "addopts=-ra",
        "--continue-on-collection-errors",
        str(TESTS / "test_c_kernels.py"),
        str(TESTS / "test_numba_backend.py"),
        str(TESTS / "test_equivalence.py"),
        str(TESTS / "test_packaging.py") + "::test_compiled_backend_runs_a_kernel",
        str(TESTS / "test_layers.py") + "::test_gradients_accumulate_until_zero_grad",
    ]
    code = _WITHOUT.format(HIDE=("gradcore._kernels", "numba"), ARGS=args)
    # without the variable: the missing backends are skipped, the run passes
    plain = _python(code, {"GRADCORE_REQUIRE_BACKENDS": ""})
    assert plain.returncode == 0, plain.stdout + plain.stderr
    assert "5 skipped" in plain.stdout and "1 passed" in plain.stdout, plain.stdout
    # with it (as .ci/run sets it): every one of those skips is a failure, and each_backend
    # runs c and numba too, failing there: 3 collection errors, 2 failed kernel checks,
    # 2 errors in each_backend's setup, the numpy case passes
    strict = _python(code, {"GRADCORE_REQUIRE_BACKENDS": "c,numba"})
    assert strict.returncode == 1, strict.stdout + strict.stderr
    assert "2 failed, 1 passed, 5 errors" in strict.stdout, strict.stdout
    assert "GRADCORE_REQUIRE_BACKENDS=c,numba" in strict.stdout
    assert "skipped" not in strict.stdout


def test_required_backends_rejects_unknown_names():
    out = _python(
        "import pytest, sys\nsys.exit(pytest.main(['-q', '-p', 'no:cacheprovider', "
        f"'--co', {str(TESTS / 'test_packaging.py')!r}]))",
        {"GRADCORE_REQUIRE_BACKENDS": "c,nunba"},
    )
    assert out.returncode == 4, out.stdout + out.stderr
    assert "GRADCORE_REQUIRE_BACKENDS: unknown backend(s) 'nunba'" in out.stdout + out.stderr
