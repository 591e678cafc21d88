"""``expertloop items show|disable|enable|delete``: one item at a time, for its managers.

Added to the ``items`` command group (``cli/items.py``) by :func:`register`; each command
prints the item's state as one JSON object (no payload: it may be what cannot be served).
"""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer

from expertloop.cli.common import database as _database
from expertloop.cli.common import operator as _operator
from expertloop.cli.common import refused
from expertloop.cli.common import settings as _settings
from expertloop.cli.items import group as items_group
from expertloop.services import item_admin
from expertloop.services.clock import iso_utc

__all__ = ["delete", "disable", "enable", "register", "show"]

ItemId = Annotated[int, typer.Argument(help="Item id.", min=1, max=2**63 - 1)]
AsUser = Annotated[str | None, typer.Option("--as", help="Act as this manager.")]


def _state_json(state: item_admin.ItemState) -> str:
    status = (
        "deleted"
        if state.deleted_at is not None
        else "disabled"
        if state.disabled_at is not None
        else "active"
    )
    row: dict[str, Any] = {
        "id": state.id,
        "project_id": state.project_id,
        "external_id": state.external_id,
        "status": status,
        "n_answers": state.n_answers,
        "target": state.target,
        "open_slots": state.open_slots,
        "disabled_at": iso_utc(state.disabled_at) if state.disabled_at else None,
        "disabled_reason": state.disabled_reason,
        "deleted_at": iso_utc(state.deleted_at) if state.deleted_at else None,
    }
    return json.dumps(row)


def _run(action: str, item_id: int, as_user: str | None, **options: Any) -> None:
    with _database(_settings()) as database:
        actor = _operator(database, as_user)
        with refused():
            state = getattr(item_admin, action)(database, actor=actor, item_id=item_id, **options)
    typer.echo(_state_json(state))


def show(item_id: ItemId, as_user: AsUser = None) -> None:
    """Show an item's state: active, disabled (and why) or deleted."""
    _run("get_item", item_id, as_user)


def disable(
    item_id: ItemId,
    reason: Annotated[str, typer.Option(help="Why; kept with the item.")] = "",
    as_user: AsUser = None,
) -> None:
    """Stop handing an item out; its live leases end, its answers stay."""
    _run("disable_item", item_id, as_user, reason=reason)


def enable(item_id: ItemId, as_user: AsUser = None) -> None:
    """Hand a disabled item out again."""
    _run("enable_item", item_id, as_user)


def delete(item_id: ItemId, as_user: AsUser = None) -> None:
    """Delete an item for good; its row and answers are kept for audit."""
    _run("delete_item", item_id, as_user)


def register(_app: typer.Typer) -> None:
    """Add ``show``, ``disable``, ``enable`` and ``delete`` to the ``items`` group."""
    items_group.command("show")(show)
    items_group.command("disable")(disable)
    items_group.command("enable")(enable)
    items_group.command("delete")(delete)
