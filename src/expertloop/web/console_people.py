"""The console's user directory (``/manage/people``): managers and admins search it by
username a page at a time; admins create accounts and suspend or reactivate them."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, FastAPI, Request, Response

from expertloop.api.deps import DatabaseDep
from expertloop.api.schemas import SmallId, UserCreate
from expertloop.domain import Role, User, can_manage_users
from expertloop.errors import ExpertloopError
from expertloop.services import access, users
from expertloop.services.runtime import Runtime
from expertloop.store import Database
from expertloop.web.console_forms import errors_by_field, validate_schema
from expertloop.web.console_projects import DIRECTORY_PAGE, Refused, console_user
from expertloop.web.pages import check_form_csrf, error_page, page_context, redirect
from expertloop.web.rendering import render_page
from expertloop.web.sessions import session_user

__all__ = ["install_console_people", "router"]

router = APIRouter(include_in_schema=False)


def install_console_people(app: FastAPI, _runtime: Runtime) -> None:
    app.include_router(router)


# --- people -------------------------------------------------------------------------------


def _people_page(
    request: Request,
    db: Database,
    user: User,
    *,
    form: Mapping[str, Any] | None = None,
    errors: Mapping[str, str] | None = None,
    notice: str = "",
    status_code: int = 200,
) -> Response:
    q = request.query_params.get("q", "")[:150].replace("\x00", "")
    after = request.query_params.get("after")
    after = after[:150].replace("\x00", "") if after else None
    page = users.search_users(db, actor=user, q=q, after=after, limit=DIRECTORY_PAGE)
    return render_page(
        request,
        "console/people.html",
        {
            **page_context(request, user),
            "tab": "people",
            "q": q,
            "after": after,
            "page": page,
            "can_manage": can_manage_users(user),
            "roles": [r.value for r in Role],
            "form": form or {"username": "", "role": Role.WORKER.value},
            "errors": errors or {},
            "notice": notice,
        },
        status_code=status_code,
    )


@router.get("/manage/people")
def people(request: Request, db: DatabaseDep) -> Response:
    try:
        user = console_user(request)
    except Refused as refused:
        return refused.response
    notice = ""
    for key, text in (
        ("created", "Account {} created: give them the password you chose."),
        ("suspended", "{} suspended: they can no longer sign in, and their leases ended."),
        ("reactivated", "{} reactivated."),
    ):
        if request.query_params.get(key):
            notice = text.format(request.query_params[key])
    return _people_page(request, db, user, notice=notice)


@router.post("/manage/people")
async def create_account(request: Request, db: DatabaseDep) -> Response:
    try:
        user = console_user(request)
        form = await request.form()
        check_form_csrf(request, form)
    except Refused as refused:
        return refused.response
    except ExpertloopError as exc:
        return error_page(request, session_user(request), exc)
    values = {
        "username": str(form.get("username") or "").strip(),
        "password": str(form.get("password") or ""),
        "role": str(form.get("role") or ""),
    }
    shown = {"username": values["username"], "role": values["role"]}
    errors = validate_schema(UserCreate, values)
    if not errors:
        try:
            created = users.create_user(
                db,
                actor=user,
                username=values["username"],
                password=values["password"],
                role=Role(values["role"]),
            )
        except ExpertloopError as exc:
            if exc.status == 403:
                return error_page(request, user, exc)
            errors = errors_by_field(exc)
            if "form" in errors:
                errors = {"username": errors["form"]}
        else:
            query = urlencode({"created": created.username, "q": created.username})
            return redirect(f"/manage/people?{query}")
    return _people_page(request, db, user, form=shown, errors=errors, status_code=422)


async def _set_active(request: Request, db: Database, user_id: int, active: bool) -> Response:
    try:
        user = console_user(request)
        check_form_csrf(request, await request.form())
        change = access.reactivate_user if active else access.suspend_user
        changed = change(
            db, actor=user, user_id=user_id, caches=request.app.state.runtime.access_caches
        )
    except Refused as refused:
        return refused.response
    except ExpertloopError as exc:
        return error_page(request, session_user(request), exc)
    done = "reactivated" if active else "suspended"
    return redirect(f"/manage/people?{urlencode({done: changed.username, 'q': changed.username})}")


@router.post("/manage/people/{user_id}/suspend")
async def suspend(user_id: SmallId, request: Request, db: DatabaseDep) -> Response:
    return await _set_active(request, db, user_id, False)


@router.post("/manage/people/{user_id}/reactivate")
async def reactivate(user_id: SmallId, request: Request, db: DatabaseDep) -> Response:
    return await _set_active(request, db, user_id, True)
