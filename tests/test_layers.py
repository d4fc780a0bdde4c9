"""Layers import only downward (README "Layers"):
foundation `sustain` < `ingest`, `metrics` < `report` < `app` < `pages` (and `dashboard.py`).
`ingest` and `metrics` sit side by side and do not import each other. Every import counts,
including those inside functions. Tools (`forms`, `sample_data`, `benchmarks`) may use any layer."""
from __future__ import annotations

import ast

import pytest

from support import ROOT_DIR

LAYER = {"sustain": 0, "ingest": 1, "metrics": 1, "report": 2, "app": 3, "pages": 4, "dashboard": 4}
SIBLINGS_APART = {("ingest", "metrics"), ("metrics", "ingest")}


def project_modules():
    for package in LAYER:
        if package == "dashboard":
            yield package, ROOT_DIR / "dashboard.py"
        else:
            yield from ((package, path) for path in sorted((ROOT_DIR / package).glob("*.py")))


def imported_packages(path):
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name.split(".")[0]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.lineno, node.module.split(".")[0]


def upward_imports():
    found = []
    for package, path in project_modules():
        for line, target in imported_packages(path):
            if target not in LAYER or target == package:
                continue
            if LAYER[target] > LAYER[package] or (package, target) in SIBLINGS_APART:
                found.append(f"{path.relative_to(ROOT_DIR)}:{line} ({package}) imports {target}")
    return found


def test_no_import_runs_from_a_lower_layer_to_a_higher_one():
    assert upward_imports() == []


def test_pages_reach_the_layers_below_only_through_the_app_layer():
    for path in sorted((ROOT_DIR / "pages").glob("*.py")):
        targets = {target for _, target in imported_packages(path) if target in LAYER}
        assert targets <= {"app"}, f"{path.name} imports {targets - {'app'}}"


def test_the_check_can_fail(tmp_path, monkeypatch):
    """A foundation module importing the app layer is caught."""
    bad = ROOT_DIR / "sustain" / "_layer_check_probe.py"
    bad.write_text("from app import ui\n", encoding="utf-8")
    try:
        assert any("_layer_check_probe.py" in line for line in upward_imports())
    finally:
        bad.unlink()
