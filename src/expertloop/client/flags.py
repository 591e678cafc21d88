"""Worker rules and flags (``client.flags``): a project's rules, the flags they raised with
their numbers, reinstating a paused worker, dismissing a flag, and a worker's own standing."""

from __future__ import annotations

import builtins
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from expertloop.client._http import Http, Retry

__all__ = ["Standing", "WorkerFlag", "WorkerFlags"]


def _time(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value.replace("Z", "+00:00"))


@dataclass(frozen=True, slots=True)
class WorkerFlag:
    """A rule's finding about a worker: ``message`` says why with the numbers, ``details``
    holds them. ``worker_paused`` is the worker's pause reason in the project now, if any."""

    id: int
    project_id: int
    worker_id: int
    worker: str
    rule: str
    title: str
    message: str
    details: dict[str, Any]
    events: int
    paused: bool
    created_at: datetime | None
    resolved_at: datetime | None
    action: str | None
    worker_paused: str | None

    @classmethod
    def from_json(cls, body: dict[str, Any]) -> WorkerFlag:
        pause = body.get("worker_paused")
        return cls(
            body["id"], body["project_id"], body["worker_id"], body["worker"], body["rule"],
            body["title"], body["message"], body["details"], body["events"], body["paused"],
            _time(body["created_at"]), _time(body["resolved_at"]), body["action"],
            None if pause is None else pause["reason"],
        )


@dataclass(frozen=True, slots=True)
class Standing:
    """Whether a worker rule paused the caller in a project, and why."""

    project_id: int
    paused: bool
    reason: str | None
    paused_at: datetime | None


class WorkerFlags:
    """``client.flags``.

    Example::

        for flag in client.flags.list(project_id):
            print(flag.worker, flag.title, flag.message)
        client.flags.reinstate(project_id, worker_id, note="retrained")
        client.flags.set_rules(project_id, {"too_fast": {"min_seconds": 20}})
    """

    def __init__(self, http: Http) -> None:
        self._http = http

    def rules(self, project_id: int) -> dict[str, Any]:
        """The project's worker rules, with the defaults filled in."""
        body: dict[str, Any] = self._http.json("GET", f"projects/{project_id}/rules")
        return body

    def set_rules(self, project_id: int, rules: dict[str, Any]) -> dict[str, Any]:
        """Replace the project's rules (what is left out takes its default)."""
        body: dict[str, Any] = self._http.json(
            "PUT", f"projects/{project_id}/rules", json_body=rules
        )
        return body

    def evaluate(self, project_id: int) -> int:
        """Queue an evaluation of the rules now; the job's id."""
        body = self._http.json("POST", f"projects/{project_id}/rules/evaluate",
                               retry=Retry.UNSENT)
        return int(body["job_id"])

    def list(
        self, project_id: int, *, status: str = "open", worker_id: int | None = None
    ) -> builtins.list[WorkerFlag]:
        """The project's flags, newest first (``status="all"`` includes resolved ones)."""
        params: dict[str, Any] = {"status": status}
        if worker_id is not None:
            params["worker_id"] = worker_id
        return [
            WorkerFlag.from_json(b)
            for b in self._http.json("GET", f"projects/{project_id}/worker-flags",
                                     params=params)
        ]

    def dismiss(self, project_id: int, flag: int | WorkerFlag) -> WorkerFlag:
        """Close an open flag as a false alarm (a paused worker stays paused)."""
        flag_id = flag if isinstance(flag, int) else flag.id
        return WorkerFlag.from_json(self._http.json(
            "POST", f"projects/{project_id}/worker-flags/{flag_id}/dismiss", retry=Retry.UNSENT
        ))

    def reinstate(
        self, project_id: int, worker_id: int, *, note: str = ""
    ) -> builtins.list[int]:
        """Unpause the worker in the project and resolve their open flags; the flag ids."""
        body = self._http.json(
            "POST", f"projects/{project_id}/workers/{worker_id}/reinstate",
            retry=Retry.UNSENT, json_body={"note": note},
        )
        return [int(i) for i in body["resolved_flags"]]

    def standing(self, project_id: int) -> Standing:
        """The caller's own standing in the project (a worker asks whether they are paused)."""
        body = self._http.json("GET", f"projects/{project_id}/my-standing")
        pause = body.get("paused")
        return Standing(
            body["project_id"], pause is not None,
            None if pause is None else pause["reason"],
            None if pause is None else _time(pause["paused_at"]),
        )
