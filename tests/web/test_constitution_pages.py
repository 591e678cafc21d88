"""The constitution pages over HTTP: the console's list, draft, version (with its diff) and
voting pages; the experts' pages to read, propose, vote and decide; text is escaped."""

from __future__ import annotations

import re

import httpx

from db_fixtures import PASSWORD, Env
from expertloop.domain import Role, User
from expertloop.domain.constitutions import ProposalKind, ProposalStatus, Vote
from expertloop.services import constitution_votes, constitutions


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


def _csrf(page: str) -> str:
    found = re.search(r'name="csrf_token" value="([0-9a-f]+)"', page)
    assert found is not None
    return found.group(1)


def test_a_manager_creates_drafts_publishes_and_reads_the_diff_in_the_console(env: Env) -> None:
    manager = _signed_in(env, env.user(Role.MANAGER))
    page = manager.get("/manage/constitutions")
    assert page.status_code == 200
    made = manager.post("/manage/constitutions", data={
        "csrf_token": _csrf(page.text), "name": "<b>HH</b>", "description": "d"})
    assert made.status_code == 303
    url = made.headers["location"]
    page = manager.get(url)
    assert "&lt;b&gt;HH&lt;/b&gt;" in page.text
    token = _csrf(page.text)
    saved = manager.post(url + "/principles", data={
        "csrf_token": token, "key": "harmless-1", "title": "Harm", "text": "Avoid <script>harm",
        "rationale": "", "compliance_examples": "No.\n\nI can't.", "violation_examples": ""})
    assert saved.status_code == 303
    page = manager.get(saved.headers["location"])
    assert "Principle harmless-1 added." in page.text
    assert "Avoid &lt;script&gt;harm" in page.text
    published = manager.post(url + "/publish", data={"csrf_token": token, "note": "first"})
    assert published.headers["location"] == url + "/versions/1"
    manager.post(url + "/principles", data={
        "csrf_token": token, "key": "harmless-1", "title": "Harm", "text": "Avoid all harm"})
    manager.post(url + "/publish", data={"csrf_token": token})
    version = manager.get(url + "/versions/2")
    assert 'data-change="changed"' in version.text
    assert "+text: Avoid all harm" in version.text
    assert 'data-change="added"' in manager.get(url + "/versions/2?against=0").text
    bad = manager.post(url + "/principles", data={"csrf_token": token, "key": "Bad!",
                                                  "title": "t", "text": "t"})
    assert bad.status_code == 422
    assert "key must be" in bad.text


def test_the_console_refuses_workers_and_forms_without_the_csrf_token(env: Env) -> None:
    worker = _signed_in(env, env.user())
    assert worker.get("/manage/constitutions").status_code == 403
    manager = _signed_in(env, env.user(Role.MANAGER))
    assert manager.post("/manage/constitutions", data={"name": "x"}).status_code == 403
    anonymous = httpx.Client(base_url=env.url, follow_redirects=False, timeout=30)
    env.clients.append(anonymous)
    assert anonymous.get("/constitutions").status_code == 303


def test_experts_propose_and_vote_and_reviewers_decide_on_the_pages(env: Env) -> None:
    manager_user, reviewer_user, expert_user = (
        env.user(Role.MANAGER), env.user(Role.REVIEWER), env.user())
    made = constitutions.create_constitution(env.db, actor=manager_user, name="C")
    constitutions.put_principle(env.db, actor=manager_user, constitution_id=made.id,
                                principle=constitutions.principle_from_input(
                                    key="a", title="A", text="Be kind."))
    statement = constitution_votes.add_statement(env.db, actor=manager_user,
                                                 constitution_id=made.id, text="Be <i>fair</i>")
    expert = _signed_in(env, expert_user)
    page = expert.get(f"/constitutions/{made.id}")
    assert "Be kind." in page.text
    assert "Be &lt;i&gt;fair&lt;/i&gt;" in page.text
    token = _csrf(page.text)
    voted = expert.post(f"/constitutions/{made.id}/statements/{statement.id}/vote",
                        data={"csrf_token": token, "vote": "agree"})
    assert voted.status_code == 303
    assert constitution_votes.my_votes(env.db, actor=expert_user, constitution_id=made.id) == {
        statement.id: Vote.AGREE}
    sent = expert.post(f"/constitutions/{made.id}/proposals", data={
        "csrf_token": token, "kind": "amend", "key": "a", "title": "A",
        "text": "Be kind and honest.", "reason": "honesty matters"})
    assert sent.status_code == 303
    listed = expert.get(f"/constitutions/{made.id}/proposals")
    assert "honesty matters" in listed.text
    assert "/decide" not in listed.text  # experts do not decide

    reviewer = _signed_in(env, reviewer_user)
    page = reviewer.get(f"/constitutions/{made.id}/proposals")
    (proposal,) = constitutions.list_proposals(env.db, actor=reviewer_user,
                                               constitution_id=made.id)
    assert proposal.kind is ProposalKind.AMEND
    decided = reviewer.post(f"/constitution-proposals/{proposal.id}/decide",
                            data={"csrf_token": _csrf(page.text), "decision": "accept"})
    assert decided.status_code == 303
    (after,) = constitutions.list_proposals(env.db, actor=reviewer_user, constitution_id=made.id)
    assert after.status is ProposalStatus.ACCEPTED
    assert constitutions.draft(env.db, actor=reviewer_user, constitution_id=made.id)[0].text == (
        "Be kind and honest.")


def test_the_voting_page_shows_groups_and_findings(env: Env) -> None:
    manager_user = env.user(Role.MANAGER)
    made = constitutions.create_constitution(env.db, actor=manager_user, name="V")
    ids = [constitution_votes.add_statement(env.db, actor=manager_user,
                                            constitution_id=made.id, text=f"S{n}").id
           for n in range(4)]
    # Two camps: all agree on S0; S1 and S2 split them; S3 too.
    for n in range(8):
        voter = env.user()
        camp = n % 2
        for sid, choice in zip(ids, (Vote.AGREE, (Vote.AGREE, Vote.DISAGREE)[camp],
                                     (Vote.DISAGREE, Vote.AGREE)[camp],
                                     (Vote.AGREE, Vote.DISAGREE)[camp]), strict=True):
            constitution_votes.vote(env.db, actor=voter, statement_id=sid, choice=choice)
    manager = _signed_in(env, manager_user)
    page = manager.get(f"/manage/constitutions/{made.id}/voting")
    assert page.status_code == 200
    assert "8 voters in 2 groups" in page.text
    assert page.text.count('data-finding="consensus"') == 1
    assert page.text.count('data-finding="contested"') == 3
    assert 'id="voting-data"' in page.text
