"""A project's model settings (managers), and the verdicts an expert may see.

``show_verdicts`` is off by default: experts work blind to the judges. Turned on, a worker
holding a lease on an item can read the judges' sure verdicts on it, in the terms shown to
them (a swapped pair's verdict is swapped too).

``triage`` turns triage on: ``{"judges": ["gpt-4o", ...]}`` names the judges (as named by
their ``llm.judge`` runs, or a provider's name) whose verdicts adaptive redundancy weighs
with the experts' answers (``services/redundancy.py``); ``null`` turns it off. It needs
adaptive redundancy and a task type with a judge and classes; a change refits the model
and re-targets the items (the ``redundancy.retarget`` job). Turning triage off, or dropping
a judge from it: the judges dropped leave the fitted model in the change's transaction (no
item's confidence counts them from then on), and the items they gave a sure verdict on are
marked due there and re-targeted by that job, first, before its refit (or by the
``redundancy.sweep``, whichever runs first), not in the call: it stays fast on a big
project.

:func:`update_llm_settings` also sets adaptive redundancy's ``audit_share`` with triage
(``expertloop llm triage --audit-share``, ``audit_share`` in the API's PATCH): every value
checked and the model settings and the share written in one transaction, under the
project's row lock.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection

from expertloop.domain import User
from expertloop.errors import InputInvalid, NotFound
from expertloop.services import redundancy
from expertloop.services.llm.common import check_manager
from expertloop.store import Database, audit
from expertloop.store import answers as answer_store
from expertloop.store import llm as llm_store
from expertloop.store import llm_judges as judge_store
from expertloop.store import projects as project_store
from expertloop.store import redundancy as redundancy_store
from expertloop.tasks import get_task_type
from expertloop.tasks.judging import judge_for

__all__ = [
    "KEEP",
    "LlmSettings",
    "ShownVerdict",
    "get_llm_settings",
    "get_triage",
    "update_llm_settings",
    "verdicts_for_assignment",
]

KEEP: Any = object()
MAX_TRIAGE_JUDGES = 10
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,99}$")


@dataclass(frozen=True, slots=True)
class LlmSettings:
    project_id: int
    show_verdicts: bool
    triage: dict[str, Any] | None
    updated_at: datetime | None
    # Adaptive redundancy's audit share (``None``: the project is not adaptive), set with
    # triage by :func:`update_llm_settings`.
    audit_share: float | None = None


@dataclass(frozen=True, slots=True)
class ShownVerdict:
    judge: str
    value: dict[str, Any]


def _settings(db: Database, project_id: int) -> LlmSettings:
    with db.read() as conn:
        row = judge_store.get_settings(conn, project_id)
        adaptive = redundancy_store.load_settings(conn, project_id)
    share = None if adaptive is None else adaptive.audit_share
    if row is None:
        return LlmSettings(project_id, False, None, None, share)
    return LlmSettings(project_id, row.show_verdicts, row.triage, row.updated_at, share)


def get_llm_settings(db: Database, *, actor: User, project_id: int) -> LlmSettings:
    check_manager(db, actor, project_id, "read its model settings")
    return _settings(db, project_id)


def get_triage(db: Database, *, actor: User | None, project_id: int) -> dict[str, Any]:
    """Triage as applied (managers; ``actor=None``: the operator): the rule, whether it is
    applied, the policy and what the last fit measured of each judge (see
    :func:`expertloop.services.llm.card.triage_applied`); ``{"rule": None, ...}`` when off."""
    from expertloop.services.llm.card import (
        AUDIT_MIN_ITEMS,
        SUGGESTED_AUDIT_SHARE,
        triage_applied,
    )

    if actor is None:
        with db.read() as conn:
            if project_store.project_for_user(conn, project_id, 0) is None:
                raise NotFound(f"project {project_id} not found")
    else:
        check_manager(db, actor, project_id, "read its triage")
    return triage_applied(db, project_id) or {
        "rule": None, "judges": [], "applied": False, "policy": None, "measured": {},
        "model_fitted_at": None, "audit_min_items": AUDIT_MIN_ITEMS,
        "suggested_audit_share": SUGGESTED_AUDIT_SHARE,
    }


def update_llm_settings(
    db: Database, *, actor: User | None, project_id: int, show_verdicts: Any = KEEP,
    triage: Any = KEEP, audit_share: Any = KEEP,
) -> LlmSettings:
    """Change whether experts see verdicts, triage (``{"judges": [...]}`` or ``None``; see
    the module doc) and, with them, adaptive redundancy's ``audit_share`` (0 to 1, its other
    settings kept: :func:`expertloop.services.redundancy.set_audit_share`); managers
    (``actor=None``: the operator, from the CLI). Every value is checked (422s naming the
    field: a share needs adaptive redundancy), then everything is written, in one
    transaction, or nothing. The project's row is locked first
    (``store.projects.lock_project``, as adaptive redundancy's changes do): the settings the
    values are checked against and kept from are those the write replaces, never a
    concurrent change's stale predecessor. Audited; a triage or share change queues the
    refit and re-target job; values the project has already change nothing."""
    share = KEEP if audit_share is KEEP else redundancy.check_audit_share(audit_share)
    with db.transaction() as conn:
        if not project_store.lock_project(conn, project_id):
            raise NotFound(f"project {project_id} not found")
        if actor is None:
            project = project_store.project_for_user(conn, project_id, 0)
            if project is None:
                raise NotFound(f"project {project_id} not found")
        else:
            project = check_manager(db, actor, project_id, "change its model settings")
        before = _settings(db, project_id)
        show = before.show_verdicts if show_verdicts is KEEP else bool(show_verdicts)
        rule = before.triage if triage is KEEP else triage
        if triage is not KEEP and triage is not None:
            rule = _checked_triage(db, project_id, project.task_type, project.config, triage)
        if share is not KEEP and before.audit_share is None:
            raise redundancy.no_adaptive_redundancy(project_id)
        if (show, rule) != (before.show_verdicts, before.triage):
            _save(conn, actor, before, show, rule, now=db.clock.now())
        if share is not KEEP:
            redundancy.set_audit_share(db, actor=actor, project_id=project_id, audit_share=share)
        return _settings(db, project_id)


def _save(
    conn: Connection, actor: User | None, before: LlmSettings, show: bool,
    rule: dict[str, Any] | None, *, now: datetime,
) -> None:
    """Store the project's model settings, audited; the judges the rule no longer names
    leave the fitted model, the items they gave a sure verdict on are marked due, and a
    changed rule queues the re-target job (which takes those items first)."""
    project_id = before.project_id
    judge_store.save_settings(
        conn, project_id, show_verdicts=show, triage=rule,
        by=None if actor is None else actor.id, now=now,
    )
    audit.record_event(
        conn, action="llm.settings_changed", actor_id=None if actor is None else actor.id,
        now=now, project_id=project_id,
        before={"show_verdicts": before.show_verdicts, "triage": before.triage},
        after={"show_verdicts": show, "triage": rule},
    )
    dropped = sorted(
        set(redundancy.triage_rule_judges(before.triage))
        - set(redundancy.triage_rule_judges(rule))
    )
    redundancy_store.mark_due(conn, redundancy_store.drop_model_judges(conn, project_id, dropped))
    if rule != before.triage and redundancy_store.load_settings(conn, project_id):
        redundancy.queue_retarget(conn, project_id, now=now)


def _checked_triage(
    db: Database, project_id: int, task_type: str, config: dict[str, Any], rule: Any
) -> dict[str, Any]:
    """The triage rule checked (422s naming the field): ``{"judges": [names]}``, each a
    judge with verdicts in this project or a provider's name, on a task type that has a
    judge and classes, in a project with adaptive redundancy."""
    if not isinstance(rule, dict):
        raise InputInvalid.on_field("triage", "triage must be a JSON object or null")
    unknown = sorted(set(rule) - {"judges"})
    if unknown:
        raise InputInvalid.on_field(
            f"triage.{unknown[0]}", 'unknown key: triage is {"judges": ["judge name", ...]}'
        )
    judges = rule.get("judges")
    if not isinstance(judges, list) or not judges:
        raise InputInvalid.on_field("triage.judges", "a non-empty list of judge names")
    if len(judges) > MAX_TRIAGE_JUDGES:
        raise InputInvalid.on_field("triage.judges", f"at most {MAX_TRIAGE_JUDGES} judges")
    for n, name in enumerate(judges):
        if not isinstance(name, str) or not _NAME.match(name):
            raise InputInvalid.on_field(
                f"triage.judges[{n}]",
                "a judge name is 1-100 letters, digits, '.', '_', ':' or '-'",
            )
    if len(set(judges)) != len(judges):
        raise InputInvalid.on_field("triage.judges", "each judge at most once")
    if judge_for(get_task_type(task_type)) is None:
        raise InputInvalid.on_field(
            "triage", f"{task_type} projects have no LLM judge (pairwise, rubric and label do)"
        )
    if redundancy.classes_of(task_type, config) is None:
        raise InputInvalid.on_field(
            "triage", f"a {task_type} project's answers pick no class for a judge to agree with"
        )
    with db.read() as conn:
        if redundancy_store.load_settings(conn, project_id) is None:
            raise InputInvalid.on_field(
                "triage",
                "triage weighs judges in adaptive redundancy's stopping rule: turn adaptive "
                f"redundancy on first (PUT /api/v1/projects/{project_id}/redundancy)",
            )
        known = judge_store.judge_names(conn, project_id, judges)
        for n, name in enumerate(judges):
            if name in known or llm_store.get_provider(conn, name) is not None:
                continue
            elsewhere = judge_store.judge_task_types(conn, name)
            if elsewhere and task_type not in elsewhere:
                raise InputInvalid.on_field(
                    f"triage.judges[{n}]",
                    f"judge {name!r} judged {', '.join(elsewhere)} projects, not {task_type} "
                    "ones; run it on this project first",
                )
            raise InputInvalid.on_field(
                f"triage.judges[{n}]",
                f"unknown judge {name!r}: no verdicts of it in this project and no model "
                "provider of that name",
            )
    return {"judges": list(judges)}


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
