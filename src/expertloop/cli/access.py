"""``expertloop user suspend`` and ``user reactivate``: cut an account off, or let it back.

Added to the ``user`` group of ``cli/users.py``, from here, so access stays one module."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from expertloop.cli.common import database, refused, settings, user_id
from expertloop.cli.users import group as user_group

__all__ = ["register", "user_reactivate", "user_suspend"]


def _set_active(user: str, *, active: bool) -> None:
    from expertloop.services.access import reactivate_user, suspend_user

    change = reactivate_user if active else suspend_user
    with database(settings()) as db, refused():
        changed = change(db, actor=None, user_id=user_id(db, user))
    typer.echo(
        json.dumps({"id": changed.id, "username": changed.username, "is_active": changed.is_active})
    )


def user_suspend(
    user: Annotated[str, typer.Argument(help="User id or username.")],
) -> None:
    """Suspend an account: it can no longer sign in or use its tokens, and its leases end.
    Running servers refuse it within EXPERTLOOP_AUTH_CACHE_SECONDS."""
    _set_active(user, active=False)


def user_reactivate(
    user: Annotated[str, typer.Argument(help="User id or username.")],
) -> None:
    """Let a suspended account sign in and work again (its unexpired tokens work again)."""
    _set_active(user, active=True)


def register(app: typer.Typer) -> None:
    del app  # the commands join the existing ``user`` group
    user_group.command("suspend")(user_suspend)
    user_group.command("reactivate")(user_reactivate)
