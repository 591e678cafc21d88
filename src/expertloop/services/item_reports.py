"""Item reports: a worker's "Report a problem with this item", and the manager's list of
reported items (the console's Flags page) with its resolve and disable actions.

A report ends the worker's lease (the slot goes back to other workers) and the item is
never offered to that worker again: their assignment stays, so the claim rule
``new_to_worker`` (``scheduling/rules.py``) excludes it, exactly as it excludes a skip.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection

from expertloop.domain import (
    AssignmentStatus,
    ItemReportReason,
    ItemReportResolution,
    Project,
    User,
    can_import_items,
)
from expertloop.domain.safe_json import json_problem
from expertloop.errors import AlreadyAnswered, InputInvalid, NotFound, PermissionDenied
from expertloop.services.projects import load_project
from expertloop.store import Database, audit, claims
from expertloop.store import answers as answer_store
from expertloop.store import item_reports as report_store
from expertloop.store import items as item_store
from expertloop.store.item_reports import FlaggedItem, ReportRow

__all__ = [
    "MAX_NOTE_CHARS",
    "MAX_PAGE",
    "FlaggedItems",
    "ItemReported",
    "flagged_items",
    "list_reports",
    "report_item",
    "resolve_item_reports",
]

MAX_NOTE_CHARS = 2000
MAX_PAGE = 1000


@dataclass(frozen=True, slots=True)
class ItemReported:
    """The report as stored (the first one, if the worker had reported the item already),
    whether this call stored it, and whether it ended a live lease."""

    report: ReportRow
    created: bool
    released: bool


def _clean_note(note: str) -> str:
    note = note.strip()
    if len(note) > MAX_NOTE_CHARS:
        raise InputInvalid.on_field("note", f"at most {MAX_NOTE_CHARS} characters")
    problem = json_problem(note, path="note")
    if problem is not None:
        raise InputInvalid(f"{problem.field}: {problem.message}", details=[problem.to_dict()])
    return note


def report_item(
    db: Database,
    *,
    actor: User,
    assignment_id: int,
    reason: ItemReportReason | str,
    note: str = "",
) -> ItemReported:
    """Report a problem with the item of one of the worker's assignments.

    Ends the lease if it is live (like a skip) and stores the report. Reporting an item
    again returns the first report. Raises ``NotFound`` for someone else's assignment and
    ``AlreadyAnswered`` (409) when the worker has answered the item.
    """
    try:
        why = ItemReportReason(reason)
    except ValueError:
        choices = ", ".join(r.value for r in ItemReportReason)
        raise InputInvalid.on_field("reason", f"reason must be one of: {choices}") from None
    note = _clean_note(note)
    now = db.clock.now()
    with db.write() as conn:
        target = answer_store.answer_target(conn, assignment_id)
        if target is None or target.worker_id != actor.id:
            raise NotFound(f"assignment {assignment_id} not found")
        if target.status == AssignmentStatus.ANSWERED:
            raise AlreadyAnswered(
                "you answered this item; a report is for an item you cannot answer"
            )
        released = claims.release_lease(
            conn, assignment_id=assignment_id, worker_id=actor.id, now=now
        )
        created = report_store.insert_report(
            conn,
            project_id=target.project_id,
            item_id=target.item_id,
            worker_id=actor.id,
            assignment_id=assignment_id,
            reason=why,
            note=note,
            now=now,
        )
        report = report_store.report_of(conn, item_id=target.item_id, worker_id=actor.id)
    assert report is not None
    return ItemReported(report, created, released)


def _managed_project(conn: Connection, actor: User, project_id: int) -> Project:
    project = load_project(conn, actor=actor, project_id=project_id)
    if not can_import_items(actor, is_member=project.is_member):
        raise PermissionDenied("only the project's managers can see and resolve item reports")
    return project


def list_reports(
    db: Database,
    *,
    actor: User,
    project_id: int,
    open_only: bool = True,
    after_id: int = 0,
    limit: int = 100,
    item_id: int | None = None,
) -> list[ReportRow]:
    """A page of the project's reports, oldest first (managers)."""
    if not 1 <= limit <= MAX_PAGE:
        raise InputInvalid.on_field("limit", f"limit must be 1 to {MAX_PAGE}")
    with db.read() as conn:
        _managed_project(conn, actor, project_id)
        return report_store.list_reports(
            conn, project_id, open_only=open_only, after_id=after_id, limit=limit, item_id=item_id
        )


@dataclass(frozen=True, slots=True)
class FlaggedItems:
    items: list[FlaggedItem]
    total: int


def flagged_items(
    db: Database, *, actor: User, project_id: int, limit: int = 50, offset: int = 0
) -> FlaggedItems:
    """Items with open reports, most reported first, and how many there are (managers)."""
    with db.read() as conn:
        _managed_project(conn, actor, project_id)
        return FlaggedItems(
            report_store.flagged_items(conn, project_id, limit=limit, offset=offset),
            report_store.count_open_items(conn, project_id),
        )


def resolve_item_reports(
    db: Database,
    *,
    actor: User,
    project_id: int,
    item_id: int,
    disable: bool = False,
    reason: str = "",
) -> int:
    """Close the item's open reports; with ``disable`` also take the item out of service
    (its live leases end). How many reports were closed. Audited."""
    reason = _clean_note(reason)
    now = db.clock.now()
    with db.write() as conn:
        _managed_project(conn, actor, project_id)
        state = item_store.item_state(conn, item_id)
        if state is None or state.project_id != project_id:
            raise NotFound(f"item {item_id} not found in project {project_id}")
        if disable:
            why = reason or f"disabled by {actor.username} after workers reported it"
            if item_store.disable_item(conn, item_id, reason=why, now=now):
                audit.record_event(
                    conn,
                    action="item.disabled",
                    actor_id=actor.id,
                    project_id=project_id,
                    now=now,
                    details={"item_id": item_id, "reason": why},
                )
        resolution = ItemReportResolution.DISABLED if disable else ItemReportResolution.RESOLVED
        closed = report_store.resolve_reports(
            conn,
            project_id=project_id,
            item_ids=[item_id],
            resolved_by=actor.id,
            resolution=resolution,
            now=now,
        )
        audit.record_event(
            conn,
            action="item_reports.resolved",
            actor_id=actor.id,
            project_id=project_id,
            now=now,
            details={"item_id": item_id, "resolution": resolution.value, "reports": closed},
        )
    return closed
