"""The manager's item browser, one item's page, and promoting an item's consensus to gold.

Only the project's managers (and admins) may use them (:func:`can_read_gold`: the item page
shows gold and every answer). Pages read the consensus from the project's snapshot
(:mod:`expertloop.services.consensus`); nothing here refits anything.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection

from expertloop.domain import Project, User
from expertloop.domain.policies import can_read_gold
from expertloop.domain.safe_json import json_problem
from expertloop.errors import InputInvalid, NotFound, PermissionDenied
from expertloop.services.exports import guidelines_version, worker_pseudonym
from expertloop.services.projects import load_project
from expertloop.store import Database, audit
from expertloop.store import consensus as snapshot_store
from expertloop.store import console_items as item_store
from expertloop.store.console_items import (
    FILTERS,
    SEARCH_SCAN_CAP,
    SORTS,
    AnswerRow,
    BrowseRow,
    ItemDetail,
    ItemFilter,
)
from expertloop.tasks import TaskValidationError, get_task_type

__all__ = [
    "FILTERS",
    "PAGE_SIZE",
    "SORTS",
    "AnswerView",
    "BrowsePage",
    "ItemFilter",
    "ItemPageData",
    "browse_items",
    "item_page",
    "managed_item",
    "managed_project",
    "promote_to_gold",
]

PAGE_SIZE = 50
MAX_SEARCH_CHARS = 200


def managed_project(conn: Connection, *, actor: User, project_id: int) -> Project:
    """The project if ``actor`` manages it: ``NotFound`` for a project they cannot see,
    ``PermissionDenied`` for one they can see but not manage (a worker, a reviewer)."""
    project = load_project(conn, actor=actor, project_id=project_id)
    if not can_read_gold(actor, is_member=project.is_member):
        raise PermissionDenied("only the project's managers can see its items")
    return project


@dataclass(frozen=True)
class BrowsePage:
    project: Project
    rows: list[BrowseRow]
    filter_key: str | None
    sort: str
    search: str
    next_cursor: str | None
    capped: str | None
    snapshot_at: datetime | None
    search_scan_cap: int = SEARCH_SCAN_CAP


def _cursor(after: tuple[float | None, int] | None) -> str | None:
    if after is None:
        return None
    value, item_id = after
    return str(item_id) if value is None else f"{value!r}_{item_id}"


def _parse_cursor(cursor: str | None) -> tuple[float | None, int] | None:
    if not cursor:
        return None
    try:
        if "_" in cursor:
            value, item_id = cursor.rsplit("_", 1)
            return float(value), int(item_id)
        return None, int(cursor)
    except ValueError:
        raise InputInvalid.on_field("after", "not a page position this browser gave") from None


def browse_items(
    db: Database,
    *,
    actor: User,
    project_id: int,
    filter_key: str | None = None,
    sort: str = "id",
    after: str | None = None,
    search: str = "",
    limit: int = PAGE_SIZE,
) -> BrowsePage:
    """A page of the project's items: a filter (:data:`FILTERS`), a sort (:data:`SORTS`:
    by id, least confident first, most disagreement first) or a text search (by id)."""
    if filter_key is not None and filter_key not in {f.key for f in FILTERS}:
        raise InputInvalid.on_field(
            "filter", f"use one of {', '.join(f.key for f in FILTERS)}"
        )
    if sort not in SORTS:
        raise InputInvalid.on_field("sort", f"use one of {', '.join(SORTS)}")
    search = search.strip()
    if len(search) > MAX_SEARCH_CHARS:
        raise InputInvalid.on_field("q", f"at most {MAX_SEARCH_CHARS} characters")
    if search:
        sort = "id"
    position = _parse_cursor(after)
    with db.read() as conn:
        project = managed_project(conn, actor=actor, project_id=project_id)
        snapshot = snapshot_store.load_snapshot(conn, project_id, False)
        result = item_store.browse_items(
            conn, project_id, filter_key=filter_key, sort=sort, after=position, limit=limit,
            generation=snapshot.generation if snapshot else None, search=search or None,
        )
    return BrowsePage(
        project=project, rows=result.rows, filter_key=filter_key, sort=sort, search=search,
        next_cursor=_cursor(result.next_after), capped=result.capped,
        snapshot_at=snapshot.computed_at if snapshot else None,
    )


@dataclass(frozen=True)
class AnswerView:
    row: AnswerRow
    pseudonym: str
    reviewer: str | None
    readable: list[tuple[str, str]]  # (what, value) from the task type's observations


@dataclass(frozen=True)
class ItemPageData:
    project: Project
    item: ItemDetail
    shown_payload: dict[str, Any]
    answers: list[AnswerView]
    consensus: dict[str, Any] | None
    confidence: float | None
    disagreement: float | None
    snapshot_at: datetime | None
    consensus_readable: list[tuple[str, str]]
    gold_readable: list[tuple[str, str]]
    guidelines_version: str
    answers_capped: bool


def readable(task_type: str, value: Any, config: dict[str, Any]) -> list[tuple[str, str]]:
    """An answer-shaped value as the task type reads it: one ``(what, value)`` per quality
    observation (a ranking as ``2 > 0 = 1``), for people rather than programs."""
    if not isinstance(value, dict):
        return []
    try:
        found = get_task_type(task_type).observations(value, config=config)
    except (KeyError, TypeError, ValueError):
        return []
    out = []
    for obs in found:
        shown: str
        if obs.kind == "ranking" and isinstance(obs.value, tuple):
            shown = " > ".join(" = ".join(str(i + 1) for i in tier) for tier in obs.value)
        elif isinstance(obs.value, float):
            shown = f"{obs.value:.2f}"
        else:
            shown = str(obs.value)
        out.append((obs.key.replace("_", " "), shown))
    return out


def _item(conn: Connection, project_id: int, item_id: int) -> ItemDetail:
    item = item_store.item_detail(conn, project_id, item_id)
    if item is None:
        raise NotFound(f"item {item_id} not found in project {project_id}")
    return item


def managed_item(db: Database, *, actor: User, project_id: int, item_id: int) -> ItemDetail:
    """The item, if it is in the project and ``actor`` manages the project."""
    with db.read() as conn:
        managed_project(conn, actor=actor, project_id=project_id)
        return _item(conn, project_id, item_id)


def item_page(
    db: Database, *, actor: User, project_id: int, item_id: int, secret_key: str
) -> ItemPageData:
    """One item for its managers: payload as shown, every answer with its review, the
    snapshot's consensus. Workers appear by the same pseudonyms exports give them."""
    with db.read() as conn:
        project = managed_project(conn, actor=actor, project_id=project_id)
        item = _item(conn, project_id, item_id)
        answers = item_store.item_answers(conn, item_id)
        consensus = item_store.item_consensus(conn, project_id, item_id)
    task = get_task_type(project.task_type)

    def pseudonym(user_id: int) -> str:
        return worker_pseudonym(secret_key, project_id, user_id)

    views = [
        AnswerView(
            row=a,
            pseudonym=pseudonym(a.worker_id),
            reviewer=None if a.reviewer_id is None else pseudonym(a.reviewer_id),
            readable=readable(project.task_type, a.value, project.config),
        )
        for a in answers
    ]
    line, confidence, disagreement, at = consensus if consensus else (None, None, None, None)
    value = line.get("consensus") if line else None
    return ItemPageData(
        project=project,
        item=item,
        shown_payload=task.present(item.payload, None),
        answers=views,
        consensus=value,
        confidence=confidence,
        disagreement=disagreement,
        snapshot_at=at,
        consensus_readable=readable(project.task_type, value, project.config),
        gold_readable=readable(project.task_type, item.gold, project.config),
        guidelines_version=guidelines_version(project.guidelines),
        answers_capped=len(answers) >= item_store.MAX_ANSWERS_SHOWN,
    )


def promote_to_gold(
    db: Database,
    *,
    actor: User,
    project_id: int,
    item_id: int,
    from_consensus: bool,
    gold: Any = None,
) -> ItemDetail:
    """Set the item's gold: its snapshot consensus (``from_consensus``) or ``gold``, either
    checked by the task type as a gold answer for this item (422 naming the field when it
    is not, e.g. a rating consensus of 4.33 is no point of the scale). Audited with the
    gold before and after."""
    if from_consensus == (gold is not None):
        raise InputInvalid.on_field(
            "from_consensus", "give either from_consensus: true or a gold value, not both"
        )
    now = db.clock.now()
    with db.write() as conn:
        project = managed_project(conn, actor=actor, project_id=project_id)
        item = _item(conn, project_id, item_id)
        if from_consensus:
            found = item_store.item_consensus(conn, project_id, item_id)
            candidate = found[0].get("consensus") if found else None
            if candidate is None:
                raise InputInvalid.on_field(
                    "from_consensus",
                    f"item {item_id} has no consensus yet (the snapshot has no line for it)",
                )
            field = "from_consensus"
        else:
            candidate, field = gold, "gold"
        if not isinstance(candidate, dict):
            raise InputInvalid.on_field(field, "gold must be a JSON object (an answer)")
        problem = json_problem(candidate, path=field)
        if problem is not None:
            raise InputInvalid(f"{problem.field}: {problem.message}", details=[problem.to_dict()])
        task = get_task_type(project.task_type)
        try:
            checked = task.validate_gold(candidate, project.config, payload=item.payload)
        except TaskValidationError as exc:
            what = "the consensus is not a valid gold answer" if from_consensus else "invalid gold"
            raise InputInvalid(
                f"{what}: {exc}",
                details=[{"field": f"{field}.{e.field}" if e.field else field,
                          "message": e.message} for e in exc.errors],
            ) from None
        item_store.set_item_gold(conn, item_id, checked)
        audit.record_event(
            conn,
            action="item.gold_set",
            actor_id=actor.id,
            project_id=project_id,
            now=now,
            details={"item_id": item_id, "from_consensus": from_consensus},
            before={"gold": item.gold},
            after={"gold": checked},
        )
        return _item(conn, project_id, item_id)
