"""Item reports: a worker reports a problem with an item (and never gets it again); the
project's managers list the reports and resolve them, or disable the item."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response, status
from pydantic import BaseModel, ConfigDict, Field

from expertloop.api.deps import CurrentUser, DatabaseDep
from expertloop.api.openapi import error_responses
from expertloop.api.schemas import MAX_ID, Id, SmallId, UtcDatetime
from expertloop.domain import ItemReportReason, ItemReportResolution
from expertloop.services import item_reports
from expertloop.store.item_reports import ReportRow

router = APIRouter(tags=["item reports"])


class ItemReportCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: ItemReportReason = Field(
        description="broken, ambiguous, harmful or outside_expertise (outside my expertise)."
    )
    note: str = Field("", max_length=item_reports.MAX_NOTE_CHARS)


class ItemReportPublic(BaseModel):
    id: int
    project_id: int
    item_id: int
    external_id: str | None
    worker_id: int
    worker: str
    reason: ItemReportReason
    note: str
    created_at: UtcDatetime
    resolved_at: UtcDatetime | None
    resolved_by: int | None
    resolution: ItemReportResolution | None

    @classmethod
    def of(cls, row: ReportRow) -> ItemReportPublic:
        return cls(
            id=row.id,
            project_id=row.project_id,
            item_id=row.item_id,
            external_id=row.external_id,
            worker_id=row.worker_id,
            worker=row.worker_username,
            reason=ItemReportReason(row.reason),
            note=row.note,
            created_at=row.created_at,
            resolved_at=row.resolved_at,
            resolved_by=row.resolved_by,
            resolution=None if row.resolution is None else ItemReportResolution(row.resolution),
        )


class ItemReportReceipt(BaseModel):
    """What the worker sees of their report: the lease is over, the item will not return."""

    report_id: int
    item_id: int
    reason: ItemReportReason
    created_at: UtcDatetime
    lease_released: bool


class ReportsResolve(BaseModel):
    model_config = ConfigDict(extra="forbid")

    item_id: Id
    disable: bool = Field(False, description="Also disable the item (no worker gets it again).")
    reason: str = Field("", max_length=item_reports.MAX_NOTE_CHARS)


class ReportsResolved(BaseModel):
    item_id: int
    resolved: int
    disabled: bool


@router.post(
    "/assignments/{assignment_id}/report",
    summary="Report a problem with the item; it is skipped and never offered to you again",
    status_code=status.HTTP_201_CREATED,
    responses={
        200: {"description": "You had reported this item already: the first report"},
        **error_responses(409),
    },
)
def report_item(
    assignment_id: Id, body: ItemReportCreate, db: DatabaseDep, actor: CurrentUser,
    response: Response,
) -> ItemReportReceipt:
    done = item_reports.report_item(
        db, actor=actor, assignment_id=assignment_id, reason=body.reason, note=body.note
    )
    if not done.created:
        response.status_code = status.HTTP_200_OK
    return ItemReportReceipt(
        report_id=done.report.id,
        item_id=done.report.item_id,
        reason=ItemReportReason(done.report.reason),
        created_at=done.report.created_at,
        lease_released=done.released,
    )


@router.get(
    "/projects/{project_id}/reports",
    summary="Item reports, in id order (managers)",
)
def list_reports(
    project_id: SmallId,
    db: DatabaseDep,
    actor: CurrentUser,
    state: Annotated[
        str, Query(pattern="^(open|all)$", description="open (default) or all")
    ] = "open",
    item_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
    after: Annotated[
        int, Query(ge=0, le=MAX_ID, description="The last report id of the previous page")
    ] = 0,
    limit: Annotated[int, Query(ge=1, le=item_reports.MAX_PAGE)] = 100,
) -> list[ItemReportPublic]:
    rows = item_reports.list_reports(
        db,
        actor=actor,
        project_id=project_id,
        open_only=state == "open",
        after_id=after,
        limit=limit,
        item_id=item_id,
    )
    return [ItemReportPublic.of(row) for row in rows]


@router.post(
    "/projects/{project_id}/reports/resolve",
    summary="Close an item's open reports, optionally disabling the item (managers)",
)
def resolve_reports(
    project_id: SmallId, body: ReportsResolve, db: DatabaseDep, actor: CurrentUser
) -> ReportsResolved:
    closed = item_reports.resolve_item_reports(
        db,
        actor=actor,
        project_id=project_id,
        item_id=body.item_id,
        disable=body.disable,
        reason=body.reason,
    )
    return ReportsResolved(item_id=body.item_id, resolved=closed, disabled=body.disable)
