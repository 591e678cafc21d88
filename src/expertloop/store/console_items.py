"""The manager's item browser and item page: keyset pages of a project's items, one item
with its answers and reviews, and setting an item's gold.

Every page is an index range scan, whatever the project's size: by id over
``ix_items_project_id_id`` (or a filter's partial index), by confidence or disagreement over
the consensus snapshot's indexed columns. Nothing counts a project's items per request. The
text search reads ``item_search``: a trigram index on PostgreSQL where ``pg_trgm`` exists
(PostgreSQL's planner choosing between it and a walk in id order), else a scan of at most
:data:`SEARCH_SCAN_CAP` items per page, said so on the page.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, text, update

from expertloop.domain import ReviewStatus
from expertloop.domain.safe_json import loads_stored
from expertloop.store import tables as t
from expertloop.store.counters import note_item_changed

__all__ = [
    "FILTERS",
    "SEARCH_SCAN_CAP",
    "SORTS",
    "AnswerRow",
    "BrowseRow",
    "ItemDetail",
    "ItemFilter",
    "SearchResult",
    "browse_items",
    "has_trigram_index",
    "item_answers",
    "item_consensus",
    "item_detail",
    "set_item_gold",
]

SEARCH_SCAN_CAP = 50_000
TRIGRAM_INDEX = "ix_item_search_text_trgm"


@dataclass(frozen=True, slots=True)
class ItemFilter:
    """One filter of the browser: its key (the ``filter`` query parameter), its label, and
    its condition on the items row ``i`` (SQL, constants only). Another feature adds a
    filter (items workers flagged, say) with one entry in :data:`FILTERS`."""

    key: str
    label: str
    condition: str


FILTERS: tuple[ItemFilter, ...] = (
    ItemFilter("open", "Open", "i.n_answers < i.target AND i.disabled_at IS NULL"),
    ItemFilter("complete", "Complete", "i.n_answers >= i.target"),
    ItemFilter("gold", "Gold", "i.gold IS NOT NULL AND CAST(i.gold AS TEXT) <> 'null'"),
    ItemFilter("disabled", "Disabled", "i.disabled_at IS NOT NULL"),
    # Reported by a worker and not yet dealt with (the open reports' partial index).
    ItemFilter(
        "flagged",
        "Flagged",
        "EXISTS (SELECT 1 FROM item_reports r WHERE r.project_id = i.project_id "
        "AND r.item_id = i.id AND r.resolved_at IS NULL)",
    ),
)

# sort key -> (column of consensus_items, direction); "id" reads the items alone.
SORTS: dict[str, tuple[str, str] | None] = {
    "id": None,
    "confidence": ("confidence", "asc"),
    "disagreement": ("disagreement", "desc"),
}


@dataclass(frozen=True, slots=True)
class BrowseRow:
    id: int
    external_id: str | None
    n_answers: int
    target: int
    is_gold: bool
    disabled_at: datetime | None
    deleted_at: datetime | None
    confidence: float | None
    disagreement: float | None


@dataclass(frozen=True, slots=True)
class SearchResult:
    rows: list[BrowseRow]
    # Where the next page starts: (sort value, item id), or None at the end.
    next_after: tuple[float | None, int] | None
    # "scan" when a search without a text index stopped at its cap (this page searched
    # SEARCH_SCAN_CAP items and the next continues).
    capped: str | None = None


def has_trigram_index(conn: Connection) -> bool:
    if conn.dialect.name != "postgresql":
        return False
    found = conn.execute(
        text("SELECT 1 FROM pg_indexes WHERE indexname = :name"), {"name": TRIGRAM_INDEX}
    ).first()
    return found is not None


def _filter_sql(filter_key: str | None) -> str:
    if filter_key is None:
        return ""
    chosen = next(f for f in FILTERS if f.key == filter_key)
    return f" AND ({chosen.condition})"


_ROW = (
    "i.id, i.external_id, i.n_answers, i.target, "
    "CASE WHEN i.gold IS NULL OR CAST(i.gold AS TEXT) = 'null' THEN 0 ELSE 1 END, "
    "i.disabled_at, i.deleted_at"
)


def _like_pattern(query: str) -> str:
    escaped = query.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def browse_items(
    conn: Connection,
    project_id: int,
    *,
    filter_key: str | None,
    sort: str,
    after: tuple[float | None, int] | None,
    limit: int,
    generation: int | None,
    search: str | None = None,
) -> SearchResult:
    """One page of the project's items (see the module docstring). A search pages by id."""
    params: dict[str, Any] = {"p": project_id, "n": limit + 1}
    where = _filter_sql(filter_key)
    if search:
        return _search(conn, params, where, search, after)
    order = SORTS[sort]
    if order is None or generation is None:
        params.update(after=after[1] if after else -1, g=-1 if generation is None else generation)
        rows = conn.execute(
            text(
                f"SELECT {_ROW}, c.confidence, c.disagreement FROM items i "
                "LEFT JOIN consensus_items c ON c.project_id = :p AND c.include_gold = :false "
                "AND c.generation = :g AND c.item_id = i.id "
                f"WHERE i.project_id = :p AND i.id > :after{where} ORDER BY i.id LIMIT :n"
            ),
            {**params, "false": False},
        ).all()
        return _page(rows, limit, sort_index=None)
    column, direction = order
    params.update(g=generation, false=False)
    keyset = ""
    if after is not None and after[0] is not None:
        params.update(v=after[0], after=after[1])
        keyset = f" AND (c.{column}, c.item_id) {'>' if direction == 'asc' else '<'} (:v, :after)"
    descending = " DESC" if direction == "desc" else ""
    rows = conn.execute(
        text(
            f"SELECT {_ROW}, c.confidence, c.disagreement FROM consensus_items c "
            "JOIN items i ON i.id = c.item_id "
            "WHERE c.project_id = :p AND c.include_gold = :false AND c.generation = :g "
            f"AND c.{column} IS NOT NULL{keyset}{where} "
            f"ORDER BY c.{column}{descending}, c.item_id{descending} LIMIT :n"
        ),
        params,
    ).all()
    return _page(rows, limit, sort_index=7 if column == "confidence" else 8)


def _search(
    conn: Connection,
    params: dict[str, Any],
    where: str,
    search: str,
    after: tuple[float | None, int] | None,
) -> SearchResult:
    params.update(pat=_like_pattern(search), after=after[1] if after else -1)
    columns = f"SELECT {_ROW}, NULL, NULL FROM items i"
    if len(search) >= 3 and has_trigram_index(conn):
        # One statement; PostgreSQL picks the plan from the pattern's estimated frequency:
        # for a common word, walk the project's search rows in id order until a page has
        # matched; for a rare one, the trigram index's bitmap of the matches.
        rows = conn.execute(
            text(
                f"{columns} JOIN item_search s ON s.item_id = i.id "
                "WHERE s.project_id = :p AND s.text LIKE :pat AND s.item_id > :after"
                f"{where} ORDER BY s.item_id LIMIT :n"
            ),
            params,
        ).all()
        return _page(rows, params["n"] - 1, sort_index=None)
    # No text index: look at the next SEARCH_SCAN_CAP items in id order and keep matches.
    params["scan"] = SEARCH_SCAN_CAP
    rows = conn.execute(
        text(
            "WITH w AS (SELECT item_id, text FROM item_search WHERE project_id = :p "
            "AND item_id > :after ORDER BY item_id LIMIT :scan) "
            f"{columns} JOIN w ON w.item_id = i.id WHERE w.text LIKE :pat ESCAPE '\\'{where} "
            "ORDER BY i.id LIMIT :n"
        ),
        params,
    ).all()
    limit = params["n"] - 1
    page = _page(rows, limit, sort_index=None)
    if page.next_after is not None:
        return page
    last = conn.execute(
        text(
            "SELECT max(item_id), count(*) FROM (SELECT item_id FROM item_search "
            "WHERE project_id = :p AND item_id > :after ORDER BY item_id LIMIT :scan) w"
        ),
        params,
    ).one()
    if int(last[1]) >= SEARCH_SCAN_CAP:
        return SearchResult(page.rows, (None, int(last[0])), "scan")
    return page


def _page(rows: Sequence[Any], limit: int, *, sort_index: int | None) -> SearchResult:
    more = len(rows) > limit
    rows = rows[:limit]
    out = [
        BrowseRow(int(r[0]), r[1], int(r[2]), int(r[3]), bool(r[4]), r[5], r[6],
                  None if r[7] is None else float(r[7]), None if r[8] is None else float(r[8]))
        for r in rows
    ]
    if not more or not out:
        return SearchResult(out, None)
    last = rows[-1]
    value = None if sort_index is None else float(last[sort_index])
    return SearchResult(out, (value, int(last[0])))


@dataclass(frozen=True, slots=True)
class ItemDetail:
    id: int
    project_id: int
    external_id: str | None
    payload: dict[str, Any]
    gold: dict[str, Any] | None
    priority: int
    target: int
    n_answers: int
    open_slots: int
    created_at: datetime
    disabled_at: datetime | None
    disabled_reason: str | None
    deleted_at: datetime | None


def item_detail(conn: Connection, project_id: int, item_id: int) -> ItemDetail | None:
    row = conn.execute(
        text(
            "SELECT id, project_id, external_id, CAST(payload AS TEXT), CAST(gold AS TEXT), "
            "priority, target, n_answers, open_slots, created_at, disabled_at, "
            "disabled_reason, deleted_at FROM items WHERE id = :i AND project_id = :p"
        ),
        {"i": item_id, "p": project_id},
    ).first()
    if row is None:
        return None
    payload = loads_stored(row[3])
    gold = loads_stored(row[4]) if row[4] is not None else None
    return ItemDetail(
        int(row[0]), int(row[1]), row[2], payload, gold, int(row[5]), int(row[6]),
        int(row[7]), int(row[8]), _dt(row[9]), _dt(row[10]), row[11], _dt(row[12]),
    )


def _dt(value: Any) -> Any:
    if isinstance(value, str):  # SQLite through text(): ISO text
        return datetime.fromisoformat(value)
    return value


@dataclass(frozen=True, slots=True)
class AnswerRow:
    id: int
    worker_id: int
    value: dict[str, Any]
    duration_ms: int
    created_at: datetime
    guidelines_version: str | None
    review_id: int | None
    review_status: str | None
    review_comment: str | None
    fixed_value: dict[str, Any] | None
    reviewer_id: int | None
    decided_at: datetime | None


# Answers record the guidelines version they were given under where that column exists
# (another part of the console adds it); the item page shows it when it does.
_GUIDELINES = "a.guidelines_version" if hasattr(t.Answer, "guidelines_version") else "NULL"

MAX_ANSWERS_SHOWN = 500


def item_answers(conn: Connection, item_id: int) -> list[AnswerRow]:
    """The item's answers in the order given (at most :data:`MAX_ANSWERS_SHOWN`), each with
    its review, if it was queued for one."""
    rows = conn.execute(
        text(
            "SELECT a.id, a.worker_id, CAST(a.value AS TEXT), a.duration_ms, a.created_at, "
            f"{_GUIDELINES}, r.id, r.outcome, r.comment, CAST(r.fixed_value AS TEXT), "
            "r.reviewer_id, r.decided_at FROM answers a "
            "LEFT JOIN reviews r ON r.answer_id = a.id WHERE a.item_id = :i "
            "ORDER BY a.id LIMIT :n"
        ),
        {"i": item_id, "n": MAX_ANSWERS_SHOWN},
    ).all()
    out = []
    for r in rows:
        status = None
        if r[6] is not None:
            status = r[7] if r[7] is not None else ReviewStatus.PENDING.value
        out.append(
            AnswerRow(
                int(r[0]), int(r[1]), loads_stored(r[2]), int(r[3]), _dt(r[4]),
                None if r[5] is None else str(r[5]),
                None if r[6] is None else int(r[6]), status, r[8],
                loads_stored(r[9]) if r[9] is not None else None,
                None if r[10] is None else int(r[10]), _dt(r[11]),
            )
        )
    return out


def item_consensus(
    conn: Connection, project_id: int, item_id: int
) -> tuple[dict[str, Any], float | None, float | None, datetime] | None:
    """The item's line in the project's current snapshot (without gold), its confidence and
    disagreement, and when the snapshot was computed; ``None`` if it has no line."""
    row = conn.execute(
        text(
            "SELECT CAST(c.line AS TEXT), c.confidence, c.disagreement, s.computed_at "
            "FROM consensus_snapshots s JOIN consensus_items c ON c.project_id = s.project_id "
            "AND c.include_gold = s.include_gold AND c.generation = s.generation "
            "WHERE s.project_id = :p AND s.include_gold = :false AND c.item_id = :i"
        ),
        {"p": project_id, "i": item_id, "false": False},
    ).first()
    if row is None:
        return None
    return (
        loads_stored(row[0]),
        None if row[1] is None else float(row[1]),
        None if row[2] is None else float(row[2]),
        _dt(row[3]),
    )


def set_item_gold(conn: Connection, item_id: int, gold: dict[str, Any]) -> bool:
    done = conn.execute(update(t.Item).where(t.Item.id == item_id).values(gold=gold)).rowcount
    if done:
        note_item_changed(conn, item_id)
    return bool(done)
