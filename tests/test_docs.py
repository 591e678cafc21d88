"""The docs keep up with the code: every setting, CLI command and API route is documented,
and the demo data set is valid pairwise data."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
import typer.main

from expertloop.app import create_app
from expertloop.cli.main import app as cli_app
from expertloop.settings import Settings
from expertloop.tasks import get_task_type

DOCS = Path(__file__).resolve().parents[1] / "docs"
API_PREFIX = "/api/v1"


def _read(name: str) -> str:
    return (DOCS / name).read_text(encoding="utf-8")


def _all_docs() -> str:
    return "\n".join(p.read_text(encoding="utf-8") for p in sorted(DOCS.glob("*.md")))


# --- settings ---------------------------------------------------------------------------


def _setting_variables() -> list[str]:
    prefix = str(Settings.model_config.get("env_prefix", ""))
    return [f"{prefix}{name}".upper() for name in Settings.model_fields]


def test_settings_are_read_from_expertloop_variables() -> None:
    assert _setting_variables()
    assert all(v.startswith("EXPERTLOOP_") for v in _setting_variables())


@pytest.mark.parametrize("variable", _setting_variables())
def test_every_setting_is_documented_in_configuration_by_its_variable_name(variable: str) -> None:
    assert re.search(rf"\b{variable}\b", _read("configuration.md")), (
        f"{variable} is not documented in docs/configuration.md"
    )


# --- CLI --------------------------------------------------------------------------------


def _command_paths(command: Any, path: tuple[str, ...] = ()) -> Iterator[str]:
    # Duck-typed: Typer builds click-compatible groups that need not subclass click.Group.
    subcommands = getattr(command, "commands", None)
    if isinstance(subcommands, dict):
        for name, sub in subcommands.items():
            yield from _command_paths(sub, (*path, name))
    else:
        yield " ".join(path)


def _cli_commands() -> list[str]:
    return sorted(_command_paths(typer.main.get_command(cli_app)))


def test_the_cli_walk_finds_the_known_commands() -> None:
    expected = {
        "serve",
        "db upgrade",
        "user create",
        "project create",
        "items import",
        "answers export",
    }
    assert expected <= set(_cli_commands())


@pytest.mark.parametrize("command", _cli_commands())
def test_every_cli_command_is_mentioned_in_the_docs(command: str) -> None:
    assert re.search(rf"\bexpertloop {re.escape(command)}\b", _all_docs()), (
        f"`expertloop {command}` is not mentioned in docs/"
    )


# --- API --------------------------------------------------------------------------------


def _walk_routes(routes: list[Any], prefix: str = "") -> Iterator[tuple[str, str]]:
    """(method, path) of every route, descending into included routers.

    Recent FastAPI versions keep included routers as one entry of ``app.routes`` (holding
    the router and its prefix) instead of copying their routes into the app.
    """
    for route in routes:
        original = getattr(route, "original_router", None)
        context = getattr(route, "include_context", None)
        if original is not None and context is not None:
            yield from _walk_routes(original.routes, prefix + context.prefix)
            continue
        path = getattr(route, "path", None)
        for method in getattr(route, "methods", None) or ():
            if path is not None and method != "HEAD":
                yield method, prefix + path


@pytest.fixture(scope="module")
def api_routes(tmp_path_factory: pytest.TempPathFactory) -> list[tuple[str, str]]:
    app = create_app(Settings(data_dir=tmp_path_factory.mktemp("docs-app")))
    try:
        return sorted(
            {(m, p) for m, p in _walk_routes(list(app.routes)) if p.startswith(API_PREFIX)}
        )
    finally:
        app.state.database.dispose()


def test_the_route_walk_finds_the_annotator_loop(api_routes: list[tuple[str, str]]) -> None:
    assert ("POST", f"{API_PREFIX}/projects/{{project_id}}/assignments/next") in api_routes
    assert ("POST", f"{API_PREFIX}/assignments/{{assignment_id}}/answer") in api_routes


def test_every_api_route_is_documented_in_the_api_reference(
    api_routes: list[tuple[str, str]],
) -> None:
    text = _read("api.md")
    missing = [f"{m} {p}" for m, p in api_routes if f"{m} {p}" not in text]
    assert not missing, f"undocumented in docs/api.md: {missing}"


def test_every_documented_endpoint_exists(api_routes: list[tuple[str, str]]) -> None:
    documented = re.findall(
        rf"^#+ (GET|POST|PUT|PATCH|DELETE) ({API_PREFIX}\S*)", _read("api.md"), re.M
    )
    stale = [f"{m} {p}" for m, p in documented if (m, p) not in api_routes]
    assert not stale, f"docs/api.md documents endpoints that do not exist: {stale}"


# --- the docs hang together ---------------------------------------------------------------


def test_the_index_links_every_page_of_the_docs() -> None:
    index = _read("index.md")
    pages = [p.name for p in DOCS.glob("*.md") if p.name != "index.md"]
    assert pages
    for page in pages:
        assert f"]({page})" in index, f"docs/index.md does not link {page}"


def test_relative_links_between_doc_pages_point_at_existing_pages() -> None:
    for page in DOCS.glob("*.md"):
        for target in re.findall(r"\]\(([^)#:\s]+\.md)(?:#[^)]*)?\)", page.read_text("utf-8")):
            assert (DOCS / target).is_file(), f"{page.name} links to missing {target}"


# --- demo data --------------------------------------------------------------------------


def _demo_lines() -> list[str]:
    text = resources.files("expertloop.data").joinpath("demo_pairwise.jsonl").read_text("utf-8")
    return [line for line in text.splitlines() if line.strip()]


def _demo_items() -> list[dict[str, Any]]:
    return [json.loads(line) for line in _demo_lines()]


def test_the_demo_data_set_has_at_least_thirty_items() -> None:
    assert len(_demo_items()) >= 30


def test_every_demo_item_is_a_valid_pairwise_item_with_valid_gold() -> None:
    task = get_task_type("pairwise")
    for number, item in enumerate(_demo_items(), start=1):
        assert set(item) <= {"external_id", "payload", "gold", "priority"}, f"line {number}"
        task.validate_payload(item["payload"], {})
        if "gold" in item:
            task.validate_gold(item["gold"], {})


def test_demo_items_have_distinct_external_ids() -> None:
    ids = [item["external_id"] for item in _demo_items()]
    assert len(ids) == len(set(ids))


def test_the_demo_mixes_gold_items_and_chat_prompts() -> None:
    items = _demo_items()
    assert sum("gold" in item for item in items) >= 5
    assert sum(isinstance(item["payload"]["prompt"], list) for item in items) >= 3
