"""Dependencies shared by the handlers: the database, the settings and the caller."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from expertloop.domain import User
from expertloop.errors import NotAuthenticated
from expertloop.services.auth import TokenAuthenticator
from expertloop.settings import Settings
from expertloop.store import Database

__all__ = ["CurrentUser", "DatabaseDep", "SettingsDep"]


def _database(request: Request) -> Database:
    return request.app.state.database


def _settings(request: Request) -> Settings:
    return request.app.state.settings


def _current_user(request: Request) -> User:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise NotAuthenticated("missing credentials: send 'Authorization: Bearer <token>'")
    authenticator: TokenAuthenticator = request.app.state.authenticator
    return authenticator.authenticate(token.strip())


DatabaseDep = Annotated[Database, Depends(_database)]
SettingsDep = Annotated[Settings, Depends(_settings)]
CurrentUser = Annotated[User, Depends(_current_user)]
