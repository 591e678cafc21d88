"""Importing items into a project: all or nothing, errors by line and field."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any, NoReturn

from pydantic import Field, field_validator
from sqlalchemy import Connection

from expertloop.domain import Project, SuggestionSource, User, can_import_items
from expertloop.domain.safe_json import json_problem
from expertloop.errors import ImportFailed, PermissionDenied
from expertloop.services import redundancy
from expertloop.services.item_sources import ParseProblem
from expertloop.services.projects import load_project
from expertloop.services.workforce import settings as workforce_settings
from expertloop.store import Database, audit
from expertloop.store import imported_labels as label_store
from expertloop.store import items as item_store
from expertloop.store import workforce as workforce_store
from expertloop.tasks import TaskValidationError, get_task_type
from expertloop.tasks.base import StrictModel, validate_model

__all__ = [
    "AnswerIn",
    "ItemIn",
    "SuggestionIn",
    "check_can_import",
    "import_items",
    "store_labels",
    "validate_items",
]

MAX_REPORTED_ERRORS = 100


class AnswerIn(StrictModel):
    """An answer given elsewhere, imported with its item: by whom (``annotator``: their id
    or name in the other tool), what (``value``: the task type's answer, or the other
    tool's named values), when, how long it took, and its id there (``ref``)."""

    annotator: str = Field(min_length=1, max_length=100)
    value: dict[str, Any]
    created_at: datetime | None = None
    duration_ms: int | None = Field(None, ge=0, le=2**53 - 1)
    ref: str | None = Field(None, min_length=1, max_length=150)


class SuggestionIn(StrictModel):
    """What a model said about the item (a prediction, a suggestion): never an answer."""

    agent: str = Field(min_length=1, max_length=255)
    value: dict[str, Any]
    score: float | None = None

    @field_validator("score")
    @classmethod
    def _finite(cls, score: float | None) -> float | None:
        if score is not None and not math.isfinite(score):
            raise ValueError("score must be a finite number")
        return score


class ItemIn(StrictModel):
    external_id: str | None = Field(None, min_length=1, max_length=255)
    payload: dict[str, Any]
    gold: dict[str, Any] | None = None
    priority: int = Field(0, ge=-1_000_000_000, le=1_000_000_000)
    metadata: dict[str, Any] | None = Field(
        None, description="Kept with the item for managers and exports; never shown to workers"
    )
    answers: list[AnswerIn] = Field(default_factory=list, max_length=1000)
    suggestions: list[SuggestionIn] = Field(default_factory=list, max_length=100)


def validate_items(
    project: Project, records: Iterable[tuple[int, Any]]
) -> tuple[list[dict[str, Any]], list[tuple[int, int]], list[dict[str, Any]]]:
    """Check every record; return (valid items, their (line, index) pairs, errors)."""
    task = get_task_type(project.task_type)
    items: list[dict[str, Any]] = []
    lines: list[tuple[int, int]] = []
    errors: list[dict[str, Any]] = []
    seen: dict[str, int] = {}

    def fail(line: int, field: str, message: str) -> None:
        errors.append({"line": line, "field": field, "message": message})

    for line, record in records:
        if isinstance(record, ParseProblem):
            fail(line, "", record.message)
            continue
        # Before the schemas: a value every reader can serve (depth, safe integers, finite
        # numbers, valid Unicode, no NUL), or the line is refused with the field's path.
        problem = json_problem(record)
        if problem is not None:
            fail(line, problem.field, problem.message)
            continue
        try:
            item = validate_model(ItemIn, record)
        except TaskValidationError as exc:
            for err in exc.errors:
                fail(line, err.field, err.message)
            continue
        try:
            payload = task.validate_payload(item.payload, project.config)
        except TaskValidationError as exc:
            for err in exc.prefixed("payload").errors:
                fail(line, err.field, err.message)
            continue
        gold = None
        if item.gold is not None:
            try:
                gold = task.validate_gold(item.gold, project.config, payload=payload)
            except TaskValidationError as exc:
                for err in exc.prefixed("gold").errors:
                    fail(line, err.field, err.message)
                continue
        labels = _validate_labels(task, project, item, payload)
        if isinstance(labels, list):
            for field, message in labels:
                fail(line, field, message)
            continue
        if item.external_id is not None:
            if item.external_id in seen:
                fail(
                    line,
                    "external_id",
                    f"duplicate external_id {item.external_id!r} (also on line "
                    f"{seen[item.external_id]})",
                )
                continue
            seen[item.external_id] = line
        lines.append((line, len(items)))
        items.append(
            {
                "external_id": item.external_id,
                "payload": payload,
                "gold": gold,
                "priority": item.priority,
                "meta": item.metadata,
                **labels,
            }
        )
    return items, lines, errors


def _validate_labels(
    task: Any, project: Project, item: ItemIn, payload: dict[str, Any]
) -> dict[str, Any] | list[tuple[str, str]]:
    """The item's imported answers and suggestions in canonical terms, or its problems as
    ``(field, message)`` pairs."""
    if not item.answers and not item.suggestions:
        return {}
    problems: list[tuple[str, str]] = []
    if item.external_id is None:
        problems.append(("external_id", "an item imported with answers or suggestions needs one"))

    def canonical(value: dict[str, Any], where: str) -> dict[str, Any] | None:
        try:
            answer = task.answer_from_fields(value, project.config)
            return dict(task.validate_gold(answer, project.config, payload=payload))
        except TaskValidationError as exc:
            problems.extend((e.field, e.message) for e in exc.prefixed(where).errors)
            return None

    answers = []
    annotators: dict[str, int] = {}
    for n, answer in enumerate(item.answers):
        if answer.annotator in annotators:
            problems.append(
                (
                    f"answers.{n}.annotator",
                    f"{answer.annotator!r} already answered this item "
                    f"(answers.{annotators[answer.annotator]})",
                )
            )
            continue
        annotators[answer.annotator] = n
        value = canonical(answer.value, f"answers.{n}.value")
        created = answer.created_at
        if created is not None and created.tzinfo is not None:
            created = created.astimezone(UTC).replace(tzinfo=None)
        answers.append(
            {
                "annotator": answer.annotator,
                "value": value,
                "created_at": created,
                "duration_ms": answer.duration_ms or 0,
                "ref": answer.ref,
            }
        )
    suggestions = []
    for n, suggestion in enumerate(item.suggestions):
        value = canonical(suggestion.value, f"suggestions.{n}.value")
        suggestions.append({"agent": suggestion.agent, "value": value, "score": suggestion.score})
    if problems:
        return problems
    return {"answers": answers, "suggestions": suggestions}


def check_can_import(db: Database, *, actor: User, project_id: int) -> Project:
    """The project if ``actor`` may import into it; ``NotFound`` or ``PermissionDenied``
    otherwise. The API calls it before reading an import's body, so nobody else makes the
    server receive up to ``max_import_bytes``."""
    with db.read() as conn:
        project = load_project(conn, actor=actor, project_id=project_id)
    if not can_import_items(actor, is_member=project.is_member):
        raise PermissionDenied("only the project's managers can import items")
    return project


def import_items(
    db: Database,
    *,
    actor: User,
    project_id: int,
    records: Iterable[tuple[int, Any]],
    source: str = "request body",
    origin: SuggestionSource = SuggestionSource.IMPORT,
    on_validated: Callable[[int], None] | None = None,
) -> int:
    """Validate every record, then store them all in one transaction, or none of them.

    Answers imported with an item belong to imported annotator accounts named
    ``<origin>:<annotator>`` (inactive: nobody signs in as them); suggestions keep
    ``origin`` as their source.

    Raises :class:`ImportFailed` whose details list up to 100 errors as
    ``{"line", "field", "message"}``.
    """
    project = check_can_import(db, actor=actor, project_id=project_id)
    items, lines, errors = validate_items(project, records)
    if errors:
        _reject(errors, source)
    if not items:
        raise ImportFailed(f"{source}: no items found", details={"errors": [], "total_errors": 0})
    if on_validated is not None:
        on_validated(len(items))
    now = db.clock.now()
    try:
        with db.write() as conn:
            if project.workforce:
                _check_exam_items(conn, project.id, items, lines, source)
            new_ids: list[int] = []
            taken = item_store.insert_items(
                conn, project.id, items, target=redundancy.initial_target(conn, project), now=now,
                gold_target=workforce_settings.gold_target(conn, project.id)
                if project.workforce else None, ids=new_ids,
            )
            if taken:
                raise _ExternalIdsTaken(taken)
            redundancy.audit_new_items(conn, project, new_ids)
            store_labels(conn, project.id, items, origin=origin, now=now)
            audit.record_event(
                conn,
                action="items.imported",
                actor_id=actor.id,
                project_id=project.id,
                now=now,
                details={"count": len(items), "source": source},
            )
    except _ExternalIdsTaken as exc:
        errors = [
            {
                "line": line,
                "field": "external_id",
                "message": f"external_id {items[index]['external_id']!r} already exists in "
                "this project",
            }
            for line, index in lines
            if items[index]["external_id"] in exc.external_ids
        ]
        _reject(errors, source)
    return len(items)


def store_labels(
    conn: Any, project_id: int, items: list[dict[str, Any]], *, origin: str, now: datetime
) -> None:
    """Store the answers and suggestions that validated items brought (see :class:`ItemIn`),
    in the transaction that inserted the items."""
    labelled = [i for i in items if i.get("answers") or i.get("suggestions")]
    if not labelled:
        return
    ids = label_store.item_ids_by_external_id(
        conn, project_id, [i["external_id"] for i in labelled]
    )
    annotators = label_store.ensure_annotators(
        conn, [f"{origin}:{a['annotator']}" for i in labelled for a in i["answers"]], now=now
    )
    label_store.insert_answers(
        conn,
        project_id,
        [
            label_store.ImportedAnswer(
                item_id=ids[i["external_id"]],
                worker_id=annotators[f"{origin}:{a['annotator']}"],
                value=a["value"],
                created_at=a["created_at"] or now,
                duration_ms=a["duration_ms"],
                # Per project: the same file may be imported into two projects.
                key=f"{origin}:{project_id}:{a['ref']}" if a["ref"] else None,
            )
            for i in labelled
            for a in i["answers"]
        ],
    )
    label_store.insert_suggestions(
        conn,
        project_id,
        [
            label_store.ImportedSuggestion(
                item_id=ids[i["external_id"]],
                source=origin,
                agent=s["agent"],
                value=s["value"],
                score=s["score"],
            )
            for i in labelled
            for s in i["suggestions"]
        ],
        now=now,
    )


class _ExternalIdsTaken(Exception):
    def __init__(self, external_ids: set[str]) -> None:
        super().__init__(f"{len(external_ids)} external ids already exist")
        self.external_ids = external_ids


def _check_exam_items(
    conn: Connection,
    project_id: int,
    items: list[dict[str, Any]],
    lines: list[tuple[int, int]],
    source: str,
) -> None:
    """An exam's items all carry gold (see services/workforce/exams.py)."""
    settings = workforce_store.load_settings(conn, project_id)
    if settings is None or not settings.is_exam:
        return
    errors = [
        {
            "line": line,
            "field": "gold",
            "message": "this project is a qualification exam: every item needs gold",
        }
        for line, index in lines
        if items[index].get("gold") is None
    ]
    if errors:
        _reject(errors, source)


def _reject(errors: list[dict[str, Any]], source: str) -> NoReturn:
    errors.sort(key=lambda e: e["line"])
    first = errors[0]
    where = f"line {first['line']}" + (f", field {first['field']}" if first["field"] else "")
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    raise ImportFailed(
        f"{source}: {where}: {first['message']}{more}; nothing was imported",
        details={"errors": errors[:MAX_REPORTED_ERRORS], "total_errors": len(errors)},
    )
