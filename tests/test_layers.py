"""Imports point down the layers of DESIGN.md, read from the source with ``ast``.

    quality < tasks, domain < store < scheduling, jobs, llm, exports < services
    < api, web < app factory < server < cli, client (SDK)

``errors``, ``settings`` and ``clock`` are shared leaves that every layer but ``quality`` may use.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import expertloop

PACKAGE = Path(expertloop.__file__).parent

# Each top-level module or package of expertloop, by the height of its layer.
RANKS = {
    "__init__": 0,  # the version string
    "quality": 0,
    "errors": 1,
    "clock": 1,
    "settings": 1,
    "tasks": 2,
    "domain": 2,
    "store": 3,
    "scheduling": 4,
    "jobs": 4,
    "llm": 4,
    "exports": 4,
    "services": 5,
    "api": 6,
    "web": 6,
    "app": 7,
    "server": 8,
    "cli": 9,
    "client": 9,
}
# Layers of one height that still must not import each other (importer, imported).
FORBIDDEN_SIDEWAYS = {("api", "web"), ("cli", "client"), ("client", "cli")}


def _part(path: Path) -> str:
    relative = path.relative_to(PACKAGE)
    return relative.parts[0] if len(relative.parts) > 1 else relative.stem


def _imports() -> list[tuple[str, str, str]]:
    """(importer's layer, imported layer, where) for every absolute import of expertloop."""
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if "migrations" in path.parts:
            continue
        importer = _part(path)
        for node in ast.walk(ast.parse(path.read_text("utf-8"))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module]
            else:
                continue
            for name in names:
                parts = name.split(".")
                if parts[0] != "expertloop":
                    continue
                imported = parts[1] if len(parts) > 1 else "__init__"
                where = f"{path.relative_to(PACKAGE)}:{node.lineno} imports {name}"
                found.append((importer, imported, where))
    return found


IMPORTS = _imports()


def test_every_part_of_the_package_has_a_layer() -> None:
    parts = {_part(path) for path in PACKAGE.rglob("*.py")} - {"data"}
    assert parts - set(RANKS) == set()


def test_imports_point_down_the_layers() -> None:
    upwards = [
        where
        for importer, imported, where in IMPORTS
        if importer != imported
        and (RANKS[imported] > RANKS[importer] or (importer, imported) in FORBIDDEN_SIDEWAYS)
    ]
    assert upwards == []


@pytest.mark.parametrize(
    ("layer", "allowed"),
    [
        ("quality", {"quality"}),
        ("client", {"client", "__init__"}),
    ],
)
def test_standalone_parts_import_nothing_else_of_the_package(layer: str, allowed: set[str]) -> None:
    strays = [
        where
        for importer, imported, where in IMPORTS
        if importer == layer and imported not in allowed
    ]
    assert strays == []


def test_the_api_does_not_import_the_web_ui() -> None:
    assert [
        where for importer, imported, where in IMPORTS if (importer, imported) == ("api", "web")
    ] == []


def test_the_cli_reaches_the_database_only_through_services() -> None:
    reaching = [
        where for importer, imported, where in IMPORTS if (importer, imported) == ("cli", "store")
    ]
    assert reaching == []
