"""Request and response bodies of the access routes: tokens, passwords, the audit log."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from expertloop.api.schemas import UtcDatetime
from expertloop.store.audit import AuditEntry
from expertloop.store.users import TokenInfo

__all__ = ["AuditEventPublic", "PasswordChange", "TokenPublic"]


class TokenPublic(BaseModel):
    """A live API token or web session of the caller; the token itself is never shown again."""

    id: int
    name: str
    created_at: UtcDatetime
    expires_at: UtcDatetime | None

    @classmethod
    def of(cls, token: TokenInfo) -> TokenPublic:
        return cls(
            id=token.id, name=token.name, created_at=token.created_at, expires_at=token.expires_at
        )


class PasswordChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    current_password: str = Field(min_length=1, max_length=1000)
    new_password: str = Field(min_length=8, max_length=1000)


class AuditEventPublic(BaseModel):
    id: int
    at: UtcDatetime
    actor_id: int | None = Field(description="`null`: the operator at the command line.")
    actor: str | None = Field(description="The actor's username.")
    action: str
    project_id: int | None
    details: dict[str, Any]
    before: dict[str, Any] | None
    after: dict[str, Any] | None

    @classmethod
    def of(cls, entry: AuditEntry) -> AuditEventPublic:
        return cls(
            id=entry.id,
            at=entry.at,
            actor_id=entry.actor_id,
            actor=entry.actor,
            action=entry.action,
            project_id=entry.project_id,
            details=entry.details,
            before=entry.before,
            after=entry.after,
        )
