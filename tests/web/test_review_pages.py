"""The reviewer's web UI over plain HTTP: who may open the review queue, CSRF, decisions,
the empty queue, the home page's links, and escaping of untrusted text in the fragment."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from db_fixtures import PASSWORD, Env, pairwise_item
from expertloop.domain import Role, User
from expertloop.services import assignments, reviews
from expertloop.settings import Settings
from expertloop.store import tables as t
from expertloop.tasks import get_task_type
from expertloop.web.examples import EXAMPLES
from expertloop.web.sessions import SESSION_COOKIE, csrf_token_for

SECRET = Settings().secret_key  # the test server runs with the default development key


def _signed_in(env: Env, user: User) -> tuple[httpx.Client, str]:
    client = httpx.Client(base_url=env.url, timeout=30, follow_redirects=False)
    env.clients.append(client)
    login = client.get("/login")
    token = re.search(r'name="csrf_token" value="([0-9a-f]+)"', login.text)
    assert token is not None
    response = client.post(
        "/login",
        data={
            "csrf_token": token.group(1),
            "next": "/",
            "username": user.username,
            "password": PASSWORD,
        },
    )
    assert response.status_code == 303, response.text
    session = client.cookies.get(SESSION_COOKIE)
    assert session
    return client, csrf_token_for(SECRET, session)


def _answer_everything(env: Env, project: int, workers: list[User], answer: dict[str, Any]) -> None:
    """Each worker answers every item it gets, with ``answer`` in canonical terms (mapped to
    what the worker was shown: pairwise may swap the responses, ranking may reorder them)."""
    for worker in workers:
        while lease := assignments.next_assignment(env.db, actor=worker, project_id=project):
            with env.db.read() as conn:
                presentation = conn.execute(
                    select(t.Assignment.presentation).where(t.Assignment.id == lease.id)
                ).scalar_one()
            shown = get_task_type(lease.task_type).to_shown(answer, presentation)
            assignments.submit_answer(env.db, actor=worker, assignment_id=lease.id, answer=shown)


def _queued(
    env: Env,
    *,
    records: list[dict[str, Any]] | None = None,
    answer: dict[str, Any] | None = None,
    task_type: str = "pairwise",
    config: dict[str, Any] | None = None,
    per_item: int = 1,
) -> dict[str, Any]:
    """A project whose answers are all queued for review, with its people."""
    manager, reviewer = env.user(Role.MANAGER), env.user(Role.REVIEWER)
    workers = [env.user() for _ in range(per_item)]
    project = env.project(
        manager,
        members=[reviewer, *workers],
        task_type=task_type,
        config=config,
        answers_per_item=per_item,
    )
    env.items(manager, project, records or [pairwise_item(n) for n in range(2)])
    _answer_everything(env, project, workers, answer or {"choice": "A"})
    queued = reviews.request_reviews(env.db, actor=manager, project_id=project, fraction=1.0)
    return {
        "project": project,
        "manager": manager,
        "reviewer": reviewer,
        "workers": workers,
        "queued": queued,
    }


def _next(client: httpx.Client, csrf: str, project: int) -> dict[str, Any]:
    response = client.post(f"/ui/projects/{project}/reviews/next", headers={"X-CSRF-Token": csrf})
    assert response.status_code == 200, response.text
    return response.json()


def _decide(client: httpx.Client, csrf: str, review_id: int, **body: Any) -> httpx.Response:
    return client.post(
        f"/ui/reviews/{review_id}/decision", json=body, headers={"X-CSRF-Token": csrf}
    )


# --- the page ----------------------------------------------------------------------------


def test_the_review_page_sends_a_visitor_without_a_session_to_sign_in(env: Env) -> None:
    client = httpx.Client(base_url=env.url, timeout=30, follow_redirects=False)
    env.clients.append(client)
    response = client.get("/projects/7/review")
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=/projects/7/review"


def test_reviewers_managers_and_admins_open_the_review_page_and_workers_may_not(
    env: Env,
) -> None:
    p = _queued(env)
    for user in (p["reviewer"], p["manager"], env.user(Role.ADMIN)):
        client, _ = _signed_in(env, user)
        page = client.get(f"/projects/{p['project']}/review")
        assert page.status_code == 200, user.role
        assert f'data-project-id="{p["project"]}"' in page.text
        assert "review.js" in page.text
        assert "default-src 'none'" in page.headers["content-security-policy"]
        for tag in re.findall(r"<script\b[^>]*>", page.text):
            assert "src=" in tag
    worker, worker_csrf = _signed_in(env, p["workers"][0])
    refused = worker.get(f"/projects/{p['project']}/review")
    assert refused.status_code == 403
    assert "Only the project&#39;s reviewers and managers" in refused.text
    assert "<html" in refused.text  # an error page, not JSON
    api = worker.post(
        f"/ui/projects/{p['project']}/reviews/next", headers={"X-CSRF-Token": worker_csrf}
    )
    assert api.status_code == 403
    assert api.json()["error"]["code"] == "permission_denied"


def test_a_reviewer_outside_the_project_finds_no_review_page(env: Env) -> None:
    p = _queued(env)
    outsider = env.user(Role.REVIEWER)
    client, csrf = _signed_in(env, outsider)
    assert client.get(f"/projects/{p['project']}/review").status_code == 404
    response = client.post(
        f"/ui/projects/{p['project']}/reviews/next", headers={"X-CSRF-Token": csrf}
    )
    assert response.status_code == 404


# --- CSRF --------------------------------------------------------------------------------


def test_review_posts_with_the_session_cookie_need_the_pages_csrf_token(env: Env) -> None:
    p = _queued(env)
    client, csrf = _signed_in(env, p["reviewer"])
    url = f"/ui/projects/{p['project']}/reviews/next"
    assert client.post(url).status_code == 403
    forged = client.post(url, headers={"X-CSRF-Token": csrf_token_for("x", "y")})
    assert forged.status_code == 403
    assert "CSRF" in forged.json()["error"]["message"]

    review_id = _next(client, csrf, p["project"])["review_id"]
    for headers in ({}, {"X-CSRF-Token": "forged"}):
        refused = client.post(
            f"/ui/reviews/{review_id}/decision", json={"outcome": "accepted"}, headers=headers
        )
        assert refused.status_code == 403
    still = reviews.get_review(env.db, actor=p["manager"], review_id=review_id)
    assert still.status == "pending"


# --- the fragment ------------------------------------------------------------------------


def test_the_next_review_is_the_items_form_with_the_answer_and_its_facts(env: Env) -> None:
    p = _queued(env, records=[pairwise_item(0)])
    client, csrf = _signed_in(env, p["reviewer"])
    body = _next(client, csrf, p["project"])
    review = reviews.get_review(env.db, actor=p["manager"], review_id=body["review_id"])
    assert body["answer"] == review.answer == {"choice": "A"}  # canonical, as stored
    assert body["lease_expires_at"].endswith("Z")
    html = body["html"]
    assert 'id="task-form"' in html
    assert "data-review" in html
    assert "data-assignment-id" not in html
    assert 'data-action="skip"' not in html
    # Canonical order: response_a is shown as Response A, whatever the worker was shown.
    assert html.index("A0") < html.index("B0")
    assert "Question 0?" in html
    assert f"#{review.id}" in html
    assert "Random sample" in html
    assert "Time on task" in html
    assert 'data-decide="accept"' in html
    assert 'aria-keyshortcuts="r"' in html
    assert 'data-field="choice"' in html
    again = _next(client, csrf, p["project"])
    assert again["review_id"] == body["review_id"]  # a reload gets the same review back


def test_time_on_task_and_a_managers_request_are_shown_in_words(env: Env) -> None:
    manager, reviewer, worker = env.user(Role.MANAGER), env.user(Role.REVIEWER), env.user()
    project = env.project(manager, members=[reviewer, worker])
    env.items(manager, project, [pairwise_item(1)])
    lease = assignments.next_assignment(env.db, actor=worker, project_id=project)
    assert lease is not None
    stored = assignments.submit_answer(
        env.db, actor=worker, assignment_id=lease.id, answer={"choice": "tie"}
    )
    reviews.request_reviews(
        env.db, actor=manager, project_id=project, answer_ids=[stored.answer_id]
    )
    client, csrf = _signed_in(env, reviewer)
    html = _next(client, csrf, project)["html"]
    assert "Requested by a manager" in html
    assert re.search(r"data-time-on-task>\d+ (s|min \d\d s)<", html)


@pytest.mark.parametrize("example", EXAMPLES, ids=[e.task_type for e in EXAMPLES])
def test_a_review_of_every_task_type_renders_its_form_and_every_answer_field(
    env: Env, example: Any
) -> None:
    answer = example.extra["answer"]
    p = _queued(
        env,
        records=example.items,
        answer=answer,
        task_type=example.task_type,
        config=example.config,
    )
    client, csrf = _signed_in(env, p["reviewer"])
    body = _next(client, csrf, p["project"])
    assert body["answer"] == get_task_type(example.task_type).validate_answer(
        answer, example.config
    )
    assert f'data-task-type="{example.task_type}"' in body["html"]
    for key in answer:
        assert f'data-field="{key}"' in body["html"]


def test_ranking_responses_given_as_objects_are_shown_as_their_text(env: Env) -> None:
    records = [
        {
            "payload": {
                "prompt": "Rank these.",
                "responses": [{"id": "x", "text": "First text"}, {"id": "y", "text": "Second"}],
            }
        }
    ]
    p = _queued(env, records=records, answer={"ranking": [[1], [0]]}, task_type="ranking")
    client, csrf = _signed_in(env, p["reviewer"])
    html = _next(client, csrf, p["project"])["html"]
    assert "First text" in html
    assert "Second" in html
    assert html.index("First text") < html.index("Second")


HOSTILE = "<script>alert('x')</script> <img src=x onerror=alert(1)>"


def test_scripts_in_the_payload_and_the_answer_are_escaped_in_the_fragment(env: Env) -> None:
    records = [{"payload": {"prompt": HOSTILE, "response_a": HOSTILE, "response_b": "fine"}}]
    p = _queued(env, records=records, answer={"choice": "B", "rationale": HOSTILE})
    client, csrf = _signed_in(env, p["reviewer"])
    html = _next(client, csrf, p["project"])["html"]
    assert "<script" not in html
    assert "<img" not in html
    assert not re.search(r"<[^>]+\sonerror=", html)
    assert "&lt;script&gt;alert(" in html
    stored = re.search(r'data-field="rationale">(.*?)</div>\s*</dd>', html, re.S)
    assert stored is not None
    assert "&lt;img src=x onerror=alert(1)&gt;" in stored.group(1)


# --- decisions ---------------------------------------------------------------------------


def test_accepting_records_the_decision_and_returns_the_next_review(env: Env) -> None:
    p = _queued(env)
    client, csrf = _signed_in(env, p["reviewer"])
    first = _next(client, csrf, p["project"])["review_id"]
    response = _decide(client, csrf, first, outcome="accepted")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["decided"] == {"review_id": first, "status": "accepted"}
    assert body["review_id"] not in (None, first)
    assert 'id="task-form"' in body["html"]
    decided = reviews.get_review(env.db, actor=p["manager"], review_id=first)
    assert decided.status == "accepted"
    assert decided.reviewer_id == p["reviewer"].id


def test_a_rejection_needs_a_reason_and_keeps_it(env: Env) -> None:
    p = _queued(env)
    client, csrf = _signed_in(env, p["reviewer"])
    review_id = _next(client, csrf, p["project"])["review_id"]
    blank = _decide(client, csrf, review_id, outcome="rejected", comment="   ")
    assert blank.status_code == 422
    assert blank.json()["error"]["message"] == "say why the answer is rejected"
    assert blank.json()["error"]["details"][0]["field"] == "comment"
    assert reviews.get_review(env.db, actor=p["manager"], review_id=review_id).status == "pending"

    ok = _decide(client, csrf, review_id, outcome="rejected", comment="B is plainly unsafe.")
    assert ok.status_code == 200
    assert ok.json()["decided"]["status"] == "rejected"
    decided = reviews.get_review(env.db, actor=p["manager"], review_id=review_id)
    assert (decided.status, decided.comment) == ("rejected", "B is plainly unsafe.")


def test_a_fix_stores_the_corrected_answer_and_refuses_an_unchanged_or_invalid_one(
    env: Env,
) -> None:
    p = _queued(env)
    client, csrf = _signed_in(env, p["reviewer"])
    review_id = _next(client, csrf, p["project"])["review_id"]

    same = _decide(client, csrf, review_id, outcome="fixed", answer={"choice": "A"})
    assert same.status_code == 422
    assert "unchanged" in same.json()["error"]["message"]
    invalid = _decide(client, csrf, review_id, outcome="fixed", answer={"choice": "C"})
    assert invalid.status_code == 422
    assert invalid.json()["error"]["code"] == "invalid_answer"
    assert invalid.json()["error"]["details"][0]["field"] == "answer.choice"
    missing = _decide(client, csrf, review_id, outcome="fixed")
    assert missing.status_code == 422

    fixed = _decide(
        client,
        csrf,
        review_id,
        outcome="fixed",
        answer={"choice": "B", "strength": 2},
        comment="B is the safe one",
    )
    assert fixed.status_code == 200, fixed.text
    decided = reviews.get_review(env.db, actor=p["manager"], review_id=review_id)
    assert decided.status == "fixed"
    assert decided.fixed_answer == {"choice": "B", "strength": 2}
    assert decided.comment == "B is the safe one"


def test_deciding_a_closed_review_again_is_a_conflict_in_words(env: Env) -> None:
    p = _queued(env)
    client, csrf = _signed_in(env, p["reviewer"])
    review_id = _next(client, csrf, p["project"])["review_id"]
    assert _decide(client, csrf, review_id, outcome="accepted").status_code == 200
    again = _decide(client, csrf, review_id, outcome="rejected", comment="changed my mind")
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "review_closed"
    assert "already decided (accepted)" in again.json()["error"]["message"]


def test_the_queue_says_when_it_is_empty(env: Env) -> None:
    p = _queued(env, records=[pairwise_item(0)])
    client, csrf = _signed_in(env, p["reviewer"])
    review_id = _next(client, csrf, p["project"])["review_id"]
    last = _decide(client, csrf, review_id, outcome="accepted").json()
    assert last["review_id"] is None
    assert last["decided"]["status"] == "accepted"
    assert "The review queue is empty" in last["html"]
    empty = _next(client, csrf, p["project"])
    assert empty["review_id"] is None
    assert "data-review-done" in empty["html"]


# --- the home page -----------------------------------------------------------------------


def _review_link(page: str, project: int) -> str | None:
    found = re.search(rf'<a [^>]*href="/projects/{project}/review"[^>]*>.*?</a>', page, re.S)
    return found.group(0) if found else None


def test_the_home_page_links_those_who_may_review_to_the_queue(env: Env) -> None:
    p = _queued(env, records=[pairwise_item(0), pairwise_item(1)])
    manager, _ = _signed_in(env, p["manager"])
    link = _review_link(manager.get("/").text, p["project"])
    assert link is not None
    assert 'data-pending="2"' in link

    reviewer, csrf = _signed_in(env, p["reviewer"])
    link = _review_link(reviewer.get("/").text, p["project"])
    assert link is not None
    assert 'data-pending="2"' in link
    assert "project__review--waiting" in link

    worker, _ = _signed_in(env, p["workers"][0])
    assert _review_link(worker.get("/").text, p["project"]) is None

    for _ in range(2):
        review_id = _next(reviewer, csrf, p["project"])["review_id"]
        _decide(reviewer, csrf, review_id, outcome="accepted")
    link = _review_link(reviewer.get("/").text, p["project"])
    assert link is not None
    assert "project__review--waiting" not in link
    assert 'data-pending="0"' in link
    assert 'data-pending="0"' in (_review_link(manager.get("/").text, p["project"]) or "")
