"""The console's page of a grading project's per-principle statistics,
``/manage/projects/{id}/principles``: per principle of the constitution version it grades
against, Krippendorff's alpha with its 95% interval (drawn as server-rendered SVG, no
script), the not-applicable rate and coverage; the unclear principles listed first, with a
link to the constitution's draft to amend them. Linked from the constitution's page and from
the project's tabs (``grades_against_constitution``)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, FastAPI, Request, Response

from expertloop.api.deps import DatabaseDep
from expertloop.api.schemas import SmallId
from expertloop.errors import ExpertloopError
from expertloop.services import constitution_grading, projects
from expertloop.services.runtime import Runtime
from expertloop.web.console_projects import Refused, console_user
from expertloop.web.pages import error_page, page_context
from expertloop.web.rendering import render_page

__all__ = ["PLOT_WIDTH", "alpha_x", "install", "router"]

router = APIRouter(include_in_schema=False)

# The interval plot spans alpha from -1 to 1 over this many SVG units.
PLOT_WIDTH = 200


def install(app: FastAPI, _runtime: Runtime) -> None:
    app.include_router(router)


def alpha_x(value: float) -> float:
    """Where an alpha falls on the plot (values below -1 are drawn at its left edge)."""
    return round(PLOT_WIDTH * (min(max(value, -1.0), 1.0) + 1.0) / 2.0, 1)


def _rows(found: list[constitution_grading.PrincipleStats],
          config: dict[str, Any]) -> list[dict[str, Any]]:
    titles = {p["key"]: p.get("title", "") for p in config.get("principles", ())}
    rows = []
    for s in found:
        plot = None
        if s.alpha is not None:
            plot = {"x": alpha_x(s.alpha),
                    "low": None if s.alpha_low is None else alpha_x(s.alpha_low),
                    "high": None if s.alpha_high is None else alpha_x(s.alpha_high)}
        rows.append({"stats": s, "title": titles.get(s.key, ""), "plot": plot})
    return rows


@router.get("/manage/projects/{project_id}/principles")
def principle_stats_page(project_id: SmallId, request: Request, db: DatabaseDep) -> Response:
    try:
        user = console_user(request)
    except Refused as refused:
        return refused.response
    try:
        project = projects.get_project(db, actor=user, project_id=project_id)
        found = constitution_grading.principle_stats(db, actor=user, project_id=project_id)
    except ExpertloopError as exc:
        return error_page(request, user, exc)
    rows = _rows(found, project.config)
    return render_page(request, "console/principle_stats.html", {
        **page_context(request, user),
        "project": project,
        "tab": "principles",
        "rows": rows,
        "unclear": [r for r in rows if r["stats"].unclear],
        "threshold": constitution_grading.UNCLEAR_ALPHA,
        "threshold_x": alpha_x(constitution_grading.UNCLEAR_ALPHA),
        "zero_x": alpha_x(0.0),
        "plot_width": PLOT_WIDTH,
    })
