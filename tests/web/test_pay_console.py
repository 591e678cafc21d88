"""The manager's pay figures on the console's overview (spend, cost per accepted answer and
per finished item, effective hourly rates with the minimum's warning), and the link from
My work to My pay."""

from __future__ import annotations

import re

import httpx
from sqlalchemy import select

from db_fixtures import PASSWORD, Env, ServerThread
from expertloop.clock import FakeClock
from expertloop.domain import Role, User
from expertloop.services import pay
from expertloop.services.assignments import next_assignment, submit_answer
from expertloop.services.reviews import decide_review, request_reviews
from expertloop.settings import Settings
from expertloop.store import tables as t
from expertloop.web.sessions import SESSION_COOKIE


def _signed_in(url: str, env: Env, user: User) -> httpx.Client:
    client = httpx.Client(base_url=url, timeout=30, follow_redirects=False)
    env.clients.append(client)
    page = client.get("/login")
    token = re.search(r'name="csrf_token" value="([0-9a-f]+)"', page.text)
    assert token is not None
    response = client.post("/login", data={"csrf_token": token.group(1), "next": "/",
                                            "username": user.username, "password": PASSWORD})
    assert response.status_code == 303
    assert client.cookies.get(SESSION_COOKIE)
    return client


def _answer(env: Env, clock: FakeClock, worker: User, project: int, seconds: int) -> int:
    a = next_assignment(env.db, actor=worker, project_id=project)
    assert a is not None
    clock.advance(seconds)
    return submit_answer(env.db, actor=worker, assignment_id=a.id,
                         answer={"label": "cat"}).answer_id


def _text(html: str, attribute: str) -> str:
    found = re.search(rf'data-pay="{attribute}">([^<]*)<', html)
    assert found is not None, attribute
    return found.group(1)


def test_the_overview_shows_spend_costs_and_a_warning_for_workers_paid_below_the_minimum(
    env: Env, clock: FakeClock
) -> None:
    manager, reviewer = env.user(Role.MANAGER), env.user(Role.REVIEWER)
    fast, slow = env.user(username="fast"), env.user(username="slow<b>")
    project = env.project(manager, task_type="label", config={"labels": ["cat", "dog"]},
                          members=[fast, slow, reviewer], answers_per_item=1)
    env.items(manager, project, [{"external_id": f"i{k}", "payload": {"text": f"t{k}"}}
                                 for k in range(5)])
    pay.set_rate(env.db, actor=manager, project_id=project, kind="piece", amount_minor=50,
                 currency="USD")
    _answer(env, clock, fast, project, 60)   # 50 a minute: 30.00 an hour
    _answer(env, clock, fast, project, 60)
    _answer(env, clock, slow, project, 600)  # 50 in 10 minutes: 3.00 an hour
    rejected = _answer(env, clock, slow, project, 600)
    request_reviews(env.db, actor=manager, project_id=project, answer_ids=[rejected])
    with env.db.read() as conn:
        review = conn.execute(select(t.Review.id)).scalar_one()
    decide_review(env.db, actor=reviewer, review_id=review, outcome="rejected", comment="no")
    clock.advance(pay.CREDIT_GRACE_SECONDS + 1)
    pay.credit(env.db)

    settings = Settings(database_url=env.backend.url, data_dir=env.backend.tmp,
                        pay_minimum_hourly="USD 1200", job_workers=0)
    from expertloop.app import create_app

    server = ServerThread(create_app(settings, database=env.db))
    server.start()
    try:
        page = _signed_in(server.url, env, manager).get(f"/manage/projects/{project}")
    finally:
        server.stop()
    assert page.status_code == 200
    html = page.text
    # 4 answers credited at 0.50, one reversed: 1.50 spent on 3 accepted answers; the
    # rejected answer's item wants an answer again, so 3 items are finished.
    assert _text(html, "spend") == "1.50 USD"
    assert "3 of 4 paid" in html
    assert _text(html, "per-accepted") == "0.50 USD"
    assert _text(html, "finished") == "3"
    assert _text(html, "per-finished") == "0.50 USD"
    assert 'id="pay-warning"' in html
    assert "12.00 USD an hour" in html
    assert 'data-worker-pay="slow&lt;b&gt;" class="is-below-minimum"' in html
    assert 'data-worker-pay="fast">' in html
    assert "30.00 USD" in html


def test_a_project_without_pay_shows_no_pay_section_and_my_work_links_to_my_pay(
    env: Env
) -> None:
    manager, worker = env.user(Role.MANAGER), env.user()
    project = env.project(manager, members=[worker])
    console = _signed_in(env.url, env, manager).get(f"/manage/projects/{project}")
    assert console.status_code == 200
    assert 'id="pay-overview"' not in console.text
    mine = _signed_in(env.url, env, worker).get("/me")
    assert mine.status_code == 200
    assert '<a href="/me/pay" id="my-pay-link">My pay</a>' in mine.text
