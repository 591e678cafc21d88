"""``expertloop db``: the database schema."""

from __future__ import annotations

import typer

from expertloop.cli.common import database, err, settings

__all__ = ["group", "register"]

group = typer.Typer(help="Database schema.", no_args_is_help=True)


@group.command("upgrade")
def db_upgrade() -> None:
    """Apply all pending migrations (safe to run repeatedly and from many hosts)."""
    from expertloop.services.database import schema_revision

    with database(settings()) as db:
        err.print(f"database at revision {schema_revision(db)}", highlight=False)


def register(app: typer.Typer) -> None:
    app.add_typer(group, name="db")
