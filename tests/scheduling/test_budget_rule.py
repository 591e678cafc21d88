"""The budget rule in Python: a stopped budget admits nothing, whatever the item."""

from __future__ import annotations

from expertloop.scheduling import RULES, WITHIN_BUDGET, ItemState, WorkerState

ITEMS = [ItemState(id=k, priority=0, target=3, answers=0, live_leases=0) for k in (1, 2)]


def test_a_stopped_budget_leases_nothing_and_a_running_one_changes_nothing() -> None:
    assert WITHIN_BUDGET in RULES.eligibility
    assert not WITHIN_BUDGET.admits(ITEMS[0], WorkerState(budget_stopped=True))
    assert RULES.pick_next_item(ITEMS, WorkerState(budget_stopped=True)) is None
    assert RULES.pick_next_item(ITEMS, WorkerState()) == ITEMS[0]


def test_a_held_lease_is_still_returned_when_the_budget_stops() -> None:
    # A worker reloading the page keeps the item they hold: it is paid when answered.
    held = WorkerState(budget_stopped=True, held_item=2)
    assert RULES.pick_next_item(ITEMS, held) == ITEMS[1]
