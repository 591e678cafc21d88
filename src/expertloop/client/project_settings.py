"""A project's settings, archiving and guidelines' history: the methods of
:class:`~expertloop.client.Project` that only its managers (and admins) may call."""

from __future__ import annotations

import builtins
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Self

from expertloop.client._http import Retry
from expertloop.client.models import parse_time

if TYPE_CHECKING:
    from expertloop.client._http import Http

__all__ = ["GuidelinesVersion", "ProjectSettings"]


@dataclass(frozen=True, slots=True)
class GuidelinesVersion:
    """One version of a project's guidelines (Markdown); answers record the version their
    worker saw."""

    version: int
    text: str
    created_at: datetime
    created_by: int | None
    created_by_username: str | None

    @classmethod
    def from_json(cls, body: Mapping[str, Any]) -> GuidelinesVersion:
        return cls(
            version=int(body["version"]),
            text=str(body["text"]),
            created_at=parse_time(body["created_at"]),
            created_by=body.get("created_by"),
            created_by_username=body.get("created_by_username"),
        )


class ProjectSettings:
    """Managers' methods of a project. Each refreshes the project's attributes from the
    server's answer."""

    _http: Http
    id: int

    def _load(self, body: Mapping[str, Any]) -> None:
        raise NotImplementedError  # Project's own

    def update(
        self,
        *,
        name: str | None = None,
        config: Mapping[str, Any] | None = None,
        guidelines: str | None = None,
        answers_per_item: int | None = None,
        lease_seconds: int | None = None,
        max_lease_extensions: int | None = None,
    ) -> Self:
        """Change the settings given (``PATCH /api/v1/projects/{id}``); the others stay.
        New guidelines become a new version; ``answers_per_item`` applies to items imported
        from now on. Raises :class:`~expertloop.client.InvalidInput` naming the field when a
        value is refused (a config the task type does not accept, a lease under 10 s...).

        Example::

            project.update(guidelines="Prefer the safer answer.", lease_seconds=900)
            project.guidelines_version    # 2
        """
        changes = {
            "name": name,
            "config": None if config is None else dict(config),
            "guidelines": guidelines,
            "answers_per_item": answers_per_item,
            "lease_seconds": lease_seconds,
            "max_lease_extensions": max_lease_extensions,
        }
        body = {k: v for k, v in changes.items() if v is not None}
        if not body:
            raise ValueError("nothing to change: pass at least one setting")
        # Setting the same values twice gives the same project: safe to retry.
        self._load(self._http.json("PATCH", f"projects/{self.id}", json_body=body))
        return self

    def archive(self) -> Self:
        """Archive the project: it hands out no more items and keeps its data and exports."""
        self._load(self._http.json("POST", f"projects/{self.id}/archive", retry=Retry.SAFE))
        return self

    def unarchive(self) -> Self:
        """Put an archived project back in service."""
        self._load(self._http.json("POST", f"projects/{self.id}/unarchive", retry=Retry.SAFE))
        return self

    def guidelines_history(self) -> builtins.list[GuidelinesVersion]:
        """Every version of the guidelines, newest first."""
        body = self._http.json("GET", f"projects/{self.id}/guidelines")
        return [GuidelinesVersion.from_json(v) for v in body["versions"]]
