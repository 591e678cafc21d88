"""A panel's votes on a constitution's candidate statements, and the opinion groups in them.

Managers put candidate statements to the panel; every active account votes agree, disagree
or pass (a new vote replaces the old). The analysis groups the voters by how they voted
(:mod:`expertloop.quality.opinion_groups`, Polis's method) and reports each statement's
support overall and within each group: statements every group supports are consensus
candidates, statements that split the groups are contested. See ``docs/constitutions.md``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from expertloop.domain import User
from expertloop.domain.constitutions import (
    Statement,
    Vote,
    can_manage_constitutions,
    can_propose,
)
from expertloop.errors import InputInvalid, NotFound, PermissionDenied
from expertloop.quality.opinion_groups import opinion_groups
from expertloop.services.constitutions import require_constitution
from expertloop.store import Database, audit
from expertloop.store import constitutions as store

__all__ = [
    "MAX_STATEMENTS",
    "MAX_STATEMENT_CHARS",
    "GroupSummary",
    "StatementSupport",
    "VotingAnalysis",
    "add_statement",
    "analyse_votes",
    "list_statements",
    "my_votes",
    "vote",
]

MAX_STATEMENT_CHARS = 2000
MAX_STATEMENTS = 1000


def _statement(row: store.StatementRow, counts: dict[str, int]) -> Statement:
    return Statement(
        id=row.id, constitution_id=row.constitution_id, text=row.text,
        created_by=row.created_by, created_at=row.created_at,
        agree=counts.get(Vote.AGREE, 0), disagree=counts.get(Vote.DISAGREE, 0),
        passes=counts.get(Vote.PASS, 0),
    )


def add_statement(db: Database, *, actor: User, constitution_id: int, text: str) -> Statement:
    """Put a candidate statement to the panel (managers)."""
    if not can_manage_constitutions(actor):
        raise PermissionDenied("only managers put statements to the panel")
    text = text.strip()
    if not text:
        raise InputInvalid.on_field("text", "text is empty")
    if len(text) > MAX_STATEMENT_CHARS or "\x00" in text:
        raise InputInvalid.on_field(
            "text", f"text must be at most {MAX_STATEMENT_CHARS} characters, without NUL"
        )
    now = db.clock.now()
    with db.write() as conn:
        require_constitution(conn, constitution_id)
        statement_id = store.insert_statement(
            conn, constitution_id, text=text, created_by=actor.id, now=now
        )
        audit.record_event(
            conn, action="constitution.statement.add", actor_id=actor.id, now=now,
            details={"constitution_id": constitution_id, "statement_id": statement_id},
            after={"text": text},
        )
        row = store.load_statement(conn, statement_id)
        assert row is not None
        return _statement(row, {})


def list_statements(db: Database, *, actor: User, constitution_id: int) -> list[Statement]:
    if not can_propose(actor):
        raise PermissionDenied("inactive accounts cannot read statements")
    with db.read() as conn:
        require_constitution(conn, constitution_id)
        found = store.list_statements(conn, constitution_id, limit=MAX_STATEMENTS)
        return [_statement(row, counts) for row, counts in found]


def my_votes(db: Database, *, actor: User, constitution_id: int) -> dict[int, Vote]:
    """The caller's votes on the constitution's statements, by statement id."""
    with db.read() as conn:
        require_constitution(conn, constitution_id)
        found = store.voter_votes(conn, constitution_id, actor.id)
        return {statement_id: Vote(v) for statement_id, v in found.items()}


def vote(db: Database, *, actor: User, statement_id: int, choice: Vote) -> None:
    """Record the caller's vote on a statement (replacing an earlier one)."""
    if not can_propose(actor):
        raise PermissionDenied("inactive accounts cannot vote")
    now = db.clock.now()
    with db.write() as conn:
        if store.load_statement(conn, statement_id) is None:
            raise NotFound(f"statement {statement_id} not found")
        store.record_vote(conn, statement_id, voter_id=actor.id, vote=choice.value, now=now)


@dataclass(frozen=True, slots=True)
class StatementSupport:
    """A statement's support: ``support`` overall and ``group_support[g]`` per group (the
    agree rate with a Laplace prior), with the vote counts behind them."""

    statement: Statement
    votes: int
    support: float
    group_votes: tuple[int, ...]
    group_support: tuple[float, ...]
    group_informed_consensus: float | None
    consensus: bool
    contested: bool


@dataclass(frozen=True, slots=True)
class GroupSummary:
    """A group: its number, size, and its voters' places on the plot (x, y)."""

    group: int
    size: int
    x: tuple[float, ...]
    y: tuple[float, ...]


@dataclass(frozen=True, slots=True)
class VotingAnalysis:
    voters: int
    ungrouped: int
    silhouette: float | None
    groups: tuple[GroupSummary, ...]
    statements: tuple[StatementSupport, ...]


def analyse_votes(
    db: Database, *, actor: User, constitution_id: int, seed: int = 0, min_votes: int = 3,
) -> VotingAnalysis:
    """Group the panel by its votes and report each statement's support (managers).
    Voters with fewer than ``min_votes`` votes count overall but are not grouped."""
    if not can_manage_constitutions(actor):
        raise PermissionDenied("only managers read the panel's opinion groups")
    with db.read() as conn:
        require_constitution(conn, constitution_id)
        found = store.list_statements(conn, constitution_id, limit=MAX_STATEMENTS)
        votes = store.statement_votes(conn, [row.id for row, _ in found])
    statements = [_statement(row, counts) for row, counts in found]
    column = {s.id: j for j, s in enumerate(statements)}
    voter_ids = sorted({voter for _, voter, _ in votes})
    row_of = {voter: i for i, voter in enumerate(voter_ids)}
    matrix = np.full((len(voter_ids), len(statements)), np.nan)
    for statement_id, voter, choice in votes:
        matrix[row_of[voter], column[statement_id]] = Vote(choice).score
    if not statements or not voter_ids:
        return VotingAnalysis(
            voters=len(voter_ids), ungrouped=len(voter_ids), silhouette=None, groups=(),
            statements=tuple(
                StatementSupport(s, 0, 0.5, (), (), None, False, False)
                for s in statements
            ),
        )
    result = opinion_groups(matrix, seed=seed, min_votes=min_votes)
    groups = tuple(
        GroupSummary(
            group=g, size=int((result.labels == g).sum()),
            x=tuple(float(v) for v in result.coords[result.labels == g, 0]),
            y=tuple(float(v) for v in result.coords[result.labels == g, 1]),
        )
        for g in range(result.n_groups)
    )
    supports = tuple(
        StatementSupport(
            statement=s,
            votes=int(result.votes[j]),
            support=float(result.support[j]),
            group_votes=tuple(int(v) for v in result.group_votes[j]),
            group_support=tuple(float(v) for v in result.group_support[j]),
            group_informed_consensus=float(result.group_informed_consensus[j]),
            consensus=bool(result.consensus[j]),
            contested=bool(result.contested[j]),
        )
        for j, s in enumerate(statements)
    )
    return VotingAnalysis(
        voters=len(voter_ids),
        ungrouped=int((result.labels < 0).sum()),
        silhouette=None if np.isnan(result.silhouette) else float(result.silhouette),
        groups=groups,
        statements=supports,
    )
