"""The worker's "My work" page (``/me``): their answers in one project, newest first, with
review outcomes, rejection reasons and what a reviewer's fix changed, and their own numbers
(agreement with the consensus, gold accuracy). The same data as ``GET /api/v1/me/answers``
and ``/me/stats``."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response

from expertloop.api.deps import DatabaseDep
from expertloop.api.schemas import MAX_ID, SmallId
from expertloop.errors import ExpertloopError, NotFound
from expertloop.services import my_work, projects
from expertloop.web.pages import error_page, page_context, redirect_to_login
from expertloop.web.rendering import render_page
from expertloop.web.sessions import session_user

__all__ = ["PAGE_SIZE", "router", "shown_value"]

router = APIRouter(include_in_schema=False)

PAGE_SIZE = 25


def shown_value(value: Any) -> str:
    """An answer's value as text: strings as they are, anything else as compact JSON."""
    if value is None:
        return "—"
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "yes" if value else "no"
    return json.dumps(value, ensure_ascii=False)


def _fields(answer: dict[str, Any]) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    for key, value in answer.items():
        if isinstance(value, dict) and value:
            out.extend((f"{key} · {k}", shown_value(v)) for k, v in value.items())
        elif value not in ("", None):
            out.append((key, shown_value(value)))
    return out


@router.get("/me")
def my_work_page(
    request: Request,
    db: DatabaseDep,
    project: Annotated[SmallId | None, Query()] = None,
    before: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
) -> Response:
    user = session_user(request)
    if user is None:
        return redirect_to_login(request)
    mine = projects.list_projects(db, actor=user)
    chosen = next((p for p in mine if p.id == project), None) if project else None
    if chosen is None and project is None and mine:
        chosen = mine[0]
    context: dict[str, Any] = {
        **page_context(request, user),
        "projects": mine,
        "project": chosen,
        "answers": [],
        "stats": None,
        "older": None,
        "before": before,
    }
    if chosen is None:
        if project is not None:
            return error_page(request, user, NotFound(f"project {project} not found"))
        return render_page(request, "my_work.html", context)
    try:
        answers = my_work.my_answers(
            db, actor=user, project_id=chosen.id, before_id=before, limit=PAGE_SIZE + 1
        )
        stats = my_work.my_stats(db, actor=user, project_id=chosen.id)
    except ExpertloopError as exc:
        return error_page(request, user, exc)
    more = len(answers) > PAGE_SIZE
    answers = answers[:PAGE_SIZE]
    context.update(
        answers=[{"answer": a, "fields": _fields(a.answer)} for a in answers],
        stats=stats,
        older=answers[-1].id if more and answers else None,
        shown_value=shown_value,
    )
    return render_page(request, "my_work.html", context)
