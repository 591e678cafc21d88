"""What the snapshot job keeps for the manager's dashboard and item browser: indexed
confidence and disagreement per item, a row per worker, hourly answer roll-ups."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select

from db_fixtures import Env, pairwise_item
from expertloop.clock import FakeClock
from expertloop.domain import Role, User
from expertloop.services import consensus
from expertloop.services.assignments import next_assignment, submit_answer
from expertloop.store import consensus as snapshot_store
from expertloop.store import dashboard as dashboard_store
from expertloop.store import tables as t

_SWAP = {"A": "B", "B": "A", "tie": "tie"}


def _answer(env: Env, worker: User, project: int, choices: list[str], clock: FakeClock) -> None:
    for choice in choices:
        assignment = next_assignment(env.db, actor=worker, project_id=project)
        assert assignment is not None
        swapped = not str(assignment.item.payload["response_a"]).startswith("A")
        clock.advance(30)
        submit_answer(env.db, actor=worker, assignment_id=assignment.id,
                      answer={"choice": _SWAP[choice] if swapped else choice})


def _project(env: Env) -> tuple[User, list[User], int]:
    manager = env.user(Role.MANAGER)
    workers = [env.user(Role.WORKER) for _ in range(3)]
    project = env.project(manager, members=workers, answers_per_item=2)
    items = [pairwise_item(k) for k in range(4)]
    items[0]["gold"] = {"choice": "A"}
    env.items(manager, project, items)
    return manager, workers, project


def test_a_refresh_stores_confidence_and_disagreement_as_columns_beside_the_line(
    env: Env, clock: FakeClock
) -> None:
    _, workers, project = _project(env)
    _answer(env, workers[0], project, ["A", "A", "A", "A"], clock)
    _answer(env, workers[1], project, ["A", "A", "B", "B"], clock)
    consensus.refresh_snapshot(env.db, project, include_gold=False)
    with env.db.read() as conn:
        snapshot = snapshot_store.load_snapshot(conn, project, False)
        assert snapshot is not None
        rows = conn.execute(
            select(t.ConsensusItem.line, t.ConsensusItem.confidence,
                   t.ConsensusItem.disagreement)
            .where(t.ConsensusItem.generation == snapshot.generation)
        ).all()
    assert len(rows) == 3  # the gold item is outside the default snapshot
    for line, confidence, disagreement in rows:
        assert "agreement" not in line  # served lines are unchanged
        assert confidence == line["confidence"]
        assert disagreement in (0.0, 0.5)
    assert sorted(d for _, _, d in rows).count(0.5) == 2


def test_a_refresh_writes_a_row_per_worker_and_drops_the_old_generations_rows(
    env: Env, clock: FakeClock
) -> None:
    _, workers, project = _project(env)
    _answer(env, workers[0], project, ["A", "A", "A", "A"], clock)
    _answer(env, workers[1], project, ["A", "B", "A", "A"], clock)
    consensus.refresh_snapshot(env.db, project, include_gold=False)
    with env.db.read() as conn:
        first = snapshot_store.load_snapshot(conn, project, False)
        assert first is not None
        rows = {r.worker_id: (r, name) for r, name in
                dashboard_store.worker_rows(conn, project, False, first.generation)}
        stats = snapshot_store.snapshot_stats(conn, project, False)
    assert set(rows) == {workers[0].id, workers[1].id}
    row, name = rows[workers[0].id]
    assert name == workers[0].username
    assert row.answers == 4
    assert row.median_ms is not None
    assert row.gold_answers == 1
    assert row.gold_correct == 1
    assert row.gold_low is not None
    assert row.gold_low < row.gold_mean < row.gold_high
    assert row.position_decisive == 4  # pairwise shows its sides in a random order
    assert row.reviews_decided == 0
    assert stats is not None
    assert stats["items"] == {"total": 4, "complete": 4, "disabled": 0, "gold": 1,
                              "remaining_answers": 0}
    overall = stats["channels"]["overall"]
    assert overall["classes"] == ["A", "tie", "B"]
    assert sum(overall["answer_counts"]) == 8
    assert overall["alpha_low"] is None or overall["alpha_low"] <= overall["alpha"]

    # Two refits later (a snapshot keeps the generation it replaced one more round), the
    # first generation's worker rows are gone with its items.
    admin = env.user(Role.ADMIN)
    env.items(admin, project, [pairwise_item(10), pairwise_item(11)])
    _answer(env, workers[2], project, ["B"], clock)
    consensus.refresh_snapshot(env.db, project, include_gold=False)
    _answer(env, workers[2], project, ["B"], clock)
    consensus.refresh_snapshot(env.db, project, include_gold=False)
    with env.db.read() as conn:
        generations = set(conn.execute(
            select(t.ConsensusWorker.generation).where(t.ConsensusWorker.project_id == project)
        ).scalars())
        current = snapshot_store.load_snapshot(conn, project, False)
    assert current is not None
    assert current.generation in generations
    assert first.generation not in generations
    assert len(generations) == 2


def test_answers_are_rolled_up_by_hour_once_each(env: Env, clock: FakeClock) -> None:
    _, workers, project = _project(env)
    _answer(env, workers[0], project, ["A", "A"], clock)
    consensus.refresh_snapshot(env.db, project, include_gold=False)
    clock.advance(2 * 3600)
    _answer(env, workers[0], project, ["A", "A"], clock)
    _answer(env, workers[1], project, ["A"], clock)
    consensus.refresh_snapshot(env.db, project, include_gold=False)
    consensus.refresh_snapshot(env.db, project, include_gold=True)  # counts nothing again
    with env.db.read() as conn:
        hours = dashboard_store.answer_hours(conn, project, since=datetime(2000, 1, 1))
        mark = dashboard_store.rollup_mark(conn, project)
        last = conn.execute(select(t.Answer.id).order_by(t.Answer.id.desc())).scalars().first()
    assert sum(n for _, n, _ in hours) == 5
    assert [n for _, n, _ in hours if n] == [2, 3]
    assert hours[-1][2] == 1  # one item complete when the last snapshot of the hour looked
    assert mark == last
    assert all(h == h.replace(minute=0, second=0, microsecond=0) for h, _, _ in hours)
    assert hours[-1][0] - hours[0][0] >= timedelta(hours=2)
