"""The console's Flags page (``/manage/projects/{id}/flags``): items workers reported, with
their reasons, notes and counts, and the manager's actions on each (resolve, or disable the
item). The page has one section per kind of flag, so the workers the rules flag can be a
second list beside the reported items."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response

from expertloop.api.deps import DatabaseDep
from expertloop.api.schemas import Id, SmallId
from expertloop.domain import ItemReportReason
from expertloop.errors import ExpertloopError, InputInvalid
from expertloop.services import item_reports, projects
from expertloop.web.pages import (
    check_form_csrf,
    error_page,
    page_context,
    redirect,
    redirect_to_login,
)
from expertloop.web.rendering import render_page
from expertloop.web.sessions import session_user

__all__ = ["PAGE_SIZE", "REASON_LABELS", "router"]

router = APIRouter(include_in_schema=False)

PAGE_SIZE = 50
REASON_LABELS = {
    ItemReportReason.BROKEN: "Broken",
    ItemReportReason.AMBIGUOUS: "Ambiguous",
    ItemReportReason.HARMFUL: "Harmful",
    ItemReportReason.OUTSIDE_EXPERTISE: "Outside their expertise",
}


def _reasons(reports: list[Any]) -> list[tuple[str, int]]:
    counts: dict[str, int] = {}
    for report in reports:
        counts[report.reason] = counts.get(report.reason, 0) + 1
    return [(REASON_LABELS[ItemReportReason(r)], n) for r, n in counts.items()]


@router.get("/manage/projects/{project_id}/flags")
def flags_page(
    project_id: SmallId,
    request: Request,
    db: DatabaseDep,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
) -> Response:
    user = session_user(request)
    if user is None:
        return redirect_to_login(request)
    try:
        project = projects.get_project(db, actor=user, project_id=project_id)
        flagged = item_reports.flagged_items(
            db, actor=user, project_id=project_id, limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE
        )
    except ExpertloopError as exc:
        return error_page(request, user, exc)
    items = [
        {
            "item": item,
            "reasons": _reasons(item.reports),
            "notes": [r for r in item.reports if r.note],
        }
        for item in flagged.items
    ]
    return render_page(
        request,
        "console/flags.html",
        {
            **page_context(request, user),
            "project": project,
            "tab": "flags",
            "reported": items,
            "reported_total": flagged.total,
            "page": page,
            "pages": max(1, -(-flagged.total // PAGE_SIZE)),
            "done": request.query_params.get("done", ""),
        },
    )


@router.post("/manage/projects/{project_id}/flags/{item_id}")
async def act_on_item(
    project_id: SmallId, item_id: Id, request: Request, db: DatabaseDep
) -> Response:
    """The form of one reported item: ``action=resolve`` closes its reports (the item stays
    in service); ``action=disable`` disables the item too, with ``reason``."""
    user = session_user(request)
    if user is None:
        return redirect_to_login(request)
    form = await request.form()
    try:
        check_form_csrf(request, form)
        action = str(form.get("action") or "")
        if action not in ("resolve", "disable"):
            raise InputInvalid.on_field("action", "action must be resolve or disable")
        item_reports.resolve_item_reports(
            db,
            actor=user,
            project_id=project_id,
            item_id=item_id,
            disable=action == "disable",
            reason=str(form.get("reason") or ""),
        )
    except ExpertloopError as exc:
        return error_page(request, user, exc)
    return redirect(f"/manage/projects/{project_id}/flags?done={action}d-{item_id}")
