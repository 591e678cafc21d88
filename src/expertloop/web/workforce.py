"""The workforce on the worker's pages: an exam project shows on the home page as
"Qualification for X", with the worker's standing (score, pass or fail, retry time; never
the gold)."""

from __future__ import annotations

from typing import Any

from expertloop.domain import User
from expertloop.services.clock import iso_utc
from expertloop.services.workforce import exams
from expertloop.store import Database

__all__ = ["home_qualifications"]

_STATUS_TEXT = {
    "not_started": "Not started",
    "in_progress": "In progress",
    "passed": "Passed",
    "failed": "Not passed",
    "retry_available": "You may try again",
}


def home_qualifications(db: Database, user: User) -> dict[int, dict[str, Any]]:
    """For each exam project of the user's: what the home page says about it."""
    out = {}
    for exam_id, q in exams.my_qualifications(db, actor=user).items():
        out[exam_id] = {
            "for_project": q.project_id,
            "title": f"Qualification for {_project_name(db, user, q.project_id)}",
            "status": q.status,
            "status_text": _STATUS_TEXT[q.status],
            "score": None if q.score is None else round(100 * q.score),
            "pass_mark": round(100 * q.pass_mark),
            "answered": q.answered,
            "exam_items": q.exam_items,
            "retry_at": None if q.retry_at is None else iso_utc(q.retry_at),
        }
    return out


def _project_name(db: Database, user: User, project_id: int) -> str:
    from expertloop.errors import NotFound
    from expertloop.services.projects import get_project

    try:
        return get_project(db, actor=user, project_id=project_id).name
    except NotFound:
        return f"project {project_id}"
