"""Constitutions: managers create them and edit the draft, experts propose principles and
amendments with a reason, reviewers accept or reject them, managers publish versions.

Every change a manager or reviewer makes is audited. An accepted proposal changes the
draft in the same transaction as the decision; publishing freezes the draft as the next
version. See ``docs/constitutions.md``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection

from expertloop.domain import User
from expertloop.domain.constitutions import (
    PRINCIPLE_KEY,
    Constitution,
    ConstitutionVersion,
    Principle,
    Proposal,
    ProposalKind,
    ProposalStatus,
    can_decide_proposals,
    can_manage_constitutions,
    can_propose,
)
from expertloop.domain.safe_json import json_problem
from expertloop.errors import AlreadyExists, InputInvalid, NotFound, PermissionDenied, ReviewClosed
from expertloop.store import Database, audit
from expertloop.store import constitutions as store
from expertloop.store import users as user_store

__all__ = [
    "MAX_EXAMPLES",
    "MAX_LISTED",
    "MAX_TEXT_CHARS",
    "create_constitution",
    "decide_proposal",
    "draft",
    "get_constitution",
    "get_version",
    "list_constitutions",
    "list_proposals",
    "list_versions",
    "principle_from_input",
    "propose",
    "publish",
    "put_principle",
    "remove_principle",
    "require_constitution",
    "usernames_of",
]

MAX_TEXT_CHARS = 10_000
MAX_EXAMPLES = 20
MAX_LISTED = 1000


def _constitution(row: store.ConstitutionRow) -> Constitution:
    return Constitution(
        id=row.id, name=row.name, description=row.description, created_at=row.created_at,
        created_by=row.created_by, latest_version=row.latest_version,
        draft_changed=row.draft_changed,
    )


def _principle(row: store.PrincipleRow) -> Principle:
    return Principle(
        key=row.key, title=row.title, text=row.text, rationale=row.rationale,
        compliance_examples=tuple(row.examples.get("compliance", ())),
        violation_examples=tuple(row.examples.get("violation", ())),
    )


def _version(row: store.VersionRow) -> ConstitutionVersion:
    return ConstitutionVersion(
        constitution_id=row.constitution_id, version=row.version, note=row.note,
        published_at=row.published_at, published_by=row.published_by,
        principles=tuple(Principle.from_dict(p) for p in row.principles),
    )


def _proposal(row: store.ProposalRow) -> Proposal:
    return Proposal(
        id=row.id, constitution_id=row.constitution_id, kind=ProposalKind(row.kind),
        principle_key=row.principle_key,
        principle=None if row.proposed is None else Principle.from_dict(row.proposed),
        reason=row.reason, status=ProposalStatus(row.status), proposed_by=row.proposed_by,
        created_at=row.created_at, decided_by=row.decided_by, decided_at=row.decided_at,
        decision_note=row.decision_note,
    )


def _text(field: str, value: str, *, required: bool, limit: int = MAX_TEXT_CHARS) -> str:
    value = value.strip()
    if required and not value:
        raise InputInvalid.on_field(field, f"{field} is empty")
    if len(value) > limit:
        raise InputInvalid.on_field(field, f"{field} is longer than {limit} characters")
    problem = json_problem(value, path=field)
    if problem is not None:
        raise InputInvalid.on_field(problem.field or field, problem.message)
    return value


def _examples(field: str, values: Sequence[str]) -> tuple[str, ...]:
    if len(values) > MAX_EXAMPLES:
        raise InputInvalid.on_field(field, f"at most {MAX_EXAMPLES} examples")
    return tuple(_text(f"{field}.{n}", v, required=True) for n, v in enumerate(values))


def principle_from_input(
    *,
    key: str,
    title: str,
    text: str,
    rationale: str = "",
    compliance_examples: Sequence[str] = (),
    violation_examples: Sequence[str] = (),
) -> Principle:
    """A principle checked field by field (a clear 422 naming the field otherwise)."""
    if not PRINCIPLE_KEY.match(key):
        raise InputInvalid.on_field(
            "key", "key must be 1-64 characters: lower-case letters, digits, '_', '.', '-', "
            "starting with a letter or digit"
        )
    return Principle(
        key=key,
        title=_text("title", title, required=True, limit=200),
        text=_text("text", text, required=True),
        rationale=_text("rationale", rationale, required=False),
        compliance_examples=_examples("compliance_examples", compliance_examples),
        violation_examples=_examples("violation_examples", violation_examples),
    )


def require_constitution(conn: Connection, constitution_id: int) -> store.ConstitutionRow:
    row = store.load_constitution(conn, constitution_id)
    if row is None:
        raise NotFound(f"constitution {constitution_id} not found")
    return row


def _require_reader(actor: User) -> None:
    # Every active account reads constitutions: the experts propose and vote on them.
    if not can_propose(actor):
        raise PermissionDenied("inactive accounts cannot read constitutions")


def _require_manager(actor: User) -> None:
    if not can_manage_constitutions(actor):
        raise PermissionDenied("only managers can create, edit and publish constitutions")


# --- constitutions and the draft ---------------------------------------------------------


def create_constitution(
    db: Database, *, actor: User, name: str, description: str = ""
) -> Constitution:
    _require_manager(actor)
    name = _text("name", name, required=True, limit=200)
    description = _text("description", description, required=False)
    now = db.clock.now()
    with db.write() as conn:
        if store.constitution_by_name(conn, name) is not None:
            raise AlreadyExists(f"a constitution named {name!r} already exists")
        constitution_id = store.insert_constitution(
            conn, name=name, description=description, created_by=actor.id, now=now
        )
        audit.record_event(
            conn, action="constitution.create", actor_id=actor.id, now=now,
            details={"constitution_id": constitution_id}, after={"name": name},
        )
        return _constitution(require_constitution(conn, constitution_id))


def list_constitutions(db: Database, *, actor: User) -> list[Constitution]:
    """Every constitution: any signed-in expert reads them (they propose and vote)."""
    _require_reader(actor)
    with db.read() as conn:
        return [_constitution(row) for row in store.list_constitutions(conn, limit=MAX_LISTED)]


def get_constitution(db: Database, *, actor: User, constitution_id: int) -> Constitution:
    _require_reader(actor)
    with db.read() as conn:
        return _constitution(require_constitution(conn, constitution_id))


def draft(db: Database, *, actor: User, constitution_id: int) -> list[Principle]:
    """The draft's principles, in order."""
    _require_reader(actor)
    with db.read() as conn:
        require_constitution(conn, constitution_id)
        return [_principle(row) for row in store.draft_principles(conn, constitution_id)]


def _put(conn: Connection, constitution_id: int, principle: Principle, now: Any) -> bool:
    new = store.put_principle(
        conn, constitution_id, key=principle.key, title=principle.title, text=principle.text,
        rationale=principle.rationale,
        examples={
            "compliance": list(principle.compliance_examples),
            "violation": list(principle.violation_examples),
        },
        now=now,
    )
    store.mark_draft_changed(conn, constitution_id)
    return new


def put_principle(
    db: Database, *, actor: User, constitution_id: int, principle: Principle
) -> bool:
    """Add the principle to the draft or replace the one with its key (managers); returns
    whether it was new."""
    _require_manager(actor)
    now = db.clock.now()
    with db.write() as conn:
        require_constitution(conn, constitution_id)
        before = {p.key: p for p in map(_principle, store.draft_principles(conn, constitution_id))}
        new = _put(conn, constitution_id, principle, now)
        old = before.get(principle.key)
        audit.record_event(
            conn, action="constitution.principle.put", actor_id=actor.id, now=now,
            details={"constitution_id": constitution_id, "key": principle.key},
            before=None if old is None else old.to_dict(), after=principle.to_dict(),
        )
        return new


def remove_principle(db: Database, *, actor: User, constitution_id: int, key: str) -> None:
    _require_manager(actor)
    now = db.clock.now()
    with db.write() as conn:
        require_constitution(conn, constitution_id)
        before = {p.key: p for p in map(_principle, store.draft_principles(conn, constitution_id))}
        if key not in before or not store.delete_principle(conn, constitution_id, key):
            raise NotFound(f"the draft has no principle {key!r}")
        store.mark_draft_changed(conn, constitution_id)
        audit.record_event(
            conn, action="constitution.principle.remove", actor_id=actor.id, now=now,
            details={"constitution_id": constitution_id, "key": key},
            before=before[key].to_dict(),
        )


# --- versions ----------------------------------------------------------------------------


def publish(
    db: Database, *, actor: User, constitution_id: int, note: str = ""
) -> ConstitutionVersion:
    """Freeze the draft as the next version (managers). An empty draft is refused."""
    _require_manager(actor)
    note = _text("note", note, required=False)
    now = db.clock.now()
    with db.write() as conn:
        require_constitution(conn, constitution_id)
        rows = store.draft_principles(conn, constitution_id)
        principles = [_principle(r).to_dict() for r in rows]
        if not principles:
            raise InputInvalid("the draft has no principles: add some before publishing")
        version = store.bump_version(conn, constitution_id)
        store.insert_version(
            conn, constitution_id, version=version, principles=principles, note=note,
            published_by=actor.id, now=now,
        )
        audit.record_event(
            conn, action="constitution.publish", actor_id=actor.id, now=now,
            details={"constitution_id": constitution_id, "version": version,
                     "principles": len(principles)},
        )
        row = store.load_version(conn, constitution_id, version)
        assert row is not None
        return _version(row)


def list_versions(
    db: Database, *, actor: User, constitution_id: int
) -> list[ConstitutionVersion]:
    _require_reader(actor)
    with db.read() as conn:
        require_constitution(conn, constitution_id)
        return [_version(row) for row in store.list_versions(conn, constitution_id)]


def get_version(
    db: Database, *, actor: User, constitution_id: int, version: int
) -> ConstitutionVersion:
    _require_reader(actor)
    with db.read() as conn:
        require_constitution(conn, constitution_id)
        row = store.load_version(conn, constitution_id, version)
        if row is None:
            raise NotFound(f"constitution {constitution_id} has no version {version}")
        return _version(row)


# --- proposals ---------------------------------------------------------------------------


def propose(
    db: Database,
    *,
    actor: User,
    constitution_id: int,
    kind: ProposalKind,
    reason: str,
    principle: Principle | None = None,
    principle_key: str | None = None,
) -> Proposal:
    """An expert proposes a new principle (``add``, with ``principle``), an amendment
    (``amend``, with the whole principle as it should read) or a removal (``remove``, with
    ``principle_key``). The reason is required: reviewers decide on it."""
    if not can_propose(actor):
        raise PermissionDenied("inactive accounts cannot propose")
    reason = _text("reason", reason, required=True)
    if kind is ProposalKind.REMOVE:
        if principle is not None or not principle_key:
            raise InputInvalid.on_field("principle_key", "a removal names the principle_key only")
        key = principle_key
    else:
        if principle is None:
            raise InputInvalid.on_field(
                "principle", f"an {kind.value} proposal gives the principle"
            )
        key = principle.key
    now = db.clock.now()
    with db.write() as conn:
        require_constitution(conn, constitution_id)
        existing = {r.key for r in store.draft_principles(conn, constitution_id)}
        if kind is ProposalKind.ADD and key in existing:
            raise AlreadyExists(f"the draft already has a principle {key!r}: propose an amendment")
        if kind is not ProposalKind.ADD and key not in existing:
            raise NotFound(f"the draft has no principle {key!r}")
        proposal_id = store.insert_proposal(
            conn, constitution_id, kind=kind.value, principle_key=key,
            proposed=None if principle is None else principle.to_dict(), reason=reason,
            proposed_by=actor.id, now=now,
        )
        row = store.load_proposal(conn, proposal_id)
        assert row is not None
        return _proposal(row)


def list_proposals(
    db: Database, *, actor: User, constitution_id: int, status: ProposalStatus | None = None
) -> list[Proposal]:
    _require_reader(actor)
    with db.read() as conn:
        require_constitution(conn, constitution_id)
        rows = store.list_proposals(
            conn, constitution_id, status=None if status is None else status.value,
            limit=MAX_LISTED,
        )
        return [_proposal(row) for row in rows]


def decide_proposal(
    db: Database, *, actor: User, proposal_id: int, accept: bool, note: str = ""
) -> Proposal:
    """A reviewer accepts (the draft changes now) or rejects an open proposal."""
    if not can_decide_proposals(actor):
        raise PermissionDenied("only reviewers and managers decide on proposals")
    note = _text("note", note, required=False)
    now = db.clock.now()
    with db.write() as conn:
        row = store.load_proposal(conn, proposal_id)
        if row is None:
            raise NotFound(f"proposal {proposal_id} not found")
        proposal = _proposal(row)
        status = ProposalStatus.ACCEPTED if accept else ProposalStatus.REJECTED
        if not store.decide_proposal(
            conn, proposal_id, status=status.value, decided_by=actor.id, note=note, now=now
        ):
            raise ReviewClosed(f"proposal {proposal_id} is already {row.status}")
        if accept:
            _apply(conn, proposal, now)
        audit.record_event(
            conn, action=f"constitution.proposal.{status.value}", actor_id=actor.id, now=now,
            details={"constitution_id": proposal.constitution_id, "proposal_id": proposal_id,
                     "kind": proposal.kind.value, "key": proposal.principle_key},
        )
        decided = store.load_proposal(conn, proposal_id)
        assert decided is not None
        return _proposal(decided)


def _apply(conn: Connection, proposal: Proposal, now: Any) -> None:
    existing = {r.key for r in store.draft_principles(conn, proposal.constitution_id)}
    key = proposal.principle_key
    if proposal.kind is ProposalKind.ADD and key in existing:
        raise AlreadyExists(f"the draft already has a principle {key!r} (added since)")
    if proposal.kind is not ProposalKind.ADD and key not in existing:
        raise NotFound(f"the draft no longer has a principle {key!r}")
    if proposal.kind is ProposalKind.REMOVE:
        store.delete_principle(conn, proposal.constitution_id, key)
        store.mark_draft_changed(conn, proposal.constitution_id)
    else:
        assert proposal.principle is not None
        _put(conn, proposal.constitution_id, proposal.principle, now)


def usernames_of(db: Database, user_ids: Sequence[int]) -> dict[int, str]:
    """The usernames of the proposers, deciders and publishers shown on the pages."""
    if not user_ids:
        return {}
    with db.read() as conn:
        return user_store.usernames(conn, list(user_ids))
