"""Users and API tokens."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, and_, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from expertloop.domain import Role, User
from expertloop.errors import AlreadyExists
from expertloop.store import tables as t

__all__ = [
    "Credentials",
    "TokenInfo",
    "TokenOwner",
    "create_user",
    "credentials_by_username",
    "insert_token",
    "list_tokens",
    "list_users",
    "projects_of_users",
    "revoke_token",
    "revoke_token_by_id",
    "revoke_user_tokens",
    "search_users",
    "set_active",
    "set_password_hash",
    "token_owner",
    "user_by_id",
    "user_by_token_hash",
    "usernames",
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


def _like_escaped(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def search_users(
    conn: Connection, *, prefix: str = "", after: str | None = None, limit: int = 50
) -> list[User]:
    """Users whose username starts with ``prefix`` (any case), in username order, after the
    username ``after`` (the last one of the previous page): a range of the index on
    ``lower(username)``, however many accounts there are."""
    key = func.lower(t.User.username)
    query = select(*_USER_COLUMNS).order_by(key, t.User.username).limit(limit)
    prefix = prefix.lower()
    if prefix:
        # The index finds the first row at or after the prefix and the walk goes on in
        # order; LIKE keeps exactly the prefix. The end of the range is given only where
        # strings sort byte by byte (SQLite): under a linguistic collation (PostgreSQL's
        # en_US...) punctuation sorts out of byte order, and a bound could miss names.
        query = query.where(key >= prefix, key.like(_like_escaped(prefix) + "%", escape="\\"))
        if conn.dialect.name == "sqlite":
            query = query.where(key < prefix[:-1] + chr(ord(prefix[-1]) + 1))
    if after is not None:
        query = query.where(
            or_(key > after.lower(), and_(key == after.lower(), t.User.username > after))
        )
    return [_user(r) for r in conn.execute(query)]


def projects_of_users(
    conn: Connection, user_ids: list[int], *, visible_to: int | None
) -> dict[int, list[tuple[int, str]]]:
    """The projects (id, name) each user is a member of; with ``visible_to``, only the
    projects that user is a member of too."""
    if not user_ids:
        return {}
    member = t.ProjectMember
    query = (
        select(member.user_id, t.Project.id, t.Project.name)
        .join(t.Project, t.Project.id == member.project_id)
        .where(member.user_id.in_(user_ids))
        .order_by(member.user_id, t.Project.id)
    )
    if visible_to is not None:
        mine = select(t.ProjectMember.project_id).where(t.ProjectMember.user_id == visible_to)
        query = query.where(member.project_id.in_(mine))
    found: dict[int, list[tuple[int, str]]] = {u: [] for u in user_ids}
    for user_id, project_id, name in conn.execute(query):
        found[user_id].append((project_id, name))
    return found


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


@dataclass(frozen=True, slots=True)
class TokenInfo:
    """What a token's owner may see of it: never the token, nor its hash."""

    id: int
    name: str
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None


@dataclass(frozen=True, slots=True)
class TokenOwner:
    user: User
    token_id: int
    expires_at: datetime | None


def set_active(conn: Connection, user_id: int, *, active: bool) -> User | None:
    """Suspend (``active=False``) or reactivate an account; ``None`` if there is none."""
    row = conn.execute(
        update(t.User)
        .where(t.User.id == user_id)
        .values(is_active=active)
        .returning(*_USER_COLUMNS)
    ).first()
    return None if row is None else _user(row)


def set_password_hash(conn: Connection, user_id: int, password_hash: str) -> None:
    conn.execute(update(t.User).where(t.User.id == user_id).values(password_hash=password_hash))


def list_tokens(conn: Connection, user_id: int, *, now: datetime) -> list[TokenInfo]:
    """The user's tokens that still work (unrevoked, unexpired), oldest first."""
    rows = conn.execute(
        select(
            t.ApiToken.id,
            t.ApiToken.name,
            t.ApiToken.created_at,
            t.ApiToken.expires_at,
            t.ApiToken.revoked_at,
        )
        .where(
            t.ApiToken.user_id == user_id,
            t.ApiToken.revoked_at.is_(None),
            (t.ApiToken.expires_at.is_(None)) | (t.ApiToken.expires_at > now),
        )
        .order_by(t.ApiToken.id)
    )
    return [TokenInfo(r.id, r.name, r.created_at, r.expires_at, r.revoked_at) for r in rows]


def revoke_token_by_id(
    conn: Connection, token_id: int, *, user_id: int, now: datetime
) -> str | None:
    """Revoke the user's live token with this id; its hash (to drop it from caches), or
    ``None`` if the user has no such live token."""
    digest = conn.execute(
        update(t.ApiToken)
        .where(
            t.ApiToken.id == token_id,
            t.ApiToken.user_id == user_id,
            t.ApiToken.revoked_at.is_(None),
        )
        .values(revoked_at=now)
        .returning(t.ApiToken.token_hash)
    ).scalar()
    return None if digest is None else str(digest)


def revoke_user_tokens(
    conn: Connection, user_id: int, *, now: datetime, keep_hash: str | None = None
) -> list[str]:
    """Revoke every live token of the user except the one with ``keep_hash``; their hashes."""
    stmt = update(t.ApiToken).where(t.ApiToken.user_id == user_id, t.ApiToken.revoked_at.is_(None))
    if keep_hash is not None:
        stmt = stmt.where(t.ApiToken.token_hash != keep_hash)
    return [
        str(h)
        for h in conn.execute(
            stmt.values(revoked_at=now).returning(t.ApiToken.token_hash)
        ).scalars()
    ]


def token_owner(conn: Connection, token_hash: str, *, now: datetime) -> TokenOwner | None:
    """The active user owning an unrevoked, unexpired token with this hash, with the
    token's id and expiry."""
    row = conn.execute(
        select(*_USER_COLUMNS, t.ApiToken.id.label("token_id"), t.ApiToken.expires_at)
        .join(t.ApiToken, t.ApiToken.user_id == t.User.id)
        .where(t.ApiToken.token_hash == token_hash, t.ApiToken.revoked_at.is_(None))
    ).first()
    if row is None or not row.is_active:
        return None
    if row.expires_at is not None and row.expires_at <= now:
        return None
    return TokenOwner(_user(row), row.token_id, row.expires_at)


def user_by_token_hash(conn: Connection, token_hash: str, *, now: datetime) -> User | None:
    """The active user owning an unrevoked, unexpired token with this hash."""
    owner = token_owner(conn, token_hash, now=now)
    return None if owner is None else owner.user


def usernames(conn: Connection, user_ids: Sequence[int]) -> dict[int, str]:
    """The usernames of these users (by primary key)."""
    wanted = sorted(set(user_ids))
    if not wanted:
        return {}
    rows = conn.execute(select(t.User.id, t.User.username).where(t.User.id.in_(wanted)))
    return {int(i): name for i, name in rows}
