"""``expertloop flags``: the worker rules of a project, the flags they raised, reinstating a
paused worker, dismissing a flag."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer

from expertloop.cli.common import database, json_option, operator, refused, settings, user_id

__all__ = ["group", "register"]

group = typer.Typer(help="Worker rules and the flags they raise.", no_args_is_help=True)

_AS = typer.Option("--as", help="Act as this manager.")


def _flag_row(flag: Any, paused: bool) -> dict[str, Any]:
    return {
        "id": flag.id, "worker_id": flag.worker_id, "worker": flag.worker_name,
        "rule": flag.rule, "message": flag.message, "details": flag.details,
        "events": flag.n_events, "paused_by_rule": flag.paused, "worker_paused": paused,
        "created_at": flag.created_at.isoformat() + "Z",
        "resolved_at": None if flag.resolved_at is None else flag.resolved_at.isoformat() + "Z",
        "action": flag.action,
    }


@group.command("list")
def flags_list(
    project: Annotated[int, typer.Argument(help="Project id.")],
    show_all: Annotated[bool, typer.Option("--all", help="Resolved flags too.")] = False,
    as_user: Annotated[str | None, _AS] = None,
) -> None:
    """List the project's worker flags, newest first, one JSON object per line."""
    from expertloop.services.worker_rules import list_worker_flags

    with database(settings()) as db:
        actor = operator(db, as_user)
        with refused():
            flags, pauses = list_worker_flags(
                db, actor=actor, project_id=project, open_only=not show_all
            )
    for flag in flags:
        typer.echo(json.dumps(_flag_row(flag, flag.worker_id in pauses)))


@group.command("reinstate")
def flags_reinstate(
    project: Annotated[int, typer.Argument(help="Project id.")],
    worker: Annotated[str, typer.Argument(help="Worker's user id or username.")],
    note: Annotated[str, typer.Option(help="Why, for the audit log.")] = "",
    as_user: Annotated[str | None, _AS] = None,
) -> None:
    """Reinstate a paused (or flagged) worker: unpaused, their open flags resolved."""
    from expertloop.services.worker_rules import reinstate_worker

    with database(settings()) as db:
        actor = operator(db, as_user)
        worker_id = user_id(db, worker)
        with refused():
            resolved = reinstate_worker(
                db, actor=actor, project_id=project, worker_id=worker_id, note=note
            )
    typer.echo(json.dumps({"project": project, "worker_id": worker_id,
                           "resolved_flags": resolved}))


@group.command("dismiss")
def flags_dismiss(
    project: Annotated[int, typer.Argument(help="Project id.")],
    flag: Annotated[int, typer.Argument(help="Flag id.")],
    as_user: Annotated[str | None, _AS] = None,
) -> None:
    """Dismiss an open flag as a false alarm (a paused worker stays paused)."""
    from expertloop.services.worker_rules import dismiss_flag

    with database(settings()) as db:
        actor = operator(db, as_user)
        with refused():
            dismissed = dismiss_flag(db, actor=actor, project_id=project, flag_id=flag)
    typer.echo(json.dumps(_flag_row(dismissed, False)))


@group.command("rules")
def flags_rules(
    project: Annotated[int, typer.Argument(help="Project id.")],
    set_rules: Annotated[
        str | None,
        typer.Option("--set", help="Replace the rules with this JSON (left out: defaults)."),
    ] = None,
    as_user: Annotated[str | None, _AS] = None,
) -> None:
    """Print the project's worker rules (as JSON), or replace them with --set."""
    from expertloop.services import worker_rules

    wanted = json_option(set_rules, "--set") if set_rules is not None else None
    with database(settings()) as db:
        actor = operator(db, as_user)
        with refused():
            if wanted is not None:
                rules = worker_rules.set_rules(db, actor=actor, project_id=project, rules=wanted)
            else:
                rules = worker_rules.get_rules(db, actor=actor, project_id=project)
    typer.echo(rules.model_dump_json())


@group.command("evaluate")
def flags_evaluate(
    project: Annotated[int, typer.Argument(help="Project id.")],
    as_user: Annotated[str | None, _AS] = None,
) -> None:
    """Run the project's worker rules now (as the background job does) and print a summary."""
    from expertloop.services import worker_rules

    with database(settings()) as db:
        actor = operator(db, as_user)
        with refused():
            worker_rules.get_rules(db, actor=actor, project_id=project)  # authorises
            result = worker_rules.evaluate_project(db, project)
    typer.echo(json.dumps({"project": project, **result}))


def register(app: typer.Typer) -> None:
    app.add_typer(group, name="flags")
