"""The manager's item browser (``/manage/projects/{id}/items``) and item page
(``/manage/projects/{id}/items/{item_id}``), with its actions: disable, enable, promote the
consensus to gold (plain HTML forms with the session's CSRF token; each redirects back).

Handlers load, authorise (the services refuse workers with 403 and hide other managers'
projects with 404) and render; the data comes from :mod:`expertloop.services.console_items`.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, FastAPI, Request, Response
from jinja2 import TemplateNotFound
from markupsafe import Markup
from starlette.concurrency import run_in_threadpool

from expertloop.api.schemas import Id, SmallId, iso_utc
from expertloop.errors import ExpertloopError
from expertloop.services import console_items, item_admin
from expertloop.services.dashboard import fresh_snapshot
from expertloop.services.runtime import Runtime
from expertloop.web.pages import (
    check_form_csrf,
    error_page,
    page_context,
    redirect,
    redirect_to_login,
)
from expertloop.web.rendering import render_page, render_string, task_template_name
from expertloop.web.sessions import session_user

__all__ = ["install_console_items", "router"]

router = APIRouter(include_in_schema=False)

_NOTICES = {
    "disabled": "The item is disabled: it is no longer handed out.",
    "enabled": "The item is enabled: it is handed out again while it needs answers.",
    "gold": "The item's consensus is now its gold.",
}


def _runtime(request: Request) -> Runtime:
    return request.app.state.runtime


def _duration(ms: int) -> str:
    seconds = max(0, round(ms / 1000))
    if seconds < 60:
        return f"{seconds} s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {seconds:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def _url(project_id: int, **query: Any) -> str:
    kept = {k: v for k, v in query.items() if v not in (None, "")}
    base = f"/manage/projects/{project_id}/items"
    return f"{base}?{urlencode(kept)}" if kept else base


@router.get("/manage/projects/{project_id:int}/items")
def items_page(
    project_id: SmallId,
    request: Request,
    filter: str | None = None,
    sort: str = "id",
    q: str = "",
    after: str | None = None,
) -> Response:
    user = session_user(request)
    if user is None:
        return redirect_to_login(request)
    runtime = _runtime(request)
    db = runtime.database
    try:
        # A small project's snapshot is brought up to date first, so sorting by confidence
        # shows what its answers say now.
        with db.read() as conn:
            console_items.managed_project(conn, actor=user, project_id=project_id)
        fresh_snapshot(
            db, project_id, inline_max_items=runtime.settings.export_job_threshold_items
        )
        page = console_items.browse_items(
            db, actor=user, project_id=project_id, filter_key=filter or None, sort=sort,
            after=after, search=q,
        )
    except ExpertloopError as exc:
        return error_page(request, user, exc)
    filters = [
        {"key": None, "label": "All", "url": _url(project_id, sort=page.sort, q=page.search),
         "current": page.filter_key is None},
        *(
            {"key": f.key, "label": f.label,
             "url": _url(project_id, filter=f.key, sort=page.sort, q=page.search),
             "current": page.filter_key == f.key}
            for f in console_items.FILTERS
        ),
    ]
    sorts = [
        {"key": key, "label": label, "current": page.sort == key,
         "url": _url(project_id, filter=page.filter_key, sort=key)}
        for key, label in (
            ("id", "Oldest first"),
            ("confidence", "Least confident first"),
            ("disagreement", "Most disagreement first"),
        )
    ]
    next_url = (
        _url(project_id, filter=page.filter_key, sort=page.sort, q=page.search,
             after=page.next_cursor)
        if page.next_cursor
        else None
    )
    return render_page(
        request,
        "console/items.html",
        {
            **page_context(request, user),
            "project": page.project,
            "tab": "items",
            "page": page,
            "filters": filters,
            "sorts": sorts,
            "next_url": next_url,
            "first_url": _url(project_id, filter=page.filter_key, sort=page.sort, q=page.search)
            if after else None,
            "snapshot_iso": iso_utc(page.snapshot_at) if page.snapshot_at else None,
        },
    )


@router.get("/manage/projects/{project_id:int}/items/{item_id:int}")
def item_page(project_id: SmallId, item_id: Id, request: Request, done: str = "") -> Response:
    user = session_user(request)
    if user is None:
        return redirect_to_login(request)
    runtime = _runtime(request)
    db = runtime.database
    try:
        with db.read() as conn:
            console_items.managed_project(conn, actor=user, project_id=project_id)
        fresh_snapshot(
            db, project_id, inline_max_items=runtime.settings.export_job_threshold_items
        )
        data = console_items.item_page(
            db, actor=user, project_id=project_id, item_id=item_id,
            secret_key=runtime.settings.secret_key,
        )
    except ExpertloopError as exc:
        return error_page(request, user, exc)
    project = data.project
    try:
        # The task's own template, as the review page shows it: autoescaped, Markdown
        # sanitised; rendered inert (no answering here).
        form = render_string(
            task_template_name(project.task_type),
            {
                "project": project,
                "config": project.config,
                "payload": data.shown_payload,
                "assignment_id": None,
                "item_id": data.item.id,
            },
        )
    except TemplateNotFound:
        form = ""
    answers = [
        {
            "view": a,
            "duration": _duration(a.row.duration_ms),
            "at": a.row.created_at.strftime("%d %b %Y, %H:%M UTC"),
            "at_iso": iso_utc(a.row.created_at),
        }
        for a in data.answers
    ]
    return render_page(
        request,
        "console/item.html",
        {
            **page_context(request, user),
            "project": project,
            "tab": "items",
            "data": data,
            "item": data.item,
            "form": Markup(form),
            "answers": answers,
            "notice": _NOTICES.get(done),
            "snapshot_iso": iso_utc(data.snapshot_at) if data.snapshot_at else None,
        },
    )


async def _form_action(request: Request, project_id: int, item_id: int, action: Any) -> Response:
    user = session_user(request)
    if user is None:
        return redirect_to_login(request)
    form = await request.form()
    try:
        check_form_csrf(request, form)
        done = await run_in_threadpool(lambda: action(user, form))
    except ExpertloopError as exc:
        return error_page(request, user, exc)
    return redirect(f"/manage/projects/{project_id}/items/{item_id}?done={done}")


def _check_item(request: Request, user: Any, project_id: int, item_id: int) -> None:
    """The item belongs to the project in the URL and ``user`` manages it."""
    console_items.managed_item(
        _runtime(request).database, actor=user, project_id=project_id, item_id=item_id
    )


@router.post("/manage/projects/{project_id:int}/items/{item_id:int}/disable")
async def disable(project_id: SmallId, item_id: Id, request: Request) -> Response:
    db = _runtime(request).database

    def act(user: Any, form: Any) -> str:
        _check_item(request, user, project_id, item_id)
        item_admin.disable_item(
            db, actor=user, item_id=item_id, reason=str(form.get("reason") or "")
        )
        return "disabled"

    return await _form_action(request, project_id, item_id, act)


@router.post("/manage/projects/{project_id:int}/items/{item_id:int}/enable")
async def enable(project_id: SmallId, item_id: Id, request: Request) -> Response:
    db = _runtime(request).database

    def act(user: Any, _form: Any) -> str:
        _check_item(request, user, project_id, item_id)
        item_admin.enable_item(db, actor=user, item_id=item_id)
        return "enabled"

    return await _form_action(request, project_id, item_id, act)


@router.post("/manage/projects/{project_id:int}/items/{item_id:int}/gold")
async def promote(project_id: SmallId, item_id: Id, request: Request) -> Response:
    db = _runtime(request).database

    def act(user: Any, _form: Any) -> str:
        console_items.promote_to_gold(
            db, actor=user, project_id=project_id, item_id=item_id, from_consensus=True
        )
        return "gold"

    return await _form_action(request, project_id, item_id, act)


def install_console_items(app: FastAPI, _runtime: Runtime) -> None:
    app.include_router(router)
