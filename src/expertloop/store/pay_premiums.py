"""Pay premiums' rows: a rate's premiums, what each credit used, and the workers' skills
and verified credentials the premiums look at."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import Connection, Table, insert, select

from expertloop.domain import LedgerKind
from expertloop.store import tables as t

__all__ = [
    "PremiumRow",
    "credit_premium_ids",
    "insert_premiums",
    "premium_ids_of",
    "premiums_of",
    "qualifications",
]

PREMIUM = cast(Table, t.PayRatePremium.__table__)
TX = cast(Table, t.PayTransaction.__table__)
SKILL = cast(Table, t.UserSkill.__table__)
CREDENTIAL = cast(Table, t.UserCredential.__table__)


@dataclass(frozen=True, slots=True)
class PremiumRow:
    id: int
    rate_id: int
    skill: str | None
    min_level: int | None
    credential_kind: str | None
    basis_points: int | None
    amount_minor: int | None

    def to_dict(self) -> dict[str, Any]:
        condition: dict[str, Any] = (
            {"skill": self.skill, "min_level": self.min_level} if self.skill is not None
            else {"credential": self.credential_kind}
        )
        value: dict[str, Any] = (
            {"basis_points": self.basis_points} if self.basis_points is not None
            else {"amount_minor": self.amount_minor}
        )
        return {"id": self.id, **condition, **value}


def insert_premiums(conn: Connection, rate_id: int, premiums: Sequence[dict[str, Any]]) -> None:
    if premiums:
        conn.execute(insert(PREMIUM), [{"rate_id": rate_id, **p} for p in premiums])


def premiums_of(conn: Connection, rate_ids: Sequence[int]) -> dict[int, tuple[PremiumRow, ...]]:
    """Each rate's premiums, in id order."""
    found: dict[int, list[PremiumRow]] = {}
    if rate_ids:
        for row in conn.execute(
            select(PREMIUM).where(PREMIUM.c.rate_id.in_(list(rate_ids))).order_by(PREMIUM.c.id)
        ):
            found.setdefault(row.rate_id, []).append(PremiumRow(**row._mapping))
    return {rate_id: tuple(rows) for rate_id, rows in found.items()}


def premium_ids_of(meta: Any) -> tuple[int, ...]:
    """The premium ids a credit's ``meta`` records (none for a credit without)."""
    if not isinstance(meta, dict):
        return ()
    ids = meta.get("premium_ids") or []
    return tuple(int(i) for i in ids)


def credit_premium_ids(conn: Connection, answer_ids: Sequence[int]) -> dict[int, tuple[int, ...]]:
    """For the answers already credited, the premiums their credit used
    (``ix_pay_transactions_answer_id``)."""
    if not answer_ids:
        return {}
    rows = conn.execute(
        select(TX.c.answer_id, TX.c.meta).where(
            TX.c.answer_id.in_(list(answer_ids)), TX.c.kind == LedgerKind.CREDIT.value
        )
    )
    return {int(r[0]): premium_ids_of(r[1]) for r in rows}


def qualifications(
    conn: Connection, worker_ids: Sequence[int]
) -> dict[int, tuple[dict[str, int], frozenset[str]]]:
    """Each worker's skill levels and the kinds of their verified credentials, now."""
    skills: dict[int, dict[str, int]] = {}
    kinds: dict[int, set[str]] = {}
    if worker_ids:
        ids = sorted(set(worker_ids))
        for user_id, skill, level in conn.execute(
            select(SKILL.c.user_id, SKILL.c.skill, SKILL.c.level).where(SKILL.c.user_id.in_(ids))
        ):
            skills.setdefault(user_id, {})[skill] = int(level)
        for user_id, kind in conn.execute(
            select(CREDENTIAL.c.user_id, CREDENTIAL.c.kind).where(
                CREDENTIAL.c.user_id.in_(ids), CREDENTIAL.c.verified_at.is_not(None)
            )
        ):
            kinds.setdefault(user_id, set()).add(kind)
    return {
        w: (skills.get(w, {}), frozenset(kinds.get(w, ())))
        for w in set(skills) | set(kinds)
    }
