from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from expertloop.api.access_schemas import AuditEventPublic
from expertloop.api.deps import CurrentUser, DatabaseDep
from expertloop.api.schemas import MAX_ID, SmallId
from expertloop.services import audit
from expertloop.services.audit import MAX_PAGE

router = APIRouter(tags=["audit"])


@router.get("/audit", summary="The audit log of managers' and admins' actions (admin)")
def list_audit_events(
    db: DatabaseDep,
    actor: CurrentUser,
    after: Annotated[int, Query(ge=0, le=MAX_ID, description="Events after this id.")] = 0,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 100,
    action: Annotated[str | None, Query(max_length=100)] = None,
    actor_id: SmallId | None = None,
    project_id: SmallId | None = None,
) -> list[AuditEventPublic]:
    events = audit.list_events(
        db,
        actor=actor,
        after_id=after,
        limit=limit,
        action=action,
        actor_id=actor_id,
        project_id=project_id,
    )
    return [AuditEventPublic.of(e) for e in events]
