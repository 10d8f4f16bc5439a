"""The floors of DESIGN.md: imports point down only.

The contract itself is ``[tool.importlinter]`` in ``pyproject.toml`` (import-linter's ``layers``,
``independence`` and ``forbidden`` contracts; ``.ci/run`` runs ``lint-imports`` too). This file
runs it on the installed package and adds what import-linter cannot see: the compiled
``gradcore._kernels`` (an extension module, which the import graph reads as the package
itself), cycles at the level of single modules, and imports of the package ``gradcore`` itself.
Every import statement counts, function-level ones too.
"""

from __future__ import annotations

import ast
import pathlib

from importlinter.cli import lint_imports  # the Python entry of the lint-imports command

import gradcore

ROOT = pathlib.Path(gradcore.__file__).parent
PYPROJECT = pathlib.Path(__file__).resolve().parents[1] / "pyproject.toml"

#: compiled modules (floor 1): no Python source, nothing of gradcore imported
EXTENSIONS = frozenset({"gradcore._kernels"})

#: cycles known and owned elsewhere (issue 12: the monitor's, for its engineer); a new cycle
#: fails, and one of these that disappears simply stops being reported
KNOWN_CYCLES = [frozenset({"gradcore.monitor.monitor", "gradcore.monitor.report"})]

#: the only modules that may import the package ``gradcore`` itself (``import gradcore as gc``):
#: it imports every floor, so from anywhere lower it is an import upwards
TOP = ("gradcore.__main__", "gradcore.cli", "gradcore.bench")


def _modules() -> dict[str, tuple[pathlib.Path, bool]]:
    """Every module of the package: dotted name -> (source file, is a package)."""
    out = {}
    for path in ROOT.rglob("*.py"):
        parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
        is_pkg = parts[-1] == "__init__"
        out[".".join(parts[:-1] if is_pkg else parts)] = (path, is_pkg)
    return out


MODULES = _modules()
KNOWN = set(MODULES) | EXTENSIONS


def _imports(name: str) -> dict[str, int]:
    """The gradcore modules ``name`` imports (module level and inside functions), with the line
    of the first import: ``from X import y`` is the submodule ``X.y`` when that is a module,
    else ``X``."""
    path, is_pkg = MODULES[name]
    package = name.split(".") if is_pkg else name.split(".")[:-1]
    out: dict[str, int] = {}
    for node in ast.walk(ast.parse(path.read_text())):
        targets: list[str] = []
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            for alias in node.names:
                sub = f"{module}.{alias.name}"
                targets.append(sub if sub in KNOWN else module)
        elif isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        for t in targets:
            if t in KNOWN and t != name:
                out.setdefault(t, node.lineno)
    return out


GRAPH = {name: _imports(name) for name in MODULES}


def _cycles() -> list[frozenset[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[frozenset[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in GRAPH.get(v, {}):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = set()
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.add(w)
                if w == v:
                    break
            if len(comp) > 1:
                found.append(frozenset(comp))

    for v in sorted(GRAPH):
        if v not in index:
            visit(v)
    return found


def test_the_import_contract_in_pyproject_is_kept(capsys):
    """``lint-imports`` on the installed package: the same check CI runs."""
    status = lint_imports(config_filename=str(PYPROJECT), no_cache=True, no_logo=True)
    assert status == 0, capsys.readouterr().out


def test_no_module_imports_itself_in_a_circle():
    new = [sorted(c) for c in _cycles() if c not in KNOWN_CYCLES]
    detail = [
        f"{a} -> {b} (line {GRAPH[a][b]})" for c in new for a in c for b in GRAPH[a] if b in c
    ]
    assert not new, f"import cycles: {new}\n" + "\n".join(detail)


def test_the_package_itself_is_imported_only_from_the_top():
    bad = [
        f"{name} imports gradcore (line {GRAPH[name]['gradcore']})"
        for name in MODULES
        if "gradcore" in GRAPH[name] and name != "gradcore" and not name.startswith(TOP)
    ]
    assert not bad, "\n".join(bad)


def test_the_scan_sees_lazy_imports_and_the_extension():
    """The scan is not vacuous: function-level imports and ``_kernels`` are edges."""
    assert "gradcore.optim" in GRAPH["gradcore.checkpoint"]  # imported inside a function
    assert "gradcore._kernels" in GRAPH["gradcore.threads"]  # `from . import _kernels`
    assert "gradcore.nn.init" in GRAPH["gradcore.init"]  # `from .nn import init`
    assert "gradcore._version" in GRAPH["gradcore.checkpoint"]  # not the package for it
