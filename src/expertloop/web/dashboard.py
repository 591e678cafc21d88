"""The project overview (``/manage/projects/{id}``): the manager's dashboard.

Server-rendered tables carry every number (they are also the charts' text alternative);
the charts are drawn by uPlot (vendored under ``static/vendor/uplot``) from a JSON block
(``<script type="application/json">``) that ``static/console-dashboard.js`` reads, so the
page needs no inline script or style. The numbers come from
:mod:`expertloop.services.dashboard` (the snapshot job's tables, never a refit).
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

from fastapi import APIRouter, FastAPI, Request, Response
from markupsafe import Markup

from expertloop.api.schemas import SmallId, iso_utc
from expertloop.errors import ExpertloopError
from expertloop.services import dashboard as dashboard_service
from expertloop.services.runtime import Runtime
from expertloop.web.pages import error_page, page_context, redirect_to_login
from expertloop.web.pay import pay_overview
from expertloop.web.rendering import render_page
from expertloop.web.sessions import session_user

__all__ = ["install_dashboard", "router"]

router = APIRouter(include_in_schema=False)

_EPOCH = datetime(1970, 1, 1)  # stored times are naive UTC


def json_block(value: Any) -> Markup:
    """JSON safe inside ``<script type="application/json">``: no ``<``, ``>`` or ``&`` that
    could end the element early."""
    text = json.dumps(value, ensure_ascii=False, allow_nan=False)
    text = text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return Markup(text)


def _eta_text(hours: float | None) -> str | None:
    if hours is None:
        return None
    if hours < 1:
        return f"{max(1, round(hours * 60))} min"
    if hours < 48:
        return f"{hours:.1f} h"
    return f"{hours / 24:.1f} days"


def _chart_data(data: dashboard_service.DashboardData, now: datetime) -> dict[str, Any]:
    hours = data.hours
    complete = [c for _, _, c in hours]
    channels = []
    stats = data.stats or {}
    for key, channel in (stats.get("channels") or {}).items():
        channels.append(
            {
                "key": key,
                "classes": channel["classes"],
                "answers": channel.get("answer_counts") or [0] * len(channel["classes"]),
                "consensus": channel["consensus_counts"],
            }
        )
    return {
        "progress": {
            "t": [int((h - _EPOCH).total_seconds()) for h, _, _ in hours],
            "from": int((now - _EPOCH).total_seconds())
            - dashboard_service.HISTORY_HOURS * 3600,
            "to": int((now - _EPOCH).total_seconds()),
            "answers": [n for _, n, _ in hours],
            "complete": complete,
        },
        "channels": channels,
    }


@router.get("/manage/projects/{project_id:int}")
def overview(project_id: SmallId, request: Request) -> Response:
    user = session_user(request)
    if user is None:
        return redirect_to_login(request)
    runtime: Runtime = request.app.state.runtime
    try:
        data = dashboard_service.dashboard(
            runtime.database, actor=user, project_id=project_id,
            secret_key=runtime.settings.secret_key,
            inline_max_items=runtime.settings.export_job_threshold_items,
        )
    except ExpertloopError as exc:
        return error_page(request, user, exc)
    stats = data.stats or {}
    recent = [
        (h.strftime("%d %b, %H:00"), n, c)
        for h, n, c in data.hours
        if h >= runtime.database.clock.now() - timedelta(hours=48)
    ]
    return render_page(
        request,
        "console/dashboard.html",
        {
            **page_context(request, user),
            "project": data.project,
            "tab": "overview",
            "data": data,
            "stats": stats,
            "channels": stats.get("channels") or {},
            "items": stats.get("items") or {},
            "position": stats.get("position_bias"),
            "recent_hours": list(reversed(recent)),
            "eta": _eta_text(data.eta_hours),
            "snapshot_iso": iso_utc(data.snapshot.computed_at) if data.snapshot else None,
            "chart_json": json_block(_chart_data(data, runtime.database.clock.now())),
            "pay": pay_overview(runtime, user, project_id),
        },
    )


def install_dashboard(app: FastAPI, _runtime: Runtime) -> None:
    app.include_router(router)
