"""Skills and credentials: a user's skill levels and recorded credentials, and the skills a
project requires."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, delete, insert, select, update

from expertloop.store import tables as t

__all__ = [
    "CredentialRow",
    "add_credential",
    "credential",
    "delete_credential",
    "list_credentials",
    "project_skills",
    "replace_project_skills",
    "replace_user_skills",
    "user_skills",
    "verify_credential",
]


def user_skills(conn: Connection, user_id: int) -> dict[str, int]:
    rows = conn.execute(
        select(t.UserSkill.skill, t.UserSkill.level)
        .where(t.UserSkill.user_id == user_id)
        .order_by(t.UserSkill.skill)
    )
    return {r.skill: r.level for r in rows}


def replace_user_skills(
    conn: Connection, user_id: int, skills: Mapping[str, int], *, now: datetime
) -> None:
    conn.execute(delete(t.UserSkill).where(t.UserSkill.user_id == user_id))
    rows = [
        {"user_id": user_id, "skill": skill, "level": level, "updated_at": now}
        for skill, level in sorted(skills.items())
    ]
    if rows:
        conn.execute(insert(t.UserSkill), rows)


@dataclass(frozen=True, slots=True)
class CredentialRow:
    id: int
    user_id: int
    kind: str
    title: str
    evidence: str
    recorded_by: int | None
    recorded_at: datetime
    verified_by: int | None
    verified_at: datetime | None


_CREDENTIAL_COLUMNS = (
    t.UserCredential.id,
    t.UserCredential.user_id,
    t.UserCredential.kind,
    t.UserCredential.title,
    t.UserCredential.evidence,
    t.UserCredential.recorded_by,
    t.UserCredential.recorded_at,
    t.UserCredential.verified_by,
    t.UserCredential.verified_at,
)


def list_credentials(conn: Connection, user_id: int) -> list[CredentialRow]:
    rows = conn.execute(
        select(*_CREDENTIAL_COLUMNS)
        .where(t.UserCredential.user_id == user_id)
        .order_by(t.UserCredential.id)
    )
    return [CredentialRow(*r) for r in rows]


def credential(conn: Connection, user_id: int, credential_id: int) -> CredentialRow | None:
    row = conn.execute(
        select(*_CREDENTIAL_COLUMNS).where(
            t.UserCredential.id == credential_id, t.UserCredential.user_id == user_id
        )
    ).first()
    return None if row is None else CredentialRow(*row)


def add_credential(
    conn: Connection,
    *,
    user_id: int,
    kind: str,
    title: str,
    evidence: str,
    recorded_by: int | None,
    now: datetime,
) -> CredentialRow:
    row = conn.execute(
        insert(t.UserCredential)
        .values(
            user_id=user_id,
            kind=kind,
            title=title,
            evidence=evidence,
            recorded_by=recorded_by,
            recorded_at=now,
        )
        .returning(*_CREDENTIAL_COLUMNS)
    ).one()
    return CredentialRow(*row)


def verify_credential(
    conn: Connection, user_id: int, credential_id: int, *, verified_by: int | None, now: datetime
) -> CredentialRow | None:
    row = conn.execute(
        update(t.UserCredential)
        .where(t.UserCredential.id == credential_id, t.UserCredential.user_id == user_id)
        .values(verified_by=verified_by, verified_at=now)
        .returning(*_CREDENTIAL_COLUMNS)
    ).first()
    return None if row is None else CredentialRow(*row)


def delete_credential(conn: Connection, user_id: int, credential_id: int) -> bool:
    result = conn.execute(
        delete(t.UserCredential).where(
            t.UserCredential.id == credential_id, t.UserCredential.user_id == user_id
        )
    )
    return bool(result.rowcount)


def project_skills(conn: Connection, project_id: int) -> dict[str, int]:
    rows = conn.execute(
        select(t.ProjectSkill.skill, t.ProjectSkill.level)
        .where(t.ProjectSkill.project_id == project_id)
        .order_by(t.ProjectSkill.skill)
    )
    return {r.skill: r.level for r in rows}


def replace_project_skills(conn: Connection, project_id: int, skills: Mapping[str, int]) -> None:
    conn.execute(delete(t.ProjectSkill).where(t.ProjectSkill.project_id == project_id))
    rows = [
        {"project_id": project_id, "skill": skill, "level": level}
        for skill, level in sorted(skills.items())
    ]
    if rows:
        conn.execute(insert(t.ProjectSkill), rows)
