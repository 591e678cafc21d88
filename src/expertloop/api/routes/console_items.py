"""An item's gold, set by its project's managers: promote the consensus, or give it."""

from __future__ import annotations

from fastapi import APIRouter

from expertloop.api.deps import CurrentUser, DatabaseDep
from expertloop.api.schemas import GoldPromotion, Id, ItemGoldPublic, SmallId
from expertloop.services import console_items

router = APIRouter(tags=["items"])


@router.post(
    "/projects/{project_id}/items/{item_id}/gold",
    summary="Set an item's gold: its consensus or an explicit answer (managers)",
)
def set_gold(
    project_id: SmallId, item_id: Id, body: GoldPromotion, db: DatabaseDep, actor: CurrentUser
) -> ItemGoldPublic:
    """``{"from_consensus": true}`` takes the item's consensus from the project's snapshot;
    ``{"gold": {...}}`` gives a canonical answer. Either is checked by the task type as a
    gold answer for this item: 422 names the field otherwise (a rating's averaged score is
    no point of the scale: give it explicitly). Recorded in the audit log
    (``item.gold_set``, with the gold before and after)."""
    item = console_items.promote_to_gold(
        db, actor=actor, project_id=project_id, item_id=item_id,
        from_consensus=body.from_consensus, gold=body.gold,
    )
    return ItemGoldPublic(
        id=item.id, project_id=item.project_id, external_id=item.external_id, gold=item.gold
    )
