"""A project's workforce settings: required skills, a qualification exam, a gold share,
routing of disputed items and escalation (see ``docs/workforce.md``).

The claim reads required skills and qualification in SQL at every claim, so changes apply
at once; the gold share and routing are read by the annotator loop of projects that have
workforce settings, which a process remembers for ``EXPERTLOOP_AUTH_CACHE_SECONDS``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy import Connection

from expertloop.domain import Project, User
from expertloop.domain.policies import can_read_gold
from expertloop.errors import InputInvalid, NotFound, PermissionDenied
from expertloop.services.caching import ExpiringCache
from expertloop.services.projects import load_project
from expertloop.services.workforce.skills import check_skills
from expertloop.store import Database, audit
from expertloop.store import workforce as store
from expertloop.store.workforce import ProjectSettingsRow
from expertloop.tasks import get_task_type

__all__ = [
    "DEFAULT_PASS_MARK",
    "DEFAULT_RETRY_AFTER_SECONDS",
    "GOLD_OPEN_SLOTS",
    "UNSET",
    "Qualification",
    "WorkforceSettings",
    "check_exam_project",
    "check_new_settings",
    "get_settings",
    "gold_target",
    "managed_project",
    "update_settings",
]

DEFAULT_PASS_MARK = 0.8
DEFAULT_RETRY_AFTER_SECONDS = 24 * 3600
MAX_RETRY_AFTER_SECONDS = 366 * 24 * 3600
# The open slots of a gold item in a project that mixes gold in, or of an exam item: every
# worker may answer it (a worker still answers an item at most once), so each answer opens
# one more slot; this many workers may hold a lease on it at once. Its target stays bounded
# (answers + live leases + this), so progress figures stay meaningful.
GOLD_OPEN_SLOTS = 100
# Exam items whose gold is checked when a project is named as an exam.
MAX_EXAM_ITEMS = 10_000


class _Unset:
    def __repr__(self) -> str:
        return "UNSET"


UNSET: Any = _Unset()
"""A setting left as it is by :func:`update_settings`."""


@dataclass(frozen=True, slots=True)
class Qualification:
    exam_project_id: int
    pass_mark: float
    retry_after_seconds: int


@dataclass(frozen=True, slots=True)
class WorkforceSettings:
    project_id: int
    required_skills: dict[str, int]
    qualification: Qualification | None
    gold_share: float | None
    route_min_accuracy: float | None
    escalate: bool
    is_exam: bool


def managed_project(conn: Connection, actor: User | None, project_id: int) -> Project | None:
    """The project if the actor manages it (``None`` actor: the operator, no project
    object needed); ``NotFound``/``PermissionDenied`` otherwise."""
    if actor is None:
        return None
    project = load_project(conn, actor=actor, project_id=project_id)
    if not can_read_gold(actor, is_member=project.is_member):
        raise PermissionDenied("only the project's managers can change its workforce settings")
    return project


def _settings(conn: Connection, project_id: int) -> WorkforceSettings:
    row = store.load_settings(conn, project_id)
    skills = store.project_skills(conn, project_id)
    if row is None:
        return WorkforceSettings(project_id, skills, None, None, None, False, False)
    qualification = (
        None
        if row.exam_project_id is None or row.pass_mark is None
        else Qualification(row.exam_project_id, row.pass_mark, row.retry_after_seconds)
    )
    return WorkforceSettings(
        project_id, skills, qualification, row.gold_share, row.route_min_accuracy,
        row.escalate, row.is_exam,
    )


def get_settings(db: Database, *, actor: User | None, project_id: int) -> WorkforceSettings:
    """The settings; any member may read them (they say what the project asks of workers)."""
    with db.read() as conn:
        if actor is not None:
            load_project(conn, actor=actor, project_id=project_id)
        elif store.load_settings(conn, project_id) is None and not _exists(conn, project_id):
            raise NotFound(f"project {project_id} not found")
        return _settings(conn, project_id)


def _exists(conn: Connection, project_id: int) -> bool:
    from expertloop.store import projects as project_store

    return project_store.project_for_user(conn, project_id, 0) is not None


def _share(value: Any, field: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise InputInvalid.on_field(field, "must be a number from 0 to 1, or null")
    if not 0 <= value <= 1:
        raise InputInvalid.on_field(field, "must be from 0 to 1")
    return float(value)


def _qualification(value: Any) -> Qualification | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise InputInvalid.on_field("qualification", "must be an object or null")
    unknown = set(value) - {"exam_project_id", "pass_mark", "retry_after_seconds"}
    if unknown:
        raise InputInvalid.on_field(
            f"qualification.{sorted(unknown)[0]}", "unknown field (exam_project_id, "
            "pass_mark and retry_after_seconds are known)"
        )
    exam = value.get("exam_project_id")
    if isinstance(exam, bool) or not isinstance(exam, int) or not 1 <= exam <= 2**31 - 1:
        raise InputInvalid.on_field(
            "qualification.exam_project_id", "must be the id of the exam project"
        )
    pass_mark = _share(value.get("pass_mark", DEFAULT_PASS_MARK), "qualification.pass_mark")
    retry = value.get("retry_after_seconds", DEFAULT_RETRY_AFTER_SECONDS)
    if isinstance(retry, bool) or not isinstance(retry, int) or not (
        0 <= retry <= MAX_RETRY_AFTER_SECONDS
    ):
        raise InputInvalid.on_field(
            "qualification.retry_after_seconds",
            f"must be a whole number of seconds from 0 to {MAX_RETRY_AFTER_SECONDS}",
        )
    return Qualification(exam, DEFAULT_PASS_MARK if pass_mark is None else pass_mark, retry)


def check_exam_project(
    conn: Connection, actor: User | None, exam_project_id: int, *, for_project: int
) -> None:
    """An exam is another project the actor manages, with items, every one carrying gold
    that its task type can score."""
    where = "qualification.exam_project_id"
    if exam_project_id == for_project:
        raise InputInvalid.on_field(where, "a project cannot be its own exam")
    try:
        exam = managed_project(conn, actor, exam_project_id)
    except (NotFound, PermissionDenied):
        raise InputInvalid.on_field(
            where, f"project {exam_project_id} is not a project you manage"
        ) from None
    if exam is None:
        from expertloop.store import projects as project_store

        exam = project_store.project_for_user(conn, exam_project_id, 0)
        if exam is None:
            raise InputInvalid.on_field(where, f"project {exam_project_id} not found")
    settings = store.load_settings(conn, exam_project_id)
    if settings is not None and settings.gold_share is not None:
        raise InputInvalid.on_field(
            where, f"project {exam_project_id} mixes gold in (gold_share); an exam is all gold"
        )
    without = store.non_gold_items(conn, exam_project_id)
    if without:
        raise InputInvalid.on_field(
            where,
            f"every item of an exam carries gold; project {exam_project_id} has items "
            f"without gold: {', '.join(map(str, without))}",
        )
    task = get_task_type(exam.task_type)
    golds = _exam_golds(conn, exam_project_id)
    if not golds:
        raise InputInvalid.on_field(where, f"project {exam_project_id} has no items yet")
    for item_id, gold in golds:
        if task.matches_gold(gold, gold, config=exam.config) is not True:
            raise InputInvalid.on_field(
                where, f"item {item_id}'s gold cannot be scored (it asserts only free text)"
            )


def _exam_golds(conn: Connection, project_id: int) -> list[tuple[int, dict[str, Any]]]:
    from sqlalchemy import select

    from expertloop.store import tables as t

    rows = conn.execute(
        select(t.Item.id, t.Item.gold)
        .where(t.Item.project_id == project_id, t.Item.deleted_at.is_(None))
        .order_by(t.Item.id)
        .limit(MAX_EXAM_ITEMS)
    )
    return [(r.id, r.gold) for r in rows if isinstance(r.gold, dict)]


def gold_target(conn: Connection, project_id: int) -> int | None:
    """The target an imported gold item gets in this project: open (every worker may
    answer it) where gold is mixed in or the project is an exam; ``None``: the usual."""
    row = store.load_settings(conn, project_id)
    if row is not None and (row.is_exam or row.gold_share is not None):
        return GOLD_OPEN_SLOTS
    return None


def _state(s: WorkforceSettings) -> dict[str, Any]:
    return {
        "required_skills": s.required_skills,
        "qualification": None if s.qualification is None else {
            "exam_project_id": s.qualification.exam_project_id,
            "pass_mark": s.qualification.pass_mark,
            "retry_after_seconds": s.qualification.retry_after_seconds,
        },
        "gold_share": s.gold_share,
        "route_min_accuracy": s.route_min_accuracy,
        "escalate": s.escalate,
    }


def check_new_settings(db: Database, *, actor: User | None, **changes: Any) -> None:
    """Validate settings given with a new project, before the project is created, so a
    refused setting leaves no project behind (422s as :func:`update_settings`)."""
    if "required_skills" in changes:
        check_skills(changes["required_skills"] or {}, field="required_skills", minimum=1)
    for name in ("gold_share", "route_min_accuracy"):
        if name in changes:
            _share(changes[name], name)
    if changes.get("qualification") is not None:
        if changes.get("gold_share") is not None:
            pass  # a project naming an exam may mix gold in too
        wanted = _qualification(changes["qualification"])
        assert wanted is not None
        with db.read() as conn:
            check_exam_project(conn, actor, wanted.exam_project_id, for_project=0)


def update_settings(
    db: Database,
    *,
    actor: User | None,
    project_id: int,
    required_skills: Any = UNSET,
    qualification: Any = UNSET,
    gold_share: Any = UNSET,
    route_min_accuracy: Any = UNSET,
    escalate: Any = UNSET,
    claimable: ExpiringCache[Any, Any] | None = None,
) -> WorkforceSettings:
    """Change the settings given (the others stay); ``None`` clears one. Validation errors
    are 422s naming the field. Returns the settings as they now are."""
    skills = (
        UNSET if required_skills is UNSET
        else check_skills(required_skills or {}, field="required_skills", minimum=1)
    )
    wanted_qualification = UNSET if qualification is UNSET else _qualification(qualification)
    share = UNSET if gold_share is UNSET else _share(gold_share, "gold_share")
    route = (
        UNSET if route_min_accuracy is UNSET
        else _share(route_min_accuracy, "route_min_accuracy")
    )
    if escalate is not UNSET and not isinstance(escalate, bool):
        raise InputInvalid.on_field("escalate", "must be true or false")
    now = db.clock.now()
    with db.write() as conn:
        project = managed_project(conn, actor, project_id)
        if project is None:
            from expertloop.store import projects as project_store

            if project_store.project_for_user(conn, project_id, 0) is None:
                raise NotFound(f"project {project_id} not found")
        before = _settings(conn, project_id)
        row = store.load_settings(conn, project_id) or ProjectSettingsRow(
            project_id, None, None, None, DEFAULT_RETRY_AFTER_SECONDS, False, None, False, now
        )
        old_exam = row.exam_project_id
        if wanted_qualification is not UNSET:
            if wanted_qualification is not None:
                check_exam_project(
                    conn, actor, wanted_qualification.exam_project_id, for_project=project_id
                )
                row = replace(
                    row,
                    exam_project_id=wanted_qualification.exam_project_id,
                    pass_mark=wanted_qualification.pass_mark,
                    retry_after_seconds=wanted_qualification.retry_after_seconds,
                )
            else:
                row = replace(row, exam_project_id=None, pass_mark=None)
        if share is not UNSET:
            if share is not None and row.is_exam:
                raise InputInvalid.on_field(
                    "gold_share", "this project is an exam: all its items are gold already"
                )
            row = replace(row, gold_share=share)
        if route is not UNSET:
            row = replace(row, route_min_accuracy=route)
        if escalate is not UNSET:
            row = replace(row, escalate=escalate)
        store.save_settings(conn, replace(row, updated_at=now))
        if skills is not UNSET:
            store.replace_project_skills(conn, project_id, skills)
        for exam in {old_exam, row.exam_project_id} - {None}:
            assert exam is not None
            if store.refresh_is_exam(conn, exam, now=now):
                store.open_gold_targets(conn, exam, GOLD_OPEN_SLOTS)
        if row.gold_share is not None:
            store.open_gold_targets(conn, project_id, GOLD_OPEN_SLOTS)
        after = _settings(conn, project_id)
        audit.record_event(
            conn,
            action="project.workforce_updated",
            actor_id=actor.id if actor else None,
            project_id=project_id,
            now=now,
            before=_state(before),
            after=_state(after),
        )
    if claimable is not None:
        claimable.forget_where(lambda key, _: key[0] == project_id)
    return after
