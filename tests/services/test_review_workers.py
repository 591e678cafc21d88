"""A review keeps its answer's worker, whichever way it was queued (a sample, chosen
answers), so the console's outcomes per worker read the reviews alone."""

from __future__ import annotations

from sqlalchemy import select

from db_fixtures import Env, pairwise_item
from expertloop.domain import Role
from expertloop.services import reviews
from expertloop.store import tables as t


def test_reviews_keep_their_answers_worker_and_the_outcomes_per_worker_count_them(
    env: Env,
) -> None:
    manager = env.user(Role.MANAGER)
    workers = [env.user(), env.user()]
    project = env.project(manager, members=workers, answers_per_item=2)
    env.items(manager, project, [pairwise_item(n) for n in range(4)])
    for worker in workers:
        client = env.client(worker)
        for _ in range(4):
            lease = client.post(f"/api/v1/projects/{project}/assignments/next").json()
            done = client.post(f"/api/v1/assignments/{lease['assignment_id']}/answer",
                               json={"answer": {"choice": "A"}})
            assert done.status_code in (200, 201), done.text
    with env.db.read() as conn:
        first_answers = list(
            conn.execute(
                select(t.Answer.id).where(t.Answer.worker_id == workers[0].id).limit(2)
            ).scalars()
        )
    reviews.request_reviews(env.db, actor=manager, project_id=project, answer_ids=first_answers)
    reviews.request_reviews(
        env.db, actor=manager, project_id=project, count=3, worker_id=workers[1].id
    )
    with env.db.read() as conn:
        rows = conn.execute(
            select(t.Review.worker_id, t.Answer.worker_id).join(
                t.Answer, t.Answer.id == t.Review.answer_id
            )
        ).all()
    assert len(rows) == 5
    assert all(kept == answered for kept, answered in rows)
    counts, outcomes = reviews.worker_outcomes(env.db, actor=manager, project_id=project)
    assert counts["pending"] == 5
    assert {o.worker_id: o.pending for o in outcomes} == {workers[0].id: 2, workers[1].id: 3}
