"""Creating and listing user accounts."""

from __future__ import annotations

from dataclasses import dataclass

from expertloop.domain import Role, User, can_manage_users, can_search_users
from expertloop.errors import InputInvalid, PermissionDenied
from expertloop.services.auth import hash_password
from expertloop.store import Database, audit
from expertloop.store import users as user_store

__all__ = ["DirectoryPage", "create_user", "list_users", "search_users"]

MIN_PASSWORD_LENGTH = 8


def create_user(
    db: Database, *, actor: User | None, username: str, password: str, role: Role
) -> User:
    """Create an account. ``actor=None`` is the operator at the command line."""
    if actor is not None and not can_manage_users(actor):
        raise PermissionDenied("only admins can create users")
    username = username.strip()
    if not username:
        raise InputInvalid.on_field("username", "username must not be empty")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InputInvalid.on_field(
            "password", f"password must be at least {MIN_PASSWORD_LENGTH} characters"
        )
    password_hash = hash_password(password)
    now = db.clock.now()
    with db.write() as conn:
        user = user_store.create_user(
            conn, username=username, password_hash=password_hash, role=role, now=now
        )
        audit.record_event(
            conn,
            action="user.created",
            actor_id=actor.id if actor else None,
            now=now,
            details={"user_id": user.id, "role": role.value},
        )
    return user


def list_users(db: Database, *, actor: User | None) -> list[User]:
    """Every account, in id order. ``actor=None`` is the operator at the command line, who
    holds the database itself and picks accounts by name."""
    if actor is not None and not can_manage_users(actor):
        raise PermissionDenied("only admins can list users")
    with db.read() as conn:
        return user_store.list_users(conn)


@dataclass(frozen=True, slots=True)
class DirectoryPage:
    """A page of the user directory: the users, the projects of each that the asker may see
    (id, name), and the username to pass as ``after`` for the next page (``None``: last)."""

    users: list[User]
    projects: dict[int, list[tuple[int, str]]]
    next_after: str | None


MAX_PAGE = 200


def search_users(
    db: Database, *, actor: User, q: str = "", after: str | None = None, limit: int = 50
) -> DirectoryPage:
    """Users whose username starts with ``q`` (any case), a page at a time, in username order
    (managers and admins). A manager sees which of *their* projects each user is in; an
    admin sees every project."""
    if not can_search_users(actor):
        raise PermissionDenied("only managers and admins can search users")
    if not 1 <= limit <= MAX_PAGE:
        raise InputInvalid.on_field("limit", f"limit must be 1 to {MAX_PAGE}")
    with db.read() as conn:
        found = user_store.search_users(conn, prefix=q.strip(), after=after, limit=limit + 1)
        page = found[:limit]
        projects = user_store.projects_of_users(
            conn,
            [u.id for u in page],
            visible_to=None if can_manage_users(actor) else actor.id,
        )
    next_after = page[-1].username if len(found) > limit else None
    return DirectoryPage(page, projects, next_after)
