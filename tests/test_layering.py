"""Dependencies point one way: frontend -> api, workers -> api/embeddings, api -> embeddings."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
OURS = {"api", "workers", "embeddings", "frontend"}
# Package -> the packages of ours it must not import. The app factory (api/http/app.py) is the
# composition root and may mount the frontend.
FORBIDDEN = {
    "embeddings": {"api", "workers", "frontend"},
    "api": {"workers", "frontend"},
    "workers": {"frontend"},
    "frontend": {"workers"},
}
EXEMPT = {Path("api/http/app.py")}


def imported_packages(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names & OURS


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_package_imports_only_what_it_may(package):
    offenders = {
        str(path.relative_to(ROOT)): sorted(imported_packages(path) & FORBIDDEN[package])
        for path in (ROOT / package).rglob("*.py")
        if path.relative_to(ROOT) not in EXEMPT and imported_packages(path) & FORBIDDEN[package]
    }
    assert offenders == {}
