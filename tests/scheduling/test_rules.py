"""The next-item rules as data: their Python meaning, and the claim built from their SQL."""

from __future__ import annotations

from datetime import datetime

import pytest

from expertloop.scheduling import (
    HAS_OPEN_SLOT,
    NEW_TO_WORKER,
    RULES,
    Eligibility,
    ItemState,
    OrderTerm,
    RuleSet,
    WorkerState,
    lease_expires_at,
)


def test_items_closest_to_completion_come_first_then_priority_then_age() -> None:
    items = [
        ItemState(id=1, priority=0, target=3, answers=0, live_leases=0),
        ItemState(id=2, priority=5, target=3, answers=0, live_leases=0),
        ItemState(id=3, priority=0, target=3, answers=1, live_leases=1),
        ItemState(id=4, priority=0, target=3, answers=2, live_leases=0),
    ]
    assert [i.id for i in sorted(items, key=RULES.order_key)] == [3, 4, 2, 1]
    assert RULES.pick_next_item(items, WorkerState()) == items[2]


def test_full_items_and_items_the_worker_had_are_not_eligible() -> None:
    full = ItemState(id=1, priority=0, target=2, answers=1, live_leases=1)
    free = ItemState(id=2, priority=0, target=2, answers=0, live_leases=0)
    had_it = WorkerState(assigned_items=frozenset({2}))
    assert not RULES.is_eligible(full, WorkerState())
    assert not RULES.is_eligible(free, had_it)
    assert RULES.is_eligible(free, WorkerState())
    assert RULES.pick_next_item([full, free], had_it) is None


def test_a_worker_holding_a_live_lease_gets_that_item_whatever_the_order_says() -> None:
    best = ItemState(id=1, priority=9, target=3, answers=2, live_leases=0)
    held = ItemState(id=2, priority=0, target=3, answers=0, live_leases=1)
    worker = WorkerState(assigned_items=frozenset({2}), held_item=2)
    assert RULES.pick_next_item([best, held], worker) == held


def test_each_rule_has_a_name_and_says_why() -> None:
    for rule in (*RULES.eligibility, *RULES.order):
        assert rule.name.isidentifier()
        assert len(rule.doc) > 20


def test_a_rule_set_refuses_two_rules_of_one_name() -> None:
    with pytest.raises(ValueError, match="unique"):
        RuleSet(eligibility=(HAS_OPEN_SLOT, NEW_TO_WORKER, HAS_OPEN_SLOT), order=())


def test_the_claim_query_is_built_from_every_rule_of_the_set() -> None:
    not_demoted = Eligibility(
        name="not_demoted",
        doc="Items with a negative priority are parked by their manager.",
        sql=lambda s: s.item.c.priority >= 0,
        admits=lambda item, _: item.priority >= 0,
    )
    newest = OrderTerm(
        name="newest_first",
        doc="Most recently imported first.",
        sql=lambda s: s.item.c.id.desc(),
        key=lambda item: -item.id,
    )
    rules = RuleSet(eligibility=(*RULES.eligibility, not_demoted), order=(newest,))
    for sql in rules.claim_query.sql.values():
        assert "i.open_slots > 0" in sql
        assert "i.priority >= 0" in sql
        assert "ORDER BY i.id DESC" in sql
    assert rules.claim_query is rules.claim_query  # built once


def test_the_postgresql_claim_locks_the_row_without_waiting() -> None:
    sql = RULES.claim_query.sql["postgresql"]
    assert "ORDER BY i.open_slots, i.priority DESC, i.uncertainty DESC, i.id" in sql
    assert "FOR NO KEY UPDATE OF i SKIP LOCKED" in sql
    assert "FOR UPDATE" not in RULES.claim_query.sql["sqlite"]


def test_a_lease_expires_after_the_lease_time() -> None:
    assert lease_expires_at(datetime(2026, 1, 1), 90) == datetime(2026, 1, 1, 0, 1, 30)
