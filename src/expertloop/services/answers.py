"""Reading a project's answers (managers and reviewers)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import orjson

from expertloop.domain import User, can_read_answers
from expertloop.errors import PermissionDenied
from expertloop.services.clock import iso_utc
from expertloop.services.projects import load_project
from expertloop.store import Database
from expertloop.store import answers as answer_store

__all__ = ["answer_row_json", "check_can_read_answers", "iter_answers"]


def check_can_read_answers(db: Database, *, actor: User, project_id: int) -> None:
    with db.read() as conn:
        project = load_project(conn, actor=actor, project_id=project_id)
    if not can_read_answers(actor, is_member=project.is_member):
        raise PermissionDenied("only the project's managers and reviewers can read answers")


def iter_answers(db: Database, *, actor: User, project_id: int) -> Iterator[dict[str, Any]]:
    """Every answer of the project, streamed. Checks permission before the first row."""
    check_can_read_answers(db, actor=actor, project_id=project_id)
    return _stream(db, project_id)


def answer_row_json(row: dict[str, Any]) -> bytes:
    """One NDJSON line; times as UTC with millisecond precision, like the rest of the API."""
    return orjson.dumps({**row, "created_at": iso_utc(row["created_at"])}) + b"\n"


def _stream(db: Database, project_id: int) -> Iterator[dict[str, Any]]:
    with db.read() as conn:
        yield from answer_store.iter_project_answers(conn, project_id)
