"""What the model features share: the manager check, and how a provider failure inside a
job becomes a retry (transient) or a failure (misconfigured)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from expertloop.domain import Project, User
from expertloop.domain.policies import can_read_gold
from expertloop.errors import PermissionDenied, UpstreamError, UpstreamUnavailable
from expertloop.jobs import PermanentJobError
from expertloop.services.projects import load_project
from expertloop.store import Database

__all__ = ["ProviderFailed", "check_manager", "in_job"]

T = TypeVar("T")


class ProviderFailed(RuntimeError):
    """A provider failed after its retries inside a job: the job is retried later (with
    backoff), resuming where it stopped."""


def check_manager(db: Database, actor: User, project_id: int, what: str) -> Project:
    with db.read() as conn:
        project = load_project(conn, actor=actor, project_id=project_id)
    if not can_read_gold(actor, is_member=project.is_member):
        raise PermissionDenied(f"only the project's managers can {what}")
    return project


def in_job(call: Callable[[], T]) -> T:
    """Run a provider call inside a job handler: an upstream error or timeout retries the
    job; a provider that cannot be called as configured fails it."""
    try:
        return call()
    except UpstreamUnavailable as exc:
        raise PermanentJobError(exc.message) from exc
    except UpstreamError as exc:
        raise ProviderFailed(exc.message) from exc
