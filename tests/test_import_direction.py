"""Imports flow one way (style.md section 2); an arrow pointing back fails here."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

#: package -> packages it must never import
FORBIDDEN: dict[str, set[str]] = {
    "connectors": {"gateway", "resolvers", "xref", "sandbox", "strawberry"},
    "xref": {"gateway", "resolvers", "sandbox", "strawberry"},
    "resolvers": {"gateway", "sandbox"},
    "sandbox": {"gateway", "resolvers", "xref", "connectors"},
}


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_package_imports_only_downwards(package: str) -> None:
    offenders = []
    for path in sorted((ROOT / package).rglob("*.py")):
        bad = _imports(path) & FORBIDDEN[package]
        if bad:
            offenders.append(f"{path.relative_to(ROOT)} imports {', '.join(sorted(bad))}")
    assert offenders == []


def test_system_field_names_stay_in_connectors_and_sandbox() -> None:
    wire_names = ("DisplayName", "SyncToken", "EmailPrimary", "emailOne", "addressOne", "PrimaryEmailAddr", "BillAddr")
    offenders = []
    for package in ("gateway", "resolvers", "xref"):
        for path in sorted((ROOT / package).rglob("*.py")):
            text = path.read_text()
            offenders += [f"{path.relative_to(ROOT)}: {name}" for name in wire_names if name in text]
    assert offenders == []
