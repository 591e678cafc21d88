"""Single items for their project's managers: look one up, disable, enable, delete.

Answers are never lost: a disabled item keeps them, and a deleted item keeps its row and
them (for audit); both are out of the pool for good or until enabled again.
"""

from __future__ import annotations

from fastapi import APIRouter

from expertloop.api.deps import CurrentUser, DatabaseDep
from expertloop.api.schemas import Id, ItemDisable, ItemStatePublic
from expertloop.services import item_admin
from expertloop.services.item_admin import ItemState

router = APIRouter(tags=["items"])


def _public(state: ItemState) -> ItemStatePublic:
    status = (
        "deleted"
        if state.deleted_at is not None
        else "disabled"
        if state.disabled_at is not None
        else "active"
    )
    return ItemStatePublic(
        id=state.id,
        project_id=state.project_id,
        external_id=state.external_id,
        priority=state.priority,
        target=state.target,
        n_answers=state.n_answers,
        open_slots=state.open_slots,
        created_at=state.created_at,
        status=status,
        disabled_at=state.disabled_at,
        disabled_reason=state.disabled_reason,
        deleted_at=state.deleted_at,
    )


@router.get("/items/{item_id}", summary="An item's state, without its payload (managers)")
def get_item(item_id: Id, db: DatabaseDep, actor: CurrentUser) -> ItemStatePublic:
    return _public(item_admin.get_item(db, actor=actor, item_id=item_id))


@router.post(
    "/items/{item_id}/disable",
    summary="Stop handing the item out; its live leases end, its answers stay (managers)",
)
def disable_item(
    item_id: Id, db: DatabaseDep, actor: CurrentUser, body: ItemDisable | None = None
) -> ItemStatePublic:
    reason = body.reason if body is not None else ""
    return _public(item_admin.disable_item(db, actor=actor, item_id=item_id, reason=reason))


@router.post("/items/{item_id}/enable", summary="Hand a disabled item out again (managers)")
def enable_item(item_id: Id, db: DatabaseDep, actor: CurrentUser) -> ItemStatePublic:
    return _public(item_admin.enable_item(db, actor=actor, item_id=item_id))


@router.delete(
    "/items/{item_id}",
    summary="Delete an item for good; its row and answers are kept for audit (managers)",
)
def delete_item(item_id: Id, db: DatabaseDep, actor: CurrentUser) -> ItemStatePublic:
    return _public(item_admin.delete_item(db, actor=actor, item_id=item_id))
