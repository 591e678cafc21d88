"""My work over the API: a worker's own answers with review outcomes, reasons and fixes, and
their own agreement with the consensus and gold accuracy, never anyone else's."""

from __future__ import annotations

from typing import Any

from db_fixtures import Env
from expertloop.domain import Role, User
from expertloop.services import assignments, consensus, reviews


def _answer(env: Env, worker: User, project: int, answer: dict[str, Any]) -> int:
    lease = assignments.next_assignment(env.db, actor=worker, project_id=project)
    assert lease is not None
    return assignments.submit_answer(
        env.db, actor=worker, assignment_id=lease.id, answer=answer
    ).answer_id


def _label_project(env: Env, manager: User, members: list[User], n: int, **kw: Any) -> int:
    project = env.project(
        manager, members=members, task_type="label", config={"labels": ["yes", "no"]}, **kw
    )
    env.items(manager, project, [{"payload": {"text": f"Is {i} even?"}} for i in range(n)])
    return project


def _decide(env: Env, manager: User, answer_id: int, project: int, **decision: Any) -> None:
    reviews.request_reviews(env.db, actor=manager, project_id=project, answer_ids=[answer_id])
    review = reviews.next_review(env.db, actor=manager, project_id=project)
    assert review is not None
    assert review.answer_id == answer_id
    reviews.decide_review(env.db, actor=manager, review_id=review.id, **decision)


def test_my_answers_come_newest_first_with_review_outcomes_reasons_and_fixes(env: Env) -> None:
    manager, worker = env.user(Role.MANAGER), env.user()
    project = _label_project(env, manager, [worker], 3, answers_per_item=1)
    first = _answer(env, worker, project, {"label": "yes"})
    second = _answer(env, worker, project, {"label": "yes"})
    third = _answer(env, worker, project, {"label": "no"})
    _decide(env, manager, first, project, outcome="rejected", comment="Read the question again.",
            requeue=False)
    _decide(env, manager, second, project, outcome="fixed", answer={"label": "no"})
    client = env.client(worker)
    page = client.get("/api/v1/me/answers", params={"project_id": project, "limit": 2})
    assert page.status_code == 200, page.text
    newest, middle = page.json()
    assert [newest["answer_id"], middle["answer_id"]] == [third, second]
    assert newest["review"] is None
    assert middle["review"] == "fixed"
    assert middle["answer"] == {"label": "yes"}
    assert middle["fixed_answer"] == {"label": "no"}
    assert middle["changes"] == [{"field": "label", "before": "yes", "after": "no"}]
    assert middle["summary"].startswith("Is ")
    (oldest,) = client.get(
        "/api/v1/me/answers", params={"project_id": project, "before": second}
    ).json()
    assert oldest["review"] == "rejected"
    assert oldest["review_comment"] == "Read the question again."


def test_my_answers_never_include_another_workers(env: Env) -> None:
    manager, me, other = env.user(Role.MANAGER), env.user(), env.user()
    project = _label_project(env, manager, [me, other], 2, answers_per_item=2)
    _answer(env, other, project, {"label": "no"})
    mine = _answer(env, me, project, {"label": "yes"})
    listed = env.client(me).get("/api/v1/me/answers", params={"project_id": project}).json()
    assert [a["answer_id"] for a in listed] == [mine]


def test_my_stats_give_my_agreement_from_the_snapshot_and_my_gold_accuracy(env: Env) -> None:
    manager = env.user(Role.MANAGER)
    me, a, b = env.user(), env.user(), env.user()
    project = env.project(
        manager, members=[me, a, b], task_type="label", config={"labels": ["yes", "no"]},
        answers_per_item=3,
    )
    env.items(
        manager,
        project,
        [{"payload": {"text": f"q{i}"}} for i in range(4)]
        + [{"payload": {"text": "gold"}, "gold": {"label": "yes"}}],
    )
    for worker, labels in ((a, "yyyyy"), (b, "yyyyy"), (me, "yyynn")):
        for letter in labels:
            _answer(env, worker, project, {"label": "yes" if letter == "y" else "no"})
    client = env.client(me)
    before = client.get("/api/v1/me/stats", params={"project_id": project}).json()
    assert before["answers"] == 5
    assert before["agreement"] is None  # no snapshot yet
    consensus.refresh_snapshot(env.db, project, include_gold=False)
    stats = client.get("/api/v1/me/stats", params={"project_id": project}).json()
    assert stats["agreement"]["compared"] == 4  # the gold item is not in the snapshot
    assert stats["agreement"]["agreed"] in (2, 3)
    gold = stats["gold"]
    assert gold["answers"] == 1
    assert gold["lower"] < gold["accuracy"] < gold["upper"]
    # Only my numbers: totals, with no per-worker or per-item breakdown.
    assert set(stats) == {"project_id", "answers", "reviews", "agreement", "gold", "window"}
    assert set(stats["agreement"]) == {"compared", "agreed", "share", "computed_at"}


def test_my_work_is_refused_for_a_project_i_am_not_in(env: Env) -> None:
    manager, outsider = env.user(Role.MANAGER), env.user()
    project = _label_project(env, manager, [], 1)
    client = env.client(outsider)
    assert client.get("/api/v1/me/answers", params={"project_id": project}).status_code == 404
    assert client.get("/api/v1/me/stats", params={"project_id": project}).status_code == 404
