"""Consensus snapshots: each project's consensus as last computed, and what it has seen.

A snapshot is one ``consensus_snapshots`` row per (project, include_gold) and the
``consensus_items`` rows of its current ``generation``. A refresh writes the next generation
in batches (short transactions), switches the snapshot row to it, then deletes the old
generation in batches: readers always see one whole snapshot, and SQLite's write lock is
never held for a whole project.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, delete, func, insert, select, text, update
from sqlalchemy.exc import IntegrityError

from expertloop.store import tables as t
from expertloop.store.dialects import insert_ignoring_conflicts

__all__ = [
    "BATCH",
    "WRITE_BATCH",
    "Fingerprint",
    "SnapshotRow",
    "answers_behind",
    "delete_generations",
    "fingerprint",
    "iter_snapshot_lines",
    "load_snapshot",
    "next_generation",
    "snapshot_states",
    "snapshot_stats",
    "switch_snapshot",
    "write_lines",
]

BATCH = 5000
# Lines written per transaction by a refresh: small, so that on SQLite the annotator loop
# never waits long behind a refresh for the write lock.
WRITE_BATCH = 500


@dataclass(frozen=True, slots=True)
class Fingerprint:
    """What a consensus depends on, cheaply: the newest answer and the decided reviews
    (a decision can reject or fix an answer). Equal fingerprints, equal consensus."""

    last_answer_id: int
    decided_reviews: int


@dataclass(frozen=True, slots=True)
class SnapshotRow:
    project_id: int
    include_gold: bool
    generation: int
    computed_at: datetime
    last_answer_id: int
    decided_reviews: int
    n_items: int
    duration_ms: int
    method: str
    agreement: dict[str, Any]
    fallbacks: dict[str, Any]

    @property
    def fingerprint(self) -> Fingerprint:
        return Fingerprint(self.last_answer_id, self.decided_reviews)


_COLUMNS = tuple(getattr(t.ConsensusSnapshot, name) for name in SnapshotRow.__slots__)

_LAST_ANSWER = text("SELECT max(id) FROM answers WHERE project_id = :p")
_DECIDED = text("SELECT count(*) FROM reviews WHERE project_id = :p AND outcome IS NOT NULL")


def fingerprint(conn: Connection, project_id: int) -> Fingerprint:
    """Two index probes (``ix_answers_project_id_id``, ``ix_reviews_project_id_outcome_id``)."""
    last = conn.execute(_LAST_ANSWER, {"p": project_id}).scalar()
    decided = conn.execute(_DECIDED, {"p": project_id}).scalar_one()
    return Fingerprint(int(last or 0), int(decided))


def answers_behind(conn: Connection, project_id: int, last_answer_id: int) -> int:
    """Answers stored after the snapshot's newest one (an index range)."""
    return int(
        conn.execute(
            text("SELECT count(*) FROM answers WHERE project_id = :p AND id > :after"),
            {"p": project_id, "after": last_answer_id},
        ).scalar_one()
    )


def load_snapshot(conn: Connection, project_id: int, include_gold: bool) -> SnapshotRow | None:
    row = conn.execute(
        select(*_COLUMNS).where(
            t.ConsensusSnapshot.project_id == project_id,
            t.ConsensusSnapshot.include_gold == include_gold,
        )
    ).first()
    return None if row is None else SnapshotRow(*row)


def snapshot_stats(conn: Connection, project_id: int, include_gold: bool) -> dict[str, Any] | None:
    """The dashboard's numbers stored with the project's snapshot (``None`` before one)."""
    return conn.execute(
        select(t.ConsensusSnapshot.stats).where(
            t.ConsensusSnapshot.project_id == project_id,
            t.ConsensusSnapshot.include_gold == include_gold,
        )
    ).scalar()


def snapshot_states(conn: Connection) -> list[tuple[int, bool, SnapshotRow | None]]:
    """Every project that has answers, with each of its snapshots (``None`` for a project
    whose default snapshot was never computed), for the watcher to compare fingerprints."""
    projects = conn.execute(
        text(
            "SELECT p.id FROM projects p WHERE EXISTS "
            "(SELECT 1 FROM answers a WHERE a.project_id = p.id) ORDER BY p.id"
        )
    ).scalars().all()
    snapshots = {
        (row.project_id, row.include_gold): row
        for row in (SnapshotRow(*r) for r in conn.execute(select(*_COLUMNS)))
    }
    out: list[tuple[int, bool, SnapshotRow | None]] = []
    for project_id in projects:
        out.append((project_id, False, snapshots.get((project_id, False))))
        if (project_id, True) in snapshots:
            out.append((project_id, True, snapshots[(project_id, True)]))
    return out


def write_lines(
    conn: Connection,
    project_id: int,
    include_gold: bool,
    generation: int,
    lines: Sequence[dict[str, Any]],
) -> None:
    """Add consensus lines (each with its ``item_id``) to ``generation``; a line already
    there (a re-run of an interrupted refresh) is left as it is."""
    if not lines:
        return
    rows = []
    for line in lines:
        # The line's confidence and disagreement as indexed columns (the item browser
        # sorts by them); the line itself is stored as served, without the agreement.
        agreement = line.pop("agreement", None)
        confidence = line.get("confidence")
        rows.append(
            {"project_id": project_id, "include_gold": include_gold, "generation": generation,
             "item_id": line["item_id"], "line": line,
             "confidence": None if confidence is None else float(confidence),
             "disagreement": None if agreement is None else 1.0 - float(agreement)}
        )
    conn.execute(insert_ignoring_conflicts(conn, t.ConsensusItem), rows)


def switch_snapshot(
    conn: Connection,
    *,
    project_id: int,
    include_gold: bool,
    generation: int,
    computed_at: datetime,
    seen: Fingerprint,
    n_items: int,
    duration_ms: int,
    method: str,
    agreement: dict[str, Any],
    fallbacks: dict[str, Any],
    stats: dict[str, Any] | None = None,
) -> tuple[bool, int | None]:
    """Make ``generation`` the project's snapshot unless a newer one already is (two
    refreshes raced): ``(switched, the generation current before)``."""
    values = {
        "generation": generation,
        "computed_at": computed_at,
        "last_answer_id": seen.last_answer_id,
        "decided_reviews": seen.decided_reviews,
        "n_items": n_items,
        "duration_ms": duration_ms,
        "method": method,
        "agreement": agreement,
        "fallbacks": fallbacks,
        "stats": stats,
    }
    snapshot = t.ConsensusSnapshot
    for _ in range(5):  # lost a race to another switch: look again
        current = load_snapshot(conn, project_id, include_gold)
        if current is None:
            try:
                with conn.begin_nested():
                    conn.execute(
                        insert(snapshot).values(
                            project_id=project_id, include_gold=include_gold, **values
                        )
                    )
            except IntegrityError:
                continue
            return True, None
        if current.generation >= generation:
            return False, current.generation
        changed = conn.execute(
            update(snapshot)
            .where(
                snapshot.project_id == project_id,
                snapshot.include_gold == include_gold,
                snapshot.generation == current.generation,
            )
            .values(**values)
        )
        if changed.rowcount == 1:
            return True, current.generation
    return False, None


def next_generation(conn: Connection, project_id: int, include_gold: bool, *, now_us: int) -> int:
    """A new generation number: the time in microseconds (``now_us``), so that refreshes
    started in different processes get different numbers and a later one a larger number,
    and at least one more than any generation the project's snapshot has used."""
    top = conn.execute(
        select(func.max(t.ConsensusItem.generation)).where(
            t.ConsensusItem.project_id == project_id,
            t.ConsensusItem.include_gold == include_gold,
        )
    ).scalar()
    current = load_snapshot(conn, project_id, include_gold)
    return max(now_us, int(top or 0) + 1, (current.generation + 1) if current else 0)


def delete_generations(
    conn: Connection,
    project_id: int,
    include_gold: bool,
    *,
    below: int | None = None,
    only: int | None = None,
    limit: int = WRITE_BATCH,
) -> int:
    """Delete up to ``limit`` rows of the project's generations numbered below ``below``, or
    of generation ``only``."""
    doomed = (
        select(t.ConsensusItem.generation, t.ConsensusItem.item_id)
        .where(
            t.ConsensusItem.project_id == project_id,
            t.ConsensusItem.include_gold == include_gold,
            t.ConsensusItem.generation < below
            if below is not None
            else t.ConsensusItem.generation == only,
        )
        .limit(limit)
    )
    keys = conn.execute(doomed).all()
    deleted = 0
    for generation in {g for g, _ in keys}:
        ids = [item for g, item in keys if g == generation]
        deleted += conn.execute(
            delete(t.ConsensusItem).where(
                t.ConsensusItem.project_id == project_id,
                t.ConsensusItem.include_gold == include_gold,
                t.ConsensusItem.generation == generation,
                t.ConsensusItem.item_id.in_(ids),
            )
        ).rowcount
    return deleted


def iter_snapshot_lines(
    conn: Connection, project_id: int, include_gold: bool, generation: int
) -> Iterator[list[dict[str, Any]]]:
    """The lines of a generation in item order, a batch at a time (keyset pages)."""
    after = -1
    while True:
        rows = conn.execute(
            select(t.ConsensusItem.item_id, t.ConsensusItem.line)
            .where(
                t.ConsensusItem.project_id == project_id,
                t.ConsensusItem.include_gold == include_gold,
                t.ConsensusItem.generation == generation,
                t.ConsensusItem.item_id > after,
            )
            .order_by(t.ConsensusItem.item_id)
            .limit(BATCH)
        ).all()
        if not rows:
            return
        yield [line for _, line in rows]
        after = rows[-1][0]
