"""Browser sessions: the web UI's cookie, its CSRF token, and the credential the API accepts.

The web UI holds a session token in an HttpOnly cookie. Because a browser sends that cookie
with requests other sites make too, every unsafe request authenticated by the cookie must
also carry the session's CSRF token (``X-CSRF-Token`` header, or a ``csrf_token`` form field
checked by the web handlers), which only pages of this origin can read.

The REST API knows nothing of cookies: the app factory registers
:func:`browser_session_user` as one of the API's extra credentials, so the pages' scripts
can call the API with the session (see ``api/deps.py``).
"""

from __future__ import annotations

import hashlib
import hmac

from fastapi import Request
from starlette.concurrency import run_in_threadpool

from expertloop.domain import User
from expertloop.errors import NotAuthenticated, PermissionDenied
from expertloop.services.auth import TokenAuthenticator
from expertloop.settings import Settings

__all__ = [
    "CSRF_HEADER",
    "SAFE_METHODS",
    "SESSION_COOKIE",
    "browser_session_user",
    "csrf_token_for",
    "csrf_token_matches",
    "session_user",
]

SESSION_COOKIE = "expertloop_session"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def csrf_token_for(secret_key: str, session_token: str) -> str:
    """The CSRF token of a session: an HMAC of its token, so nothing extra is stored."""
    return hmac.new(
        secret_key.encode(), b"csrf:" + session_token.encode(), hashlib.sha256
    ).hexdigest()


def csrf_token_matches(secret_key: str, session_token: str, candidate: str | None) -> bool:
    if not candidate:
        return False
    return hmac.compare_digest(csrf_token_for(secret_key, session_token), candidate)


def session_user(request: Request) -> User | None:
    """The user of the request's session cookie, or ``None`` (no CSRF check: read-only use)."""
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        return None
    authenticator: TokenAuthenticator = request.app.state.authenticator
    try:
        return authenticator.authenticate(token)
    except NotAuthenticated:
        return None


async def browser_session_user(request: Request) -> User | None:
    """The caller of an API request made with the session cookie; ``None`` without one.

    A cookie that names no live session is refused (401), and so is an unsafe request
    without the session's CSRF token (403), rather than treated as anonymous.
    """
    session = request.cookies.get(SESSION_COOKIE)
    if not session:
        return None
    authenticator: TokenAuthenticator = request.app.state.authenticator
    user = authenticator.cached(session)
    if user is None:
        user = await run_in_threadpool(authenticator.authenticate, session)
    if request.method not in SAFE_METHODS:
        settings: Settings = request.app.state.settings
        if not csrf_token_matches(
            settings.secret_key, session, request.headers.get(CSRF_HEADER)
        ):
            raise PermissionDenied(
                f"missing or wrong CSRF token: send the page's token in {CSRF_HEADER}",
                details={"field": CSRF_HEADER},
            )
    return user
