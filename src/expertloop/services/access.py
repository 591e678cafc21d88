"""Cutting access off: API tokens listed and revoked, accounts suspended and reactivated,
passwords changed, members removed from projects.

Every change is committed first and then dropped from this process's caches (the token
cache and the claimable-projects cache of the annotator loop), so it holds here at once;
other server processes notice within ``auth_cache_seconds``. Leases a worker holds are
released in the same transaction that suspends or removes them, so their items go back to
the pool at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from expertloop.domain import User, can_add_members, can_manage_users
from expertloop.errors import InputInvalid, NotFound, PermissionDenied
from expertloop.services.assignments import ClaimableProjects
from expertloop.services.auth import (
    TokenAuthenticator,
    hash_password,
    hash_token,
    verify_password,
)
from expertloop.services.projects import load_project
from expertloop.services.users import MIN_PASSWORD_LENGTH
from expertloop.store import Database, audit, claims
from expertloop.store import projects as project_store
from expertloop.store import users as user_store

__all__ = [
    "AccessCaches",
    "change_password",
    "list_tokens",
    "reactivate_user",
    "remove_member",
    "revoke_token_by_id",
    "suspend_user",
]


@dataclass(frozen=True, slots=True)
class AccessCaches:
    """The process's memories of who may do what, to drop entries from when access changes.
    ``None`` where a service is called without them (the CLI, which runs no server)."""

    authenticator: TokenAuthenticator
    claimable: ClaimableProjects

    def forget_user(self, user_id: int) -> None:
        self.authenticator.forget_user(user_id)
        self.claimable.forget_where(lambda key, _: key[1] == user_id)

    def forget_membership(self, project_id: int, user_id: int) -> None:
        self.claimable.forget((project_id, user_id))


def list_tokens(db: Database, *, actor: User) -> list[user_store.TokenInfo]:
    """The caller's tokens that still work: ids, names and times, never the tokens."""
    with db.read() as conn:
        return user_store.list_tokens(conn, actor.id, now=db.clock.now())


def revoke_token_by_id(
    db: Database, *, actor: User, token_id: int, caches: AccessCaches | None = None
) -> None:
    """Revoke one of the caller's own tokens (``NotFound`` for anyone else's)."""
    now = db.clock.now()
    with db.write() as conn:
        digest = user_store.revoke_token_by_id(conn, token_id, user_id=actor.id, now=now)
        if digest is None:
            raise NotFound(f"token {token_id} not found")
        audit.record_event(
            conn, action="token.revoked", actor_id=actor.id, now=now, details={"token_id": token_id}
        )
    if caches is not None:
        caches.authenticator.forget_digests([digest])


def _user_state(user: User) -> dict[str, Any]:
    return {"is_active": user.is_active}


def _set_active(
    db: Database, *, actor: User | None, user_id: int, active: bool, caches: AccessCaches | None
) -> User:
    if actor is not None and not can_manage_users(actor):
        raise PermissionDenied("only admins can suspend or reactivate users")
    if actor is not None and actor.id == user_id and not active:
        raise InputInvalid.on_field("user_id", "you cannot suspend your own account")
    now = db.clock.now()
    with db.write() as conn:
        before = user_store.user_by_id(conn, user_id)
        if before is None:
            raise NotFound(f"user {user_id} not found")
        user = user_store.set_active(conn, user_id, active=active)
        assert user is not None
        released = 0 if active else claims.release_worker_leases(conn, worker_id=user_id, now=now)
        audit.record_event(
            conn,
            action="user.reactivated" if active else "user.suspended",
            actor_id=actor.id if actor else None,
            now=now,
            details={"user_id": user_id, "leases_released": released},
            before=_user_state(before),
            after=_user_state(user),
        )
    if caches is not None:
        caches.forget_user(user_id)
    return user


def suspend_user(
    db: Database, *, actor: User | None, user_id: int, caches: AccessCaches | None = None
) -> User:
    """Suspend an account (admins; ``actor=None`` is the operator): its tokens and sessions
    stop working, and its live leases are released. Its tokens are kept, so reactivating
    the account restores them."""
    return _set_active(db, actor=actor, user_id=user_id, active=False, caches=caches)


def reactivate_user(
    db: Database, *, actor: User | None, user_id: int, caches: AccessCaches | None = None
) -> User:
    """Let a suspended account sign in and work again (admins)."""
    return _set_active(db, actor=actor, user_id=user_id, active=True, caches=caches)


def change_password(
    db: Database,
    *,
    actor: User,
    current_password: str,
    new_password: str,
    keep_token: str | None = None,
    caches: AccessCaches | None = None,
) -> int:
    """Change the caller's password and revoke their other tokens and sessions (``keep_token``,
    the one making the request, stays). How many tokens were revoked."""
    if len(new_password) < MIN_PASSWORD_LENGTH:
        raise InputInvalid.on_field(
            "new_password", f"password must be at least {MIN_PASSWORD_LENGTH} characters"
        )
    with db.read() as conn:
        credentials = user_store.credentials_by_username(conn, actor.username)
    if credentials is None or not verify_password(credentials.password_hash, current_password):
        # 422, not 401: the caller is authenticated; the field is what is wrong.
        raise InputInvalid.on_field("current_password", "the current password is wrong")
    new_hash = hash_password(new_password)
    now = db.clock.now()
    with db.write() as conn:
        user_store.set_password_hash(conn, actor.id, new_hash)
        revoked = user_store.revoke_user_tokens(
            conn,
            actor.id,
            now=now,
            keep_hash=None if keep_token is None else hash_token(keep_token),
        )
        audit.record_event(
            conn,
            action="user.password_changed",
            actor_id=actor.id,
            now=now,
            details={"user_id": actor.id, "tokens_revoked": len(revoked)},
        )
    if caches is not None:
        caches.authenticator.forget_digests(revoked)
    return len(revoked)


def remove_member(
    db: Database,
    *,
    actor: User,
    project_id: int,
    user_id: int,
    caches: AccessCaches | None = None,
) -> int:
    """Take a user out of a project (its managers and admins): they see it no more, get no
    items from it, and their live leases in it are released (how many)."""
    now = db.clock.now()
    with db.write() as conn:
        project = load_project(conn, actor=actor, project_id=project_id)
        if not can_add_members(actor, is_member=project.is_member):
            raise PermissionDenied("only the project's managers can remove members")
        if not project_store.remove_member(conn, project_id, user_id):
            raise NotFound(f"user {user_id} is not a member of project {project_id}")
        released = claims.release_worker_leases(
            conn, worker_id=user_id, project_id=project_id, now=now
        )
        audit.record_event(
            conn,
            action="project.member_removed",
            actor_id=actor.id,
            project_id=project_id,
            now=now,
            details={"user_id": user_id, "leases_released": released},
            before={"member": True},
            after={"member": False},
        )
    if caches is not None:
        caches.forget_membership(project_id, user_id)
    return released
