"""The claim of the next item: the database hands out exactly the item the scheduling
rules pick."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from db_fixtures import Env, pairwise_item
from expertloop.domain import Role
from expertloop.scheduling import ItemState, pick_next_item
from expertloop.services.assignments import next_assignment, submit_answer
from expertloop.store import tables as t


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
