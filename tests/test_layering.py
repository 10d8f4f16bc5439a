"""The floors of DESIGN.md: imports point down only (no module imports one on a higher floor,
and the circles nn <-> params/train and init <-> nn stay broken)."""

from __future__ import annotations

import ast
import pathlib

import gradcore

ROOT = pathlib.Path(gradcore.__file__).parent

# floor of each top-level part of the package (DESIGN.md, "The house")
FLOORS = {
    "_args": 1,
    "backends": 2,
    "_gemm": 2,
    "threads": 2,
    "callbacks": 3,
    "params": 3.0,
    "init": 3.2,  # gradcore.init is gradcore.nn.init
    "losses": 3.1,
    "nn": 3.2,
    "optim": 3.3,
    "monitor": 4,
    "train": 5,
    "checkpoint": 5,
    "data": 5,
    "experiments": 5,
    "cli": 5,
    "bench": 5,
    "gradcheck": 5,
    "testing": 5,
}


def _part(path: pathlib.Path) -> str:
    rel = path.relative_to(ROOT).parts
    return rel[0].removesuffix(".py")


def _imports(path: pathlib.Path) -> set[str]:
    """Top-level parts of gradcore this module imports (relative or absolute)."""
    tree = ast.parse(path.read_text())
    pkg = path.relative_to(ROOT).parts[:-1]
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = list(pkg[: len(pkg) - node.level + 1])
                parts = base + (node.module.split(".") if node.module else [])
                if parts:
                    out.add(parts[0])
                else:  # "from .. import x": x are parts
                    out.update(a.name for a in node.names)
            elif node.module and node.module.startswith("gradcore."):
                out.add(node.module.split(".")[1])
        elif isinstance(node, ast.Import):
            for a in node.names:
                if a.name.startswith("gradcore."):
                    out.add(a.name.split(".")[1])
    return out


def test_imports_point_down_the_floors():
    bad = []
    for path in ROOT.rglob("*.py"):
        part = _part(path)
        if part not in FLOORS:
            continue
        for dep in _imports(path):
            if dep in FLOORS and dep != part and FLOORS[dep] > FLOORS[part]:
                bad.append(f"{path.relative_to(ROOT)} imports {dep}")
    assert not bad, "\n".join(bad)
