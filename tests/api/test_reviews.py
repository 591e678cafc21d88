"""The review queue over HTTP: managers queue answers, reviewers accept, reject or fix them."""

from __future__ import annotations

import math
from typing import Any

from db_fixtures import Env, pairwise_item
from expertloop.domain import Role, User
from expertloop.services import assignments


def _answer_all(env: Env, project: int, workers: list[User], choice: str = "A") -> list[int]:
    """Every worker answers every item it can get; returns the answer ids."""
    ids = []
    for worker in workers:
        while (lease := assignments.next_assignment(env.db, actor=worker, project_id=project)):
            shown = lease.item.payload
            # Answer in canonical terms: "A" means the canonical response_a, wherever shown.
            canonical_a = shown["response_a"].startswith("A")
            picked = choice if canonical_a else {"A": "B", "B": "A"}.get(choice, choice)
            stored = assignments.submit_answer(
                env.db, actor=worker, assignment_id=lease.id, answer={"choice": picked}
            )
            ids.append(stored.answer_id)
    return ids


def _project(env: Env, n_items: int = 4, per_item: int = 2, **extra: Any) -> dict[str, Any]:
    manager, reviewer = env.user(Role.MANAGER), env.user(Role.REVIEWER)
    workers = [env.user() for _ in range(per_item)]
    project = env.project(manager, members=[reviewer, *workers], answers_per_item=per_item)
    env.items(manager, project, [pairwise_item(n, **extra) for n in range(n_items)])
    answer_ids = _answer_all(env, project, workers)
    return {
        "project": project,
        "manager": manager,
        "reviewer": reviewer,
        "workers": workers,
        "answer_ids": answer_ids,
    }


def test_a_manager_samples_a_share_of_the_answers_and_never_queues_one_twice(env: Env) -> None:
    p = _project(env, n_items=5, per_item=2)
    manager = env.client(p["manager"])
    url = f"/api/v1/projects/{p['project']}/reviews"

    first = manager.post(url, json={"fraction": 0.3})
    assert first.status_code == 201
    assert first.json() == {"queued": math.ceil(0.3 * 10)}
    rest = manager.post(url, json={"fraction": 1.0}).json()
    assert rest == {"queued": 10 - 3}
    assert manager.post(url, json={"count": 5}).json() == {"queued": 0}

    listed = manager.get(url, params={"status": "pending", "limit": 1000}).json()
    assert sorted(r["answer_id"] for r in listed) == sorted(p["answer_ids"])
    assert {r["source"] for r in listed} == {"sample"}


def test_samples_leave_out_gold_items_and_can_take_one_workers_answers(env: Env) -> None:
    manager_user, reviewer = env.user(Role.MANAGER), env.user(Role.REVIEWER)
    workers = [env.user(), env.user()]
    project = env.project(manager_user, members=[reviewer, *workers], answers_per_item=2)
    env.items(
        manager_user,
        project,
        [pairwise_item(0, gold={"choice": "A"}), pairwise_item(1), pairwise_item(2)],
    )
    _answer_all(env, project, workers)
    manager = env.client(manager_user)
    url = f"/api/v1/projects/{project}/reviews"

    queued = manager.post(url, json={"fraction": 1.0, "worker_id": workers[0].id}).json()
    assert queued == {"queued": 2}  # items 1 and 2; item 0 is gold
    listed = manager.get(url).json()
    assert {r["worker_id"] for r in listed} == {workers[0].id}
    assert {r["external_id"] for r in listed} == {"item-1", "item-2"}


def test_chosen_answers_are_queued_and_a_foreign_id_refuses_the_whole_request(env: Env) -> None:
    p = _project(env)
    other = _project(env)
    manager = env.client(p["manager"])
    url = f"/api/v1/projects/{p['project']}/reviews"

    bad = manager.post(url, json={"answer_ids": [p["answer_ids"][0], other["answer_ids"][0]]})
    assert bad.status_code == 422
    assert bad.json()["error"]["details"][0]["field"] == "answer_ids"
    assert str(other["answer_ids"][0]) in bad.json()["error"]["message"]
    assert manager.get(url).json() == []

    ok = manager.post(url, json={"answer_ids": p["answer_ids"][:2]})
    assert ok.json() == {"queued": 2}
    assert {r["source"] for r in manager.get(url).json()} == {"request"}


def test_a_request_must_say_exactly_how_to_choose_answers(env: Env) -> None:
    p = _project(env)
    manager = env.client(p["manager"])
    url = f"/api/v1/projects/{p['project']}/reviews"
    stranger = env.user()
    for body in ({}, {"fraction": 0.5, "count": 2}, {"fraction": 0}, {"fraction": 1.5},
                 {"count": 0}, {"answer_ids": []}, {"answer_ids": [1], "worker_id": 3},
                 {"count": 1, "extra": True}, {"count": 1, "worker_id": stranger.id},
                 {"count": 1, "worker_id": 999_999}):
        response = manager.post(url, json=body)
        assert response.status_code == 422, body
        assert response.json()["error"]["message"], body


def test_a_reviewer_works_through_the_queue_and_a_reload_gives_the_same_review(env: Env) -> None:
    p = _project(env, n_items=2, per_item=1)
    env.client(p["manager"]).post(
        f"/api/v1/projects/{p['project']}/reviews", json={"fraction": 1.0}
    )
    reviewer = env.client(p["reviewer"])
    next_url = f"/api/v1/projects/{p['project']}/reviews/next"

    first = reviewer.post(next_url)
    assert first.status_code == 200
    review = first.json()
    assert review["status"] == "pending"
    assert review["answer"] == {"choice": "A"}
    assert review["payload"]["response_a"].startswith("A")  # canonical, as stored
    assert review["lease_expires_at"].endswith("Z")
    assert reviewer.post(next_url).json()["review_id"] == review["review_id"]

    decided = reviewer.post(
        f"/api/v1/reviews/{review['review_id']}/decision", json={"outcome": "accepted"}
    )
    assert decided.status_code == 200
    assert decided.json()["status"] == "accepted"
    assert decided.json()["reviewer_id"] == p["reviewer"].id
    assert decided.json()["lease_expires_at"] is None

    second = reviewer.post(next_url).json()
    assert second["review_id"] != review["review_id"]
    reviewer.post(f"/api/v1/reviews/{second['review_id']}/decision", json={"outcome": "accepted"})
    assert reviewer.post(next_url).status_code == 204

    again = reviewer.post(
        f"/api/v1/reviews/{review['review_id']}/decision",
        json={"outcome": "rejected", "comment": "changed my mind"},
    )
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "review_closed"
    assert "already decided (accepted)" in again.json()["error"]["message"]


def test_two_reviewers_never_hold_the_same_review(env: Env) -> None:
    p = _project(env, n_items=2, per_item=1)
    env.client(p["manager"]).post(
        f"/api/v1/projects/{p['project']}/reviews", json={"fraction": 1.0}
    )
    second_reviewer = env.user(Role.REVIEWER)
    from expertloop.services import projects

    projects.add_members(
        env.db, actor=p["manager"], project_id=p["project"], user_ids=[second_reviewer.id]
    )
    url = f"/api/v1/projects/{p['project']}/reviews/next"
    a = env.client(p["reviewer"]).post(url).json()
    b_client = env.client(second_reviewer)
    b = b_client.post(url).json()
    assert a["review_id"] != b["review_id"]

    taken = b_client.post(
        f"/api/v1/reviews/{a['review_id']}/decision", json={"outcome": "accepted"}
    )
    assert taken.status_code == 409
    assert "held by another reviewer" in taken.json()["error"]["message"]


def test_a_reviewer_is_never_given_their_own_answer(env: Env) -> None:
    manager_user, worker = env.user(Role.MANAGER), env.user()
    project = env.project(manager_user, members=[worker], answers_per_item=2)
    env.items(manager_user, project, [pairwise_item(0)])
    ids = _answer_all(env, project, [manager_user, worker])  # the manager answered too
    manager = env.client(manager_user)
    manager.post(f"/api/v1/projects/{project}/reviews", json={"fraction": 1.0})

    review = manager.post(f"/api/v1/projects/{project}/reviews/next").json()
    assert review["worker_id"] == worker.id
    manager.post(f"/api/v1/reviews/{review['review_id']}/decision", json={"outcome": "accepted"})
    assert manager.post(f"/api/v1/projects/{project}/reviews/next").status_code == 204

    own = next(r for r in manager.get(f"/api/v1/projects/{project}/reviews").json()
               if r["answer_id"] in ids and r["worker_id"] == manager_user.id)
    refused = manager.post(
        f"/api/v1/reviews/{own['review_id']}/decision", json={"outcome": "accepted"}
    )
    assert refused.status_code == 403


def test_a_rejection_needs_a_reason_and_gives_the_item_another_answer(env: Env) -> None:
    p = _project(env, n_items=1, per_item=1)
    env.client(p["manager"]).post(
        f"/api/v1/projects/{p['project']}/reviews", json={"fraction": 1.0}
    )
    reviewer = env.client(p["reviewer"])
    review = reviewer.post(f"/api/v1/projects/{p['project']}/reviews/next").json()
    url = f"/api/v1/reviews/{review['review_id']}/decision"

    unexplained = reviewer.post(url, json={"outcome": "rejected", "comment": "   "})
    assert unexplained.status_code == 422
    assert unexplained.json()["error"]["details"][0]["field"] == "comment"

    newcomer = env.user()
    from expertloop.services import projects

    projects.add_members(env.db, actor=p["manager"], project_id=p["project"],
                         user_ids=[newcomer.id])
    newcomer_client = env.client(newcomer)
    assert newcomer_client.post(
        f"/api/v1/projects/{p['project']}/assignments/next"
    ).status_code == 204  # the item has its one answer

    rejected = reviewer.post(url, json={"outcome": "rejected", "comment": "ignored the prompt"})
    assert rejected.json()["status"] == "rejected"
    assert rejected.json()["comment"] == "ignored the prompt"
    lease = newcomer_client.post(f"/api/v1/projects/{p['project']}/assignments/next")
    assert lease.status_code == 200  # the rejected answer is replaced


def test_a_rejection_without_requeue_leaves_the_item_as_it_is(env: Env) -> None:
    p = _project(env, n_items=1, per_item=1)
    env.client(p["manager"]).post(
        f"/api/v1/projects/{p['project']}/reviews", json={"fraction": 1.0}
    )
    reviewer = env.client(p["reviewer"])
    review = reviewer.post(f"/api/v1/projects/{p['project']}/reviews/next").json()
    reviewer.post(
        f"/api/v1/reviews/{review['review_id']}/decision",
        json={"outcome": "rejected", "comment": "spam", "requeue": False},
    )
    progress = env.client(p["manager"]).get(f"/api/v1/projects/{p['project']}/progress").json()
    assert progress["items_complete"] == 1


def test_a_fix_must_be_a_valid_answer_that_differs_from_the_workers(env: Env) -> None:
    p = _project(env, n_items=1, per_item=1)
    env.client(p["manager"]).post(
        f"/api/v1/projects/{p['project']}/reviews", json={"fraction": 1.0}
    )
    reviewer = env.client(p["reviewer"])
    review = reviewer.post(f"/api/v1/projects/{p['project']}/reviews/next").json()
    url = f"/api/v1/reviews/{review['review_id']}/decision"

    missing = reviewer.post(url, json={"outcome": "fixed"})
    assert missing.status_code == 422
    invalid = reviewer.post(url, json={"outcome": "fixed", "answer": {"choice": "C"}})
    assert invalid.status_code == 422
    assert invalid.json()["error"]["details"][0]["field"].startswith("answer")
    same = reviewer.post(url, json={"outcome": "fixed", "answer": {"choice": "A"}})
    assert same.status_code == 422
    assert "accept it instead" in same.json()["error"]["message"]
    stray = reviewer.post(url, json={"outcome": "accepted", "answer": {"choice": "B"}})
    assert stray.status_code == 422

    fixed = reviewer.post(
        url, json={"outcome": "fixed", "answer": {"choice": "B"}, "comment": "B is right"}
    )
    assert fixed.status_code == 200
    body = fixed.json()
    assert body["status"] == "fixed"
    assert body["fixed_answer"] == {"choice": "B"}
    assert body["answer"] == {"choice": "A"}  # the worker's answer is kept as it was


def test_who_may_do_what_with_reviews(env: Env) -> None:
    p = _project(env, n_items=1, per_item=1)
    project = p["project"]
    worker = env.client(p["workers"][0])
    reviewer = env.client(p["reviewer"])
    stranger = env.client(env.user(Role.REVIEWER))

    assert reviewer.post(f"/api/v1/projects/{project}/reviews",
                         json={"fraction": 1.0}).status_code == 403
    assert reviewer.get(f"/api/v1/projects/{project}/reviews/summary").status_code == 403
    assert worker.post(f"/api/v1/projects/{project}/reviews/next").status_code == 403
    assert worker.get(f"/api/v1/projects/{project}/reviews").status_code == 403
    assert stranger.post(f"/api/v1/projects/{project}/reviews/next").status_code == 404

    env.client(p["manager"]).post(f"/api/v1/projects/{project}/reviews", json={"fraction": 1.0})
    review = reviewer.post(f"/api/v1/projects/{project}/reviews/next").json()
    assert stranger.get(f"/api/v1/reviews/{review['review_id']}").status_code == 404
    assert worker.post(f"/api/v1/reviews/{review['review_id']}/decision",
                       json={"outcome": "accepted"}).status_code == 403
    assert reviewer.get(f"/api/v1/reviews/{review['review_id']}").json()["status"] == "pending"


def test_the_summary_counts_outcomes_overall_and_per_worker(env: Env) -> None:
    p = _project(env, n_items=3, per_item=2)
    manager = env.client(p["manager"])
    project = p["project"]
    manager.post(f"/api/v1/projects/{project}/reviews", json={"fraction": 1.0})
    reviewer = env.client(p["reviewer"])
    decisions = [
        {"outcome": "accepted"},
        {"outcome": "rejected", "comment": "wrong"},
        {"outcome": "fixed", "answer": {"choice": "tie"}},
        {"outcome": "accepted"},
    ]
    decided_for: dict[int, list[str]] = {}
    for decision in decisions:
        review = reviewer.post(f"/api/v1/projects/{project}/reviews/next").json()
        reviewer.post(f"/api/v1/reviews/{review['review_id']}/decision", json=decision)
        decided_for.setdefault(review["worker_id"], []).append(decision["outcome"])

    summary = manager.get(f"/api/v1/projects/{project}/reviews/summary").json()
    assert summary["counts"] == {"pending": 2, "accepted": 2, "rejected": 1, "fixed": 1}
    for row in summary["workers"]:
        outcomes = decided_for.get(row["worker_id"], [])
        assert row["accepted"] == outcomes.count("accepted")
        assert row["rejected"] == outcomes.count("rejected")
        assert row["fixed"] == outcomes.count("fixed")
        assert row["accepted"] + row["rejected"] + row["fixed"] + row["pending"] == 3
        expected = outcomes.count("accepted") / len(outcomes) if outcomes else None
        assert row["acceptance_rate"] == expected

    rejected = manager.get(f"/api/v1/projects/{project}/reviews",
                           params={"status": "rejected"}).json()
    assert [r["comment"] for r in rejected] == ["wrong"]
    page = manager.get(f"/api/v1/projects/{project}/reviews", params={"limit": 4}).json()
    rest = manager.get(f"/api/v1/projects/{project}/reviews",
                       params={"after": page[-1]["review_id"]}).json()
    assert len(page) == 4
    assert len(rest) == 2
    assert manager.get(f"/api/v1/projects/{project}/reviews",
                       params={"status": "maybe"}).status_code == 422


def test_the_available_count_leaves_out_own_answers_and_reviews_held_by_others(env: Env) -> None:
    from expertloop.services import projects, reviews

    p = _project(env, n_items=3, per_item=1)
    reviews.request_reviews(env.db, actor=p["manager"], project_id=p["project"], fraction=1.0)
    other = env.user(Role.REVIEWER)
    projects.add_members(env.db, actor=p["manager"], project_id=p["project"], user_ids=[other.id])

    def available(user: User) -> int:
        return reviews.available_reviews(env.db, actor=user, project_id=p["project"])

    assert available(p["reviewer"]) == 3
    held = reviews.next_review(env.db, actor=other, project_id=p["project"])
    assert held is not None
    assert available(p["reviewer"]) == 2
    assert available(other) == 3  # their own hold still counts for them
    assert reviews.available_reviews(env.db, actor=p["reviewer"], project_id=p["project"],
                                     cap=1) == 1
