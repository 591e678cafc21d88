"""Users and API tokens."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, insert, select, update
from sqlalchemy.exc import IntegrityError

from expertloop.domain import Role, User
from expertloop.errors import AlreadyExists
from expertloop.store import tables as t

__all__ = [
    "Credentials",
    "create_user",
    "credentials_by_username",
    "insert_token",
    "list_users",
    "revoke_token",
    "user_by_id",
    "user_by_token_hash",
]


@dataclass(frozen=True, slots=True)
class Credentials:
    user: User
    password_hash: str


def _user(row: object) -> User:
    return User(id=row.id, username=row.username, role=Role(row.role), is_active=row.is_active)  # type: ignore[attr-defined]


_USER_COLUMNS = (t.User.id, t.User.username, t.User.role, t.User.is_active)


def create_user(
    conn: Connection, *, username: str, password_hash: str, role: Role, now: datetime
) -> User:
    stmt = (
        insert(t.User)
        .values(
            username=username,
            password_hash=password_hash,
            role=role.value,
            is_active=True,
            created_at=now,
        )
        .returning(*_USER_COLUMNS)
    )
    try:
        with conn.begin_nested():
            row = conn.execute(stmt).one()
    except IntegrityError:
        raise AlreadyExists(f"a user named {username!r} already exists") from None
    return _user(row)


def credentials_by_username(conn: Connection, username: str) -> Credentials | None:
    row = conn.execute(
        select(*_USER_COLUMNS, t.User.password_hash).where(t.User.username == username)
    ).first()
    return None if row is None else Credentials(_user(row), row.password_hash)


def user_by_id(conn: Connection, user_id: int) -> User | None:
    row = conn.execute(select(*_USER_COLUMNS).where(t.User.id == user_id)).first()
    return None if row is None else _user(row)


def list_users(conn: Connection) -> list[User]:
    return [_user(r) for r in conn.execute(select(*_USER_COLUMNS).order_by(t.User.id))]


def insert_token(
    conn: Connection,
    *,
    user_id: int,
    token_hash: str,
    name: str,
    now: datetime,
    expires_at: datetime | None = None,
) -> None:
    conn.execute(
        insert(t.ApiToken).values(
            user_id=user_id,
            token_hash=token_hash,
            name=name,
            created_at=now,
            expires_at=expires_at,
        )
    )


def revoke_token(conn: Connection, token_hash: str, *, now: datetime) -> bool:
    """Mark the token with this hash revoked; ``False`` if there was no live token."""
    result = conn.execute(
        update(t.ApiToken)
        .where(t.ApiToken.token_hash == token_hash, t.ApiToken.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    return bool(result.rowcount)


def user_by_token_hash(conn: Connection, token_hash: str, *, now: datetime) -> User | None:
    """The active user owning an unrevoked, unexpired token with this hash."""
    row = conn.execute(
        select(*_USER_COLUMNS, t.ApiToken.expires_at)
        .join(t.ApiToken, t.ApiToken.user_id == t.User.id)
        .where(t.ApiToken.token_hash == token_hash, t.ApiToken.revoked_at.is_(None))
    ).first()
    if row is None or not row.is_active:
        return None
    if row.expires_at is not None and row.expires_at <= now:
        return None
    return _user(row)
