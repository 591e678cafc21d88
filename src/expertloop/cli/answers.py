"""``expertloop answers``: a project's raw answers."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from expertloop.cli.common import database, err, operator, refused, settings

__all__ = ["group", "register"]

group = typer.Typer(help="Answers of a project.", no_args_is_help=True)


@group.command("export")
def answers_export(
    project: Annotated[int, typer.Option(help="Project id.")],
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="File to write; default stdout.")
    ] = None,
    as_user: Annotated[str | None, typer.Option("--as", help="Act as this manager.")] = None,
) -> None:
    """Write every answer of a project as NDJSON."""
    from expertloop.services.answers import answer_row_json, iter_answers

    with database(settings()) as db:
        actor = operator(db, as_user)
        with refused():
            rows = iter_answers(db, actor=actor, project_id=project)
        sink = output.open("wb") if output else sys.stdout.buffer
        count = 0
        try:
            for row in rows:
                sink.write(answer_row_json(row))
                count += 1
        finally:
            if output:
                sink.close()
        err.print(f"exported {count} answers", highlight=False)


def register(app: typer.Typer) -> None:
    app.add_typer(group, name="answers")
