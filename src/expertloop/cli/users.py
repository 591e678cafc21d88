"""``expertloop user``: user accounts."""

from __future__ import annotations

import getpass
import json
import sys
from typing import Annotated

import typer

from expertloop.cli.common import database, refused, settings
from expertloop.domain import Role

__all__ = ["group", "register"]

group = typer.Typer(help="User accounts.", no_args_is_help=True)


@group.command("create")
def user_create(
    username: Annotated[str, typer.Argument(help="Login name.")],
    role: Annotated[Role, typer.Option(help="admin, manager, reviewer or worker.")],
    password: Annotated[
        str | None, typer.Option(help="Password; omit to read it from standard input.")
    ] = None,
) -> None:
    """Create an account."""
    from expertloop.services.users import create_user

    if password is None:
        if sys.stdin.isatty():
            password = getpass.getpass("password: ")
        else:
            password = sys.stdin.readline().rstrip("\n")
    with database(settings()) as db:
        with refused():
            user = create_user(db, actor=None, username=username, password=password, role=role)
        typer.echo(json.dumps({"id": user.id, "username": user.username, "role": user.role.value}))


def register(app: typer.Typer) -> None:
    app.add_typer(group, name="user")
