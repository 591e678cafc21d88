"""Item imports: the record of each uploaded file, its progress and its problems.

A background import stores its items in batches; :func:`store_batch` inserts one batch and
moves ``items_done`` past it in the same transaction, so after a crash the job starts again
after the last batch that was committed and no item is stored twice.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, insert, select, update

from expertloop.domain import ImportStatus
from expertloop.store import items as item_store
from expertloop.store import tables as t

__all__ = [
    "ImportRow",
    "create_import",
    "existing_external_ids",
    "finish_import",
    "list_imports",
    "load_import",
    "set_job",
    "start_storing",
    "store_batch",
]


@dataclass(frozen=True, slots=True)
class ImportRow:
    id: int
    project_id: int
    job_id: int | None
    created_by: int | None
    created_by_name: str | None
    filename: str
    format: str
    size_bytes: int
    status: str
    items_total: int | None
    items_done: int
    total_errors: int
    errors: list[dict[str, Any]]
    message: str | None
    created_at: datetime
    finished_at: datetime | None


_COLUMNS = (
    t.ItemImport.id,
    t.ItemImport.project_id,
    t.ItemImport.job_id,
    t.ItemImport.created_by,
    t.User.username,
    t.ItemImport.filename,
    t.ItemImport.format,
    t.ItemImport.size_bytes,
    t.ItemImport.status,
    t.ItemImport.items_total,
    t.ItemImport.items_done,
    t.ItemImport.total_errors,
    t.ItemImport.errors,
    t.ItemImport.message,
    t.ItemImport.created_at,
    t.ItemImport.finished_at,
)


def _query() -> Any:
    return select(*_COLUMNS).outerjoin(t.User, t.User.id == t.ItemImport.created_by)


def _row(r: Any) -> ImportRow:
    values = list(r)
    values[12] = list(values[12] or [])
    return ImportRow(*values)


def create_import(
    conn: Connection,
    *,
    project_id: int,
    created_by: int,
    filename: str,
    format: str,
    size_bytes: int,
    status: ImportStatus,
    now: datetime,
) -> int:
    return int(
        conn.execute(
            insert(t.ItemImport)
            .values(
                project_id=project_id,
                created_by=created_by,
                filename=filename[:255],
                format=format,
                size_bytes=size_bytes,
                status=status.value,
                items_done=0,
                total_errors=0,
                created_at=now,
            )
            .returning(t.ItemImport.id)
        ).scalar_one()
    )


def set_job(conn: Connection, import_id: int, job_id: int) -> None:
    conn.execute(update(t.ItemImport).where(t.ItemImport.id == import_id).values(job_id=job_id))


def load_import(conn: Connection, import_id: int) -> ImportRow | None:
    found = conn.execute(_query().where(t.ItemImport.id == import_id)).first()
    return _row(found) if found is not None else None


def list_imports(conn: Connection, project_id: int, *, limit: int = 50) -> list[ImportRow]:
    """The project's imports, newest first (the ``(project_id, id)`` index)."""
    rows = conn.execute(
        _query()
        .where(t.ItemImport.project_id == project_id)
        .order_by(t.ItemImport.id.desc())
        .limit(limit)
    )
    return [_row(r) for r in rows]


def start_storing(conn: Connection, import_id: int, *, items_total: int) -> None:
    conn.execute(
        update(t.ItemImport)
        .where(t.ItemImport.id == import_id)
        .values(status=ImportStatus.IMPORTING.value, items_total=items_total)
    )


def store_batch(
    conn: Connection,
    import_id: int,
    project_id: int,
    items: Sequence[dict[str, Any]],
    *,
    done_before: int,
    target: int,
    now: datetime,
    ids: list[int] | None = None,
) -> set[str] | None:
    """Insert one batch and move ``items_done`` from ``done_before`` past it, atomically.

    ``None`` when ``items_done`` is no longer ``done_before`` (another run of the job got
    there first: nothing inserted); otherwise the batch's external ids that already existed
    (the caller rolls the batch back). ``ids``, if given, gets the ids of the rows inserted.
    """
    moved = conn.execute(
        update(t.ItemImport)
        .where(t.ItemImport.id == import_id, t.ItemImport.items_done == done_before)
        .values(items_done=done_before + len(items))
    ).rowcount
    if moved != 1:
        return None
    return item_store.insert_items(conn, project_id, items, target=target, now=now, ids=ids)


def finish_import(
    conn: Connection,
    import_id: int,
    *,
    status: ImportStatus,
    now: datetime,
    items_total: int | None = None,
    errors: Sequence[dict[str, Any]] = (),
    total_errors: int = 0,
    message: str | None = None,
) -> None:
    values: dict[str, Any] = {
        "status": status.value,
        "finished_at": now,
        "errors": list(errors) or None,
        "total_errors": total_errors,
        "message": message,
    }
    if items_total is not None:
        values["items_total"] = items_total
    if status is ImportStatus.SUCCEEDED and items_total is not None:
        values["items_done"] = items_total
    conn.execute(update(t.ItemImport).where(t.ItemImport.id == import_id).values(**values))


def existing_external_ids(
    conn: Connection, project_id: int, external_ids: Sequence[str]
) -> set[str]:
    """Which of ``external_ids`` the project's items already have (the unique index on
    ``(project_id, external_id)``, a thousand at a time)."""
    found: set[str] = set()
    for start in range(0, len(external_ids), 1000):
        chunk = list(external_ids[start : start + 1000])
        rows = conn.execute(
            select(t.Item.external_id).where(
                t.Item.project_id == project_id, t.Item.external_id.in_(chunk)
            )
        )
        found.update(r.external_id for r in rows if r.external_id is not None)
    return found
