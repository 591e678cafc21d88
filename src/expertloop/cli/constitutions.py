"""``expertloop constitution``: constitutions from the command line: the draft's principles,
published versions, their exports and diffs (see docs/constitutions.md). The proposals, the
panel's votes and the grading statistics are in :mod:`expertloop.cli.constitution_panel`.

Reading commands print Rich tables, or JSON with ``--json``; changing commands print the
result as one JSON object. ``--as`` names the account that acts (default: the first admin).
"""

from __future__ import annotations

import enum
import json
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.table import Table

from expertloop.cli.common import database, operator, refused, settings
from expertloop.domain import User
from expertloop.domain.constitutions import ConstitutionVersion, Principle
from expertloop.services.database import Database

__all__ = [
    "AS",
    "JSON",
    "ExportFormat",
    "echo_json",
    "group",
    "out",
    "principle_group",
    "register",
    "run",
    "utc",
]

group = typer.Typer(
    help="Constitutions: principles, published versions, proposals and the panel's votes.",
    no_args_is_help=True,
)
principle_group = typer.Typer(help="The draft's principles.", no_args_is_help=True)

AS = typer.Option("--as", help="Act as this account (default: the first admin).")
JSON = typer.Option("--json", help="Print JSON instead of tables.")
T = TypeVar("T")


class ExportFormat(enum.StrEnum):
    MD = "md"
    JSON = "json"


def utc(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat().removesuffix("+00:00") + "Z"


def echo_json(value: Any) -> None:
    typer.echo(json.dumps(value, default=str, ensure_ascii=False))


def out() -> Console:
    return Console(highlight=False)


def run(as_user: str | None, action: Callable[[Database, User], T]) -> T:
    """Open the database, find the acting account, run ``action``; a service error is
    printed and ends the command with exit code 1."""
    with database(settings()) as db:
        actor = operator(db, as_user)
        with refused():
            return action(db, actor)


def _version_json(v: ConstitutionVersion) -> dict[str, Any]:
    return {
        "constitution_id": v.constitution_id, "version": v.version, "note": v.note,
        "published_at": utc(v.published_at), "published_by": v.published_by,
        "principles": [p.to_dict() for p in v.principles],
    }


def _principles_table(title: str, principles: list[Principle] | tuple[Principle, ...]) -> Table:
    table = Table(title=title, show_lines=True)
    table.add_column("Key", no_wrap=True)
    table.add_column("Title")
    table.add_column("Text")
    table.add_column("Examples", justify="right")
    for p in principles:
        table.add_row(p.key, p.title, p.text,
                      f"{len(p.compliance_examples)} / {len(p.violation_examples)}")
    return table


@group.command("create")
def create(
    name: Annotated[str, typer.Argument(help="The constitution's name.")],
    description: Annotated[str, typer.Option(help="What it is for.")] = "",
    as_user: Annotated[str | None, AS] = None,
) -> None:
    """Create a constitution with an empty draft (managers)."""
    from expertloop.services import constitutions

    made = run(as_user, lambda db, actor: constitutions.create_constitution(
        db, actor=actor, name=name, description=description))
    echo_json({"id": made.id, "name": made.name, "description": made.description,
               "created_at": utc(made.created_at)})


@group.command("list")
def list_all(
    as_json: Annotated[bool, JSON] = False,
    as_user: Annotated[str | None, AS] = None,
) -> None:
    """Every constitution, with its newest version and whether the draft changed since."""
    from expertloop.services import constitutions

    found = run(as_user, lambda db, actor: constitutions.list_constitutions(db, actor=actor))
    rows = [{"id": c.id, "name": c.name, "latest_version": c.latest_version,
             "draft_changed": c.draft_changed, "created_at": utc(c.created_at)} for c in found]
    if as_json:
        echo_json(rows)
        return
    table = Table(title="Constitutions")
    for column in ("Id", "Name", "Latest version", "Draft changed"):
        table.add_column(column)
    for r in rows:
        table.add_row(str(r["id"]), str(r["name"]), str(r["latest_version"] or "-"),
                      "yes" if r["draft_changed"] else "no")
    out().print(table)


@group.command("show")
def show(
    constitution: Annotated[int, typer.Argument(help="Constitution id.")],
    version: Annotated[int | None, typer.Option(help="A published version (default: the "
                                                     "draft).", min=1)] = None,
    as_json: Annotated[bool, JSON] = False,
    as_user: Annotated[str | None, AS] = None,
) -> None:
    """A constitution and its draft's principles, or one published version's."""
    from expertloop.services import constitutions

    def load(db: Database, actor: User) -> tuple[Any, tuple[Principle, ...], str]:
        meta = constitutions.get_constitution(db, actor=actor, constitution_id=constitution)
        if version is None:
            draft = constitutions.draft(db, actor=actor, constitution_id=constitution)
            return meta, tuple(draft), "draft"
        found = constitutions.get_version(
            db, actor=actor, constitution_id=constitution, version=version)
        return meta, found.principles, f"version {version}"

    meta, principles, which = run(as_user, load)
    if as_json:
        echo_json({"id": meta.id, "name": meta.name, "description": meta.description,
                   "latest_version": meta.latest_version, "draft_changed": meta.draft_changed,
                   "showing": which, "principles": [p.to_dict() for p in principles]})
        return
    console = out()
    console.print(f"[bold]{meta.name}[/bold] (constitution {meta.id}), latest version "
                  f"{meta.latest_version or 'none'}" + (", draft changed since"
                                                        if meta.draft_changed else ""))
    if meta.description:
        console.print(meta.description)
    console.print(_principles_table(f"Principles ({which})", principles))


@principle_group.command("set")
def principle_set(
    constitution: Annotated[int, typer.Argument(help="Constitution id.")],
    key: Annotated[str, typer.Argument(help="The principle's id, e.g. harmless-1.")],
    title: Annotated[str, typer.Option(help="A short name.")],
    text: Annotated[str, typer.Option(help="The principle itself.")],
    rationale: Annotated[str, typer.Option(help="Why it is there.")] = "",
    complies: Annotated[list[str] | None, typer.Option(
        help="A response that follows it (repeat for more).")] = None,
    violates: Annotated[list[str] | None, typer.Option(
        help="A response that breaks it (repeat for more).")] = None,
    as_user: Annotated[str | None, AS] = None,
) -> None:
    """Add a principle to the draft, or replace the one with this key (managers)."""
    from expertloop.services import constitutions

    def put(db: Database, actor: User) -> tuple[Principle, bool]:
        principle = constitutions.principle_from_input(
            key=key, title=title, text=text, rationale=rationale,
            compliance_examples=complies or (), violation_examples=violates or ())
        new = constitutions.put_principle(
            db, actor=actor, constitution_id=constitution, principle=principle)
        return principle, new

    principle, new = run(as_user, put)
    echo_json({"constitution_id": constitution, "added" if new else "replaced": key,
               "principle": principle.to_dict()})


@principle_group.command("remove")
def principle_remove(
    constitution: Annotated[int, typer.Argument(help="Constitution id.")],
    key: Annotated[str, typer.Argument(help="The principle's id.")],
    as_user: Annotated[str | None, AS] = None,
) -> None:
    """Take a principle out of the draft (managers)."""
    from expertloop.services import constitutions

    run(as_user, lambda db, actor: constitutions.remove_principle(
        db, actor=actor, constitution_id=constitution, key=key))
    echo_json({"constitution_id": constitution, "removed": key})


@group.command("publish")
def publish(
    constitution: Annotated[int, typer.Argument(help="Constitution id.")],
    note: Annotated[str, typer.Option(help="What changed, for readers.")] = "",
    as_user: Annotated[str | None, AS] = None,
) -> None:
    """Freeze the draft as the next version (managers)."""
    from expertloop.services import constitutions

    made = run(as_user, lambda db, actor: constitutions.publish(
        db, actor=actor, constitution_id=constitution, note=note))
    echo_json(_version_json(made))


@group.command("versions")
def versions(
    constitution: Annotated[int, typer.Argument(help="Constitution id.")],
    as_json: Annotated[bool, JSON] = False,
    as_user: Annotated[str | None, AS] = None,
) -> None:
    """The published versions, oldest first."""
    from expertloop.services import constitutions

    found = run(as_user, lambda db, actor: constitutions.list_versions(
        db, actor=actor, constitution_id=constitution))
    if as_json:
        echo_json([_version_json(v) for v in found])
        return
    table = Table(title=f"Versions of constitution {constitution}")
    for column in ("Version", "Published", "Principles", "Note"):
        table.add_column(column)
    for v in found:
        table.add_row(str(v.version), utc(v.published_at), str(len(v.principles)), v.note)
    out().print(table)


@group.command("export")
def export(
    constitution: Annotated[int, typer.Argument(help="Constitution id.")],
    version: Annotated[int, typer.Argument(help="A published version.", min=1)],
    file_format: Annotated[ExportFormat, typer.Option(
        "--format", help="md (Markdown) or json.")] = ExportFormat.MD,
    output: Annotated[Path | None, typer.Option(
        "--output", "-o", help="File to write; default stdout.")] = None,
    as_user: Annotated[str | None, AS] = None,
) -> None:
    """A published version as Markdown or as the JSON document."""
    from expertloop.services import constitution_docs

    def render(db: Database, actor: User) -> str:
        if file_format is ExportFormat.JSON:
            data = constitution_docs.constitution_json(
                db, actor=actor, constitution_id=constitution, version=version)
            return json.dumps(data, ensure_ascii=False, indent=2) + "\n"
        return constitution_docs.constitution_markdown(
            db, actor=actor, constitution_id=constitution, version=version)

    text = run(as_user, render)
    if output is None:
        typer.echo(text, nl=False)
    else:
        output.write_text(text, encoding="utf-8")


@group.command("diff")
def diff(
    constitution: Annotated[int, typer.Argument(help="Constitution id.")],
    from_version: Annotated[int | None, typer.Option(
        "--from", help="The older version (default: the draft; 0: empty).", min=0)] = None,
    to_version: Annotated[int | None, typer.Option(
        "--to", help="The newer version (default: the draft).", min=0)] = None,
    as_json: Annotated[bool, JSON] = False,
    as_user: Annotated[str | None, AS] = None,
) -> None:
    """What changed between two versions: principles added, removed, changed, moved."""
    from expertloop.services import constitution_docs

    if from_version is None and to_version is None:
        raise typer.BadParameter("give --from, --to or both (leave one out for the draft)")
    changes = run(as_user, lambda db, actor: constitution_docs.diff(
        db, actor=actor, constitution_id=constitution, from_version=from_version,
        to_version=to_version))
    if as_json:
        echo_json([{"key": c.key, "change": c.change, "fields": list(c.fields),
                    "lines": list(c.lines)} for c in changes])
        return
    console = out()
    if not changes:
        console.print("No changes.")
    for c in changes:
        fields = f" ({', '.join(c.fields)})" if c.fields else ""
        console.print(f"[bold]{c.change}[/bold] {c.key}{fields}")
        for line in c.lines:
            console.print(line, markup=False)


def register(app: typer.Typer) -> None:
    from expertloop.cli import constitution_panel

    group.add_typer(principle_group, name="principle")
    constitution_panel.register(group)
    app.add_typer(group, name="constitution")
