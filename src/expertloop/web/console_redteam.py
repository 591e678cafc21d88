"""The red-team campaign page (``/manage/projects/{id}/redteam``): attempts and success
rates per attack category and per target model, with intervals; the taxonomy's coverage;
near-duplicate attacks; the latest successful attacks. The numbers are in tables (the
chart's text alternative); ``static/console-redteam.js`` draws the success rates with uPlot
from a JSON block. Model output is shown as escaped text. The numbers come from the
campaign's snapshot (``services.redteam_campaigns``): the page says when they were computed
and how many answers arrived since."""

from __future__ import annotations

from fastapi import APIRouter, FastAPI, Request, Response

from expertloop.api.schemas import SmallId
from expertloop.errors import ExpertloopError
from expertloop.services import redteam_campaigns
from expertloop.services.clock import iso_utc
from expertloop.services.projects import get_project
from expertloop.services.redteam import Campaign
from expertloop.services.runtime import Runtime
from expertloop.web.dashboard import json_block
from expertloop.web.pages import error_page, page_context, redirect_to_login
from expertloop.web.rendering import render_page
from expertloop.web.sessions import session_user

__all__ = ["install", "router"]

router = APIRouter(include_in_schema=False)
# What the page shows while a large campaign's first snapshot is being computed.
_EMPTY = Campaign(0, 0, 0, 0, 0, [], [], [], [])


@router.get("/manage/projects/{project_id:int}/redteam")
def campaign_page(project_id: SmallId, request: Request) -> Response:
    user = session_user(request)
    if user is None:
        return redirect_to_login(request)
    db = request.app.state.runtime.database
    try:
        project = get_project(db, actor=user, project_id=project_id)
        view = redteam_campaigns.read_campaign(
            db, actor=user, project_id=project_id,
            inline_max_attempts=redteam_campaigns.INLINE_MAX_ATTEMPTS,
        )
    except ExpertloopError as exc:
        return error_page(request, user, exc)
    if view.job is not None:
        request.app.state.job_runner.wake()
    numbers = view.campaign or _EMPTY
    chart = {
        "categories": [r.key for r in numbers.by_category],
        "rate": [r.rate for r in numbers.by_category],
        "lower": [r.lower for r in numbers.by_category],
        "upper": [r.upper for r in numbers.by_category],
    }
    return render_page(
        request,
        "console/redteam.html",
        {
            **page_context(request, user),
            "project": project,
            "tab": "redteam",
            "campaign": numbers,
            "view": view,
            "computed_iso": iso_utc(view.computed_at) if view.computed_at else None,
            "chart_json": json_block(chart),
        },
    )


def install(app: FastAPI, _runtime: Runtime) -> None:
    app.include_router(router)
