"""What the command modules share: settings, the database, the operator, errors, progress."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, NoReturn

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn

from expertloop.domain import Role, User
from expertloop.errors import ExpertloopError
from expertloop.services.database import Database, open_database
from expertloop.services.users import list_users
from expertloop.settings import Settings

__all__ = [
    "database",
    "err",
    "fail",
    "json_option",
    "operator",
    "progress_columns",
    "refused",
    "settings",
    "user_id",
]

err = Console(stderr=True, soft_wrap=True)


def settings() -> Settings:
    try:
        return Settings()
    except ValidationError as exc:
        problems = []
        for error in exc.errors(include_url=False):
            message = error["msg"].removeprefix("Value error, ")
            if error["loc"]:
                variable = "EXPERTLOOP_" + "_".join(str(p) for p in error["loc"]).upper()
                message = f"{variable}: {message}"
            problems.append(message)
        fail("invalid configuration: " + "; ".join(problems))


def fail(message: str) -> NoReturn:
    err.print(f"[red]error:[/red] {message}", highlight=False)
    raise typer.Exit(code=1)


@contextmanager
def refused() -> Iterator[None]:
    """A service's refusal inside the block (an :class:`ExpertloopError`: not found, not
    allowed, invalid input...) ends the command with its message and exit code 1."""
    try:
        yield
    except ExpertloopError as exc:
        fail(exc.message)


@contextmanager
def database(settings: Settings) -> Iterator[Database]:
    """The configured database, migrated to the newest schema, closed afterwards."""
    try:
        opened = open_database(settings)
    except Exception as exc:
        fail(f"cannot open the database {settings.resolved_database_url!r}: {exc}")
    try:
        yield opened
    finally:
        opened.dispose()


def operator(database: Database, username: str | None) -> User:
    """The account a CLI command acts as: the named one, or the first admin."""
    people = list_users(database, actor=None)
    if username is not None:
        for user in people:
            if user.username == username:
                return user
        fail(f"no user named {username!r}")
    for user in people:
        if user.role is Role.ADMIN:
            return user
    fail("no admin account yet: create one with `expertloop user create NAME --role admin`")


def user_id(database: Database, value: str) -> int:
    """A user named on the command line by id or by username."""
    people = list_users(database, actor=None)
    if value.isdigit() and any(u.id == int(value) for u in people):
        return int(value)
    for user in people:
        if user.username == value:
            return user.id
    fail(f"no user with id or username {value!r}")


def json_option(value: str | None, name: str) -> Any:
    if value is None:
        return None
    try:
        return json.loads(value)
    except json.JSONDecodeError as exc:
        fail(f"{name} is not valid JSON: {exc.msg} at column {exc.colno}")


def progress_columns() -> tuple[Any, ...]:
    """The columns of the progress bars of long commands (imports, exports)."""
    return (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
