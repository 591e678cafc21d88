"""The next-item rules as pure functions (``tests/store/test_claims.py`` checks that the
database obeys them)."""

from __future__ import annotations

from datetime import datetime

from expertloop.scheduling import ItemState, claim_order_key, is_eligible, pick_next_item
from expertloop.scheduling.rules import lease_expires_at


def test_items_closest_to_completion_come_first_then_priority_then_age() -> None:
    items = [
        ItemState(id=1, priority=0, target=3, answers=0, live_leases=0),
        ItemState(id=2, priority=5, target=3, answers=0, live_leases=0),
        ItemState(id=3, priority=0, target=3, answers=1, live_leases=1),
        ItemState(id=4, priority=0, target=3, answers=2, live_leases=0),
    ]
    assert sorted(items, key=claim_order_key)[0].id == 3
    assert [i.id for i in sorted(items, key=claim_order_key)] == [3, 4, 2, 1]


def test_full_items_and_items_the_worker_had_are_not_eligible() -> None:
    full = ItemState(id=1, priority=0, target=2, answers=1, live_leases=1)
    assert not is_eligible(full, assigned_to_worker=False)
    free = ItemState(id=2, priority=0, target=2, answers=0, live_leases=0)
    assert not is_eligible(free, assigned_to_worker=True)
    assert pick_next_item([full, free], worker_items={2}) is None


def test_a_lease_expires_after_the_lease_time() -> None:
    assert lease_expires_at(datetime(2026, 1, 1), 90) == datetime(2026, 1, 1, 0, 1, 30)
