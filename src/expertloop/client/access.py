"""The caller's API tokens (``client.tokens``) and the audit log (``client.audit``)."""

from __future__ import annotations

import builtins
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from expertloop.client._http import Http, Retry

__all__ = ["AuditEvent", "AuditLog", "TokenInfo", "Tokens"]


def _time(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value.replace("Z", "+00:00"))


@dataclass(frozen=True, slots=True)
class TokenInfo:
    """One of the caller's live tokens or web sessions (never the token itself)."""

    id: int
    name: str
    created_at: datetime
    expires_at: datetime | None

    @classmethod
    def from_json(cls, body: dict[str, Any]) -> TokenInfo:
        created = _time(body["created_at"])
        assert created is not None
        return cls(body["id"], body["name"], created, _time(body["expires_at"]))


class Tokens:
    """The caller's tokens (``client.tokens``).

    Example::

        for token in client.tokens.list():
            if token.name == "api" and token.id != keep:
                client.tokens.revoke(token)
    """

    def __init__(self, http: Http) -> None:
        self._http = http

    def list(self) -> builtins.list[TokenInfo]:
        """The caller's tokens that still work, oldest first."""
        return [TokenInfo.from_json(b) for b in self._http.json("GET", "auth/tokens")]

    def revoke(self, token: int | TokenInfo) -> None:
        """Revoke one of the caller's tokens; it stops working at once."""
        token_id = token if isinstance(token, int) else token.id
        self._http.json("DELETE", f"auth/tokens/{token_id}", retry=Retry.UNSENT)


@dataclass(frozen=True, slots=True)
class AuditEvent:
    """Who (``actor``; ``None`` for the operator at the command line) did what, when, and
    what it changed (``before``/``after``)."""

    id: int
    at: datetime
    actor_id: int | None
    actor: str | None
    action: str
    project_id: int | None
    details: dict[str, Any]
    before: dict[str, Any] | None
    after: dict[str, Any] | None

    @classmethod
    def from_json(cls, body: dict[str, Any]) -> AuditEvent:
        at = _time(body["at"])
        assert at is not None
        return cls(
            id=body["id"],
            at=at,
            actor_id=body["actor_id"],
            actor=body["actor"],
            action=body["action"],
            project_id=body["project_id"],
            details=body["details"],
            before=body["before"],
            after=body["after"],
        )


class AuditLog:
    """The audit log (``client.audit``); admins only.

    Example::

        for event in client.audit.iter(action="user.suspended"):
            print(event.at, event.actor, event.details)
    """

    def __init__(self, http: Http) -> None:
        self._http = http

    def list(
        self,
        *,
        after: int = 0,
        limit: int = 100,
        action: str | None = None,
        actor_id: int | None = None,
        project_id: int | None = None,
    ) -> builtins.list[AuditEvent]:
        """One page of events after the event id ``after``, oldest first."""
        params: dict[str, Any] = {"after": after, "limit": limit}
        for name, value in (("action", action), ("actor_id", actor_id), ("project_id", project_id)):
            if value is not None:
                params[name] = value
        return [AuditEvent.from_json(b) for b in self._http.json("GET", "audit", params=params)]

    def iter(self, *, page_size: int = 500, **filters: Any) -> Iterator[AuditEvent]:
        """Every event matching the filters of :meth:`list`, page by page."""
        after = 0
        while True:
            page = self.list(after=after, limit=page_size, **filters)
            yield from page
            if len(page) < page_size:
                return
            after = page[-1].id
