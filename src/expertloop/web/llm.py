"""The app's part for model providers and judges: the provider keys stored in the app's
database are encrypted with the app's secret key (``services/llm/providers.py``), and the
manager's judges page ``/manage/projects/{id}/judges`` shows triage as applied, in words,
and each judge's calibration against the experts (read-only; runs and settings go through
the API)."""

from __future__ import annotations

from fastapi import APIRouter, FastAPI, Request, Response

from expertloop.api.deps import DatabaseDep
from expertloop.api.schemas import SmallId
from expertloop.errors import ExpertloopError
from expertloop.services import llm, projects
from expertloop.services.runtime import Runtime
from expertloop.web.pages import error_page, page_context, redirect_to_login
from expertloop.web.rendering import render_page
from expertloop.web.sessions import session_user

__all__ = ["install", "router"]

router = APIRouter(include_in_schema=False)


@router.get("/manage/projects/{project_id}/judges")
def judges_page(project_id: SmallId, request: Request, db: DatabaseDep) -> Response:
    user = session_user(request)
    if user is None:
        return redirect_to_login(request)
    try:
        project = projects.get_project(db, actor=user, project_id=project_id)
        settings = llm.get_llm_settings(db, actor=user, project_id=project_id)
        triage = llm.get_triage(db, actor=user, project_id=project_id)
        calibration = llm.calibrate(
            db, actor=user, project_id=project_id,
            inline_max_items=request.app.state.settings.export_job_threshold_items,
        )
    except ExpertloopError as exc:
        return error_page(request, user, exc)
    return render_page(
        request,
        "console/judges.html",
        {
            **page_context(request, user),
            "project": project,
            "tab": "judges",
            "settings": settings,
            "triage": triage,
            "calibration": calibration,
        },
    )


def install(app: FastAPI, runtime: Runtime) -> None:
    llm.use_secret_key(runtime.database, runtime.settings.secret_key)
    app.include_router(router)
