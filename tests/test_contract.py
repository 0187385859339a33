"""The DuckDB file is the only interface between precompute and the dashboard: keep both sides in step."""

from __future__ import annotations

import ast
from pathlib import Path

from precompute import store
from txray_dash import data

ROOT = Path(__file__).resolve().parents[1]


def test_schema_versions_agree():
    assert data.SCHEMA_VERSION == store.SCHEMA_VERSION


def _imported_roots(package: str) -> set[str]:
    roots = set()
    for path in (ROOT / package).rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                roots |= {a.name.split(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                roots.add(node.module.split(".")[0])
    return roots


def test_app_never_imports_precompute_and_precompute_never_imports_dash():
    assert "precompute" not in _imported_roots("txray_dash")
    assert "torch" not in _imported_roots("txray_dash")
    assert "dash" not in _imported_roots("precompute")


def test_figures_do_not_import_dash():
    tree = ast.parse((ROOT / "txray_dash" / "figures.py").read_text())
    names = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    names |= {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}
    assert not any(n == "dash" or n.startswith("dash.") for n in names)
