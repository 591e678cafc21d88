"""Skills and credentials: what a worker knows, and the evidence a manager checked.

Managers and admins set skills and record credentials (``actor=None`` is the operator at the
command line); a user reads their own profile. Every change is an audit event.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection

from expertloop.domain import CredentialKind, Role, User
from expertloop.domain.safe_json import json_problem
from expertloop.errors import InputInvalid, NotFound, PermissionDenied
from expertloop.store import Database, audit
from expertloop.store import users as user_store
from expertloop.store import workforce as store
from expertloop.store.tables import MAX_SKILL_LEVEL, SKILL_NAME
from expertloop.store.workforce import CredentialRow

__all__ = [
    "MAX_SKILLS",
    "Profile",
    "add_credential",
    "check_skills",
    "delete_credential",
    "get_profile",
    "set_skills",
    "verify_credential",
]

MAX_SKILLS = 100
MAX_TITLE_CHARS = 300
MAX_EVIDENCE_CHARS = 10_000
_NAME = re.compile(SKILL_NAME)


@dataclass(frozen=True, slots=True)
class Profile:
    """A user with their skills (name -> level) and credentials."""

    user: User
    skills: dict[str, int]
    credentials: list[CredentialRow]


def check_skills(skills: Any, *, field: str, minimum: int) -> dict[str, int]:
    """Skill names (lower case letters, digits, ``_.+-``, up to 64) mapped to whole levels
    ``minimum`` to 5; anything else is a 422 naming the skill."""
    if not isinstance(skills, Mapping):
        raise InputInvalid.on_field(field, "skills must be an object of name: level")
    if len(skills) > MAX_SKILLS:
        raise InputInvalid.on_field(field, f"at most {MAX_SKILLS} skills")
    checked: dict[str, int] = {}
    for name, level in skills.items():
        where = f"{field}.{name}"
        if not isinstance(name, str) or not _NAME.match(name):
            raise InputInvalid.on_field(
                where,
                "a skill name is 1 to 64 lower-case letters, digits or _ . + - "
                "(starting with a letter or digit)",
            )
        if isinstance(level, bool) or not isinstance(level, int):
            raise InputInvalid.on_field(where, "the level must be a whole number")
        if not minimum <= level <= MAX_SKILL_LEVEL:
            raise InputInvalid.on_field(
                where, f"the level must be {minimum} to {MAX_SKILL_LEVEL}"
            )
        checked[name] = level
    return checked


def _can_manage_people(actor: User | None) -> bool:
    return actor is None or actor.role in (Role.ADMIN, Role.MANAGER)


def _require_manager(actor: User | None, what: str) -> None:
    if not _can_manage_people(actor):
        raise PermissionDenied(f"only managers and admins can {what}")


def _user(conn: Connection, user_id: int) -> User:
    user = user_store.user_by_id(conn, user_id)
    if user is None:
        raise NotFound(f"user {user_id} not found")
    return user


def get_profile(db: Database, *, actor: User | None, user_id: int) -> Profile:
    """A user's profile: managers and admins read anyone's, a user their own."""
    if not (_can_manage_people(actor) or (actor is not None and actor.id == user_id)):
        raise NotFound(f"user {user_id} not found")
    with db.read() as conn:
        user = _user(conn, user_id)
        found = store.user_skills(conn, user_id)
        return Profile(user, found, store.list_credentials(conn, user_id))


def set_skills(
    db: Database, *, actor: User | None, user_id: int, skills: Any
) -> dict[str, int]:
    """Replace the user's skills (level 0 removes nothing but records "none")."""
    _require_manager(actor, "set skills")
    checked = check_skills(skills, field="skills", minimum=0)
    now = db.clock.now()
    with db.write() as conn:
        _user(conn, user_id)
        before = store.user_skills(conn, user_id)
        store.replace_user_skills(conn, user_id, checked, now=now)
        audit.record_event(
            conn,
            action="user.skills_set",
            actor_id=actor.id if actor else None,
            now=now,
            details={"user_id": user_id},
            before={"skills": before},
            after={"skills": checked},
        )
    return checked


def _credential_state(row: CredentialRow) -> dict[str, Any]:
    return {
        "id": row.id,
        "kind": row.kind,
        "title": row.title,
        "verified": row.verified_at is not None,
    }


def add_credential(
    db: Database,
    *,
    actor: User | None,
    user_id: int,
    kind: str,
    title: str,
    evidence: str = "",
    verified: bool = False,
) -> CredentialRow:
    """Record a credential (a degree, a licence...) with the evidence seen; ``verified``
    marks it checked by the actor at once."""
    _require_manager(actor, "record credentials")
    try:
        kind = CredentialKind(kind).value
    except ValueError:
        raise InputInvalid.on_field(
            "kind", f"kind must be one of: {', '.join(k.value for k in CredentialKind)}"
        ) from None
    if not title.strip():
        raise InputInvalid.on_field("title", "the title must not be empty")
    if len(title) > MAX_TITLE_CHARS:
        raise InputInvalid.on_field("title", f"at most {MAX_TITLE_CHARS} characters")
    if len(evidence) > MAX_EVIDENCE_CHARS:
        raise InputInvalid.on_field("evidence", f"at most {MAX_EVIDENCE_CHARS} characters")
    problem = json_problem({"title": title, "evidence": evidence})
    if problem is not None:
        raise InputInvalid.on_field(problem.field, problem.message)
    now = db.clock.now()
    actor_id = actor.id if actor else None
    with db.write() as conn:
        _user(conn, user_id)
        row = store.add_credential(
            conn, user_id=user_id, kind=kind, title=title.strip(), evidence=evidence,
            recorded_by=actor_id, now=now,
        )
        if verified:
            found = store.verify_credential(conn, user_id, row.id, verified_by=actor_id, now=now)
            assert found is not None
            row = found
        audit.record_event(
            conn,
            action="user.credential_added",
            actor_id=actor_id,
            now=now,
            details={"user_id": user_id},
            after=_credential_state(row),
        )
    return row


def verify_credential(
    db: Database, *, actor: User | None, user_id: int, credential_id: int
) -> CredentialRow:
    """Mark a credential verified by the actor, now."""
    _require_manager(actor, "verify credentials")
    now = db.clock.now()
    actor_id = actor.id if actor else None
    with db.write() as conn:
        before = store.credential(conn, user_id, credential_id)
        if before is None:
            raise NotFound(f"credential {credential_id} of user {user_id} not found")
        row = store.verify_credential(conn, user_id, credential_id, verified_by=actor_id, now=now)
        assert row is not None
        audit.record_event(
            conn,
            action="user.credential_verified",
            actor_id=actor_id,
            now=now,
            details={"user_id": user_id},
            before=_credential_state(before),
            after=_credential_state(row),
        )
    return row


def delete_credential(
    db: Database, *, actor: User | None, user_id: int, credential_id: int
) -> None:
    _require_manager(actor, "remove credentials")
    now = db.clock.now()
    with db.write() as conn:
        before = store.credential(conn, user_id, credential_id)
        if before is None or not store.delete_credential(conn, user_id, credential_id):
            raise NotFound(f"credential {credential_id} of user {user_id} not found")
        audit.record_event(
            conn,
            action="user.credential_removed",
            actor_id=actor.id if actor else None,
            now=now,
            details={"user_id": user_id},
            before=_credential_state(before),
        )
