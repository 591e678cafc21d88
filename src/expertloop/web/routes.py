"""The experts' web UI: sign-in, the worker's home, one task page and one review page per
project.

Handlers only load, authorise and render; the work itself goes through the same services as
the REST API. The task page is a shell: its script asks ``POST /ui/projects/{id}/next`` for
the next item as a server-rendered HTML fragment (so untrusted text is sanitised on the
server) and submits answers to the REST API with the session's CSRF token. The review page
works the same way: ``POST /ui/projects/{id}/reviews/next`` holds the next answer to review
and returns it as a fragment, ``POST /ui/reviews/{id}/decision`` records the reviewer's
decision and returns the next one.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from datetime import timedelta
from typing import Any

import orjson
from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse
from jinja2 import TemplateNotFound
from markupsafe import Markup
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from expertloop.api.deps import CurrentUser, DatabaseDep
from expertloop.api.schemas import Id, ReviewDecision, SmallId, iso_utc
from expertloop.domain import (
    Assignment,
    Project,
    Review,
    User,
    can_review_answers,
)
from expertloop.errors import ExpertloopError, NotAuthenticated, PermissionDenied, TooManyAttempts
from expertloop.services import assignments, auth, counters, projects, reviews
from expertloop.services.auth import TokenAuthenticator
from expertloop.services.runtime import Runtime
from expertloop.settings import Settings
from expertloop.store import Database
from expertloop.tasks import get_task_type
from expertloop.web.markdown import render_markdown
from expertloop.web.pages import error_page, page_context, redirect, redirect_to_login
from expertloop.web.rendering import (
    render_page,
    render_string,
    task_template_name,
)
from expertloop.web.sessions import (
    SESSION_COOKIE,
    csrf_token_matches,
    session_user,
)
from expertloop.web.workforce import home_qualifications

__all__ = ["SESSION_LIFETIME", "render_review_fragment", "render_task_fragment", "router"]

log = logging.getLogger("expertloop.web")

router = APIRouter(include_in_schema=False)

SESSION_LIFETIME = timedelta(days=7)
SESSION_NAME = "web-session"
# Signs the sign-in form itself, so another site cannot sign a visitor in to its account.
LOGIN_COOKIE = "expertloop_login"


def _settings(request: Request) -> Settings:
    return request.app.state.settings


def _secure(request: Request) -> bool:
    return request.url.scheme == "https"


def _safe_next(target: str | None) -> str:
    """Only same-site paths: an open redirect would make the login page a phishing aid."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


def _login_csrf(secret_key: str, nonce: str) -> str:
    return hmac.new(secret_key.encode(), b"login:" + nonce.encode(), hashlib.sha256).hexdigest()


# --- signing in and out -----------------------------------------------------------------


def _login_response(
    request: Request,
    *,
    next_path: str,
    username: str = "",
    error: str | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    nonce = secrets.token_urlsafe(24)
    response = render_page(
        request,
        "login.html",
        {
            "user": None,
            "csrf_token": _login_csrf(_settings(request).secret_key, nonce),
            "next": next_path,
            "username": username,
            "error": error,
        },
        status_code=status_code,
    )
    response.set_cookie(
        LOGIN_COOKIE,
        nonce,
        max_age=24 * 3600,
        path="/login",
        httponly=True,
        samesite="lax",
        secure=_secure(request),
    )
    return response


@router.get("/login")
def login_page(request: Request, next: str = "/") -> Response:
    if session_user(request) is not None:
        return redirect(_safe_next(next))
    return _login_response(request, next_path=_safe_next(next))


@router.post("/login")
async def login(request: Request) -> Response:
    form = await request.form()
    username = str(form.get("username") or "").strip()
    password = str(form.get("password") or "")
    next_path = _safe_next(str(form.get("next") or "/"))
    nonce = request.cookies.get(LOGIN_COOKIE, "")
    settings = _settings(request)
    if not nonce or not hmac.compare_digest(
        _login_csrf(settings.secret_key, nonce), str(form.get("csrf_token") or "")
    ):
        return _login_response(
            request,
            next_path=next_path,
            username=username,
            error="This sign-in form has expired. Please sign in again.",
            status_code=400,
        )
    if not username or not password:
        return _login_response(
            request,
            next_path=next_path,
            username=username,
            error="Enter your username and your password.",
            status_code=400,
        )
    runtime: Runtime = request.app.state.runtime
    db = runtime.database
    try:
        token = await run_in_threadpool(
            lambda: auth.issue_token(
                db,
                username=username,
                password=password,
                name=SESSION_NAME,
                lifetime=SESSION_LIFETIME,
                address=request.client.host if request.client else "unknown",
                limits=runtime.signin_limits,
            )
        )
    except TooManyAttempts as exc:
        refused = _login_response(
            request,
            next_path=next_path,
            username=username,
            error=f"Too many failed sign-ins. Try again in {_wait_text(exc.retry_after)}.",
            status_code=429,
        )
        refused.headers["Retry-After"] = str(exc.retry_after)
        return refused
    except NotAuthenticated as exc:
        message = exc.message[:1].upper() + exc.message[1:] + "."
        return _login_response(
            request, next_path=next_path, username=username, error=message, status_code=401
        )
    response = redirect(next_path)
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=int(SESSION_LIFETIME.total_seconds()),
        path="/",
        httponly=True,
        samesite="lax",
        secure=_secure(request),
    )
    response.delete_cookie(LOGIN_COOKIE, path="/login")
    return response


def _wait_text(seconds: int) -> str:
    minutes = -(-seconds // 60)
    if seconds < 60:
        return f"{seconds} seconds"
    return "1 minute" if minutes == 1 else f"{minutes} minutes"


@router.post("/logout")
async def logout(request: Request) -> Response:
    form = await request.form()
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        if not csrf_token_matches(
            _settings(request).secret_key, token, str(form.get("csrf_token") or "")
        ):
            return render_page(
                request,
                "error.html",
                {
                    "user": None,
                    "csrf_token": "",
                    "title": "Not allowed",
                    "message": "The sign-out request did not come from this site's page.",
                },
                status_code=403,
            )
        db = request.app.state.database
        await run_in_threadpool(lambda: auth.revoke_token(db, token))
        authenticator: TokenAuthenticator = request.app.state.authenticator
        authenticator.forget(token)
    response = redirect("/login")
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


# --- pages ------------------------------------------------------------------------------


@router.get("/")
def home(request: Request, db: DatabaseDep) -> Response:
    user = session_user(request)
    if user is None:
        return redirect_to_login(request)
    rows = []
    exams = home_qualifications(db, user)
    # Hands out nothing when archived; managers find it in the console.
    shown = [p for p in projects.list_projects(db, actor=user) if not p.is_archived]
    counted = counters.project_counts(db, [p.id for p in shown])  # kept off the hot path
    for project in shown:
        progress = counted[project.id].counts
        rows.append(
            {
                "project": project,
                "progress": progress,
                # Items complete, as the bar's text says (not answers collected).
                "percent": (
                    round(100 * progress.items_complete / progress.items) if progress.items else 0
                ),
                "review": _review_queue(db, user, project),
                "qualification": exams.get(project.id),
            }
        )
    return render_page(request, "home.html", {**page_context(request, user), "rows": rows})


def _review_queue(db: Database, user: User, project: Project) -> dict[str, Any] | None:
    """What the home page says about the project's review queue: how many reviews the user
    could take now (up to :data:`_REVIEW_COUNT_CAP`); ``None`` for a user who may not
    review the project."""
    if not can_review_answers(user, is_member=project.is_member):
        return None
    available = reviews.available_reviews(
        db, actor=user, project_id=project.id, cap=_REVIEW_COUNT_CAP
    )
    shown = f"{available}+" if available >= _REVIEW_COUNT_CAP else str(available)
    return {"pending": available, "shown": shown, "waiting": available > 0}


_REVIEW_COUNT_CAP = 1000


@router.get("/projects/{project_id}")
def work_page(project_id: SmallId, request: Request, db: DatabaseDep) -> Response:
    user = session_user(request)
    if user is None:
        return redirect_to_login(request)
    try:
        project = projects.get_project(db, actor=user, project_id=project_id)
    except ExpertloopError as exc:
        return error_page(request, user, exc)
    return render_page(request, "work.html", {**page_context(request, user), "project": project})


def _reviewable_project(db: Database, user: User, project_id: int) -> Project:
    project = projects.get_project(db, actor=user, project_id=project_id)
    if not can_review_answers(user, is_member=project.is_member):
        raise PermissionDenied("Only the project's reviewers and managers can review its answers.")
    return project


@router.get("/projects/{project_id}/review")
def review_page(project_id: SmallId, request: Request, db: DatabaseDep) -> Response:
    user = session_user(request)
    if user is None:
        return redirect_to_login(request)
    try:
        project = _reviewable_project(db, user, project_id)
    except ExpertloopError as exc:
        return error_page(request, user, exc)
    return render_page(request, "review.html", {**page_context(request, user), "project": project})


# --- the task fragment ------------------------------------------------------------------


def render_task_fragment(project: Project, assignment: Assignment) -> str:
    """The HTML form of one assignment. A task type without a template is a server error."""
    try:
        return render_string(
            task_template_name(project.task_type),
            {
                "project": project,
                "config": project.config,
                "payload": assignment.item.payload,
                "assignment_id": assignment.id,
                "item_id": assignment.item.id,
            },
        )
    except TemplateNotFound:
        log.error("no web template for task type %r", project.task_type)
        raise


def _json(body: dict[str, Any], db: Database) -> Response:
    # The pages' countdowns compare lease expiries with the server's time, not the browser's.
    body["server_time"] = iso_utc(db.clock.now())
    return Response(
        orjson.dumps(body),
        media_type="application/json",
        headers={"X-Content-Type-Options": "nosniff", "Cache-Control": "no-store"},
    )


@router.post("/ui/projects/{project_id}/next")
def next_fragment(project_id: SmallId, db: DatabaseDep, actor: CurrentUser) -> Response:
    """The caller's next item as ``{assignment_id, expires_at, server_time, html}``."""
    project = projects.get_project(db, actor=actor, project_id=project_id)
    assignment = assignments.next_assignment(db, actor=actor, project_id=project_id)
    body: dict[str, Any]
    if assignment is None:
        body = {
            "assignment_id": None,
            "html": render_string("done.html", {"project": project}),
        }
    else:
        body = {
            "assignment_id": assignment.id,
            "item_id": assignment.item.id,
            "expires_at": iso_utc(assignment.expires_at),
            "lease_seconds": project.lease_seconds,
            "max_extensions": project.max_lease_extensions,
            "html": render_task_fragment(project, assignment),
        }
    return _json(body, db)


# --- the review fragment ----------------------------------------------------------------


def render_review_fragment(project: Project, review: Review) -> str:
    """One answer under review: the item in the task type's own form (in canonical order, as
    the answer is in canonical terms; the page's script selects the worker's answer in it),
    what is known about the answer, and the decision buttons."""
    task = get_task_type(project.task_type)
    form = render_string(
        task_template_name(project.task_type),
        {
            "project": project,
            "config": project.config,
            "payload": task.present(review.payload, None),
            "assignment_id": None,
            "item_id": review.item_id,
            # The answer under review (canonical), for forms that show what it holds beyond
            # the questions (a red-team conversation).
            "answer": review.answer,
        },
    )
    return render_string(
        "review_item.html",
        {
            "project": project,
            "review": review,
            # Rendered above with autoescaping and sanitised Markdown, like the task page.
            "form": Markup(form),
            "time_on_task": _duration_text(review.duration_ms),
            "answered_at": review.answered_at.strftime("%d %b %Y, %H:%M UTC"),
            "answered_iso": iso_utc(review.answered_at),
        },
    )


def _duration_text(ms: int) -> str:
    seconds = max(0, round(ms / 1000))
    if seconds < 60:
        return f"{seconds} s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {seconds:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def _next_review_body(db: Database, actor: User, project: Project) -> dict[str, Any]:
    review = reviews.next_review(db, actor=actor, project_id=project.id)
    if review is None:
        return {
            "review_id": None,
            "html": render_string("review_done.html", {"project": project}),
        }
    return {
        "review_id": review.id,
        "answer": review.answer,
        "lease_expires_at": iso_utc(review.lease_expires_at) if review.lease_expires_at else None,
        "html": render_review_fragment(project, review),
    }


@router.post("/ui/projects/{project_id}/reviews/next")
def next_review_fragment(project_id: SmallId, db: DatabaseDep, actor: CurrentUser) -> Response:
    """The caller's next review (the one they hold, if any) as
    ``{review_id, answer, lease_expires_at, server_time, html}``; ``review_id`` is null when
    the queue holds nothing for them."""
    project = _reviewable_project(db, actor, project_id)
    return _json(_next_review_body(db, actor, project), db)


@router.post("/ui/reviews/{review_id}/decision")
def review_decision(
    review_id: Id, body: ReviewDecision, db: DatabaseDep, actor: CurrentUser
) -> Response:
    """Record the decision, then hold and return the next review like the route above, with
    ``decided: {review_id, status}``. Errors are the API's (422 with the field, 409 when the
    review was decided already or another reviewer holds it)."""
    decided = reviews.decide_review(db, actor=actor, review_id=review_id, **body.model_dump())
    project = projects.get_project(db, actor=actor, project_id=decided.project_id)
    result = _next_review_body(db, actor, project)
    result["decided"] = {"review_id": decided.id, "status": decided.status}
    return _json(result, db)


class PreviewRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: str = Field(max_length=200_000)


@router.post("/ui/preview")
def preview(body: PreviewRequest, _actor: CurrentUser) -> Response:
    """Markdown as the experts' pages show it, rendered and sanitised on the server."""
    return Response(
        orjson.dumps({"html": str(render_markdown(body.text))}),
        media_type="application/json",
        headers={"X-Content-Type-Options": "nosniff", "Cache-Control": "no-store"},
    )
