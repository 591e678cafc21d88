"""A project's model settings (managers), and the verdicts an expert may see.

``show_verdicts`` is off by default: experts work blind to the judges. Turned on, a worker
holding a lease on an item can read the judges' sure verdicts on it, in the terms shown to
them (a swapped pair's verdict is swapped too).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from expertloop.domain import User
from expertloop.domain.safe_json import json_problem
from expertloop.errors import InputInvalid, NotFound
from expertloop.services.llm.common import check_manager
from expertloop.store import Database, audit
from expertloop.store import answers as answer_store
from expertloop.store import llm_judges as judge_store
from expertloop.tasks import get_task_type

__all__ = [
    "KEEP",
    "LlmSettings",
    "ShownVerdict",
    "get_llm_settings",
    "update_llm_settings",
    "verdicts_for_assignment",
]

KEEP: Any = object()


@dataclass(frozen=True, slots=True)
class LlmSettings:
    project_id: int
    show_verdicts: bool
    triage: dict[str, Any] | None
    updated_at: datetime | None


@dataclass(frozen=True, slots=True)
class ShownVerdict:
    judge: str
    value: dict[str, Any]


def _settings(db: Database, project_id: int) -> LlmSettings:
    with db.read() as conn:
        row = judge_store.get_settings(conn, project_id)
    if row is None:
        return LlmSettings(project_id, False, None, None)
    return LlmSettings(project_id, row.show_verdicts, row.triage, row.updated_at)


def get_llm_settings(db: Database, *, actor: User, project_id: int) -> LlmSettings:
    check_manager(db, actor, project_id, "read its model settings")
    return _settings(db, project_id)


def update_llm_settings(
    db: Database, *, actor: User, project_id: int, show_verdicts: Any = KEEP,
    triage: Any = KEEP,
) -> LlmSettings:
    """Change whether experts see verdicts, and the triage rule recorded for the export
    card (a JSON object: the rule and the agreement measured for it), audited."""
    check_manager(db, actor, project_id, "change its model settings")
    before = _settings(db, project_id)
    show = before.show_verdicts if show_verdicts is KEEP else bool(show_verdicts)
    rule = before.triage if triage is KEEP else triage
    if rule is not None:
        if not isinstance(rule, dict):
            raise InputInvalid.on_field("triage", "triage must be a JSON object or null")
        problem = json_problem(rule, path="triage")
        if problem is not None:
            raise InputInvalid.on_field(problem.field, problem.message)
        if len(repr(rule)) > 20_000:
            raise InputInvalid.on_field("triage", "triage must be under 20 kB")
    now = db.clock.now()
    with db.write() as conn:
        judge_store.save_settings(
            conn, project_id, show_verdicts=show, triage=rule, by=actor.id, now=now
        )
        audit.record_event(
            conn, action="llm.settings_changed", actor_id=actor.id, now=now,
            project_id=project_id,
            before={"show_verdicts": before.show_verdicts, "triage": before.triage},
            after={"show_verdicts": show, "triage": rule},
        )
    return LlmSettings(project_id, show, rule, now)


def verdicts_for_assignment(
    db: Database, *, actor: User, assignment_id: int
) -> list[ShownVerdict]:
    """The judges' verdicts on the assignment's item for the worker who holds it, in the
    terms shown to them; empty unless the project shows verdicts to experts."""
    with db.read() as conn:
        target = answer_store.answer_target(conn, assignment_id)
        if target is None or target.worker_id != actor.id:
            raise NotFound(f"assignment {assignment_id} not found")
        settings = judge_store.get_settings(conn, target.project_id)
        if settings is None or not settings.show_verdicts or target.status != "leased":
            return []
        rows = judge_store.verdicts_for_items(conn, [target.item_id])
    task = get_task_type(target.task_type)
    shown = []
    for row in rows:
        if row.unsure or not row.value:
            continue
        shown.append(ShownVerdict(row.judge, task.to_shown(dict(row.value), target.presentation)))
    return shown
