"""Creating and listing user accounts."""

from __future__ import annotations

from expertloop.domain import Role, User, can_manage_users
from expertloop.errors import InputInvalid, PermissionDenied
from expertloop.services.auth import hash_password
from expertloop.store import Database, audit
from expertloop.store import users as user_store

__all__ = ["create_user", "list_users"]

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
