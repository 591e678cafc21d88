"""Pay on both databases: rates, crediting exactly once, approvals and reversals from
reviews, reconciliation (and a tampered ledger), adjustments, and the budget stop."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import insert, select, update

from db_fixtures import Env
from expertloop.clock import FakeClock
from expertloop.domain import Role, User
from expertloop.errors import InputInvalid, PermissionDenied
from expertloop.services import pay, pay_budget, pay_ledger, projects
from expertloop.services.assignments import next_assignment, submit_answer
from expertloop.services.reviews import decide_review, request_reviews
from expertloop.store import tables as t
from pay_factory import PayWorld, at_once

LATER = timedelta(seconds=pay.CREDIT_GRACE_SECONDS + 1)


def _credits(env: Env) -> list[tuple[int | None, str]]:
    with env.db.read() as conn:
        return [tuple(r) for r in conn.execute(  # type: ignore[misc]
            select(t.PayTransaction.answer_id, t.PayTransaction.kind)
            .order_by(t.PayTransaction.id))]


def test_a_piece_rate_credits_each_answer_once_however_often_the_pass_runs(
    env: Env, clock: FakeClock
) -> None:
    world = PayWorld.build(env, clock, items=5, kind="piece", amount_minor=125, currency="usd")
    (worker,) = world.workers
    answers = [world.answer(worker) for _ in range(3)]

    assert pay.credit(env.db).credits == 0  # younger than the grace period: not yet
    clock.advance(LATER.total_seconds())
    assert pay.credit(env.db).credits == 3
    assert pay.credit(env.db).credits == 0
    assert world.money(worker) == (375, 0, 0)
    assert sorted(a for a, _ in _credits(env)) == sorted(answers)  # type: ignore[type-var]
    assert pay_ledger.reconcile(env.db).matches


def test_an_hourly_rate_pays_time_on_task_capped_per_item_and_rounded_half_up(
    env: Env, clock: FakeClock
) -> None:
    # 18.01 an hour, at most 120 s an item.
    world = PayWorld.build(env, clock, items=3, kind="hourly", amount_minor=1801,
                           currency="EUR", max_seconds_per_item=120)
    (worker,) = world.workers
    world.answer(worker, seconds=60)   # 1801 / 60 = 30.0167 -> 30
    world.answer(worker, seconds=300)  # capped at 120 s: 60.033 -> 60
    world.answer(worker, seconds=1)    # 0.5003 -> 1
    clock.advance(LATER.total_seconds())
    pay.credit(env.db)
    assert world.money(worker) == (91, 0, 0)
    assert pay_ledger.reconcile(env.db).matches


def test_a_new_rate_pays_only_answers_created_after_it_starts(
    env: Env, clock: FakeClock
) -> None:
    world = PayWorld.build(env, clock, items=4)
    (worker,) = world.workers
    world.answer(worker)  # before any rate: unpaid
    clock.advance(1)
    world.rate(kind="piece", amount_minor=10)
    world.answer(worker)
    clock.advance(1)
    world.rate(kind="piece", amount_minor=20)
    world.answer(worker)
    with pytest.raises(InputInvalid) as refused:
        world.rate(kind="piece", amount_minor=5, effective_from=clock.now() - timedelta(days=1))
    assert refused.value.details[0]["field"] == "effective_from"
    clock.advance(LATER.total_seconds())
    pay.credit(env.db)
    assert world.money(worker) == (30, 0, 0)
    assert pay_ledger.reconcile(env.db).matches


def test_reviews_approve_accepted_and_fixed_answers_and_reverse_rejected_ones(
    env: Env, clock: FakeClock
) -> None:
    world = PayWorld.build(env, clock, items=4, kind="piece", amount_minor=100)
    manager, reviewer, project, (worker,) = (
        world.manager, world.reviewer, world.project, world.workers
    )
    ids = [world.answer(worker) for _ in range(4)]
    clock.advance(LATER.total_seconds())
    pay.credit(env.db)
    request_reviews(env.db, actor=manager, project_id=project, answer_ids=ids[:3])
    with env.db.read() as conn:
        reviews = dict(conn.execute(select(t.Review.answer_id, t.Review.id)).all())
    decide_review(env.db, actor=reviewer, review_id=reviews[ids[0]], outcome="accepted")
    decide_review(env.db, actor=reviewer, review_id=reviews[ids[1]], outcome="rejected",
                  comment="not a cat")
    decide_review(env.db, actor=reviewer, review_id=reviews[ids[2]], outcome="fixed",
                  answer={"label": "dog"})
    clock.advance(LATER.total_seconds())
    result = pay.credit(env.db)

    assert (result.approvals, result.reversals) == (2, 1)
    assert world.money(worker) == (100, 200, 0)
    assert pay.credit(env.db).to_dict()["reversals"] == 0
    kinds = [k for a, k in _credits(env) if a == ids[1]]
    assert kinds == ["credit", "reversal"]  # a reversal is a new transaction
    assert pay_ledger.reconcile(env.db).matches


def test_a_decision_made_before_the_answers_pass_credits_and_decides_in_one_go(
    env: Env, clock: FakeClock
) -> None:
    world = PayWorld.build(env, clock, items=1, kind="piece", amount_minor=7, currency="JPY")
    (worker,) = world.workers
    answer = world.answer(worker)
    assert answer is not None
    world.review(answer, "rejected")
    clock.advance(LATER.total_seconds())
    pay.credit(env.db)
    assert world.money(worker) == (0, 0, 0)
    assert [k for _, k in _credits(env)] == ["credit", "reversal"]
    assert pay_ledger.reconcile(env.db).matches


def test_duplicate_submits_and_concurrent_passes_credit_each_answer_once(
    env: Env, clock: FakeClock
) -> None:
    world = PayWorld.build(env, clock, workers=3, items=20, per_item=3, kind="piece",
                           amount_minor=3)
    project, workers = world.project, world.workers
    for worker in workers:
        for k in range(5):
            a = next_assignment(env.db, actor=worker, project_id=project)
            assert a is not None
            for _ in range(3):  # the client retried twice
                submit_answer(env.db, actor=worker, assignment_id=a.id,
                              answer={"label": "dog"}, idempotency_key=f"k{k}")
    clock.advance(LATER.total_seconds())
    assert at_once(*[lambda: pay.credit(env.db, batch=4)] * 4) == []
    credited = [a for a, k in _credits(env) if k == "credit"]
    assert len(credited) == len(set(credited)) == 15
    assert all(world.money(w) == (15, 0, 0) for w in workers)
    assert pay_ledger.reconcile(env.db).matches


def test_reconcile_finds_a_tampered_ledger_and_a_missing_credit(
    env: Env, clock: FakeClock
) -> None:
    world = PayWorld.build(env, clock, items=3, kind="piece", amount_minor=50)
    (worker,) = world.workers
    for _ in range(3):
        world.answer(worker)
    clock.advance(LATER.total_seconds())
    pay.credit(env.db)
    assert pay_ledger.reconcile(env.db).matches

    with env.db.write() as conn:  # someone edits a posting by hand
        conn.execute(update(t.PayPosting).where(t.PayPosting.account == "pending")
                     .where(t.PayPosting.id == select(t.PayPosting.id)
                            .where(t.PayPosting.account == "pending")
                            .order_by(t.PayPosting.id).limit(1).scalar_subquery())
                     .values(amount=5000))
    tampered = pay_ledger.reconcile(env.db)
    assert not tampered.matches
    assert tampered.unbalanced_transactions
    assert [(d.owner, d.account, d.expected) for d in tampered.differences] == [
        ("worker", "pending", 150)
    ]


def test_reconcile_finds_a_credit_that_was_never_written(env: Env, clock: FakeClock) -> None:
    world = PayWorld.build(env, clock, items=3, kind="piece", amount_minor=50)
    (worker,) = world.workers
    world.answer(worker)
    clock.advance(LATER.total_seconds())
    pay.credit(env.db)
    # An answer the pass skipped (as if its cursor had been moved past it by hand).
    world.answer(worker)
    with env.db.write() as conn:
        conn.execute(update(t.PayCursor).values(last_id=10**9))
    clock.advance(LATER.total_seconds())
    pay.credit(env.db)
    found = pay_ledger.reconcile(env.db)
    assert found.missing_credits == 1
    assert not found.matches


def test_an_extra_transaction_that_balances_is_still_caught(env: Env, clock: FakeClock) -> None:
    world = PayWorld.build(env, clock, items=1, kind="piece", amount_minor=50)
    project, (worker,) = world.project, world.workers
    answer = world.answer(worker)
    clock.advance(LATER.total_seconds())
    pay.credit(env.db)
    with env.db.write() as conn:
        tx = conn.execute(insert(t.PayTransaction).returning(t.PayTransaction.id), {
            "key": f"answer:{answer}:credit-again", "kind": "credit", "project_id": project,
            "worker_id": worker.id, "answer_id": answer, "created_at": clock.now(), "memo": "",
        }).scalar_one()
        conn.execute(insert(t.PayPosting), [
            {"transaction_id": tx, "account": "budget", "project_id": project,
             "worker_id": None, "amount": -50, "currency": "USD"},
            {"transaction_id": tx, "account": "pending", "project_id": project,
             "worker_id": worker.id, "amount": 50, "currency": "USD"},
        ])
    found = pay_ledger.reconcile(env.db)
    assert found.duplicate_credits == 1
    assert {d.account for d in found.differences} == {"pending", "budget"}


def test_a_manual_adjustment_needs_a_reason_and_a_manager(env: Env, clock: FakeClock) -> None:
    world = PayWorld.build(env, clock, items=1)
    manager, project, (worker,) = world.manager, world.project, world.workers
    with pytest.raises(InputInvalid) as refused:
        pay_ledger.adjust(env.db, actor=manager, project_id=project, worker_id=worker.id,
                          amount_minor=500, currency="USD", reason="  ")
    assert refused.value.details[0]["field"] == "reason"
    with pytest.raises(PermissionDenied):
        pay_ledger.adjust(env.db, actor=worker, project_id=project, worker_id=worker.id,
                          amount_minor=500, currency="USD", reason="a gift to myself")
    pay_ledger.adjust(env.db, actor=manager, project_id=project, worker_id=worker.id,
                      amount_minor=500, currency="USD", reason="gold accuracy bonus, May")
    assert world.money(worker) == (0, 500, 0)
    assert pay_ledger.reconcile(env.db).matches
    with pytest.raises(PermissionDenied):
        pay_ledger.earnings(env.db, actor=env.user(), worker_id=worker.id)


def test_a_budget_stops_the_leasing_and_raising_it_resumes(env: Env, clock: FakeClock) -> None:
    world = PayWorld.build(env, clock, workers=2, items=20, kind="piece", amount_minor=100)
    manager, project, workers = world.manager, world.project, world.workers
    status = pay_budget.set_budget(env.db, actor=manager, project_id=project,
                                   amount_minor=350, currency="USD")
    assert not status.stopped
    for _ in range(3):
        world.answer(workers[0])
    held = next_assignment(env.db, actor=workers[1], project_id=project)
    assert held is not None
    clock.advance(LATER.total_seconds())
    result = pay.credit(env.db)
    # 300 spent + 100 for the live lease + 100 for one more would pass 350.
    assert result.budgets_stopped == (project,)
    assert next_assignment(env.db, actor=workers[0], project_id=project) is None
    # The live lease is still answered and paid.
    submit_answer(env.db, actor=workers[1], assignment_id=held.id, answer={"label": "cat"})
    status = pay_budget.set_budget(env.db, actor=manager, project_id=project,
                                   amount_minor=1000, currency="USD")
    assert not status.stopped
    assert next_assignment(env.db, actor=workers[0], project_id=project) is not None
    clock.advance(LATER.total_seconds())
    pay.credit(env.db)
    budget = pay_budget.budget_status(env.db, actor=manager, project_id=project)
    assert budget is not None
    assert budget.spent_minor == 400
    assert pay_ledger.reconcile(env.db).matches


def test_rates_and_budgets_refuse_bad_input_by_field(env: Env, clock: FakeClock) -> None:
    world = PayWorld.build(env, clock, workers=0, items=1)
    manager, project = world.manager, world.project
    cases = [
        ({"kind": "daily", "amount_minor": 1, "currency": "USD"}, "kind"),
        ({"kind": "piece", "amount_minor": 1.5, "currency": "USD"}, "amount_minor"),
        ({"kind": "piece", "amount_minor": -1, "currency": "USD"}, "amount_minor"),
        ({"kind": "piece", "amount_minor": 1, "currency": "XXX"}, "currency"),
        ({"kind": "piece", "amount_minor": 1, "currency": "USD", "max_seconds_per_item": 9},
         "max_seconds_per_item"),
    ]
    for given, field in cases:
        with pytest.raises(InputInvalid) as refused:
            pay.set_rate(env.db, actor=manager, project_id=project, **given)  # type: ignore[arg-type]
        assert refused.value.details[0]["field"] == field
    pay.set_rate(env.db, actor=manager, project_id=project, kind="piece", amount_minor=1,
                 currency="USD")
    with pytest.raises(InputInvalid) as refused:
        pay_budget.set_budget(env.db, actor=manager, project_id=project, amount_minor=10,
                              currency="EUR")
    assert refused.value.details[0]["field"] == "currency"


def test_a_statement_shows_each_movement_and_balances_at_both_ends_of_the_period(
    env: Env, clock: FakeClock
) -> None:
    world = PayWorld.build(env, clock, items=3, kind="piece", amount_minor=10)
    reviewer, (worker,) = world.reviewer, world.workers
    first = world.answer(worker)
    assert first is not None
    clock.advance(LATER.total_seconds())
    pay.credit(env.db)
    clock.advance(1)
    middle = clock.now()
    world.answer(worker)
    world.review(first, "accepted")
    clock.advance(LATER.total_seconds())
    pay.credit(env.db)

    later = pay_ledger.statement(env.db, actor=worker, worker_id=worker.id, since=middle)
    assert later.opening == {"USD": {"pending": 10}}
    assert sorted(line.kind for line in later.lines) == ["approval", "credit"]
    assert later.closing == {"USD": {"pending": 10, "approved": 10}}
    whole = pay_ledger.statement(env.db, actor=worker, worker_id=worker.id)
    assert len(whole.lines) == 3
    assert whole.closing == later.closing
    with pytest.raises(PermissionDenied):
        pay_ledger.statement(env.db, actor=reviewer, worker_id=worker.id)


def test_effective_hourly_rates_warn_when_a_project_pays_below_the_minimum(
    env: Env, clock: FakeClock
) -> None:
    from expertloop.services import pay_effective

    world = PayWorld.build(env, clock, workers=2, items=4, kind="piece", amount_minor=50)
    manager, project, (fast, slow) = world.manager, world.project, world.workers
    for _ in range(2):
        world.answer(fast, seconds=60)   # 50 a minute: 3000 an hour
        world.answer(slow, seconds=600)  # 50 in 10 minutes: 300 an hour
    clock.advance(LATER.total_seconds())
    pay.credit(env.db)
    minimum = pay_effective.parse_minimum("usd 1200")
    report = pay_effective.effective_rates(env.db, actor=manager, project_id=project,
                                           minimum=minimum)
    rates = {w.worker_id: (w.hourly_minor, w.below_minimum) for w in report.workers}
    assert rates == {fast.id: (3000, False), slow.id: (300, True)}
    assert report.project_hourly_minor == 545  # 200 over 1320 s
    assert report.warning is not None
    assert "below the minimum" in report.warning
    with pytest.raises(ValueError, match="a currency and minor units"):
        pay_effective.parse_minimum("twelve dollars")
    with pytest.raises(PermissionDenied):
        pay_effective.effective_rates(env.db, actor=fast, project_id=project, minimum=None)


def test_two_reviewers_deciding_at_once_leave_exactly_one_effect_on_the_pay(
    env: Env, clock: FakeClock
) -> None:
    from expertloop.errors import ReviewClosed

    world = PayWorld.build(env, clock, items=1, kind="piece", amount_minor=80)
    (worker,) = world.workers
    reviewers = [world.reviewer, env.user(Role.REVIEWER)]
    projects.add_members(
        env.db, actor=world.manager, project_id=world.project, user_ids=[reviewers[1].id]
    )
    answer = world.answer(worker)
    assert answer is not None
    request_reviews(env.db, actor=world.manager, project_id=world.project, answer_ids=[answer])
    review = world.review_id(answer)
    outcomes: list[str] = []

    def decide(reviewer: User, outcome: str) -> None:
        try:
            decide_review(env.db, actor=reviewer, review_id=review, outcome=outcome,
                          comment="no" if outcome == "rejected" else "")
            outcomes.append(outcome)
        except ReviewClosed:
            pass

    assert at_once(
        lambda: decide(reviewers[0], "accepted"), lambda: decide(reviewers[1], "rejected")
    ) == []
    clock.advance(LATER.total_seconds())
    pay.credit(env.db)

    assert len(outcomes) == 1
    effects = [k for _, k in _credits(env)]
    assert effects == ["credit", "approval" if outcomes == ["accepted"] else "reversal"]
    assert world.money(worker) == ((0, 80, 0) if outcomes == ["accepted"] else (0, 0, 0))
    assert pay_ledger.reconcile(env.db).matches
