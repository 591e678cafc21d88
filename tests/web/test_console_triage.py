"""The console's judges page says in words what triage applied: the judges, each one's
measured agreement with the experts and on how many items, the audit share, whether it is
applied; names and model output are rendered inert."""

from __future__ import annotations

import re

import httpx
from sqlalchemy import select

from db_fixtures import PASSWORD, Env
from expertloop.domain import Role, User
from expertloop.services import llm, redundancy
from expertloop.services.assignments import next_assignment, submit_answer
from expertloop.services.redundancy_jobs import fit_model
from expertloop.store import llm_judges as judge_store
from expertloop.store import tables as t

HOSTILE = '<script>alert("x")</script>'


def _signed_in(env: Env, user: User) -> httpx.Client:
    client = httpx.Client(base_url=env.url, timeout=30, follow_redirects=False)
    env.clients.append(client)
    token = re.search(r'name="csrf_token" value="([0-9a-f]+)"', client.get("/login").text)
    assert token is not None
    response = client.post("/login", data={
        "csrf_token": token.group(1), "next": "/", "username": user.username,
        "password": PASSWORD,
    })
    assert response.status_code == 303, response.text
    return client


def _verdict(env: Env, project: int, item: int, judge: str, label: str, model: str) -> None:
    with env.db.write() as conn:
        judge_store.save_verdict(
            conn, project_id=project, item_id=item, judge=judge, provider="p", model=model,
            value={"label": label}, unsure=False, details={}, call_ids=[],
            created_at=env.db.clock.now(),
        )


def _text(html: str) -> str:
    """The page's words, tags dropped and spaces collapsed."""
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def test_the_judges_page_says_what_triage_applied_in_words_and_escapes_names(
    env: Env,
) -> None:
    manager = env.user(Role.MANAGER)
    workers = [env.user(), env.user()]
    project = env.project(manager, task_type="label", config={"labels": ["x", "y"]},
                          members=workers)
    client = _signed_in(env, manager)
    page = _text(client.get(f"/manage/projects/{project}/judges").text)
    assert "Triage is off" in page
    redundancy.set_redundancy(env.db, actor=manager, project_id=project, min_answers=2,
                              max_answers=3, target_confidence=0.95, audit_share=0.1)
    env.items(manager, project, [
        {"external_id": f"i{k}", "payload": {"text": f"t{k}"}} for k in range(6)
    ])
    for worker in workers:
        while (lease := next_assignment(env.db, actor=worker, project_id=project)) is not None:
            submit_answer(env.db, actor=worker, assignment_id=lease.id, answer={"label": "x"})
    with env.db.read() as conn:
        items = conn.execute(
            select(t.Item.id).where(t.Item.project_id == project).order_by(t.Item.id)
        ).scalars().all()
    # judge-x agrees with the two experts on five items of six; the model's name is hostile.
    for n, item in enumerate(items):
        _verdict(env, project, item, "judge-x", "y" if n == 0 else "x", HOSTILE)
    llm.update_llm_settings(env.db, actor=manager, project_id=project,
                            triage={"judges": ["judge-x"]})
    assert fit_model(env.db, project)["judges"] == ["judge-x"]
    html = client.get(f"/manage/projects/{project}/judges").text
    page = _text(html)
    assert "Triage is applied : the sure verdicts of judge-x weigh with the expert" in page
    assert "reaches 0.95 after at least 2 expert answers, and gets at most 3" in page
    # Two answers on every item: every item is in the audit sample, but six are too few to
    # give a figure; the overlap's figures are shown beside, said to be biased low.
    assert "Every item gets at least 2 expert answers whatever the judges say" in page
    assert re.search(r"judge-x not enough audited items yet 6 83\.3% 6 0\.\d{3} yes", page), page
    assert "below 20 items compared no figure is given" in page
    assert "Measured by the model fit of" in page
    assert '{"judges"' not in html  # the raw rule is no longer printed
    # A rule recorded with a hostile name (before names were checked) is shown inert.
    with env.db.write() as conn:
        judge_store.save_settings(conn, project, show_verdicts=False,
                                  triage={"judges": ["judge-x", HOSTILE]}, by=None,
                                  now=env.db.clock.now())
    html = client.get(f"/manage/projects/{project}/judges").text
    assert "<script>alert" not in html
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in html
    assert re.search(r"&lt;/script&gt; not measured yet 0 n/a 0 n/a no:", _text(html)), _text(html)
    # One answer per item and no audit share: no audit sample; the overlap's figures are
    # said to be biased low, and an audit share is suggested.
    redundancy.set_redundancy(env.db, actor=manager, project_id=project, min_answers=1,
                              max_answers=3, target_confidence=0.95, audit_share=0)
    page = _text(client.get(f"/manage/projects/{project}/judges").text)
    assert "Audit share 0: a judge is measured only on items that got a second" in page
    assert "biased low" in page
    assert "Set an audit share, e.g. 0.1" in page
    assert re.search(r"judge-x no audit sample 0 83\.3% 6 0\.\d{3} yes", page), page
    # Adaptive redundancy off: the rule is recorded but not applied.
    redundancy.remove_redundancy(env.db, actor=manager, project_id=project)
    page = _text(client.get(f"/manage/projects/{project}/judges").text)
    assert "Triage is not applied : the rule names judge-x" in page
    assert "adaptive redundancy is off" in page
