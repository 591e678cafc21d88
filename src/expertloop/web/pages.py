"""What every server-rendered page shares: who is signed in, the page context, redirects,
error pages, and the CSRF check of a plain HTML form post.

The worker pages (:mod:`expertloop.web.routes`) and the manager's console pages use these, so a
page module only loads, authorises and renders.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse

from expertloop.domain import User
from expertloop.errors import ExpertloopError, PermissionDenied
from expertloop.settings import Settings
from expertloop.web.rendering import render_page, security_headers
from expertloop.web.sessions import SESSION_COOKIE, csrf_token_for, csrf_token_matches

__all__ = [
    "check_form_csrf",
    "error_page",
    "page_context",
    "redirect",
    "redirect_to_login",
]

ERROR_TITLES = {403: "Not allowed", 404: "Not found", 409: "Conflict", 422: "Invalid request"}


def _settings(request: Request) -> Settings:
    return request.app.state.settings


def redirect(url: str) -> RedirectResponse:
    """A 303 to ``url`` (after a form post the browser fetches the target with GET)."""
    return RedirectResponse(url, status_code=303, headers=security_headers())


def redirect_to_login(request: Request) -> RedirectResponse:
    """To the sign-in page, coming back to this page afterwards."""
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return redirect(f"/login?next={quote(target, safe='/')}")


def page_context(request: Request, user: User | None) -> dict[str, Any]:
    """The values ``base.html`` needs: the user and the session's CSRF token."""
    token = request.cookies.get(SESSION_COOKIE)
    csrf = csrf_token_for(_settings(request).secret_key, token) if user and token else ""
    return {"user": user, "csrf_token": csrf}


def error_page(request: Request, user: User | None, exc: ExpertloopError) -> HTMLResponse:
    """The HTML page of an error, with its status code."""
    return render_page(
        request,
        "error.html",
        {
            **page_context(request, user),
            "title": ERROR_TITLES.get(exc.status, "Error"),
            "message": exc.message,
        },
        status_code=exc.status,
    )


def check_form_csrf(request: Request, form: Any) -> None:
    """Refuse (403) a form post whose ``csrf_token`` field is not the session's token."""
    session = request.cookies.get(SESSION_COOKIE) or ""
    candidate = form.get("csrf_token") if form is not None else None
    if not session or not csrf_token_matches(
        _settings(request).secret_key, session, str(candidate or "")
    ):
        raise PermissionDenied(
            "missing or wrong CSRF token: reload the page and try again",
            details={"field": "csrf_token"},
        )
