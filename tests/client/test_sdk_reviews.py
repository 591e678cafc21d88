"""The SDK drives a review round against a real server, on SQLite and PostgreSQL: a manager
queues answers, reviewers accept, reject and fix them, and the summary adds up."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from db_fixtures import Env
from expertloop.client import (
    Client,
    Conflict,
    NotFound,
    PermissionDenied,
    Project,
    Review,
    ReviewClosed,
    ReviewSummary,
    User,
)
from expertloop.domain import Role

Connect = Callable[..., Client]


@pytest.fixture
def connect(env: Env) -> Iterator[Connect]:
    """Clients for users of the test server (closed after the test)."""
    clients: list[Client] = []

    def make(user: Any = None, **options: Any) -> Client:
        client = Client(env.url, env.token_for(user) if user else None, backoff=0, **options)
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()


@dataclass
class Round:
    """A pairwise project whose items every worker answered with the canonical ``A``."""

    project: Project  # the manager's view
    reviewer: Project  # the reviewer's view
    reviewer_user: User
    workers: list[User]
    answers: dict[int, int]  # answer id -> worker id


def _answered_project(env: Env, connect: Connect, *, n_items: int = 3, workers: int = 2) -> Round:
    manager_user, reviewer_user = env.user(Role.MANAGER), env.user(Role.REVIEWER)
    worker_users = [env.user() for _ in range(workers)]
    project = connect(manager_user).projects.create(
        "Reviewed prefs", "pairwise", answers_per_item=workers
    )
    project.members.add([reviewer_user, *worker_users])
    project.items.add(
        [
            {
                "external_id": f"r-{n}",
                "prompt": f"Question {n}?",
                "response_a": f"good {n}",
                "response_b": f"bad {n}",
            }
            for n in range(n_items)
        ]
    )
    answers: dict[int, int] = {}
    for user in worker_users:
        mine = connect(user).projects.get(project.id)
        while (assignment := mine.next()) is not None:
            # Answer in the terms shown, picking the good response: canonically always "A".
            shown_a = assignment.payload["response_a"].startswith("good")
            receipt = assignment.answer({"choice": "A" if shown_a else "B"})
            answers[receipt.answer_id] = user.id
    assert len(answers) == n_items * workers
    reviewer = connect(reviewer_user).projects.get(project.id)
    return Round(project, reviewer, reviewer_user, worker_users, answers)


def test_a_review_round_from_samples_to_decisions_to_the_summary(
    env: Env, connect: Connect
) -> None:
    r = _answered_project(env, connect)
    reviews = r.project.reviews
    first_worker = r.workers[0]

    assert reviews.request(fraction=0.5) == 3  # ceil(0.5 * 6)
    sampled = {review.answer_id for review in reviews.list()}
    assert len(sampled) == 3
    assert sampled <= set(r.answers)
    theirs_left = sum(1 for a, w in r.answers.items() if w == first_worker.id and a not in sampled)
    assert reviews.request(count=100, worker_id=first_worker) == theirs_left
    queued = {review.answer_id for review in reviews.list()}
    assert all(r.answers[a] == first_worker.id for a in queued - sampled)
    assert reviews.request(answer_ids=list(r.answers)) == 6 - len(queued)
    assert reviews.request(answer_ids=list(r.answers)) == 0  # never queued twice
    assert reviews.summary().counts == {"pending": 6, "accepted": 0, "rejected": 0, "fixed": 0}

    held = r.reviewer.reviews.next()
    assert held is not None
    assert held.pending
    assert held.reviewer_id == r.reviewer_user.id
    assert held.lease_expires_at is not None
    assert held.lease_expires_at.tzinfo is not None
    assert held.answer == {"choice": "A"}  # canonical, whatever the worker was shown
    assert held.payload["response_a"].startswith("good")
    again = r.reviewer.reviews.next()
    assert again is not None
    assert again.id == held.id

    accepted = held.accept("clear and safe")
    assert (accepted.id, accepted.status, accepted.comment) == (
        held.id,
        "accepted",
        "clear and safe",
    )
    assert accepted.decided_at is not None
    assert accepted.lease_expires_at is None
    assert held.status == "pending"  # the object it was called on is left as it was

    decided: dict[int, list[str]] = {accepted.worker_id: ["accepted"]}
    second = r.reviewer.reviews.next()
    assert second is not None
    assert second.id != held.id
    rejected = second.reject("ignores the question")
    assert (rejected.status, rejected.comment) == ("rejected", "ignores the question")
    decided.setdefault(rejected.worker_id, []).append("rejected")

    third = r.reviewer.reviews.next()
    assert third is not None
    fixed = third.fix({"choice": "B"}, comment="B is the safer answer")
    assert fixed.status == "fixed"
    assert fixed.fixed_answer == {"choice": "B"}
    assert fixed.answer == {"choice": "A"}  # the worker's answer is kept
    decided.setdefault(fixed.worker_id, []).append("fixed")

    fourth = r.reviewer.reviews.next()
    assert fourth is not None
    assert fourth.accept().status == "accepted"
    decided.setdefault(fourth.worker_id, []).append("accepted")

    summary = reviews.summary()
    assert isinstance(summary, ReviewSummary)
    assert summary.counts == {"pending": 2, "accepted": 2, "rejected": 1, "fixed": 1}
    assert (summary.pending, summary.accepted, summary.rejected, summary.fixed) == (2, 2, 1, 1)
    assert summary.total == 6
    assert summary.acceptance_rate == 2 / 4
    assert {w.worker_id for w in summary.workers} == {w.id for w in r.workers}
    usernames = {w.id: w.username for w in r.workers}
    for row in summary.workers:
        outcomes = Counter(decided.get(row.worker_id, []))
        assert row.username == usernames[row.worker_id]
        assert (row.accepted, row.rejected, row.fixed) == (
            outcomes["accepted"],
            outcomes["rejected"],
            outcomes["fixed"],
        )
        assert row.decided + row.pending == 3  # each worker gave three answers
        expected = outcomes["accepted"] / row.decided if row.decided else None
        assert row.acceptance_rate == expected

    # The rejected answer is replaced: its item wants one more answer.
    assert r.project.progress().items_complete == 2
    assert [x.id for x in reviews.list("rejected")] == [rejected.id]
    assert reviews.get(fixed.id) == fixed


def test_a_closed_review_raises_review_closed_and_others_are_refused(
    env: Env, connect: Connect
) -> None:
    r = _answered_project(env, connect, n_items=2)
    r.project.reviews.request(fraction=1.0)

    review = r.reviewer.reviews.next()
    assert review is not None
    review.accept()
    with pytest.raises(ReviewClosed) as caught:
        review.reject("changed my mind")
    assert isinstance(caught.value, Conflict)
    assert (caught.value.status, caught.value.code) == (409, "review_closed")
    assert "already decided (accepted)" in caught.value.message
    with pytest.raises(ReviewClosed):
        review.accept()  # the same decision again is refused too: it was not a retry

    other_user = env.user(Role.REVIEWER)
    r.project.members.add(other_user)
    theirs = connect(other_user).projects.get(r.project.id).reviews.next()
    mine = r.reviewer.reviews.next()
    assert theirs is not None
    assert mine is not None
    assert theirs.id != mine.id
    held_by_them = r.reviewer.reviews.get(theirs.id)
    with pytest.raises(ReviewClosed, match="held by another reviewer"):
        held_by_them.accept()

    with pytest.raises(PermissionDenied):
        connect(r.workers[0]).projects.get(r.project.id).reviews.next()
    with pytest.raises(PermissionDenied):
        r.reviewer.reviews.request(fraction=1.0)  # only managers choose what is reviewed
    with pytest.raises(PermissionDenied):
        r.reviewer.reviews.summary()


def test_a_fix_must_be_a_valid_different_answer_and_a_rejection_needs_a_reason(
    env: Env, connect: Connect
) -> None:
    from expertloop.client import InvalidAnswer, InvalidInput

    r = _answered_project(env, connect, n_items=1, workers=1)
    r.project.reviews.request(count=1)
    review = r.reviewer.reviews.next()
    assert review is not None
    with pytest.raises(InvalidAnswer) as invalid:
        review.fix({"choice": "C"})
    assert invalid.value.details[0]["field"].startswith("answer")
    with pytest.raises(InvalidInput, match="accept it instead"):
        review.fix({"choice": "A"})
    with pytest.raises(InvalidInput) as unexplained:
        review.reject("   ")
    assert unexplained.value.details[0]["field"] == "comment"
    assert r.project.reviews.get(review.id).pending  # nothing was recorded

    kept = review.reject("off topic", requeue=False)
    assert kept.status == "rejected"
    assert r.project.progress().complete  # no replacement answer wanted


def test_list_follows_pages_in_id_order(env: Env, connect: Connect) -> None:
    r = _answered_project(env, connect)
    seen: list[httpx.Request] = []

    class Recording(httpx.HTTPTransport):
        def handle_request(self, request: httpx.Request) -> httpx.Response:
            seen.append(request)
            return super().handle_request(request)

    manager = connect(env.user(Role.ADMIN), transport=Recording())
    project = manager.projects.get(r.project.id)
    assert project.reviews.request(fraction=1.0) == 6

    everything = list(project.reviews.list())
    ids = [review.id for review in everything]
    assert ids == sorted(ids)
    assert len(ids) == 6
    assert all(isinstance(review, Review) for review in everything)

    seen.clear()
    paged = [review.id for review in project.reviews.list(page_size=4)]
    assert paged == ids
    pages = [dict(q.url.params) for q in seen if q.url.path.endswith("/reviews")]
    assert pages == [
        {"after": "0", "limit": "4"},
        {"after": str(ids[3]), "limit": "4"},
    ]

    seen.clear()
    assert [x.id for x in project.reviews.list(page_size=3)] == ids
    assert len(seen) == 3  # two full pages, then an empty one says it is the end

    # A page taken while reviews are decided: the next page still starts after the last id.
    pages_of_two = project.reviews.list("pending", page_size=2)
    first = next(pages_of_two)
    review = r.reviewer.reviews.next()
    assert review is not None
    review.accept()
    rest = [x.id for x in pages_of_two]
    # Nothing skipped, nothing repeated; the decided review is listed only if its page
    # had been fetched already.
    fetched = set(ids[:2])
    assert [first.id, *rest] == [i for i in ids if i in fetched or i != review.id]

    with pytest.raises(ValueError, match="unknown status 'maybe'"):
        project.reviews.list("maybe")
    with pytest.raises(ValueError, match="page_size"):
        project.reviews.list(page_size=0)


def test_get_finds_a_review_of_this_project_only(env: Env, connect: Connect) -> None:
    admin = connect(env.user(Role.ADMIN))
    one = _answered_project(env, connect, n_items=1, workers=1)
    two = _answered_project(env, connect, n_items=1, workers=1)
    one.project.reviews.request(count=1)
    two.project.reviews.request(count=1)
    [review_two] = list(two.project.reviews.list())

    in_two = admin.projects.get(two.project.id).reviews.get(review_two.id)
    assert in_two == review_two
    with pytest.raises(NotFound, match=f"review {review_two.id} is not in project"):
        admin.projects.get(one.project.id).reviews.get(review_two.id)
    with pytest.raises(NotFound):
        one.reviewer.reviews.get(review_two.id)  # not a member of project two
    with pytest.raises(NotFound):
        one.project.reviews.get(999_999)


class LoseFirstDecision(httpx.BaseTransport):
    """Forwards to the server, but drops the response of the first decision after the
    server recorded it (the connection broke on the way back)."""

    def __init__(self) -> None:
        self.inner = httpx.HTTPTransport()
        self.decisions = 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self.inner.handle_request(request)
        if request.url.path.endswith("/decision"):
            self.decisions += 1
            if self.decisions == 1:
                response.read()
                response.close()
                raise httpx.ReadError("connection reset by peer", request=request)
        return response

    def close(self) -> None:
        self.inner.close()


def test_a_decision_whose_response_was_lost_is_retried_and_recorded_once(
    env: Env, connect: Connect
) -> None:
    r = _answered_project(env, connect, n_items=1, workers=1)
    r.project.reviews.request(count=1)
    transport = LoseFirstDecision()
    flaky = connect(r.reviewer_user, transport=transport).projects.get(r.project.id)
    review = flaky.reviews.next()
    assert review is not None

    rejected = review.reject("wrong", requeue=True)
    assert transport.decisions == 2  # the repeat was refused as closed...
    assert (rejected.status, rejected.comment) == ("rejected", "wrong")  # ...and recovered
    # Recorded once: the item wants exactly one replacement answer, not two.
    newcomer = env.user()
    r.project.members.add(newcomer)
    mine = connect(newcomer).projects.get(r.project.id)
    assignment = mine.next()
    assert assignment is not None
    assignment.answer({"choice": "tie"})
    assert mine.next() is None
    assert r.project.progress().complete


# --- request shapes, without a server ------------------------------------------------------

PROJECT = {
    "id": 3,
    "name": "Prefs",
    "task_type": "pairwise",
    "config": {},
    "guidelines": "",
    "answers_per_item": 3,
    "lease_seconds": 600,
    "created_by": 1,
    "created_at": "2026-11-23T12:34:10.353Z",
}


def _fake(responses: dict[tuple[str, str], httpx.Response]) -> tuple[Client, list[httpx.Request]]:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if (request.method, request.url.path) in responses:
            return responses[(request.method, request.url.path)]
        return httpx.Response(200, text="", headers={"Content-Type": "application/x-ndjson"})

    client = Client("http://expertloop.test", "el_test", transport=httpx.MockTransport(handler))
    return client, seen


def test_exports_pass_reviewed_only_to_the_server(tmp_path: Path) -> None:
    client, seen = _fake({("GET", "/api/v1/projects/3"): httpx.Response(200, json=PROJECT)})
    with client:
        project = client.projects.get(3)
        assert project.export("raw", reviewed_only=True, as_dataset=False) == []
        project.export_to(tmp_path / "raw.jsonl", "raw", reviewed_only=False)
        project.export("raw", as_dataset=False)
    exports = [
        dict(r.url.params)
        for r in seen
        if "/exports/" in r.url.path and not r.url.path.endswith("/card")
    ]
    assert exports[0] == {"output": "jsonl", "reviewed_only": "true"}
    assert exports[1] == {"output": "jsonl", "reviewed_only": "false"}
    assert "reviewed_only" not in exports[2]  # left out: the server's default


def test_a_review_request_sends_exactly_one_way_of_choosing_answers() -> None:
    queued = httpx.Response(201, json={"queued": 2})
    client, seen = _fake(
        {
            ("GET", "/api/v1/projects/3"): httpx.Response(200, json=PROJECT),
            ("POST", "/api/v1/projects/3/reviews"): queued,
        }
    )
    with client:
        reviews = client.projects.get(3).reviews
        assert reviews.request(count=2, worker_id=User(7, "w", "worker", True)) == 2
        assert reviews.request(answer_ids=iter([5, 6])) == 2
        with pytest.raises(ValueError, match=r"exactly one .* \(got fraction, count\)"):
            reviews.request(fraction=0.5, count=2)
        with pytest.raises(ValueError, match="exactly one"):
            reviews.request()
    bodies = [json.loads(r.content) for r in seen if r.method == "POST"]
    assert bodies == [{"count": 2, "worker_id": 7}, {"answer_ids": [5, 6]}]


def test_an_empty_queue_gives_none_and_a_hand_made_review_cannot_be_decided() -> None:
    client, _ = _fake(
        {
            ("GET", "/api/v1/projects/3"): httpx.Response(200, json=PROJECT),
            ("POST", "/api/v1/projects/3/reviews/next"): httpx.Response(204),
        }
    )
    with client:
        assert client.projects.get(3).reviews.next() is None
    body = {
        "review_id": 1,
        "project_id": 3,
        "status": "pending",
        "source": "sample",
        "answer_id": 9,
        "item_id": 4,
        "external_id": None,
        "worker_id": 7,
        "payload": {},
        "answer": {"choice": "A"},
        "duration_ms": 1200,
        "answered_at": "2026-11-23T12:34:10.353Z",
        "requested_at": "2026-11-23T12:40:00.000Z",
        "reviewer_id": None,
        "lease_expires_at": None,
        "comment": "",
        "fixed_answer": None,
        "decided_at": None,
    }
    review = Review.from_json(body)
    assert "http" not in repr(review)
    with pytest.raises(RuntimeError, match="not loaded from a server"):
        review.accept()
