"""The workforce in the console: a person's page (``/manage/people/{user_id}``) with their
skills (edited in place) and credentials (recorded, verified, removed), and a project's
exam results (``/manage/projects/{id}/exam``): every worker's standing on the qualification
exam the project names.

Plain HTML forms with the session's CSRF token (no script); each form posts back and
redirects to the page, errors are shown next to their fields with the services' messages.
The services check the roles (managers and admins) and audit every change.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, FastAPI, Request, Response

from expertloop.api.deps import DatabaseDep
from expertloop.api.schemas import Id, SmallId
from expertloop.domain import CredentialKind, Role, User
from expertloop.errors import ExpertloopError, NotFound
from expertloop.services import projects
from expertloop.services.runtime import Runtime
from expertloop.services.workforce import exams, skills
from expertloop.services.workforce import settings as workforce_settings
from expertloop.store import Database
from expertloop.web.console_forms import errors_by_field
from expertloop.web.console_projects import Refused, console_user
from expertloop.web.pages import check_form_csrf, error_page, page_context, redirect
from expertloop.web.rendering import render_page
from expertloop.web.sessions import session_user

__all__ = ["NEW_SKILL_ROWS", "install_console_workforce", "router"]

router = APIRouter(include_in_schema=False)

# Empty rows under a person's skills, for new ones (more after saving).
NEW_SKILL_ROWS = 3

_NOTICES = {
    "skills": "Skills saved.",
    "added": "Credential recorded.",
    "verified": "Credential marked verified by you.",
    "removed": "Credential removed.",
}


def install_console_workforce(app: FastAPI, _runtime: Runtime) -> None:
    app.include_router(router)


def _person_url(user_id: int, **query: str) -> str:
    base = f"/manage/people/{user_id}"
    return f"{base}?{urlencode(query)}" if query else base


def _person_page(
    request: Request,
    db: Database,
    user: User,
    user_id: int,
    *,
    skill_rows: list[dict[str, str]] | None = None,
    credential_form: Mapping[str, Any] | None = None,
    errors: Mapping[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    try:
        profile = skills.get_profile(db, actor=user, user_id=user_id)
    except ExpertloopError as exc:
        return error_page(request, user, exc)
    if skill_rows is None:
        skill_rows = [
            {"name": name, "level": str(level)} for name, level in sorted(profile.skills.items())
        ]
    rows = [*skill_rows, *({"name": "", "level": ""} for _ in range(NEW_SKILL_ROWS))]
    notice = _NOTICES.get(request.query_params.get("done", ""), "")
    return render_page(
        request,
        "console/person.html",
        {
            **page_context(request, user),
            "tab": "people",
            "person": profile.user,
            "skill_rows": rows,
            "credentials": profile.credentials,
            "kinds": [k.value for k in CredentialKind],
            "credential_form": credential_form
            or {"kind": CredentialKind.DEGREE.value, "title": "", "evidence": ""},
            "errors": errors or {},
            "notice": notice,
        },
        status_code=status_code,
    )


@router.get("/manage/people/{user_id:int}")
def person(user_id: SmallId, request: Request, db: DatabaseDep) -> Response:
    try:
        user = console_user(request)
    except Refused as refused:
        return refused.response
    return _person_page(request, db, user, user_id)


async def _form(request: Request) -> tuple[User, Any]:
    user = console_user(request)
    form = await request.form()
    check_form_csrf(request, form)
    return user, form


@router.post("/manage/people/{user_id:int}/skills")
async def save_skills(user_id: SmallId, request: Request, db: DatabaseDep) -> Response:
    try:
        user, form = await _form(request)
    except Refused as refused:
        return refused.response
    except ExpertloopError as exc:
        return error_page(request, session_user(request), exc)
    names = [str(v).strip() for v in form.getlist("skill")][:200]
    levels = [str(v).strip() for v in form.getlist("level")][:200]
    shown = [
        {"name": n, "level": lv}
        for n, lv in zip(names, levels + [""] * (len(names) - len(levels)), strict=False)
        if n or lv
    ]
    wanted: dict[str, Any] = {}
    for row in shown:
        if not row["name"]:
            return _person_page(
                request, db, user, user_id, skill_rows=shown,
                errors={"skills": f"a level ({row['level']}) has no skill name"},
                status_code=422,
            )
        level = row["level"]
        # A level that is not a whole number goes to the service as typed: it names it.
        wanted[row["name"]] = int(level) if level.isdigit() else level
    try:
        skills.set_skills(db, actor=user, user_id=user_id, skills=wanted)
    except ExpertloopError as exc:
        if exc.status in (403, 404):
            return error_page(request, user, exc)
        found = errors_by_field(exc)
        message = next(iter(found.values()))
        where = next(iter(found))
        return _person_page(
            request, db, user, user_id, skill_rows=shown,
            errors={"skills": f"{where}: {message}" if where != "form" else message},
            status_code=422,
        )
    return redirect(_person_url(user_id, done="skills"))


@router.post("/manage/people/{user_id:int}/credentials")
async def add_credential(user_id: SmallId, request: Request, db: DatabaseDep) -> Response:
    try:
        user, form = await _form(request)
    except Refused as refused:
        return refused.response
    except ExpertloopError as exc:
        return error_page(request, session_user(request), exc)
    values = {
        "kind": str(form.get("kind") or "")[:50],
        "title": str(form.get("title") or "")[:1000],
        "evidence": str(form.get("evidence") or "")[:20_000],
    }
    try:
        skills.add_credential(
            db, actor=user, user_id=user_id, kind=values["kind"], title=values["title"],
            evidence=values["evidence"], verified=form.get("verified") == "on",
        )
    except ExpertloopError as exc:
        if exc.status in (403, 404):
            return error_page(request, user, exc)
        return _person_page(
            request, db, user, user_id, credential_form=values, errors=errors_by_field(exc),
            status_code=422,
        )
    return redirect(_person_url(user_id, done="added"))


@router.post("/manage/people/{user_id:int}/credentials/{credential_id:int}/verify")
async def verify_credential(
    user_id: SmallId, credential_id: Id, request: Request, db: DatabaseDep
) -> Response:
    try:
        user, _ = await _form(request)
        skills.verify_credential(db, actor=user, user_id=user_id, credential_id=credential_id)
    except Refused as refused:
        return refused.response
    except ExpertloopError as exc:
        return error_page(request, session_user(request), exc)
    return redirect(_person_url(user_id, done="verified"))


@router.post("/manage/people/{user_id:int}/credentials/{credential_id:int}/remove")
async def remove_credential(
    user_id: SmallId, credential_id: Id, request: Request, db: DatabaseDep
) -> Response:
    try:
        user, _ = await _form(request)
        skills.delete_credential(db, actor=user, user_id=user_id, credential_id=credential_id)
    except Refused as refused:
        return refused.response
    except ExpertloopError as exc:
        return error_page(request, session_user(request), exc)
    return redirect(_person_url(user_id, done="removed"))


# --- a project's exam results ---------------------------------------------------------------


@router.get("/manage/projects/{project_id:int}/exam")
def exam_results(project_id: SmallId, request: Request, db: DatabaseDep) -> Response:
    try:
        user = console_user(request)
    except Refused as refused:
        return refused.response
    try:
        project = projects.get_project(db, actor=user, project_id=project_id)
        if user.role is not Role.ADMIN and not project.is_member:
            # Another manager's project: as the other console pages, "not found".
            raise NotFound(f"project {project_id} not found")
        found = workforce_settings.get_settings(db, actor=user, project_id=project_id)
        q = found.qualification
        results = exams.exam_statuses(db, actor=user, project_id=project_id) if q else []
    except ExpertloopError as exc:
        return error_page(request, user, exc)
    results = sorted(results, key=lambda r: (_ORDER.get(r.status, 9), r.username))
    counts: dict[str, int] = {}
    for r in results:
        counts[r.status] = counts.get(r.status, 0) + 1
    exam = None
    if q is not None:
        exam = {
            "id": q.exam_project_id,
            "name": results[0].exam_name if results else _name(db, user, q.exam_project_id),
            "pass_mark": round(100 * q.pass_mark),
            "retry_hours": round(q.retry_after_seconds / 3600, 1),
        }
    return render_page(
        request,
        "console/exam.html",
        {
            **page_context(request, user),
            "project": project,
            "tab": "exam",
            "settings": found,
            "exam": exam,
            "results": results,
            "counts": [(s, _STATUS_TEXT[s], counts.get(s, 0)) for s in _ORDER],
        },
    )


_ORDER = {"passed": 0, "in_progress": 1, "retry_available": 2, "failed": 3, "not_started": 4}
_STATUS_TEXT = {
    "passed": "Passed",
    "in_progress": "In progress",
    "retry_available": "May retry",
    "failed": "Not passed (waiting to retry)",
    "not_started": "Not started",
}


def _name(db: Database, user: User, project_id: int) -> str:
    try:
        return projects.get_project(db, actor=user, project_id=project_id).name
    except NotFound:
        return f"project {project_id}"
