"""Bonus rules on gold accuracy and on agreement with the consensus: paid once per closed
period to the workers above the threshold on enough answers; the reconciliation recomputes
gold accuracy from the answers and the gold, and agreement from what was measured against
the consensus snapshot when the period was paid (both databases)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import update

from db_fixtures import Env
from expertloop.clock import FakeClock
from expertloop.services import pay, pay_bonuses, pay_ledger
from expertloop.services.consensus import refresh_snapshot
from expertloop.store import tables as t
from pay_factory import PayWorld, at_once


def _rule(world: PayWorld, metric: str) -> pay_bonuses.BonusRuleRow:
    return pay_bonuses.add_rule(
        world.env.db,
        actor=world.manager,
        project_id=world.project,
        metric=metric,
        period="month",
        threshold_bp=7500,
        min_count=3,
        amount_minor=500,
        currency="USD",
    )


def _close_month(world: PayWorld, rule: pay_bonuses.BonusRuleRow) -> None:
    end = next(pay_bonuses.periods(rule, datetime(9999, 1, 1)))[1]
    world.clock.advance((end - world.clock.now()).total_seconds() + pay.CREDIT_GRACE_SECONDS + 1)


def test_a_gold_accuracy_bonus_pays_workers_who_match_the_gold_on_enough_gold_items(
    env: Env, clock: FakeClock
) -> None:
    # Items 0-3 have gold "cat"; item 4 has none (it counts for nobody's gold accuracy).
    world = PayWorld.build(
        env,
        clock,
        workers=3,
        items=5,
        per_item=3,
        gold=dict.fromkeys(range(4), "cat"),
        kind="piece",
        amount_minor=10,
    )
    good, poor, idle = world.workers
    rule = _rule(world, "gold_accuracy")
    for k in range(5):
        world.answer(good, "cat" if k != 3 else "dog")  # 3 of 4 gold answers right: 75 %
        world.answer(poor, "dog" if k != 0 else "cat")  # 1 of 4
    for _ in range(2):
        world.answer(idle, "cat")  # right, but only 2 gold answers: fewer than min_count
    assert pay_bonuses.pay_bonuses(env.db) == 0  # the month is still open
    _close_month(world, rule)
    world.settle(0)
    assert pay_bonuses.pay_bonuses(env.db) == 1
    assert pay_bonuses.pay_bonuses(env.db) == 0
    assert [world.money(w)[1] for w in world.workers] == [500, 0, 0]
    key, kind = next(tx for tx in world.transactions() if tx[0].startswith("bonus:"))
    assert key.startswith(f"bonus:{rule.id}:{good.id}:")
    assert kind == "adjustment"
    assert world.reconciles()


def test_a_consensus_agreement_bonus_is_measured_against_the_snapshot_and_reconciled_from_it(
    env: Env, clock: FakeClock
) -> None:
    world = PayWorld.build(
        env, clock, workers=3, items=4, per_item=3, kind="piece", amount_minor=10
    )
    first, second, contrarian = world.workers
    rule = _rule(world, "consensus_agreement")
    for _ in range(4):
        world.answer(first, "cat")
        world.answer(second, "cat")
        world.answer(contrarian, "dog")
    refresh_snapshot(env.db, world.project, include_gold=False)
    _close_month(world, rule)
    world.settle(0)
    assert pay_bonuses.pay_bonuses(env.db) == 2
    assert [world.money(w)[1] for w in world.workers] == [500, 500, 0]
    assert world.reconciles()

    # What was measured is the record: a later consensus does not change a paid period,
    # and a record altered by hand is caught.
    with env.db.write() as conn:
        conn.execute(
            update(t.PayBonusMeasure)
            .where(t.PayBonusMeasure.worker_id == contrarian.id)
            .values(hits=4)
        )
    report = pay_ledger.reconcile(env.db)
    assert {
        (d.owner_id, d.expected, d.ledger) for d in report.differences if d.owner == "worker"
    } == {(contrarian.id, 500, 0)}


def test_without_a_consensus_snapshot_nobody_earns_an_agreement_bonus(
    env: Env, clock: FakeClock
) -> None:
    world = PayWorld.build(env, clock, workers=1, items=4, kind="piece", amount_minor=10)
    (worker,) = world.workers
    rule = _rule(world, "consensus_agreement")
    for _ in range(4):
        world.answer(worker, "cat")
    _close_month(world, rule)
    world.settle(0)
    assert pay_bonuses.pay_bonuses(env.db) == 0
    assert world.money(worker)[1] == 0
    assert world.reconciles()


def test_bonus_passes_at_once_pay_each_worker_once(env: Env, clock: FakeClock) -> None:
    world = PayWorld.build(
        env,
        clock,
        workers=2,
        items=3,
        per_item=2,
        gold=dict.fromkeys(range(3), "cat"),
        kind="piece",
        amount_minor=10,
    )
    rule = _rule(world, "gold_accuracy")
    for worker in world.workers:
        for _ in range(3):
            world.answer(worker, "cat")
    _close_month(world, rule)
    written: list[int] = []
    assert at_once(*[lambda: written.append(pay_bonuses.pay_bonuses(env.db))] * 4) == []
    assert sum(written) == 2
    assert [world.money(w)[1] for w in world.workers] == [500, 500]
    world.settle(0)
    assert world.reconciles()
