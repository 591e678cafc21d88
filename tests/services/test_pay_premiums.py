"""Pay premiums: by skill level and verified credential, recorded with the credit and
recomputed identically by the reconciliation (both databases)."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select, update

from db_fixtures import Env
from expertloop.clock import FakeClock
from expertloop.domain import Role, User
from expertloop.errors import InputInvalid
from expertloop.services import pay, pay_ledger
from expertloop.services.assignments import next_assignment, submit_answer
from expertloop.services.reviews import decide_review, request_reviews
from expertloop.services.workforce import skills
from expertloop.store import tables as t

LATER = pay.CREDIT_GRACE_SECONDS + 1
PREMIUMS: list[dict[str, Any]] = [
    {"skill": "medicine", "min_level": 3, "basis_points": 2000},  # +20 %
    {"credential": "licence", "amount_minor": 15},  # +0.15 an answer
]


def _project(env: Env, manager: User, workers: list[User], n: int) -> int:
    project = env.project(manager, task_type="label", config={"labels": ["cat", "dog"]},
                          members=workers)
    env.items(manager, project, [
        {"external_id": f"i{k}", "payload": {"text": f"thing {k}"}} for k in range(n)
    ])
    return project


def _answer(env: Env, worker: User, project: int) -> int:
    a = next_assignment(env.db, actor=worker, project_id=project)
    assert a is not None
    return submit_answer(env.db, actor=worker, assignment_id=a.id,
                         answer={"label": "cat"}).answer_id


def _pending(env: Env, worker: User) -> int:
    rows = pay_ledger.earnings(env.db, actor=worker, worker_id=worker.id)
    return sum(r.pending + r.approved for r in rows)


def test_premiums_add_to_the_rate_for_skilled_and_licensed_workers_only(
    env: Env, clock: FakeClock
) -> None:
    manager = env.user(Role.MANAGER)
    novice, expert, licensed, both = (env.user() for _ in range(4))
    project = _project(env, manager, [novice, expert, licensed, both], 8)
    rate = pay.set_rate(env.db, actor=manager, project_id=project, kind="piece",
                        amount_minor=125, currency="USD", premiums=PREMIUMS)
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
        _answer(env, user, project)
    clock.advance(LATER)
    assert pay.credit(env.db).credits == 4
    # 125; 125 * 1.2 = 150; 125 + 15; 150 + 15.
    assert [_pending(env, u) for u in (novice, expert, licensed, both)] == [125, 150, 140, 165]
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
    manager, worker = env.user(Role.MANAGER), env.user()
    project = _project(env, manager, [worker], 1)
    pay.set_rate(env.db, actor=manager, project_id=project, kind="hourly", amount_minor=1800,
                 currency="EUR", premiums=[{"skill": "law", "min_level": 1,
                                            "basis_points": 5000}])
    skills.set_skills(env.db, actor=manager, user_id=worker.id, skills={"law": 1})
    a = next_assignment(env.db, actor=worker, project_id=project)
    assert a is not None
    clock.advance(50)  # 1800 an hour for 50 s is 25; +50 % is 37.5 -> 38
    submit_answer(env.db, actor=worker, assignment_id=a.id, answer={"label": "cat"})
    clock.advance(LATER)
    pay.credit(env.db)
    assert _pending(env, worker) == 38
    assert pay_ledger.reconcile(env.db).matches


def test_the_credit_keeps_its_premiums_when_skills_change_before_the_review(
    env: Env, clock: FakeClock
) -> None:
    manager, reviewer, worker = env.user(Role.MANAGER), env.user(Role.REVIEWER), env.user()
    project = _project(env, manager, [worker, reviewer], 2)
    pay.set_rate(env.db, actor=manager, project_id=project, kind="piece", amount_minor=100,
                 currency="USD", premiums=PREMIUMS[:1])
    skills.set_skills(env.db, actor=manager, user_id=worker.id, skills={"medicine": 4})
    first = _answer(env, worker, project)
    clock.advance(LATER)
    pay.credit(env.db)
    assert _pending(env, worker) == 120
    # The worker's level drops; the answer credited at 120 is approved at 120, and a new
    # answer earns the base rate.
    skills.set_skills(env.db, actor=manager, user_id=worker.id, skills={"medicine": 1})
    request_reviews(env.db, actor=manager, project_id=project, answer_ids=[first])
    with env.db.read() as conn:
        review = conn.execute(select(t.Review.id)).scalar_one()
    decide_review(env.db, actor=reviewer, review_id=review, outcome="accepted")
    _answer(env, worker, project)
    clock.advance(LATER)
    pay.credit(env.db)
    (row,) = pay_ledger.earnings(env.db, actor=worker, worker_id=worker.id)
    assert (row.pending, row.approved) == (100, 120)
    assert pay_ledger.reconcile(env.db).matches


def test_reconcile_finds_a_credit_whose_recorded_premiums_were_tampered_with(
    env: Env, clock: FakeClock
) -> None:
    manager, worker = env.user(Role.MANAGER), env.user()
    project = _project(env, manager, [worker], 1)
    pay.set_rate(env.db, actor=manager, project_id=project, kind="piece", amount_minor=100,
                 currency="USD", premiums=PREMIUMS[:1])
    skills.set_skills(env.db, actor=manager, user_id=worker.id, skills={"medicine": 3})
    _answer(env, worker, project)
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
    env: Env, premium: dict[str, Any], field: str
) -> None:
    manager = env.user(Role.MANAGER)
    project = _project(env, manager, [], 1)
    with pytest.raises(InputInvalid) as refused:
        pay.set_rate(env.db, actor=manager, project_id=project, kind="piece",
                     amount_minor=100, currency="USD", premiums=[premium])
    assert refused.value.details[0]["field"] == field
    assert pay.list_rates(env.db, actor=manager, project_id=project) == []
