"""Pay premiums: a rate may pay more to workers with a skill at a level or more, or with
a verified credential of a kind (``docs/pay.md``, Premiums).

A premium is a percentage in basis points (``2000`` = +20 %) or a fixed amount per answer.
An answer's pay is ``with_premium(base, sum of basis points) + sum of fixed amounts`` over
the rate's premiums the worker qualifies for (rounded half up once, on integers). Which
premiums a credit used is decided when the credit is first written, from the worker's
skills and verified credentials then (within the crediting grace period of the answer),
and recorded in the credit's ``meta``; its approval or reversal and the reconciliation use
the recorded premiums, so the amount never changes when a worker's skills do.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from sqlalchemy import Connection

from expertloop.domain import CredentialKind
from expertloop.domain.money import with_premium
from expertloop.errors import InputInvalid
from expertloop.store import pay_premiums as premium_store
from expertloop.store.pay import AnswerFacts, RateRow
from expertloop.store.pay_premiums import PremiumRow
from expertloop.store.tables import MAX_SKILL_LEVEL, SKILL_NAME

__all__ = [
    "MAX_BASIS_POINTS",
    "MAX_PREMIUMS",
    "check_premiums",
    "premium_amount",
    "qualifying",
    "resolve_premiums",
]

MAX_PREMIUMS = 20
MAX_BASIS_POINTS = 100_000  # +1000 %
_SKILL = re.compile(SKILL_NAME)


def check_premiums(premiums: Sequence[Mapping[str, Any]], max_amount: int) -> list[dict[str, Any]]:
    """Validate premiums as given by a manager; return the rows to store. Each is
    ``{"skill": "medicine", "min_level": 3}`` or ``{"credential": "licence"}``, with
    ``"basis_points": 2000`` or ``"amount_minor": 50``."""
    if len(premiums) > MAX_PREMIUMS:
        raise InputInvalid.on_field("premiums", f"at most {MAX_PREMIUMS} premiums a rate")
    rows = []
    for i, premium in enumerate(premiums):
        field = f"premiums[{i}]"
        if not isinstance(premium, Mapping):
            raise InputInvalid.on_field(field, "give an object")
        unknown = set(premium) - {"skill", "min_level", "credential", "basis_points",
                                  "amount_minor"}
        if unknown:
            raise InputInvalid.on_field(field, f"unknown keys {sorted(unknown)}")
        row: dict[str, Any] = {"skill": None, "min_level": None, "credential_kind": None,
                               "basis_points": None, "amount_minor": None}
        if ("skill" in premium) == ("credential" in premium):
            raise InputInvalid.on_field(field, "give either a skill (with min_level) or a "
                                               "credential kind")
        if "skill" in premium:
            skill, level = premium["skill"], premium.get("min_level")
            if not isinstance(skill, str) or not _SKILL.match(skill):
                raise InputInvalid.on_field(
                    f"{field}.skill", "a premium's skill: a name such as medicine")
            if (isinstance(level, bool) or not isinstance(level, int)
                    or not 1 <= level <= MAX_SKILL_LEVEL):
                raise InputInvalid.on_field(
                    f"{field}.min_level",
                    f"a skill premium's min_level: an integer from 1 to {MAX_SKILL_LEVEL}")
            row["skill"], row["min_level"] = skill, level
        else:
            if "min_level" in premium:
                raise InputInvalid.on_field(f"{field}.min_level", "only a skill has a level")
            try:
                row["credential_kind"] = CredentialKind(premium["credential"]).value
            except (ValueError, TypeError):
                raise InputInvalid.on_field(
                    f"{field}.credential",
                    f"a premium's credential kind must be one of "
                    f"{', '.join(k.value for k in CredentialKind)}") from None
        if ("basis_points" in premium) == ("amount_minor" in premium):
            raise InputInvalid.on_field(field, "give either basis_points or amount_minor")
        key, top = (("basis_points", MAX_BASIS_POINTS) if "basis_points" in premium
                    else ("amount_minor", max_amount))
        value = premium[key]
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= top:
            raise InputInvalid.on_field(
                f"{field}.{key}", f"a premium's {key}: an integer from 0 to {top}")
        row[key] = value
        rows.append(row)
    return rows


def qualifying(
    rate: RateRow, skills: Mapping[str, int], credential_kinds: frozenset[str]
) -> tuple[int, ...]:
    """The ids of the rate's premiums a worker with these skills and credentials earns."""
    return tuple(
        p.id for p in rate.premiums
        if (p.skill is not None and p.min_level is not None
            and skills.get(p.skill, 0) >= p.min_level)
        or (p.credential_kind is not None and p.credential_kind in credential_kinds)
    )


def premium_amount(rate: RateRow, base: int, premium_ids: Sequence[int]) -> int:
    """``base`` with the rate's premiums of these ids (ids not the rate's count nothing)."""
    chosen: list[PremiumRow] = [p for p in rate.premiums if p.id in set(premium_ids)]
    if not chosen:
        return base
    points = sum(p.basis_points or 0 for p in chosen)
    return with_premium(base, points) + sum(p.amount_minor or 0 for p in chosen)


def resolve_premiums(
    conn: Connection, rows: Sequence[AnswerFacts], rate_of: Any
) -> list[AnswerFacts]:
    """The rows with the premiums their credit uses: recorded ones for answers already
    credited, otherwise those the worker qualifies for now. ``rate_of(facts)`` is the rate
    the answer earns (or None)."""
    rates = {r.answer_id: rate_of(r) for r in rows}
    with_premiums = [r for r in rows if rates[r.answer_id] is not None
                     and rates[r.answer_id].premiums]
    if not with_premiums:
        return list(rows)
    recorded = premium_store.credit_premium_ids(conn, [r.answer_id for r in with_premiums])
    fresh = [r for r in with_premiums if r.answer_id not in recorded]
    quals = premium_store.qualifications(conn, [r.worker_id for r in fresh])
    out = []
    for r in rows:
        rate = rates[r.answer_id]
        if rate is None or not rate.premiums:
            out.append(r)
        elif r.answer_id in recorded:
            out.append(replace(r, premium_ids=recorded[r.answer_id]))
        else:
            skills, kinds = quals.get(r.worker_id, ({}, frozenset()))
            out.append(replace(r, premium_ids=qualifying(rate, skills, kinds)))
    return out
