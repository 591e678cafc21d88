"""``expertloop project redundancy show|set|off|workers``: adaptive redundancy from the
command line (the operator acts; see docs/quality.md)."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer

from expertloop.cli.common import database, refused, settings
from expertloop.cli.projects import group as project_group
from expertloop.quality.redundancy import DEFAULT_POLICY

__all__ = ["register"]

group = typer.Typer(
    help="Adaptive redundancy: stop collecting once an item's consensus is confident.",
    no_args_is_help=True,
)


def _echo(value: Any) -> None:
    typer.echo(json.dumps(value, default=str))


@group.command("show")
def show(project: Annotated[int, typer.Argument(help="Project id.")]) -> None:
    """The project's settings (adaptive false: answers_per_item on every item)."""
    from expertloop.services import redundancy as service

    with database(settings()) as db, refused():
        found = service.get_redundancy(db, actor=None, project_id=project)
    _echo({"adaptive": False} if found is None else {"adaptive": True, **found.as_dict()})


@group.command("set")
def set_(
    project: Annotated[int, typer.Argument(help="Project id.")],
    min_answers: Annotated[
        int, typer.Option(help="Answers every item gets first.")
    ] = DEFAULT_POLICY.min_answers,
    max_answers: Annotated[
        int, typer.Option(help="Answers an item never goes past.")
    ] = DEFAULT_POLICY.max_answers,
    target_confidence: Annotated[
        float, typer.Option(help="Stop once the consensus is this probable (0.5 to <1).")
    ] = DEFAULT_POLICY.target_confidence,
    audit_share: Annotated[
        float, typer.Option(help="Share of items (0 to 1) that get one answer more than "
                            "min-answers whatever their confidence (the audit sample).")
    ] = 0.0,
) -> None:
    """Turn adaptive redundancy on or change it; existing items follow in the background."""
    from expertloop.services import redundancy as service

    with database(settings()) as db, refused():
        done = service.set_redundancy(
            db, actor=None, project_id=project, min_answers=min_answers,
            max_answers=max_answers, target_confidence=target_confidence,
            audit_share=audit_share,
        )
    _echo({"adaptive": True, **done.as_dict()})


@group.command("off")
def off(project: Annotated[int, typer.Argument(help="Project id.")]) -> None:
    """Back to answers_per_item on every item."""
    from expertloop.services import redundancy as service

    with database(settings()) as db, refused():
        service.remove_redundancy(db, actor=None, project_id=project)
    _echo({"adaptive": False})


@group.command("workers")
def workers(project: Annotated[int, typer.Argument(help="Project id.")]) -> None:
    """Each worker's accuracy in the last fitted worker model, most accurate first."""
    from expertloop.services import redundancy as service

    with database(settings()) as db, refused():
        rows = service.worker_reliability(db, actor=None, project_id=project)
    for row in rows:
        _echo({"worker_id": row.worker_id, "username": row.username,
               "accuracy": round(row.accuracy, 4), "answers": row.answers})


def register(app: typer.Typer) -> None:
    del app  # joins the existing ``project`` group
    project_group.add_typer(group, name="redundancy")
