"""The workforce (``client.workforce``): skills and credentials, a project's requirements
(skills, a qualification exam, a gold share, routing, escalation), exam results and gold
accuracy. Results are the API's JSON objects as dicts (see docs/api.md)."""

from __future__ import annotations

import builtins
from typing import TYPE_CHECKING, Any

from expertloop.client._http import Retry

if TYPE_CHECKING:
    from expertloop.client._http import Http

__all__ = ["Workforce"]


def _id(value: Any) -> int:
    return value if isinstance(value, int) else int(value.id)


class Workforce:
    """Example::

        client.workforce.set_skills(alice, {"medicine": 3})
        client.workforce.add_credential(alice, "licence", "Medical licence 123",
                                        evidence="Checked on the registry", verified=True)
        client.workforce.update(project, required_skills={"medicine": 2}, gold_share=0.1,
                                qualification={"exam_project_id": exam.id, "pass_mark": 0.8})
        client.workforce.gold_accuracy(project)   # every worker's, with intervals
    """

    def __init__(self, http: Http) -> None:
        self._http = http

    # --- people ---------------------------------------------------------------------------

    def profile(self, user: Any) -> dict[str, Any]:
        """A user with their ``skills`` and ``credentials`` (managers; a user: their own)."""
        return dict(self._http.json("GET", f"users/{_id(user)}"))

    def set_skills(self, user: Any, skills: dict[str, int]) -> dict[str, Any]:
        """Replace the user's skills (name -> level 0-5); returns the profile."""
        return dict(
            self._http.json("PUT", f"users/{_id(user)}/skills", json_body={"skills": skills})
        )

    def add_credential(
        self, user: Any, kind: str, title: str, *, evidence: str = "", verified: bool = False
    ) -> dict[str, Any]:
        """Record a credential (``degree``, ``licence``, ``certification``, ``membership``,
        ``employment``, ``other``), verified by the caller at once if ``verified``."""
        body = {"kind": kind, "title": title, "evidence": evidence, "verified": verified}
        return dict(
            self._http.json(
                "POST", f"users/{_id(user)}/credentials", retry=Retry.UNSENT, json_body=body
            )
        )

    def verify_credential(self, user: Any, credential_id: int) -> dict[str, Any]:
        return dict(
            self._http.json("POST", f"users/{_id(user)}/credentials/{credential_id}/verify")
        )

    def remove_credential(self, user: Any, credential_id: int) -> None:
        self._http.json("DELETE", f"users/{_id(user)}/credentials/{credential_id}")

    # --- projects -------------------------------------------------------------------------

    def settings(self, project: Any) -> dict[str, Any]:
        """The project's workforce settings."""
        return dict(self._http.json("GET", f"projects/{_id(project)}/workforce"))

    def update(self, project: Any, **changes: Any) -> dict[str, Any]:
        """Change ``required_skills``, ``qualification``, ``gold_share``,
        ``route_min_accuracy`` or ``escalate`` (the others stay; ``None`` clears one)."""
        return dict(
            self._http.json("PATCH", f"projects/{_id(project)}/workforce", json_body=changes)
        )

    def qualification(self, project: Any) -> dict[str, Any]:
        """The caller's standing on the project's exam: status, score, retry time."""
        return dict(self._http.json("GET", f"projects/{_id(project)}/qualification"))

    def qualification_results(self, project: Any) -> builtins.list[dict[str, Any]]:
        """Every worker's standing on the project's exam (managers)."""
        return list(self._http.json("GET", f"projects/{_id(project)}/qualification/results"))

    def gold_accuracy(
        self, project: Any, worker: Any | None = None
    ) -> builtins.list[dict[str, Any]] | dict[str, Any]:
        """Gold accuracy with a 95% credible interval: every worker's (managers), or one's."""
        if worker is None:
            return list(self._http.json("GET", f"projects/{_id(project)}/gold"))
        return dict(
            self._http.json("GET", f"projects/{_id(project)}/workers/{_id(worker)}/gold")
        )

    def my_gold_accuracy(self, project: Any) -> dict[str, Any]:
        """The caller's own gold accuracy in the project."""
        return dict(self._http.json("GET", f"projects/{_id(project)}/gold/me"))
