"""The worker pages over plain HTTP, on both databases: My work, the Flags page, HTML error
pages for browsers, and the walk-through fixes that are about what the server renders
(criterion names, long scales, plurals, the progress bar)."""

from __future__ import annotations

import re

import httpx

from db_fixtures import PASSWORD, Env, pairwise_item
from expertloop.domain import ItemReportReason, Role, User
from expertloop.services import assignments, item_reports, reviews
from expertloop.settings import Settings
from expertloop.web.rendering import TEMPLATES_DIR, plural, sentence_start
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


HTML = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}


# --- HTML error pages ----------------------------------------------------------------------


def test_an_unknown_page_is_an_html_404_for_a_browser_and_json_for_a_program(env: Env) -> None:
    worker = env.user()
    client, _ = _signed_in(env, worker)
    page = client.get("/no-such-page", headers=HTML)
    assert page.status_code == 404
    assert page.headers["content-type"].startswith("text/html")
    assert "Not found" in page.text
    assert "Back to your projects" in page.text
    assert "Content-Security-Policy" in page.headers
    program = client.get("/no-such-page", headers={"Accept": "application/json"})
    assert program.status_code == 404
    assert program.json()["error"]["code"] == "not_found"
    api = client.get("/api/v1/no-such-thing", headers=HTML)
    assert api.headers["content-type"].startswith("application/json")


def test_a_wrong_method_and_an_impossible_page_id_are_html_pages_for_a_browser(env: Env) -> None:
    client = httpx.Client(base_url=env.url, timeout=30)
    env.clients.append(client)
    wrong = client.delete("/login", headers=HTML)
    assert wrong.status_code == 405
    assert wrong.headers["content-type"].startswith("text/html")
    assert "GET" in wrong.headers["allow"]
    worker = env.user()
    signed, _ = _signed_in(env, worker)
    huge = signed.get("/projects/99999999999999", headers=HTML)
    assert huge.status_code == 404
    assert huge.headers["content-type"].startswith("text/html")


# --- walk-through fixes rendered by the server ----------------------------------------------


def test_criterion_names_keep_their_own_capitals() -> None:
    assert sentence_start("HbA1c") == "HbA1c"
    assert sentence_start("NICE NG28") == "NICE NG28"
    assert sentence_start("accuracy") == "Accuracy"
    for name in ("rating", "rubric", "pairwise"):
        assert "|capitalize" not in (TEMPLATES_DIR / "tasks" / f"{name}.html").read_text()


def test_the_task_page_shows_criterion_names_as_written(env: Env) -> None:
    manager, worker = env.user(Role.MANAGER), env.user()
    project = env.project(
        manager, members=[worker], task_type="rating",
        config={"criteria": [{"name": "HbA1c"}, {"name": "NICE NG28"}]},
    )
    env.items(manager, project, [{"payload": {"prompt": "p", "response": "r"}}])
    client, csrf = _signed_in(env, worker)
    html = client.post(
        f"/ui/projects/{project}/next", headers={"X-CSRF-Token": csrf}
    ).json()["html"]
    assert "HbA1c" in html
    assert "NICE NG28" in html
    assert "Hba1c" not in html
    assert "Nice ng28" not in html


def test_a_ten_point_scale_has_keys_and_a_longer_one_is_a_question_of_the_keyboard_flow(
    env: Env,
) -> None:
    manager, worker = env.user(Role.MANAGER), env.user()
    project = env.project(
        manager, members=[worker], task_type="rating",
        config={"criteria": [{"name": "pain", "min": 1, "max": 10},
                             {"name": "severity", "min": 0, "max": 20}]},
    )
    env.items(manager, project, [{"payload": {"prompt": "p", "response": "r"}}])
    client, csrf = _signed_in(env, worker)
    html = client.post(
        f"/ui/projects/{project}/next", headers={"X-CSRF-Token": csrf}
    ).json()["html"]
    # 1..10: keys 1-9 and 0 for the tenth point.
    assert 'value="10" data-key="0"' in html
    number = re.search(r'<div class="question question--number[^>]*>', html)
    assert number is not None
    assert "data-keygroup" in number.group(0)


def test_plurals_and_a_progress_bar_that_counts_what_its_text_counts(env: Env) -> None:
    assert (plural(1, "item"), plural(2, "item"), plural(0, "answer")) == (
        "1 item", "2 items", "0 answers")
    manager, worker = env.user(Role.MANAGER), env.user()
    project = env.project(manager, members=[worker], answers_per_item=2)
    env.items(manager, project, [pairwise_item(1)])
    lease = assignments.next_assignment(env.db, actor=worker, project_id=project)
    assert lease is not None
    assignments.submit_answer(env.db, actor=worker, assignment_id=lease.id, answer={"choice": "A"})
    client, _ = _signed_in(env, worker)
    home = client.get("/").text
    assert "1 answers" not in home
    assert "1 items" not in home
    assert "0</strong> of 1 item complete · 1 answer so far" in home
    assert "2 answers per item" in home
    # One answer of two is in, no item is complete: the bar says 0%, like its text.
    assert re.search(r'<progress max="100" value="0"', home)


# --- My work ---------------------------------------------------------------------------------


def test_every_signed_in_page_links_to_my_work(env: Env) -> None:
    worker = env.user()
    client, _ = _signed_in(env, worker)
    assert 'href="/me"' in client.get("/").text


def test_my_work_shows_a_rejected_answer_with_its_reason_and_a_fix_with_its_change(
    env: Env,
) -> None:
    manager, worker, other = env.user(Role.MANAGER), env.user(), env.user()
    project = env.project(
        manager, members=[worker, other], task_type="label",
        config={"labels": ["urgent", "routine"]}, answers_per_item=2,
    )
    env.items(manager, project, [{"payload": {"text": f"Case {n}"}} for n in range(2)])
    ids = []
    for _ in range(2):
        lease = assignments.next_assignment(env.db, actor=worker, project_id=project)
        assert lease is not None
        ids.append(assignments.submit_answer(
            env.db, actor=worker, assignment_id=lease.id, answer={"label": "urgent"}
        ).answer_id)
    lease = assignments.next_assignment(env.db, actor=other, project_id=project)
    assert lease is not None
    assignments.submit_answer(
        env.db, actor=other, assignment_id=lease.id, answer={"label": "routine"}
    )
    reviews.request_reviews(env.db, actor=manager, project_id=project, answer_ids=ids)
    for outcome in ("rejected", "fixed"):
        review = reviews.next_review(env.db, actor=manager, project_id=project)
        assert review is not None
        if outcome == "rejected":
            reviews.decide_review(env.db, actor=manager, review_id=review.id, outcome=outcome,
                                  comment="Not <b>urgent</b>: stable for weeks.", requeue=False)
        else:
            reviews.decide_review(env.db, actor=manager, review_id=review.id, outcome=outcome,
                                  answer={"label": "routine"})
    client, _ = _signed_in(env, worker)
    page = client.get(f"/me?project={project}")
    assert page.status_code == 200
    html = page.text
    assert "Why it was rejected" in html
    assert "Not &lt;b&gt;urgent&lt;/b&gt;: stable for weeks." in html  # escaped
    assert "<del>urgent</del> → <ins>routine</ins>" in html
    assert html.count('class="card my-answer"') == 2  # only mine, not the other worker's


def test_my_work_refuses_a_project_the_worker_is_not_in(env: Env) -> None:
    manager, worker = env.user(Role.MANAGER), env.user()
    project = env.project(manager)
    client, _ = _signed_in(env, worker)
    assert client.get(f"/me?project={project}").status_code == 404


# --- the Flags page --------------------------------------------------------------------------


def _reported(env: Env) -> tuple[User, User, int, int]:
    manager, worker = env.user(Role.MANAGER), env.user()
    project = env.project(manager, members=[worker])
    env.items(manager, project, [pairwise_item(1), pairwise_item(2)])
    lease = assignments.next_assignment(env.db, actor=worker, project_id=project)
    assert lease is not None
    item_reports.report_item(
        env.db, actor=worker, assignment_id=lease.id, reason=ItemReportReason.HARMFUL,
        note="<script>alert(1)</script> unsafe dose",
    )
    return manager, worker, project, lease.item.id


def test_the_flags_page_lists_reported_items_with_reason_note_count_and_a_link(env: Env) -> None:
    manager, _worker, project, item = _reported(env)
    client, _ = _signed_in(env, manager)
    page = client.get(f"/manage/projects/{project}/flags")
    assert page.status_code == 200, page.text
    html = page.text
    assert f'href="/manage/projects/{project}/items/{item}"' in html
    assert "Harmful" in html
    assert "1 report" in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt; unsafe dose" in html
    assert 'id="reported-items"' in html  # a section the rules' flags can sit beside


def test_a_manager_resolves_or_disables_a_reported_item_from_the_flags_page(env: Env) -> None:
    manager, _, project, item = _reported(env)
    client, csrf = _signed_in(env, manager)
    refused = client.post(f"/manage/projects/{project}/flags/{item}", data={"action": "disable"})
    assert refused.status_code == 403
    done = client.post(
        f"/manage/projects/{project}/flags/{item}",
        data={"action": "disable", "reason": "unsafe", "csrf_token": csrf},
    )
    assert done.status_code == 303
    assert "No open reports" in client.get(f"/manage/projects/{project}/flags").text
    state = env.client(manager).get(f"/api/v1/items/{item}").json()
    assert state["status"] == "disabled"


def test_workers_cannot_open_the_flags_page(env: Env) -> None:
    _, worker, project, _ = _reported(env)
    client, _ = _signed_in(env, worker)
    page = client.get(f"/manage/projects/{project}/flags")
    assert page.status_code == 403
    assert "unsafe dose" not in page.text


def test_the_report_dialog_offers_exactly_the_report_reasons() -> None:
    template = (TEMPLATES_DIR / "work.html").read_text()
    offered = re.findall(r'\("([a-z_]+)", "It ', template)
    assert offered == [r.value for r in ItemReportReason]
