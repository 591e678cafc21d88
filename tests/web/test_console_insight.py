"""The manager's overview, item browser and item page, over plain HTTP on both databases:
who may see them, what they show, and the item actions (disable, enable, gold)."""

from __future__ import annotations

import re

import httpx
import pytest

from db_fixtures import PASSWORD, Env, pairwise_item
from expertloop.domain import Role, User
from expertloop.services import console_items
from expertloop.services.assignments import next_assignment, submit_answer
from expertloop.settings import Settings
from expertloop.store import audit
from expertloop.web.sessions import SESSION_COOKIE, csrf_token_for

SECRET = Settings().secret_key


def _signed_in(env: Env, user: User) -> tuple[httpx.Client, str]:
    client = httpx.Client(base_url=env.url, timeout=30, follow_redirects=False)
    env.clients.append(client)
    page = client.get("/login")
    token = re.search(r'name="csrf_token" value="([0-9a-f]+)"', page.text)
    assert token is not None
    response = client.post(
        "/login",
        data={"csrf_token": token.group(1), "next": "/", "username": user.username,
              "password": PASSWORD},
    )
    assert response.status_code == 303, response.text
    session = client.cookies.get(SESSION_COOKIE)
    assert session
    return client, csrf_token_for(SECRET, session)


def _project(env: Env, n_items: int = 6) -> tuple[User, list[User], int]:
    manager = env.user(Role.MANAGER)
    workers = [env.user(Role.WORKER) for _ in range(3)]
    project = env.project(manager, members=workers, answers_per_item=2)
    items = [pairwise_item(k) for k in range(n_items)]
    items[0]["gold"] = {"choice": "A"}
    items[1]["payload"]["prompt"] = "Which statin dose suits a frail patient?"
    env.items(manager, project, items)
    return manager, workers, project


_SWAP = {"A": "B", "B": "A", "tie": "tie"}


def _answer(env: Env, worker: User, project: int, choices: list[str]) -> None:
    """The worker answers its next items with these choices in canonical terms (the item's
    own A and B, whichever side the assignment showed first)."""
    for choice in choices:
        assignment = next_assignment(env.db, actor=worker, project_id=project)
        assert assignment is not None
        swapped = not str(assignment.item.payload["response_a"]).startswith("A")
        submit_answer(env.db, actor=worker, assignment_id=assignment.id,
                      answer={"choice": _SWAP[choice] if swapped else choice})


def _item_ids(env: Env, project: int) -> list[int]:
    manager = env.user(Role.ADMIN)
    page = console_items.browse_items(env.db, actor=manager, project_id=project, limit=100)
    return [row.id for row in page.rows]


def _pages(project: int, item: int) -> list[str]:
    return [
        f"/manage/projects/{project}",
        f"/manage/projects/{project}/items",
        f"/manage/projects/{project}/items?filter=gold&sort=confidence",
        f"/manage/projects/{project}/items/{item}",
    ]


def _actions(project: int, item: int) -> list[str]:
    return [
        f"/manage/projects/{project}/items/{item}/disable",
        f"/manage/projects/{project}/items/{item}/enable",
        f"/manage/projects/{project}/items/{item}/gold",
    ]


def test_workers_are_refused_every_console_page_and_action_and_the_gold_endpoint(
    env: Env,
) -> None:
    _, workers, project = _project(env)
    item = _item_ids(env, project)[0]
    client, csrf = _signed_in(env, workers[0])
    for path in _pages(project, item):
        assert client.get(path).status_code == 403, path
    for path in _actions(project, item):
        assert client.post(path, data={"csrf_token": csrf}).status_code == 403, path
    api = env.client(workers[0])
    refused = api.post(f"/api/v1/projects/{project}/items/{item}/gold",
                       json={"from_consensus": True})
    assert refused.status_code == 403


def test_a_manager_sees_only_their_own_projects_in_the_console(env: Env) -> None:
    _, _, project = _project(env)
    item = _item_ids(env, project)[0]
    other = env.user(Role.MANAGER)
    client, csrf = _signed_in(env, other)
    for path in _pages(project, item):
        assert client.get(path).status_code == 404, path
    for path in _actions(project, item):
        assert client.post(path, data={"csrf_token": csrf}).status_code == 404, path
    api = env.client(other).post(f"/api/v1/projects/{project}/items/{item}/gold",
                                 json={"from_consensus": True})
    assert api.status_code == 404


def test_signed_out_visitors_are_sent_to_sign_in(env: Env) -> None:
    _, _, project = _project(env)
    client = httpx.Client(base_url=env.url, timeout=30, follow_redirects=False)
    env.clients.append(client)
    response = client.get(f"/manage/projects/{project}/items")
    assert response.status_code == 303
    assert response.headers["location"].startswith("/login?next=")


def test_the_overview_shows_progress_agreement_distributions_and_each_worker(env: Env) -> None:
    manager, workers, project = _project(env)
    _answer(env, workers[0], project, ["A"] * 6)
    _answer(env, workers[1], project, ["A", "A", "B", "A", "A", "tie"])
    client, _ = _signed_in(env, manager)
    page = client.get(f"/manage/projects/{project}")
    assert page.status_code == 200
    html = page.text
    assert "Content-Security-Policy" in page.headers
    assert 'id="agreement-table"' in html
    assert 'data-channel="overall"' in html
    assert 'id="workers-table"' in html
    assert workers[0].username in html
    assert workers[1].username in html
    assert 'id="dashboard-data"' in html
    assert 'type="application/json"' in html
    assert 'data-chart="progress"' in html
    assert "Position bias" in html  # pairwise shows its options in a random order
    assert "<script>" not in html  # no inline script


def test_the_overview_of_a_project_without_answers_says_so(env: Env) -> None:
    manager, _, project = _project(env)
    client, _ = _signed_in(env, manager)
    page = client.get(f"/manage/projects/{project}")
    assert page.status_code == 200
    assert 'id="dashboard-empty"' in page.text


def test_the_item_browser_filters_searches_and_sorts(env: Env) -> None:
    manager, workers, project = _project(env)
    _answer(env, workers[0], project, ["A"] * 6)
    _answer(env, workers[1], project, ["A", "B", "A", "B", "A", "A"])
    ids = _item_ids(env, project)
    client, csrf = _signed_in(env, manager)
    client.post(f"/manage/projects/{project}/items/{ids[5]}/disable",
                data={"csrf_token": csrf, "reason": "broken"})

    def listed(query: str) -> list[int]:
        response = client.get(f"/manage/projects/{project}/items{query}")
        assert response.status_code == 200, response.text
        return [int(x) for x in re.findall(r'data-item-id="(\d+)"', response.text)]

    assert listed("") == ids
    assert listed("?filter=gold") == [ids[0]]
    assert listed("?filter=disabled") == [ids[5]]
    assert listed("?filter=complete") == ids  # two answers each
    assert listed("?filter=open") == []
    assert listed("?q=STATIN") == [ids[1]]
    assert listed("?q=item-3") == [ids[3]]
    for sort, descending in (("disagreement", True), ("confidence", False)):
        page = console_items.browse_items(env.db, actor=manager, project_id=project, sort=sort)
        values = [getattr(row, sort) for row in page.rows]
        assert values == sorted(values, reverse=descending)
        assert listed(f"?sort={sort}") == [row.id for row in page.rows]
        assert set(listed(f"?sort={sort}")) == set(ids[1:])  # gold is outside the snapshot
    split = console_items.browse_items(
        env.db, actor=manager, project_id=project, sort="disagreement"
    ).rows
    assert split[0].disagreement == 0.5
    assert split[-1].disagreement == 0.0
    assert client.get(f"/manage/projects/{project}/items?filter=nope").status_code == 422


def test_the_item_browser_pages_by_keyset(env: Env) -> None:
    manager, _, project = _project(env, n_items=7)
    ids = _item_ids(env, project)
    seen: list[int] = []
    after = None
    while True:
        page = console_items.browse_items(
            env.db, actor=manager, project_id=project, limit=3, after=after
        )
        seen += [row.id for row in page.rows]
        if page.next_cursor is None:
            break
        after = page.next_cursor
    assert seen == ids


def test_the_item_page_shows_answers_by_pseudonym_the_consensus_and_reviews(env: Env) -> None:
    manager, workers, project = _project(env)
    _answer(env, workers[0], project, ["A"] * 6)
    _answer(env, workers[1], project, ["A"] * 6)
    item = _item_ids(env, project)[2]
    client, _ = _signed_in(env, manager)
    page = client.get(f"/manage/projects/{project}/items/{item}")
    assert page.status_code == 200
    html = page.text
    assert len(re.findall(r'data-answer-id="\d+"', html)) == 2
    assert re.search(r"<code>w-[0-9a-f]{12}</code>", html)
    assert workers[0].username not in html  # pseudonyms, as exports give
    assert 'id="item-confidence"' in html
    assert "Question 2?" in html  # the payload as workers see it
    assert 'id="item-promote"' in html


def test_disabling_and_enabling_from_the_item_page_needs_the_csrf_token(env: Env) -> None:
    manager, _, project = _project(env)
    item = _item_ids(env, project)[3]
    client, csrf = _signed_in(env, manager)
    forged = client.post(f"/manage/projects/{project}/items/{item}/disable", data={})
    assert forged.status_code == 403
    done = client.post(f"/manage/projects/{project}/items/{item}/disable",
                       data={"csrf_token": csrf, "reason": "typo in the prompt"})
    assert done.status_code == 303
    page = client.get(done.headers["location"])
    assert 'id="item-status">disabled' in page.text
    assert "typo in the prompt" in page.text
    done = client.post(f"/manage/projects/{project}/items/{item}/enable",
                       data={"csrf_token": csrf})
    assert 'id="item-status">open' in client.get(done.headers["location"]).text


def test_promoting_the_consensus_to_gold_sets_it_and_audits_it(env: Env) -> None:
    manager, workers, project = _project(env)
    _answer(env, workers[0], project, ["B"] * 6)
    _answer(env, workers[1], project, ["B"] * 6)
    item = _item_ids(env, project)[4]
    client, csrf = _signed_in(env, manager)
    client.get(f"/manage/projects/{project}/items/{item}")  # brings the snapshot up to date
    done = client.post(f"/manage/projects/{project}/items/{item}/gold",
                       data={"csrf_token": csrf})
    assert done.status_code == 303
    page = client.get(done.headers["location"])
    assert 'id="item-gold">yes' in page.text
    detail = console_items.managed_item(env.db, actor=manager, project_id=project, item_id=item)
    assert detail.gold == {"choice": "B"}
    with env.db.read() as conn:
        events = audit.list_events(conn, action="item.gold_set")
    assert events
    assert events[-1].after == {"gold": {"choice": "B"}}


def test_the_gold_endpoint_takes_the_consensus_or_a_valid_answer_and_names_what_is_wrong(
    env: Env,
) -> None:
    manager, workers, project = _project(env)
    ids = _item_ids(env, project)
    api = env.client(manager)
    url = f"/api/v1/projects/{project}/items/{ids[3]}/gold"
    no_consensus = api.post(url, json={"from_consensus": True})
    assert no_consensus.status_code == 422
    assert "no consensus" in no_consensus.text
    _answer(env, workers[0], project, ["A"] * 6)
    _answer(env, workers[1], project, ["A"] * 6)
    env.client(manager).get(f"/api/v1/projects/{project}/consensus")  # refreshes the snapshot
    taken = api.post(url, json={"from_consensus": True})
    assert taken.status_code == 200, taken.text
    assert taken.json()["gold"] == {"choice": "A"}
    explicit = api.post(url, json={"gold": {"choice": "tie"}})
    assert explicit.status_code == 200
    assert explicit.json()["gold"] == {"choice": "tie"}
    bad = api.post(url, json={"gold": {"choice": "C"}})
    assert bad.status_code == 422
    assert any(d["field"].startswith("gold.choice") for d in bad.json()["error"]["details"])
    both = api.post(url, json={"from_consensus": True, "gold": {"choice": "A"}})
    assert both.status_code == 422
    neither = api.post(url, json={})
    assert neither.status_code == 422
    elsewhere = api.post(f"/api/v1/projects/{project}/items/999999/gold",
                         json={"gold": {"choice": "A"}})
    assert elsewhere.status_code == 404


@pytest.mark.parametrize("path", ["/manage/projects/9999", "/manage/projects/9999/items"])
def test_a_missing_project_is_a_404_page(env: Env, path: str) -> None:
    client, _ = _signed_in(env, env.user(Role.MANAGER))
    response = client.get(path)
    assert response.status_code == 404
    assert "text/html" in response.headers["content-type"]


def test_a_snapshot_from_before_the_overview_numbers_shows_the_empty_overview(env: Env) -> None:
    from sqlalchemy import update

    from expertloop.store import tables as t

    manager, workers, project = _project(env)
    _answer(env, workers[0], project, ["A"] * 6)
    client, _ = _signed_in(env, manager)
    assert client.get(f"/manage/projects/{project}").status_code == 200
    with env.db.write() as conn:
        conn.execute(update(t.ConsensusSnapshot).values(stats=None))
    page = client.get(f"/manage/projects/{project}")
    assert page.status_code == 200
    assert "computed by an older version" in page.text


def test_the_flagged_filter_lists_items_with_open_reports(env: Env) -> None:
    from expertloop.services.item_reports import report_item, resolve_item_reports

    manager, workers, project = _project(env)
    assignment = next_assignment(env.db, actor=workers[2], project_id=project)
    assert assignment is not None
    report_item(env.db, actor=workers[2], assignment_id=assignment.id, reason="ambiguous")
    flagged = console_items.browse_items(
        env.db, actor=manager, project_id=project, filter_key="flagged"
    )
    assert [row.id for row in flagged.rows] == [assignment.item.id]
    resolve_item_reports(env.db, actor=manager, project_id=project, item_id=assignment.item.id)
    after = console_items.browse_items(
        env.db, actor=manager, project_id=project, filter_key="flagged"
    )
    assert after.rows == []
