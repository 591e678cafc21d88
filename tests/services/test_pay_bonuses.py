"""Bonus rules over a period: paid once per (worker, rule, period) by the job's pass,
recomputed by the reconciliation (both databases)."""

from __future__ import annotations

from datetime import datetime

import pytest
from sqlalchemy import insert, select

from db_fixtures import Env
from expertloop.clock import FakeClock
from expertloop.domain import Role, User
from expertloop.errors import InputInvalid, NotFound, PermissionDenied
from expertloop.services import pay, pay_bonuses, pay_ledger
from expertloop.services.assignments import next_assignment, submit_answer
from expertloop.services.reviews import decide_review, request_reviews
from expertloop.store import tables as t
from expertloop.store.pay_bonuses import BonusRuleRow


def _rule(period: str, created: datetime, disabled: datetime | None = None) -> BonusRuleRow:
    return BonusRuleRow(1, 1, "review_acceptance", period, 8000, 1, 100, "USD", None, created,
                        disabled)


def test_periods_are_calendar_weeks_and_months_that_have_ended() -> None:
    wednesday = datetime(2026, 12, 2, 15, 30)
    weeks = list(pay_bonuses.periods(_rule("week", wednesday), datetime(2026, 12, 21)))
    assert weeks == [(datetime(2026, 11, 30), datetime(2026, 12, 7)),
                     (datetime(2026, 12, 7), datetime(2026, 12, 14)),
                     (datetime(2026, 12, 14), datetime(2026, 12, 21))]
    months = list(pay_bonuses.periods(_rule("month", wednesday), datetime(2027, 2, 15)))
    assert months == [(datetime(2026, 12, 1), datetime(2027, 1, 1)),
                      (datetime(2027, 1, 1), datetime(2027, 2, 1))]
    stopped = _rule("month", wednesday, disabled=datetime(2027, 1, 20))
    assert list(pay_bonuses.periods(stopped, datetime(2027, 6, 1))) == months[:1]


def _decide(env: Env, manager: User, reviewer: User, project: int, worker: User,
            outcomes: list[str]) -> None:
    ids = []
    for _ in outcomes:
        a = next_assignment(env.db, actor=worker, project_id=project)
        assert a is not None
        ids.append(submit_answer(env.db, actor=worker, assignment_id=a.id,
                                 answer={"label": "cat"}).answer_id)
    request_reviews(env.db, actor=manager, project_id=project, answer_ids=ids)
    with env.db.read() as conn:
        reviews = dict(conn.execute(select(t.Review.answer_id, t.Review.id)).all())
    for answer, outcome in zip(ids, outcomes, strict=True):
        decide_review(env.db, actor=reviewer, review_id=reviews[answer], outcome=outcome,
                      comment="no" if outcome == "rejected" else "",
                      answer={"label": "dog"} if outcome == "fixed" else None)


def _approved(env: Env, worker: User) -> int:
    rows = pay_ledger.earnings(env.db, actor=worker, worker_id=worker.id)
    return sum(r.approved for r in rows)


def test_a_review_acceptance_bonus_is_paid_once_per_worker_and_period_and_reconciled(
    env: Env, clock: FakeClock
) -> None:
    manager, reviewer = env.user(Role.MANAGER), env.user(Role.REVIEWER)
    good, poor, few = env.user(), env.user(), env.user()
    project = env.project(manager, task_type="label", config={"labels": ["cat", "dog"]},
                          members=[good, poor, few, reviewer], answers_per_item=3)
    env.items(manager, project, [{"external_id": f"i{k}", "payload": {"text": f"t{k}"}}
                                 for k in range(3)])
    with pytest.raises(PermissionDenied):
        pay_bonuses.add_rule(env.db, actor=good, project_id=project,
                             metric="review_acceptance", period="month", threshold_bp=8000,
                             min_count=2, amount_minor=500, currency="USD")
    with pytest.raises(InputInvalid) as refused:
        pay_bonuses.add_rule(env.db, actor=manager, project_id=project,
                             metric="review_acceptance", period="fortnight",
                             threshold_bp=8000, min_count=2, amount_minor=500, currency="USD")
    assert refused.value.details[0]["field"] == "period"
    rule = pay_bonuses.add_rule(env.db, actor=manager, project_id=project,
                                metric="review_acceptance", period="month", threshold_bp=8000,
                                min_count=2, amount_minor=500, currency="usd")
    _decide(env, manager, reviewer, project, good, ["accepted", "fixed", "accepted"])
    _decide(env, manager, reviewer, project, poor, ["accepted", "rejected", "rejected"])
    _decide(env, manager, reviewer, project, few, ["accepted"])  # fewer than min_count

    assert pay_bonuses.pay_bonuses(env.db) == 0  # the month has not ended
    month_end = pay_bonuses.periods(rule, datetime(9999, 1, 1)).__next__()[1]
    clock.advance((month_end - clock.now()).total_seconds() + pay.CREDIT_GRACE_SECONDS + 1)
    assert pay_bonuses.pay_bonuses(env.db) == 1
    assert pay_bonuses.pay_bonuses(env.db) == 0
    assert [_approved(env, w) for w in (good, poor, few)] == [500, 0, 0]
    assert pay_ledger.reconcile(env.db).matches

    pay_bonuses.disable_rule(env.db, actor=manager, project_id=project, rule_id=rule.id)
    with pytest.raises(NotFound):
        pay_bonuses.disable_rule(env.db, actor=manager, project_id=project, rule_id=rule.id)
    clock.advance(40 * 86400)
    assert pay_bonuses.pay_bonuses(env.db) == 0
    assert pay_ledger.reconcile(env.db).matches

    # A bonus the rule does not call for is caught.
    with env.db.write() as conn:
        tx = conn.execute(insert(t.PayTransaction).returning(t.PayTransaction.id), {
            "key": f"bonus:{rule.id}:{poor.id}:forged", "kind": "adjustment",
            "project_id": project, "worker_id": poor.id, "created_at": clock.now(),
            "memo": "",
        }).scalar_one()
        conn.execute(insert(t.PayPosting), [
            {"transaction_id": tx, "account": "budget", "project_id": project,
             "worker_id": None, "amount": -500, "currency": "USD"},
            {"transaction_id": tx, "account": "approved", "project_id": project,
             "worker_id": poor.id, "amount": 500, "currency": "USD"},
        ])
    report = pay_ledger.reconcile(env.db)
    assert {(d.owner_id, d.expected, d.ledger) for d in report.differences
            if d.owner == "worker"} == {(poor.id, 0, 500)}

