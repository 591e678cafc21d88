"""The next-item rules as pure functions, and the database obeying them."""

from __future__ import annotations

from datetime import datetime

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import Env, pairwise_item
from expertloop.domain import Role
from expertloop.scheduling import ItemState, claim_order_key, is_eligible, pick_next_item
from expertloop.scheduling.rules import lease_expires_at
from expertloop.services.assignments import next_assignment, submit_answer


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


@settings(
    max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    priorities=st.lists(st.integers(-2, 2), min_size=3, max_size=8),
    answered=st.lists(st.integers(0, 7), max_size=6),
)
def test_the_database_hands_out_exactly_the_item_the_rules_pick(
    env: Env, priorities: list[int], answered: list[int]
) -> None:
    env.backend.truncate()  # each example starts from an empty database
    manager = env.user(Role.MANAGER)
    others = [env.user() for _ in range(2)]
    worker = env.user()
    project = env.project(manager, members=[*others, worker], answers_per_item=3)
    env.items(manager, project, [pairwise_item(n, priority=p) for n, p in enumerate(priorities)])
    # Other workers answer some items, so items differ in how close they are to completion.
    for n, other in enumerate(others):
        for _ in answered[n::2]:
            lease = next_assignment(env.db, actor=other, project_id=project)
            if lease is not None:
                submit_answer(env.db, actor=other, assignment_id=lease.id, answer={"choice": "A"})
    from sqlalchemy import select

    from expertloop.store import tables as t

    with env.db.read() as conn:
        rows = conn.execute(
            select(t.Item.id, t.Item.priority, t.Item.target, t.Item.n_answers).where(
                t.Item.project_id == project
            )
        ).all()
    states = [ItemState(r.id, r.priority, r.target, r.n_answers, 0) for r in rows]
    expected = pick_next_item(states, worker_items=set())
    lease = next_assignment(env.db, actor=worker, project_id=project)
    assert expected is not None
    assert lease is not None
    assert lease.item.id == expected.id
