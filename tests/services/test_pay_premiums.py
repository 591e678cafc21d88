"""Pay premiums: by skill level and verified credential, recorded with the credit and
recomputed identically by the reconciliation (both databases)."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select, update

from db_fixtures import Env
from expertloop.clock import FakeClock
from expertloop.domain import User
from expertloop.errors import InputInvalid
from expertloop.services import pay, pay_ledger
from expertloop.services.workforce import skills
from expertloop.store import tables as t
from pay_factory import PayWorld

LATER = pay.CREDIT_GRACE_SECONDS + 1
PREMIUMS: list[dict[str, Any]] = [
    {"skill": "medicine", "min_level": 3, "basis_points": 2000},  # +20 %
    {"credential": "licence", "amount_minor": 15},  # +0.15 an answer
]


def _pending(world: PayWorld, worker: User) -> int:
    pending, approved, _ = world.money(worker)
    return pending + approved


def test_premiums_add_to_the_rate_for_skilled_and_licensed_workers_only(
    env: Env, clock: FakeClock
) -> None:
    world = PayWorld.build(env, clock, workers=4, items=8)
    manager, (novice, expert, licensed, both) = world.manager, world.workers
    rate = world.rate(kind="piece", amount_minor=125, premiums=PREMIUMS)
    assert [p.to_dict()["skill" if "skill" in p.to_dict() else "credential"]
            for p in rate.premiums] == ["medicine", "licence"]
    skills.set_skills(env.db, actor=manager, user_id=novice.id, skills={"medicine": 2})
    skills.set_skills(env.db, actor=manager, user_id=expert.id, skills={"medicine": 3})
    skills.set_skills(env.db, actor=manager, user_id=both.id, skills={"medicine": 5})
    # A recorded but unverified licence earns nothing; a verified one does.
    skills.add_credential(env.db, actor=manager, user_id=novice.id, kind="licence",
                          title="GMC", verified=False)
    for user in (licensed, both):
        skills.add_credential(env.db, actor=manager, user_id=user.id, kind="licence",
                              title="GMC", verified=True)
    for user in (novice, expert, licensed, both):
        world.answer(user)
    clock.advance(LATER)
    assert pay.credit(env.db).credits == 4
    # 125; 125 * 1.2 = 150; 125 + 15; 150 + 15.
    assert [_pending(world, u) for u in (novice, expert, licensed, both)] == [125, 150, 140, 165]
    with env.db.read() as conn:
        metas = conn.execute(select(t.PayTransaction.worker_id, t.PayTransaction.meta)).all()
    by_worker = dict(metas)  # type: ignore[arg-type]
    assert by_worker[novice.id] == {"rate_id": rate.id, "premium_ids": []}
    assert by_worker[both.id] == {"rate_id": rate.id,
                                  "premium_ids": [p.id for p in rate.premiums]}
    assert pay_ledger.reconcile(env.db).matches


def test_a_percentage_premium_on_an_hourly_rate_rounds_half_up_once(
    env: Env, clock: FakeClock
) -> None:
    world = PayWorld.build(
        env, clock, items=1, kind="hourly", amount_minor=1800, currency="EUR",
        premiums=[{"skill": "law", "min_level": 1, "basis_points": 5000}],
    )
    manager, (worker,) = world.manager, world.workers
    skills.set_skills(env.db, actor=manager, user_id=worker.id, skills={"law": 1})
    world.answer(worker, seconds=50)  # 1800 an hour for 50 s is 25; +50 % is 37.5 -> 38
    clock.advance(LATER)
    pay.credit(env.db)
    assert _pending(world, worker) == 38
    assert pay_ledger.reconcile(env.db).matches


def test_the_credit_keeps_its_premiums_when_skills_change_before_the_review(
    env: Env, clock: FakeClock
) -> None:
    world = PayWorld.build(
        env, clock, items=2, kind="piece", amount_minor=100, premiums=PREMIUMS[:1]
    )
    manager, (worker,) = world.manager, world.workers
    skills.set_skills(env.db, actor=manager, user_id=worker.id, skills={"medicine": 4})
    first = world.answer(worker)
    assert first is not None
    clock.advance(LATER)
    pay.credit(env.db)
    assert _pending(world, worker) == 120
    # The worker's level drops; the answer credited at 120 is approved at 120, and a new
    # answer earns the base rate.
    skills.set_skills(env.db, actor=manager, user_id=worker.id, skills={"medicine": 1})
    world.review(first, "accepted")
    world.answer(worker)
    clock.advance(LATER)
    pay.credit(env.db)
    (row,) = pay_ledger.earnings(env.db, actor=worker, worker_id=worker.id)
    assert (row.pending, row.approved) == (100, 120)
    assert pay_ledger.reconcile(env.db).matches


def test_reconcile_finds_a_credit_whose_recorded_premiums_were_tampered_with(
    env: Env, clock: FakeClock
) -> None:
    world = PayWorld.build(
        env, clock, items=1, kind="piece", amount_minor=100, premiums=PREMIUMS[:1]
    )
    manager, (worker,) = world.manager, world.workers
    skills.set_skills(env.db, actor=manager, user_id=worker.id, skills={"medicine": 3})
    world.answer(worker)
    clock.advance(LATER)
    pay.credit(env.db)
    assert pay_ledger.reconcile(env.db).matches
    with env.db.write() as conn:
        conn.execute(update(t.PayTransaction).values(meta={"premium_ids": []}))
    report = pay_ledger.reconcile(env.db)
    assert not report.matches
    assert {(d.account, d.expected, d.ledger) for d in report.differences
            if d.owner == "worker"} == {("pending", 100, 120)}


@pytest.mark.parametrize(("premium", "field"), [
    ({"skill": "medicine", "basis_points": 100}, "premiums[0].min_level"),
    ({"skill": "Medicine!", "min_level": 2, "basis_points": 100}, "premiums[0].skill"),
    ({"credential": "wizardry", "amount_minor": 5}, "premiums[0].credential"),
    ({"credential": "licence"}, "premiums[0]"),
    ({"credential": "licence", "amount_minor": 5, "basis_points": 1}, "premiums[0]"),
    ({"skill": "law", "min_level": 1, "basis_points": -1}, "premiums[0].basis_points"),
    ({"skill": "law", "min_level": 9, "basis_points": 1}, "premiums[0].min_level"),
    ({"credential": "licence", "amount_minor": 5, "colour": "red"}, "premiums[0]"),
])
def test_a_malformed_premium_is_refused_naming_its_field(
    env: Env, clock: FakeClock, premium: dict[str, Any], field: str
) -> None:
    world = PayWorld.build(env, clock, workers=0, items=1)
    manager, project = world.manager, world.project
    with pytest.raises(InputInvalid) as refused:
        pay.set_rate(env.db, actor=manager, project_id=project, kind="piece",
                     amount_minor=100, currency="USD", premiums=[premium])
    assert refused.value.details[0]["field"] == field
    assert pay.list_rates(env.db, actor=manager, project_id=project) == []
