"""The budget prices each live lease at its worker's premiums (and an hourly rate at its
cap): a premium-priced worker's lease is refused where the base rate still fits, while
base-rate workers go on; raising the budget lets them work again (both databases)."""

from __future__ import annotations

from sqlalchemy import select

from db_fixtures import Env
from expertloop.clock import FakeClock
from expertloop.services import pay_budget
from expertloop.services.assignments import next_assignment
from expertloop.services.workforce import skills
from expertloop.store import tables as t
from pay_factory import PayWorld

MEDICINE = [{"skill": "medicine", "min_level": 3, "basis_points": 5000}]  # +50 %


def _world(env: Env, clock: FakeClock, **rate: object) -> PayWorld:
    world = PayWorld.build(env, clock, workers=2, items=6, per_item=2, **rate)
    skills.set_skills(
        env.db, actor=world.manager, user_id=world.workers[1].id, skills={"medicine": 3}
    )
    return world


def _events(env: Env, action: str) -> list[dict[str, object]]:
    with env.db.read() as conn:
        return list(
            conn.execute(
                select(t.AuditEvent.details).where(t.AuditEvent.action == action)
            ).scalars()
        )


def test_a_premium_workers_lease_is_refused_when_only_the_base_rate_fits(
    env: Env, clock: FakeClock
) -> None:
    world = _world(env, clock, kind="piece", amount_minor=100, premiums=MEDICINE)
    novice, expert = world.workers
    status = pay_budget.set_budget(
        env.db, actor=world.manager, project_id=world.project, amount_minor=130, currency="USD"
    )
    assert not status.stopped  # a base-rate lease (100) fits in 130; the expert's (150) not
    assert next_assignment(env.db, actor=expert, project_id=world.project) is None
    assert next_assignment(env.db, actor=novice, project_id=world.project) is not None
    (blocked,) = _events(env, "pay.budget_worker_stopped")
    assert blocked["worker_ids"] == [expert.id]
    assert blocked["lease_costs_minor"] == {str(expert.id): 150}

    # The novice's live lease is committed: nothing more fits, for anyone.
    assert pay_budget.refresh_budgets(env.db) == [world.project]
    status = pay_budget.budget_status(env.db, actor=world.manager, project_id=world.project)
    assert status is not None
    assert (status.committed_minor, status.stopped) == (100, True)

    # Raised: the expert works again, and their live lease counts at its premium.
    pay_budget.set_budget(
        env.db, actor=world.manager, project_id=world.project, amount_minor=1000, currency="USD"
    )
    assert next_assignment(env.db, actor=expert, project_id=world.project) is not None
    pay_budget.refresh_budgets(env.db)
    status = pay_budget.budget_status(env.db, actor=world.manager, project_id=world.project)
    assert status is not None
    assert (status.committed_minor, status.stopped) == (250, False)
    assert _events(env, "pay.budget_worker_resumed")[0]["worker_ids"] == [expert.id]


def test_an_hourly_rate_commits_the_capped_time_at_each_workers_premium(
    env: Env, clock: FakeClock
) -> None:
    # 36.00 an hour is 1 cent a second; at most 60 s an answer: a lease costs 60, the
    # expert's 90. The project's leases last 600 s, so the cap decides.
    world = _world(
        env, clock, kind="hourly", amount_minor=3600, max_seconds_per_item=60, premiums=MEDICINE
    )
    novice, expert = world.workers
    pay_budget.set_budget(
        env.db, actor=world.manager, project_id=world.project, amount_minor=80, currency="USD"
    )
    assert next_assignment(env.db, actor=expert, project_id=world.project) is None
    assert next_assignment(env.db, actor=novice, project_id=world.project) is not None
    pay_budget.set_budget(
        env.db, actor=world.manager, project_id=world.project, amount_minor=200, currency="USD"
    )
    assert next_assignment(env.db, actor=expert, project_id=world.project) is not None
    pay_budget.refresh_budgets(env.db)
    status = pay_budget.budget_status(env.db, actor=world.manager, project_id=world.project)
    assert status is not None
    assert status.committed_minor == 60 + 90


def test_a_premium_raised_by_a_new_rate_blocks_the_worker_at_once(
    env: Env, clock: FakeClock
) -> None:
    world = _world(env, clock, kind="piece", amount_minor=100)
    _novice, expert = world.workers
    pay_budget.set_budget(
        env.db, actor=world.manager, project_id=world.project, amount_minor=120, currency="USD"
    )
    world.rate(kind="piece", amount_minor=100, premiums=MEDICINE)
    assert next_assignment(env.db, actor=expert, project_id=world.project) is None
