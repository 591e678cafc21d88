"""Dependencies shared by the handlers: the database, the settings and the caller.

Programs authenticate with ``Authorization: Bearer <token>``. A request without that header
is offered to the app's other credentials, in order (``app.state.extra_credentials``, filled
by the app factory): the web UI registers its browser session there, with its CSRF check,
so this layer needs to know nothing about cookies or pages.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, Request
from starlette.concurrency import run_in_threadpool

from expertloop.domain import User
from expertloop.errors import NotAuthenticated
from expertloop.services.auth import TokenAuthenticator
from expertloop.services.runtime import Runtime
from expertloop.settings import Settings
from expertloop.store import Database

__all__ = [
    "Credential",
    "CurrentUser",
    "DatabaseDep",
    "RuntimeDep",
    "SettingsDep",
    "authenticated_caller",
    "bearer_token",
    "client_address",
]

Credential = Callable[[Request], Awaitable[User | None]]
"""Another way to authenticate an API request: the caller, ``None`` when the request does
not carry this kind of credential, or an :class:`~expertloop.errors.ExpertloopError` when it
carries a bad one."""

_MISSING = "missing credentials: send 'Authorization: Bearer <token>'"


async def _database(request: Request) -> Database:
    return request.app.state.database


async def _settings(request: Request) -> Settings:
    return request.app.state.settings


async def _runtime(request: Request) -> Runtime:
    return request.app.state.runtime


def bearer_token(request: Request) -> str | None:
    """The token of the request's ``Authorization: Bearer`` header, if it has one."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    token = token.strip()
    return token if scheme.lower() == "bearer" and token else None


def client_address(request: Request) -> str:
    """The client's address as the server sees it (behind a proxy, run uvicorn with
    ``--forwarded-allow-ips`` so this is the client's, not the proxy's)."""
    return request.client.host if request.client else "unknown"


async def _authenticate(request: Request, token: str) -> User:
    """On the event loop when the token is cached (the hot path); in a worker thread when the
    database must be asked, so a look-up never stalls other requests."""
    authenticator: TokenAuthenticator = request.app.state.authenticator
    user = authenticator.cached(token)
    if user is None:
        user = await run_in_threadpool(authenticator.authenticate, token)
    return user


async def authenticated_caller(request: Request) -> User:
    """The caller (the dependency behind :data:`CurrentUser`; the OpenAPI documentation
    looks for it to list 401 and 403)."""
    header = request.headers.get("authorization", "")
    if header:
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise NotAuthenticated(_MISSING)
        return await _authenticate(request, token.strip())
    credentials: tuple[Credential, ...] = getattr(request.app.state, "extra_credentials", ())
    for credential in credentials:
        user = await credential(request)
        if user is not None:
            return user
    raise NotAuthenticated(_MISSING)


DatabaseDep = Annotated[Database, Depends(_database)]
SettingsDep = Annotated[Settings, Depends(_settings)]
RuntimeDep = Annotated[Runtime, Depends(_runtime)]
CurrentUser = Annotated[User, Depends(authenticated_caller)]
