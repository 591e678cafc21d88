"""Dependencies shared by the handlers: the database, the settings and the caller.

Callers authenticate in one of two ways. Programs send ``Authorization: Bearer <token>``.
The web UI holds a session token in an HttpOnly cookie; because a browser sends that cookie
with requests other sites make too, every unsafe request authenticated by the cookie must
also carry the session's CSRF token (``X-CSRF-Token`` header, or a ``csrf_token`` form
field checked by the web handlers), which only pages of this origin can read.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Annotated

from fastapi import Depends, Request
from starlette.concurrency import run_in_threadpool

from expertloop.domain import User
from expertloop.errors import NotAuthenticated, PermissionDenied
from expertloop.services.auth import TokenAuthenticator
from expertloop.settings import Settings
from expertloop.store import Database

__all__ = [
    "CSRF_HEADER",
    "SAFE_METHODS",
    "SESSION_COOKIE",
    "CurrentUser",
    "DatabaseDep",
    "SettingsDep",
    "csrf_token_for",
    "csrf_token_matches",
    "session_user",
]

SESSION_COOKIE = "expertloop_session"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


async def _database(request: Request) -> Database:
    return request.app.state.database


async def _settings(request: Request) -> Settings:
    return request.app.state.settings


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


async def _authenticate(request: Request, token: str) -> User:
    """On the event loop when the token is cached (the hot path); in a worker thread when the
    database must be asked, so a look-up never stalls other requests."""
    authenticator: TokenAuthenticator = request.app.state.authenticator
    user = authenticator.cached(token)
    if user is None:
        user = await run_in_threadpool(authenticator.authenticate, token)
    return user


async def _current_user(request: Request) -> User:
    header = request.headers.get("authorization", "")
    if header:
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise NotAuthenticated("missing credentials: send 'Authorization: Bearer <token>'")
        return await _authenticate(request, token.strip())
    session = request.cookies.get(SESSION_COOKIE)
    if not session:
        raise NotAuthenticated("missing credentials: send 'Authorization: Bearer <token>'")
    user = await _authenticate(request, session)
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


DatabaseDep = Annotated[Database, Depends(_database)]
SettingsDep = Annotated[Settings, Depends(_settings)]
CurrentUser = Annotated[User, Depends(_current_user)]
