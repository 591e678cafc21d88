"""The review window: pending pay that no review rejected within it is approved when it
ends, once; a rejection after that reverses the approved money; the reconciliation
recomputes which happened (both databases, also with passes and decisions at once)."""

from __future__ import annotations

import pytest
from sqlalchemy import insert

from db_fixtures import Env
from expertloop.clock import FakeClock
from expertloop.domain import Role, User
from expertloop.errors import InputInvalid
from expertloop.services import pay, pay_effective, pay_ledger
from expertloop.store import tables as t
from pay_factory import LATER, PayWorld, at_once

HOUR = 3600


def _windowed(env: Env, clock: FakeClock, *, items: int, amount: int) -> tuple[PayWorld, User]:
    """One worker, ``items`` items and a piece rate of ``amount`` with an hour's window."""
    world = PayWorld.build(
        env, clock, items=items, kind="piece", amount_minor=amount, review_window_seconds=HOUR
    )
    (worker,) = world.workers
    return world, worker


def test_pay_no_review_rejected_within_the_window_is_approved_once_when_it_ends(
    env: Env, clock: FakeClock
) -> None:
    world, worker = _windowed(env, clock, items=4, amount=100)
    rejected, accepted, fixed, quiet = (world.answer(worker) for _ in range(4))
    assert world.settle().credits == 4
    assert world.money(worker) == (400, 0, 0)
    world.review(rejected, "rejected")  # type: ignore[arg-type]
    world.review(accepted, "accepted")  # type: ignore[arg-type]
    world.review(fixed, "fixed")  # type: ignore[arg-type]
    world.settle()
    assert world.money(worker) == (100, 200, 0)

    world.settle(HOUR)  # the window ends for the quiet one
    assert world.money(worker) == (0, 300, 0)
    assert world.transactions(quiet)[-1] == (f"answer:{quiet}:approval", "approval")
    assert world.settle().approvals == 0  # approved once however often the pass runs
    assert len(world.transactions(quiet)) == 2
    assert world.reconciles()


def test_a_rejection_after_the_window_reverses_the_approved_pay_and_an_acceptance_adds_nothing(
    env: Env, clock: FakeClock
) -> None:
    world, worker = _windowed(env, clock, items=3, amount=70)
    late_reject, late_accept = world.answer(worker), world.answer(worker)
    world.settle(HOUR + LATER)
    assert world.money(worker) == (0, 140, 0)
    world.review(late_reject, "rejected")  # type: ignore[arg-type]
    world.review(late_accept, "accepted")  # type: ignore[arg-type]
    world.settle()
    assert world.money(worker) == (0, 70, 0)
    assert [kind for _, kind in world.transactions(late_reject)] == [
        "credit",
        "approval",
        "reversal",
    ]
    assert [kind for _, kind in world.transactions(late_accept)] == ["credit", "approval"]
    assert world.reconciles()
    # The effective hourly rate counts the reversal of approved money too.
    report = pay_effective.effective_rates(
        env.db, actor=world.manager, project_id=world.project, minimum=None
    )
    assert [w.paid_minor for w in report.workers] == [70]


def test_a_decision_the_window_pass_has_not_seen_gives_the_same_ledger_in_either_order(
    env: Env, clock: FakeClock
) -> None:
    # The rejection comes after the window ended but before any pass ran: the review
    # pass writes the window's approval and the reversal of approved money, and the
    # window pass after it writes nothing more.
    world, worker = _windowed(env, clock, items=2, amount=50)
    answer = world.answer(worker)
    clock.advance(HOUR + 1)
    world.review(answer, "rejected")  # type: ignore[arg-type]
    world.settle()
    assert world.settle().approvals == 0
    assert [kind for _, kind in world.transactions(answer)] == ["credit", "approval", "reversal"]
    assert world.money(worker) == (0, 0, 0)
    assert world.reconciles()


def test_the_window_is_part_of_the_rate_and_checked(env: Env, clock: FakeClock) -> None:
    world = PayWorld.build(env, clock)
    with pytest.raises(InputInvalid) as refused:
        world.rate(kind="piece", amount_minor=10, review_window_seconds=0)
    assert refused.value.details[0]["field"] == "review_window_seconds"
    rate = world.rate(kind="piece", amount_minor=10, review_window_seconds=600)
    assert rate.review_window_seconds == 600
    assert [
        r.review_window_seconds
        for r in pay.list_rates(env.db, actor=world.manager, project_id=world.project)
    ] == [600]


def test_the_reconciliation_catches_a_window_approval_written_before_the_window_ended(
    env: Env, clock: FakeClock
) -> None:
    world, worker = _windowed(env, clock, items=2, amount=40)
    answer = world.answer(worker)
    world.settle()
    with env.db.write() as conn:  # forged: approved with half the window to go
        tx = conn.execute(
            insert(t.PayTransaction).returning(t.PayTransaction.id),
            {
                "key": f"answer:{answer}:approval",
                "kind": "approval",
                "project_id": world.project,
                "worker_id": worker.id,
                "answer_id": answer,
                "created_at": clock.now(),
                "memo": "review window passed",
            },
        ).scalar_one()
        conn.execute(
            insert(t.PayPosting),
            [
                {
                    "transaction_id": tx,
                    "account": "pending",
                    "project_id": world.project,
                    "worker_id": worker.id,
                    "amount": -40,
                    "currency": "USD",
                },
                {
                    "transaction_id": tx,
                    "account": "approved",
                    "project_id": world.project,
                    "worker_id": worker.id,
                    "amount": 40,
                    "currency": "USD",
                },
            ],
        )
    report = pay_ledger.reconcile(env.db)
    assert not report.matches
    assert {(d.account, d.expected, d.ledger) for d in report.differences} == {
        ("pending", 40, 0),
        ("approved+paid", 0, 40),
    }


def test_window_passes_and_a_late_rejection_at_once_write_each_effect_once(
    env: Env, clock: FakeClock
) -> None:
    world, worker = _windowed(env, clock, items=6, amount=30)
    answers = [world.answer(worker) for _ in range(6)]
    world.settle()
    clock.advance(HOUR + LATER)

    def reject() -> None:
        for answer in answers[:3]:
            world.review(answer, "rejected")  # type: ignore[arg-type]

    assert at_once(*[lambda: pay.credit(env.db)] * 4, reject) == []
    world.settle()
    for answer in answers:
        kinds = [kind for _, kind in world.transactions(answer)]
        assert kinds == (
            ["credit", "approval", "reversal"] if answer in answers[:3] else ["credit", "approval"]
        )
    assert world.money(worker) == (0, 90, 0)
    assert world.reconciles()


def test_two_reviewers_deciding_after_the_window_while_passes_run_leave_one_outcome(
    env: Env, clock: FakeClock
) -> None:
    from expertloop.errors import ReviewClosed
    from expertloop.services.reviews import decide_review, request_reviews

    world, worker = _windowed(env, clock, items=1, amount=80)
    second = env.user(Role.REVIEWER)
    from expertloop.services import projects

    projects.add_members(
        env.db, actor=world.manager, project_id=world.project, user_ids=[second.id]
    )
    answer = world.answer(worker)
    assert answer is not None
    world.settle(HOUR + LATER)  # approved by its window
    request_reviews(env.db, actor=world.manager, project_id=world.project, answer_ids=[answer])
    review = world.review_id(answer)
    outcomes: list[str] = []

    def decide(reviewer: User, outcome: str) -> None:
        try:
            decide_review(
                env.db,
                actor=reviewer,
                review_id=review,
                outcome=outcome,
                comment="no" if outcome == "rejected" else "",
            )
            outcomes.append(outcome)
        except ReviewClosed:
            pass

    assert at_once(
        lambda: decide(world.reviewer, "accepted"),
        lambda: decide(second, "rejected"),
        *[lambda: pay.credit(env.db, grace_seconds=0)] * 2,
    ) == []
    world.settle()
    assert len(outcomes) == 1
    kinds = [kind for _, kind in world.transactions(answer)]
    if outcomes == ["accepted"]:
        assert (kinds, world.money(worker)) == (["credit", "approval"], (0, 80, 0))
    else:
        assert (kinds, world.money(worker)) == (["credit", "approval", "reversal"], (0, 0, 0))
    assert world.reconciles()
