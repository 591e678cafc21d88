"""Error pages for browsers: an unknown page (404), a wrong method (405) or an unreadable
page address (a 422 on a page's path) is an HTML page when the request asks for HTML, and
stays the API's JSON error otherwise (programs, ``/api/`` paths, the pages' scripts)."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException
from starlette.responses import Response

from expertloop.api.errors import allowed_methods
from expertloop.errors import ExpertloopError
from expertloop.web.pages import error_page
from expertloop.web.sessions import session_user

__all__ = ["install_html_errors", "wants_html"]

_MESSAGES = {
    404: "There is no page at this address. Check the link, or go back to your projects.",
    405: "This page cannot be opened that way. Go back to your projects and try again.",
}


def wants_html(request: Request) -> bool:
    """A browser navigating to a page: ``Accept`` names ``text/html`` and the path is not
    the API's (whose errors are always JSON)."""
    if request.url.path.startswith("/api/") or request.url.path.startswith("/ui/"):
        return False
    return "text/html" in request.headers.get("accept", "")


class _PageError(ExpertloopError):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def _html(request: Request, status: int) -> Response:
    user = session_user(request)
    response = error_page(request, user, _PageError(status, _MESSAGES[status]))
    if status == 405:
        response.headers["Allow"] = ", ".join(allowed_methods(request))
    return response


async def _delegate(handler: Any, request: Request, exc: Exception) -> Response:
    response: Response = await handler(request, exc)
    return response


def install_html_errors(app: FastAPI) -> None:
    """Wrap the API's handlers of unknown routes and unreadable paths (``api/errors.py``):
    HTML for a browser, the API's JSON for everyone else."""
    json_http = app.exception_handlers.get(HTTPException)
    json_invalid = app.exception_handlers.get(RequestValidationError)

    async def http_error(request: Request, exc: Any) -> Response:
        if exc.status_code in _MESSAGES and wants_html(request):
            return _html(request, exc.status_code)
        return await _delegate(json_http, request, exc)

    async def invalid(request: Request, exc: Any) -> Response:
        # A page address with an id out of range (/projects/99999999999) is no page.
        if request.method == "GET" and wants_html(request):
            return _html(request, 404)
        return await _delegate(json_invalid, request, exc)

    app.add_exception_handler(HTTPException, http_error)
    app.add_exception_handler(RequestValidationError, invalid)
