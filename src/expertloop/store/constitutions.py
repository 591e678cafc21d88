"""Constitutions: the draft's principles, published versions, proposals, statements, votes.

Publishing bumps ``constitutions.latest_version`` with one ``UPDATE`` whose row lock
serialises concurrent publishers on PostgreSQL (SQLite serialises every write), so version
numbers have no gaps and no duplicates (the primary key backs it).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, delete, func, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite

from expertloop.store import tables as t

__all__ = [
    "ConstitutionRow",
    "PrincipleRow",
    "ProposalRow",
    "StatementRow",
    "VersionRow",
    "bump_version",
    "constitution_by_name",
    "decide_proposal",
    "delete_principle",
    "draft_principles",
    "insert_constitution",
    "insert_proposal",
    "insert_statement",
    "insert_version",
    "list_constitutions",
    "list_proposals",
    "list_statements",
    "list_versions",
    "load_constitution",
    "load_proposal",
    "load_statement",
    "load_version",
    "mark_draft_changed",
    "project_item_count",
    "put_principle",
    "record_vote",
    "statement_votes",
    "voter_votes",
]


@dataclass(frozen=True, slots=True)
class ConstitutionRow:
    id: int
    name: str
    description: str
    latest_version: int
    draft_changed: bool
    created_by: int | None
    created_at: datetime


@dataclass(frozen=True, slots=True)
class PrincipleRow:
    key: str
    position: int
    title: str
    text: str
    rationale: str
    examples: dict[str, Any]


@dataclass(frozen=True, slots=True)
class VersionRow:
    constitution_id: int
    version: int
    principles: list[dict[str, Any]]
    note: str
    published_by: int | None
    published_at: datetime


@dataclass(frozen=True, slots=True)
class ProposalRow:
    id: int
    constitution_id: int
    kind: str
    principle_key: str
    proposed: dict[str, Any] | None
    reason: str
    status: str
    proposed_by: int | None
    created_at: datetime
    decided_by: int | None
    decided_at: datetime | None
    decision_note: str


@dataclass(frozen=True, slots=True)
class StatementRow:
    id: int
    constitution_id: int
    text: str
    created_by: int | None
    created_at: datetime


_C = t.Constitution
_P = t.ConstitutionPrinciple
_V = t.ConstitutionVersion
_PR = t.ConstitutionProposal
_S = t.ConstitutionStatement
_SV = t.StatementVote

_CONSTITUTION_COLUMNS = (
    _C.id, _C.name, _C.description, _C.latest_version, _C.draft_changed, _C.created_by,
    _C.created_at,
)
_PROPOSAL_COLUMNS = (
    _PR.id, _PR.constitution_id, _PR.kind, _PR.principle_key, _PR.proposed, _PR.reason,
    _PR.status, _PR.proposed_by, _PR.created_at, _PR.decided_by, _PR.decided_at,
    _PR.decision_note,
)
_VERSION_COLUMNS = (
    _V.constitution_id, _V.version, _V.principles, _V.note, _V.published_by, _V.published_at
)
_STATEMENT_COLUMNS = (_S.id, _S.constitution_id, _S.text, _S.created_by, _S.created_at)


# --- constitutions -----------------------------------------------------------------------


def insert_constitution(
    conn: Connection, *, name: str, description: str, created_by: int | None, now: datetime
) -> int:
    return int(
        conn.execute(
            insert(_C)
            .values(
                name=name, description=description, latest_version=0, draft_changed=False,
                created_by=created_by, created_at=now,
            )
            .returning(_C.id)
        ).scalar_one()
    )


def load_constitution(conn: Connection, constitution_id: int) -> ConstitutionRow | None:
    row = conn.execute(select(*_CONSTITUTION_COLUMNS).where(_C.id == constitution_id)).first()
    return None if row is None else ConstitutionRow(*row)


def constitution_by_name(conn: Connection, name: str) -> int | None:
    found = conn.execute(select(_C.id).where(_C.name == name)).scalar_one_or_none()
    return None if found is None else int(found)


def list_constitutions(conn: Connection, *, limit: int) -> list[ConstitutionRow]:
    query = select(*_CONSTITUTION_COLUMNS).order_by(_C.id).limit(limit)
    return [ConstitutionRow(*row) for row in conn.execute(query)]


def mark_draft_changed(conn: Connection, constitution_id: int) -> None:
    conn.execute(update(_C).where(_C.id == constitution_id).values(draft_changed=True))


# --- the draft ---------------------------------------------------------------------------


def draft_principles(conn: Connection, constitution_id: int) -> list[PrincipleRow]:
    query = (
        select(_P.key, _P.position, _P.title, _P.text, _P.rationale, _P.examples)
        .where(_P.constitution_id == constitution_id)
        .order_by(_P.position, _P.key)
    )
    return [PrincipleRow(*row) for row in conn.execute(query)]


def put_principle(
    conn: Connection,
    constitution_id: int,
    *,
    key: str,
    title: str,
    text: str,
    rationale: str,
    examples: dict[str, Any],
    now: datetime,
) -> bool:
    """Update the draft's principle ``key`` in place, or append it at the end; returns
    whether it was new."""
    values = {
        "title": title, "text": text, "rationale": rationale, "examples": examples,
        "updated_at": now,
    }
    changed = conn.execute(
        update(_P).where(_P.constitution_id == constitution_id, _P.key == key).values(**values)
    ).rowcount
    if changed:
        return False
    last = conn.execute(
        select(func.max(_P.position)).where(_P.constitution_id == constitution_id)
    ).scalar_one_or_none()
    conn.execute(
        insert(_P).values(
            constitution_id=constitution_id, key=key,
            position=0 if last is None else int(last) + 1, **values,
        )
    )
    return True


def delete_principle(conn: Connection, constitution_id: int, key: str) -> bool:
    return bool(
        conn.execute(
            delete(_P).where(_P.constitution_id == constitution_id, _P.key == key)
        ).rowcount
    )


# --- versions ----------------------------------------------------------------------------


def bump_version(conn: Connection, constitution_id: int) -> int:
    """The next version number, taken under the constitution's row lock; clears
    ``draft_changed`` (the draft is about to become that version)."""
    conn.execute(
        update(_C)
        .where(_C.id == constitution_id)
        .values(latest_version=_C.latest_version + 1, draft_changed=False)
    )
    return int(
        conn.execute(select(_C.latest_version).where(_C.id == constitution_id)).scalar_one()
    )


def insert_version(
    conn: Connection,
    constitution_id: int,
    *,
    version: int,
    principles: list[dict[str, Any]],
    note: str,
    published_by: int | None,
    now: datetime,
) -> None:
    conn.execute(
        insert(_V).values(
            constitution_id=constitution_id, version=version, principles=principles, note=note,
            published_by=published_by, published_at=now,
        )
    )


def load_version(conn: Connection, constitution_id: int, version: int) -> VersionRow | None:
    row = conn.execute(
        select(*_VERSION_COLUMNS).where(
            _V.constitution_id == constitution_id, _V.version == version
        )
    ).first()
    return None if row is None else VersionRow(*row)


def list_versions(conn: Connection, constitution_id: int) -> list[VersionRow]:
    query = (
        select(*_VERSION_COLUMNS)
        .where(_V.constitution_id == constitution_id)
        .order_by(_V.version)
    )
    return [VersionRow(*row) for row in conn.execute(query)]


# --- proposals ---------------------------------------------------------------------------


def insert_proposal(
    conn: Connection,
    constitution_id: int,
    *,
    kind: str,
    principle_key: str,
    proposed: dict[str, Any] | None,
    reason: str,
    proposed_by: int | None,
    now: datetime,
) -> int:
    return int(
        conn.execute(
            insert(_PR)
            .values(
                constitution_id=constitution_id, kind=kind, principle_key=principle_key,
                proposed=proposed, reason=reason, status="open", proposed_by=proposed_by,
                created_at=now, decision_note="",
            )
            .returning(_PR.id)
        ).scalar_one()
    )


def load_proposal(conn: Connection, proposal_id: int) -> ProposalRow | None:
    row = conn.execute(select(*_PROPOSAL_COLUMNS).where(_PR.id == proposal_id)).first()
    return None if row is None else ProposalRow(*row)


def list_proposals(
    conn: Connection, constitution_id: int, *, status: str | None, limit: int
) -> list[ProposalRow]:
    query = select(*_PROPOSAL_COLUMNS).where(_PR.constitution_id == constitution_id)
    if status is not None:
        query = query.where(_PR.status == status)
    return [ProposalRow(*row) for row in conn.execute(query.order_by(_PR.id).limit(limit))]


def decide_proposal(
    conn: Connection, proposal_id: int, *, status: str, decided_by: int, note: str, now: datetime
) -> bool:
    """Close an open proposal; False when it was already closed (by someone else)."""
    return bool(
        conn.execute(
            update(_PR)
            .where(_PR.id == proposal_id, _PR.status == "open")
            .values(status=status, decided_by=decided_by, decided_at=now, decision_note=note)
        ).rowcount
    )


# --- statements and votes ----------------------------------------------------------------


def insert_statement(
    conn: Connection, constitution_id: int, *, text: str, created_by: int | None, now: datetime
) -> int:
    return int(
        conn.execute(
            insert(_S)
            .values(constitution_id=constitution_id, text=text, created_by=created_by,
                    created_at=now)
            .returning(_S.id)
        ).scalar_one()
    )


def load_statement(conn: Connection, statement_id: int) -> StatementRow | None:
    row = conn.execute(select(*_STATEMENT_COLUMNS).where(_S.id == statement_id)).first()
    return None if row is None else StatementRow(*row)


def list_statements(
    conn: Connection, constitution_id: int, *, limit: int
) -> list[tuple[StatementRow, dict[str, int]]]:
    """The statements in id order, each with its vote counts by vote."""
    statements = [
        StatementRow(*row)
        for row in conn.execute(
            select(*_STATEMENT_COLUMNS)
            .where(_S.constitution_id == constitution_id)
            .order_by(_S.id)
            .limit(limit)
        )
    ]
    counts: dict[int, dict[str, int]] = {s.id: {} for s in statements}
    if statements:
        tally = (
            select(_SV.statement_id, _SV.vote, func.count())
            .where(_SV.statement_id.in_(list(counts)))
            .group_by(_SV.statement_id, _SV.vote)
        )
        for statement_id, vote, n in conn.execute(tally):
            counts[int(statement_id)][str(vote)] = int(n)
    return [(s, counts[s.id]) for s in statements]


def record_vote(
    conn: Connection, statement_id: int, *, voter_id: int, vote: str, now: datetime
) -> None:
    """Store the voter's vote on the statement, replacing an earlier one."""
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    statement = dialect.insert(_SV).values(
        statement_id=statement_id, voter_id=voter_id, vote=vote, voted_at=now
    )
    conn.execute(
        statement.on_conflict_do_update(
            index_elements=[_SV.statement_id, _SV.voter_id],
            set_={"vote": statement.excluded.vote, "voted_at": statement.excluded.voted_at},
        )
    )


def statement_votes(
    conn: Connection, statement_ids: Sequence[int]
) -> list[tuple[int, int, str]]:
    """Every vote on the statements, as (statement id, voter id, vote)."""
    if not statement_ids:
        return []
    query = (
        select(_SV.statement_id, _SV.voter_id, _SV.vote)
        .where(_SV.statement_id.in_(list(statement_ids)))
        .order_by(_SV.statement_id, _SV.voter_id)
    )
    return [(int(s), int(v), str(vote)) for s, v, vote in conn.execute(query)]


def voter_votes(conn: Connection, constitution_id: int, voter_id: int) -> dict[int, str]:
    """The voter's votes on the constitution's statements, by statement id."""
    query = (
        select(_SV.statement_id, _SV.vote)
        .join(_S, _S.id == _SV.statement_id)
        .where(_S.constitution_id == constitution_id, _SV.voter_id == voter_id)
    )
    return {int(s): str(v) for s, v in conn.execute(query)}


def project_item_count(conn: Connection, project_id: int) -> int:
    """How many items the project holds (read once when items are made from a
    constitution, to carry the principles' rotation on from where it stopped)."""
    return int(
        conn.execute(
            select(func.count()).select_from(t.Item).where(t.Item.project_id == project_id)
        ).scalar_one()
    )
