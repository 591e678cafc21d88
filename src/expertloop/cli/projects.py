"""``expertloop project``: creating, listing and staffing projects."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from expertloop.cli.common import database, json_option, operator, refused, settings
from expertloop.tasks import TASK_TYPES

__all__ = ["group", "register"]

group = typer.Typer(help="Projects.", no_args_is_help=True)


@group.command("create")
def project_create(
    name: Annotated[str, typer.Argument(help="Project name.")],
    task_type: Annotated[str, typer.Option(help=f"One of: {', '.join(sorted(TASK_TYPES))}.")],
    config: Annotated[
        str | None, typer.Option(help='Task config as JSON, e.g. \'{"labels": ["yes", "no"]}\'.')
    ] = None,
    guidelines: Annotated[
        Path | None, typer.Option(help="Markdown file with the guidelines.", exists=True)
    ] = None,
    answers_per_item: Annotated[int, typer.Option(min=1, max=100)] = 3,
    lease_seconds: Annotated[int, typer.Option(min=10, max=7 * 24 * 3600)] = 600,
    max_lease_extensions: Annotated[
        int, typer.Option(min=0, max=100, help="How many times a worker may extend a lease.")
    ] = 2,
    as_user: Annotated[
        str | None, typer.Option("--as", help="Act as this manager (default: first admin).")
    ] = None,
) -> None:
    """Create a project and print it as JSON."""
    from expertloop.services.projects import create_project

    with database(settings()) as db:
        actor = operator(db, as_user)
        with refused():
            project = create_project(
                db,
                actor=actor,
                name=name,
                task_type=task_type,
                config=json_option(config, "--config"),
                guidelines=guidelines.read_text(encoding="utf-8") if guidelines else "",
                answers_per_item=answers_per_item,
                lease_seconds=lease_seconds,
                max_lease_extensions=max_lease_extensions,
            )
        typer.echo(json.dumps({"id": project.id, "name": project.name, "task_type": task_type}))


@group.command("list")
def project_list(
    as_user: Annotated[str | None, typer.Option("--as", help="List as this user.")] = None,
) -> None:
    """Print the projects (one JSON object per line) with their progress."""
    from expertloop.services.projects import list_projects, project_progress

    with database(settings()) as db:
        actor = operator(db, as_user)
        for project in list_projects(db, actor=actor):
            counts = project_progress(db, actor=actor, project_id=project.id)
            row = {
                "id": project.id,
                "name": project.name,
                "task_type": project.task_type,
                "archived": project.is_archived,
                "answers_per_item": project.answers_per_item,
                "items": counts.items,
                "items_complete": counts.items_complete,
                "answers": counts.answers,
            }
            typer.echo(json.dumps(row))


@group.command("add-members")
def project_add_members(
    project: Annotated[int, typer.Argument(help="Project id.")],
    usernames: Annotated[list[str], typer.Argument(help="Users to add.")],
    as_user: Annotated[str | None, typer.Option("--as", help="Act as this manager.")] = None,
) -> None:
    """Add users (by username) to a project, so they can work on it."""
    from expertloop.services.projects import add_members

    with database(settings()) as db:
        actor = operator(db, as_user)
        with refused():
            add_members(db, actor=actor, project_id=project, usernames=usernames)
    typer.echo(json.dumps({"project": project, "added": usernames}))


def _set_archived(project: int, as_user: str | None, *, archived: bool) -> None:
    from expertloop.services.projects import archive_project, unarchive_project

    change = archive_project if archived else unarchive_project
    with database(settings()) as db:
        actor = operator(db, as_user)
        with refused():
            changed = change(db, actor=actor, project_id=project)
    typer.echo(json.dumps({"id": changed.id, "name": changed.name, "archived": archived}))


@group.command("archive")
def project_archive(
    project: Annotated[int, typer.Argument(help="Project id.")],
    as_user: Annotated[str | None, typer.Option("--as", help="Act as this manager.")] = None,
) -> None:
    """Archive a project: it hands out no more items; its data and exports stay.

    Servers already running notice within EXPERTLOOP_AUTH_CACHE_SECONDS."""
    _set_archived(project, as_user, archived=True)


@group.command("unarchive")
def project_unarchive(
    project: Annotated[int, typer.Argument(help="Project id.")],
    as_user: Annotated[str | None, typer.Option("--as", help="Act as this manager.")] = None,
) -> None:
    """Unarchive a project: workers get its items again."""
    _set_archived(project, as_user, archived=False)


def register(app: typer.Typer) -> None:
    app.add_typer(group, name="project")
