"""A grading project's per-principle statistics in the console: alpha with its interval,
the not-applicable rate, coverage and the unclear principles; linked from the constitution's
page and the project's tabs; strict CSP, text escaped."""

from __future__ import annotations

import re
from typing import Any

import browser_helpers
import httpx
from browser_helpers import Page, needs_chromium, on_sqlite, sign_in, unnamed_controls

from db_fixtures import PASSWORD, Env
from expertloop.domain import Role, User
from expertloop.services import assignments, constitution_grading, constitutions

browser = browser_helpers.browser
page = browser_helpers.page


def _signed_in(env: Env, user: User) -> httpx.Client:
    client = httpx.Client(base_url=env.url, timeout=30, follow_redirects=False)
    env.clients.append(client)
    page = client.get("/login").text
    token = re.search(r'name="csrf_token" value="([0-9a-f]+)"', page)
    assert token is not None
    signed = client.post("/login", data={"csrf_token": token.group(1), "next": "/",
                                         "username": user.username, "password": PASSWORD})
    assert signed.status_code == 303, signed.text
    return client


def _grade(verdict: str) -> dict[str, Any]:
    return {"verdict": verdict, **({"severity": 2} if verdict == "fail" else {})}


def _graded(env: Env) -> tuple[User, int, int]:
    """A grading project on version 1 of a constitution with three principles: "clear"
    (the experts agree), "vague" (they contradict each other), "rare" (mostly not
    applicable)."""
    manager = env.user(Role.MANAGER)
    made = constitutions.create_constitution(env.db, actor=manager, name="Helpful")
    for key, title in (("clear", "Clear <b>one</b>"), ("vague", "Vague"), ("rare", "Rare")):
        constitutions.put_principle(
            env.db, actor=manager, constitution_id=made.id,
            principle=constitutions.principle_from_input(key=key, title=title, text="Be it."))
    constitutions.publish(env.db, actor=manager, constitution_id=made.id)
    project = constitution_grading.grading_project(
        env.db, actor=manager, constitution_id=made.id, version=1, name="Grade <i>v1</i>").id
    workers = [env.user() for _ in range(3)]
    env.client(manager).post(f"/api/v1/projects/{project}/members",
                             json={"user_ids": [w.id for w in workers]})
    env.items(manager, project, [{"payload": {"prompt": f"Q{n}", "response": "R"}}
                                 for n in range(6)])
    vague = {0: "pass", 1: "fail", 2: "pass"}
    for w, worker in enumerate(workers):
        while lease := assignments.next_assignment(env.db, actor=worker, project_id=project):
            n = int(str(lease.item.payload["prompt"])[1:])
            assignments.submit_answer(env.db, actor=worker, assignment_id=lease.id, answer={
                "grades": {"clear": _grade("pass" if n % 2 else "fail"),
                           "vague": _grade(vague[(w + n) % 3]),
                           "rare": _grade("not_applicable" if n < 5 else "pass")}})
    return manager, made.id, project


def _row(page: str, key: str) -> str:
    found = re.search(rf'<tr data-key="{key}".*?</tr>', page, re.S)
    assert found is not None, key
    return found.group(0)


def test_the_page_shows_alpha_with_its_interval_and_lists_the_unclear_principle(
    env: Env,
) -> None:
    manager, cid, project = _graded(env)
    client = _signed_in(env, manager)
    response = client.get(f"/manage/projects/{project}/principles")
    assert response.status_code == 200
    page = response.text
    unclear = re.search(r'<ul id="unclear-list">(.*?)</ul>', page, re.S)
    assert unclear is not None
    assert 'data-key="vague"' in unclear.group(1)
    assert 'data-key="clear"' not in unclear.group(1)
    stats = {s.key: s for s in constitution_grading.principle_stats(
        env.db, actor=manager, project_id=project)}
    vague = stats["vague"]
    assert vague.alpha_low is not None
    assert vague.alpha_high is not None
    row = _row(page, "vague")
    assert 'data-unclear="true"' in row
    assert f'data-col="alpha">{vague.alpha:.2f}<' in row
    assert f'data-col="interval">{vague.alpha_low:.2f} to {vague.alpha_high:.2f}<' in row
    assert 'class="alpha-plot__interval"' in row
    clear = _row(page, "clear")
    assert 'data-col="alpha">1.00<' in clear
    assert 'data-col="coverage">6<' in clear
    assert 'data-col="na">0%<' in clear
    assert "Clear &lt;b&gt;one&lt;/b&gt;" in clear
    rare = _row(page, "rare")
    assert 'data-col="na">83%<' in rare
    assert 'data-col="coverage">1<' in rare
    assert f'href="/manage/constitutions/{cid}/versions/1"' in page
    # The tabs of a grading project lead here.
    assert 'id="principles-tab"' in page
    tab = re.search(r'<a [^>]*id="principles-tab"[^>]*>', page)
    assert tab is not None
    assert 'aria-current="page"' in tab.group(0)


def test_the_constitution_page_and_the_projects_tabs_link_the_statistics(env: Env) -> None:
    manager, cid, project = _graded(env)
    other = env.project(manager, task_type="label", config={"labels": ["a", "b"]})
    client = _signed_in(env, manager)
    page = client.get(f"/manage/constitutions/{cid}").text
    listed = re.search(r'<ul id="grading-projects">(.*?)</ul>', page, re.S)
    assert listed is not None
    assert f'href="/manage/projects/{project}/principles"' in listed.group(1)
    assert "Grade &lt;i&gt;v1&lt;/i&gt;" in listed.group(1)
    assert f"/manage/projects/{other}/" not in listed.group(1)
    overview = client.get(f"/manage/projects/{project}/members").text
    assert f'href="/manage/projects/{project}/principles"' in overview
    assert "/principles" not in client.get(f"/manage/projects/{other}/members").text
    refused = client.get(f"/manage/projects/{other}/principles")
    assert refused.status_code == 422
    assert "does not grade against a constitution" in refused.text


def test_the_page_is_for_the_projects_managers_under_the_strict_csp(env: Env) -> None:
    manager, _, project = _graded(env)
    response = _signed_in(env, manager).get(f"/manage/projects/{project}/principles")
    assert "script-src 'self'" in response.headers["content-security-policy"]
    assert "<style" not in response.text
    assert " style=" not in response.text
    assert re.findall(r"<script(?![^>]*\bsrc=)[^>]*>", response.text) == []
    stranger = _signed_in(env, env.user(Role.MANAGER))
    assert stranger.get(f"/manage/projects/{project}/principles").status_code in (403, 404)
    worker = _signed_in(env, env.user())
    assert worker.get(f"/manage/projects/{project}/principles").status_code == 403
    anonymous = httpx.get(f"{env.url}/manage/projects/{project}/principles",
                          follow_redirects=False)
    assert anonymous.status_code in (302, 303)
    assert anonymous.headers["location"].startswith("/login")


@on_sqlite
@needs_chromium
def test_in_a_browser_the_plot_is_styled_under_the_csp_and_the_unclear_row_stands_out(
    page: Page, env: Env
) -> None:
    manager, cid, project = _graded(env)
    blocked: list[str] = []
    page.on("console", lambda m: blocked.append(m.text) if "Content Security" in m.text
            else None)
    sign_in(page, env, manager, f"/manage/constitutions/{cid}")
    page.click(f'#grading-projects a[href="/manage/projects/{project}/principles"]')
    page.wait_for_selector("#principle-stats")
    assert page.locator("#unclear-list li").all_inner_texts()[0].startswith("vague")
    stroke = page.locator('tr[data-key="vague"] .alpha-plot__interval').evaluate(
        "e => getComputedStyle(e).stroke")
    assert stroke == "rgb(180, 35, 24)"  # --error: the stylesheet reached the SVG
    assert unnamed_controls(page) == []
    assert blocked == []
