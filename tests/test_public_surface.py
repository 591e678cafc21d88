"""Every package says what it exports, and everything it says exists."""

from __future__ import annotations

import importlib
import pkgutil

import pytest

import expertloop

MODULES = sorted(
    m.name
    for m in pkgutil.walk_packages(expertloop.__path__, "expertloop.")
    if ".migrations" not in m.name and not m.name.rsplit(".", 1)[-1].startswith("_")
)


@pytest.mark.parametrize("name", MODULES)
def test_each_public_name_in_all_exists(name: str) -> None:
    module = importlib.import_module(name)
    exported = getattr(module, "__all__", None)
    if exported is None:
        return
    missing = [n for n in exported if not hasattr(module, n)]
    assert missing == []
    assert len(set(exported)) == len(exported)


@pytest.mark.parametrize(
    "package",
    ["expertloop.domain", "expertloop.tasks", "expertloop.store", "expertloop.scheduling"],
)
def test_packages_declare_their_public_surface(package: str) -> None:
    assert importlib.import_module(package).__all__


def test_quality_imports_no_other_part_of_expertloop_nor_web_or_database_code() -> None:
    import ast
    from pathlib import Path

    forbidden = ("expertloop.", "sqlalchemy", "fastapi", "starlette", "httpx", "pydantic")
    quality = Path(expertloop.__file__).parent / "quality"
    offenders = []
    for path in quality.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            for name in names:
                if name.startswith(forbidden) and not name.startswith("expertloop.quality"):
                    offenders.append(f"{path.name}: {name}")
    assert offenders == []
