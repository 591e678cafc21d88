"""``expertloop audit``: read the audit log of managers' and admins' actions."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer

from expertloop.cli.common import database, refused, settings, user_id
from expertloop.services.clock import iso_utc

__all__ = ["group", "register"]

group = typer.Typer(help="The audit log: who did what, when.", no_args_is_help=True)


@group.command("list")
def audit_list(
    after: Annotated[int, typer.Option(min=0, help="Only events after this id.")] = 0,
    limit: Annotated[int, typer.Option(min=1, max=1000, help="At most this many events.")] = 100,
    action: Annotated[
        str | None, typer.Option(help="Only this action, e.g. user.suspended.")
    ] = None,
    actor: Annotated[str | None, typer.Option(help="Only this actor (id or username).")] = None,
    project: Annotated[int | None, typer.Option(help="Only this project's events.")] = None,
) -> None:
    """Print events oldest first, one JSON object a line (as GET /api/v1/audit returns them);
    page on with --after and the last id printed."""
    from expertloop.services.audit import list_events

    with database(settings()) as db, refused():
        events = list_events(
            db,
            actor=None,
            after_id=after,
            limit=limit,
            action=action,
            actor_id=None if actor is None else user_id(db, actor),
            project_id=project,
        )
    for event in events:
        row: dict[str, Any] = {
            "id": event.id,
            "at": iso_utc(event.at),
            "actor_id": event.actor_id,
            "actor": event.actor,
            "action": event.action,
            "project_id": event.project_id,
            "details": event.details,
            "before": event.before,
            "after": event.after,
        }
        typer.echo(json.dumps(row, ensure_ascii=False))


def register(app: typer.Typer) -> None:
    app.add_typer(group, name="audit")
