"""Statements on both databases: balances from SQL that agree with the ledger and with
reconciliation, every movement exactly once across pages (oldest or newest first, through
transactions written at the same instant), and bad cursors refused by name."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select

from db_fixtures import Env
from expertloop.clock import FakeClock
from expertloop.domain import LedgerAccount, LedgerKind, Role, User
from expertloop.errors import InputInvalid
from expertloop.services import pay, pay_ledger, pay_payouts
from expertloop.services.pay_ledger import Statement
from expertloop.store import tables as t
from expertloop.store.pay import Entry, Leg
from pay_factory import PayWorld

GRACE = pay.CREDIT_GRACE_SECONDS + 1


def _history(env: Env, clock: FakeClock, tmp_path: Path) -> tuple[PayWorld, list[datetime]]:
    """Three periods of the first worker's money: credits written by one pass (the same
    instant), an approval, a reversal and an adjustment, a payout and more credits; the
    other worker earns alongside. Returns the world and the periods' bounds."""
    world = PayWorld.build(env, clock, workers=2, items=12, kind="piece", amount_minor=7)
    worker, other = world.workers
    bounds = [clock.now()]
    first = [world.answer(worker) for _ in range(3)]
    world.answer(other)
    clock.advance(GRACE)
    pay.credit(env.db)
    clock.advance(1)
    bounds.append(clock.now())
    world.review(first[0], "accepted")  # type: ignore[arg-type]
    world.review(first[1], "rejected")  # type: ignore[arg-type]
    clock.advance(GRACE)
    pay.credit(env.db)
    pay_ledger.adjust(env.db, actor=world.manager, project_id=world.project,
                      worker_id=worker.id, amount_minor=50, currency="USD", reason="bonus")
    clock.advance(1)
    bounds.append(clock.now())
    pay_payouts.pay_batch(env.db, actor=env.user(Role.ADMIN), batch="b1", currency="USD",
                          path=tmp_path / "payout.csv", secret_key="s")
    for _ in range(2):
        world.answer(worker)
    clock.advance(GRACE)
    pay.credit(env.db)
    clock.advance(1)
    bounds.append(clock.now())
    return world, bounds


def _ledger_before(env: Env, worker: User, before: datetime) -> dict[str, dict[str, int]]:
    """The worker's balances from the postings of transactions before a time, read apart."""
    p, tx = t.PayPosting, t.PayTransaction
    with env.db.read() as conn:
        rows = conn.execute(
            select(p.currency, p.account, func.sum(p.amount))
            .join(tx, tx.id == p.transaction_id)
            .where(p.worker_id == worker.id, tx.created_at < before)
            .group_by(p.currency, p.account)
        ).all()
    found: dict[str, dict[str, int]] = {}
    for currency, account, amount in rows:
        found.setdefault(currency, {})[account] = int(amount)
    return found


def _adds_up(got: Statement) -> None:
    moved = {c: dict(per) for c, per in got.opening.items()}
    for line in got.lines:
        per = moved.setdefault(line.currency, {})
        for account, amount in line.amounts.items():
            per[account] = per.get(account, 0) + amount
    assert moved == got.closing


def test_a_statement_s_balances_are_the_ledger_s_and_its_periods_chain(
    env: Env, clock: FakeClock, tmp_path: Path
) -> None:
    world, bounds = _history(env, clock, tmp_path)
    worker = world.workers[0]
    periods = [
        pay_ledger.statement(env.db, actor=worker, worker_id=worker.id, since=a, until=b)
        for a, b in itertools.pairwise(bounds)
    ]
    whole = pay_ledger.statement(env.db, actor=worker, worker_id=worker.id)

    assert [[line.kind for line in s.lines] for s in periods] == [
        ["credit"] * 3,
        ["approval", "reversal", "adjustment"],
        ["payout", "credit", "credit"],
    ]
    assert periods[0].opening == {}
    for before, after in itertools.pairwise(periods):
        assert after.opening == before.closing
    for period, until in zip(periods, bounds[1:], strict=True):
        _adds_up(period)
        assert period.closing == _ledger_before(env, worker, until)
        assert period.line_count == len(period.lines)
        assert period.next_after is None
    assert periods[2].opening == {"USD": {"pending": 7, "approved": 57}}
    assert periods[2].closing == {"USD": {"pending": 21, "approved": 0, "paid": 57}}
    assert [line.transaction_id for line in whole.lines] == [
        line.transaction_id for s in periods for line in s.lines]
    assert whole.opening == {}
    assert whole.closing == periods[2].closing
    assert whole.closing["USD"] == dict(zip(("pending", "approved", "paid"),
                                            world.money(worker), strict=True))
    assert pay_ledger.reconcile(env.db).matches
    # A period open at one end: from the payout on, and up to the middle.
    later = pay_ledger.statement(env.db, actor=worker, worker_id=worker.id, since=bounds[2])
    assert (later.opening, later.closing) == (periods[2].opening, whole.closing)
    early = pay_ledger.statement(env.db, actor=worker, worker_id=worker.id, until=bounds[2])
    assert (early.opening, early.closing) == ({}, periods[1].closing)
    assert len(early.lines) == 6


def _pages(env: Env, actor: User, limit: int, newest_first: bool,
           **period: datetime) -> Iterator[Statement]:
    after = None
    while True:
        page = pay_ledger.statement(env.db, actor=actor, worker_id=actor.id, limit=limit,
                                    after=after, newest_first=newest_first, **period)
        yield page
        if page.next_after is None:
            return
        assert len(page.lines) == limit
        after = page.next_after


@pytest.mark.parametrize("newest_first", [False, True])
def test_pages_hold_every_line_once_in_order_with_the_period_s_totals(
    env: Env, clock: FakeClock, tmp_path: Path, newest_first: bool
) -> None:
    world, bounds = _history(env, clock, tmp_path)
    worker = world.workers[0]
    for period in ({}, {"since": bounds[1], "until": bounds[3]}):
        whole = pay_ledger.statement(env.db, actor=worker, worker_id=worker.id, **period)
        expected = [line.transaction_id for line in whole.lines]
        if newest_first:
            expected.reverse()
        for limit in (1, 2, 4, 100):
            pages = list(_pages(env, worker, limit, newest_first, **period))
            got = [line.transaction_id for page in pages for line in page.lines]
            assert got == expected, (limit, period)
            assert len(pages) == max(1, -(-len(expected) // limit))
            for page in pages:
                assert (page.opening, page.closing, page.line_count) == (
                    whole.opening, whole.closing, len(expected))
    # Three credits written by one pass share an instant: a page boundary among them
    # still yields each once (the cursor is (created_at, id)).
    first = pay_ledger.statement(env.db, actor=worker, worker_id=worker.id,
                                 until=bounds[1])
    assert len({line.created_at for line in first.lines}) == 1


def test_a_bad_cursor_limit_or_period_is_refused_by_name(
    env: Env, clock: FakeClock, tmp_path: Path
) -> None:
    world, bounds = _history(env, clock, tmp_path)
    worker, other = world.workers
    theirs = pay_ledger.statement(env.db, actor=other, worker_id=other.id).lines[0]
    early = pay_ledger.statement(env.db, actor=worker, worker_id=worker.id,
                                 until=bounds[1]).lines[0]
    cases: list[tuple[dict[str, object], str]] = [
        ({"after": 10**12, "limit": 5}, "after"),
        ({"after": theirs.transaction_id, "limit": 5}, "after"),  # another worker's line
        ({"after": early.transaction_id, "limit": 5, "since": bounds[1]}, "after"),
        ({"limit": 0}, "limit"),
        ({"limit": pay_ledger.MAX_STATEMENT_PAGE + 1}, "limit"),
        ({"since": bounds[2], "until": bounds[1]}, "until"),
    ]
    for given, name in cases:
        with pytest.raises(InputInvalid) as refused:
            pay_ledger.statement(env.db, actor=worker, worker_id=worker.id,
                                 **given)  # type: ignore[arg-type]
        assert refused.value.details[0]["field"] == name, given


def test_a_transaction_cannot_move_another_worker_s_money() -> None:
    # A statement reads a worker's transactions by their worker_id: it must hold them all.
    legs = (Leg(LedgerAccount.BUDGET, -5, "USD", 1, None),
            Leg(LedgerAccount.APPROVED, 5, "USD", 1, 8))
    Entry("ok", LedgerKind.ADJUSTMENT, legs, project_id=1, worker_id=8)
    with pytest.raises(ValueError, match="another worker"):
        Entry("bad", LedgerKind.ADJUSTMENT, legs, project_id=1, worker_id=9)
