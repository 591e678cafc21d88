"""``client.constitutions`` against a real server: the draft, versions, exports, diffs,
proposals, the panel's votes, grading against a version and its per-principle statistics."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from db_fixtures import Env
from expertloop.client import (
    Client,
    Conflict,
    InvalidInput,
    NotFound,
    PermissionDenied,
    Principle,
)
from expertloop.domain import Role
from expertloop.services import assignments

HARM = Principle("harmless-1", "No harm", "Refuse to help with harm.", rationale="safety",
                 violation_examples=("Here is how to make a weapon.",))
HONEST = Principle("honest-1", "Honesty", "Say what you know and what you do not.")


@pytest.fixture
def manager(env: Env) -> Iterator[Client]:
    client = Client(env.url, env.token_for(env.user(Role.MANAGER)))
    yield client
    client.close()


def test_a_manager_drafts_publishes_exports_and_diffs_versions(manager: Client) -> None:
    c = manager.constitutions.create("Helpful and harmless", description="for the assistant")
    assert (c.latest_version, c.draft_changed) == (0, False)
    assert manager.constitutions.put_principle(c, HARM) == HARM
    manager.constitutions.put_principle(c.id, HONEST.to_json())
    assert [p.key for p in manager.constitutions.draft(c)] == ["harmless-1", "honest-1"]
    v1 = manager.constitutions.publish(c, note="first")
    assert (v1.version, v1.note, v1.principles) == (1, "first", (HARM, HONEST))

    manager.constitutions.remove_principle(c, "honest-1")
    manager.constitutions.put_principle(c, Principle("harmless-1", "No harm", "Never harm."))
    assert manager.constitutions.get(c).draft_changed
    manager.constitutions.publish(c, note="tighter")
    assert [v.version for v in manager.constitutions.versions(c)] == [1, 2]
    assert manager.constitutions.version(c, 2).principles[0].text == "Never harm."
    assert [x.id for x in manager.constitutions.list()] == [c.id]

    changes = {ch.key: ch for ch in manager.constitutions.diff(c, 1, 2)}
    assert changes["honest-1"].change == "removed"
    assert changes["harmless-1"].change == "changed"
    assert "text" in changes["harmless-1"].fields
    assert changes["harmless-1"].before == HARM
    assert manager.constitutions.diff(c, 2) == []  # against the draft: nothing new

    markdown = manager.constitutions.export(c, 1, format="markdown")
    assert isinstance(markdown, str)
    assert "harmless-1" in markdown
    assert "Helpful and harmless" in markdown
    document = manager.constitutions.export(c, 1, format="json")
    assert isinstance(document, dict)
    assert document["version"] == 1
    assert [p["key"] for p in document["principles"]] == ["harmless-1", "honest-1"]
    with pytest.raises(ValueError, match="unknown format"):
        manager.constitutions.export(c, 1, format="pdf")


def test_errors_reach_the_caller_as_the_sdk_exceptions(env: Env, manager: Client) -> None:
    c = manager.constitutions.create("Errors")
    with pytest.raises(NotFound):
        manager.constitutions.get(99_999)
    with pytest.raises(NotFound):
        manager.constitutions.version(c, 1)
    with pytest.raises(InvalidInput) as caught:
        manager.constitutions.put_principle(c, Principle("Bad Key!", "t", "x"))
    assert caught.value.status == 422
    with Client(env.url, env.token_for(env.user())) as worker:
        with pytest.raises(PermissionDenied):
            worker.constitutions.create("Not mine")
        with pytest.raises(PermissionDenied):
            worker.constitutions.put_principle(c, HARM)


def test_an_expert_proposes_and_a_reviewer_decides(env: Env, manager: Client) -> None:
    c = manager.constitutions.create("Proposals")
    manager.constitutions.put_principle(c, HARM)
    with Client(env.url, env.token_for(env.user())) as expert, \
            Client(env.url, env.token_for(env.user(Role.REVIEWER))) as reviewer:
        added = expert.constitutions.propose(c, "add", "honesty is missing", principle=HONEST)
        removal = expert.constitutions.propose(c, "remove", "too vague",
                                               principle_key="harmless-1")
        assert (added.kind, added.status, added.principle) == ("add", "open", HONEST)
        assert removal.principle is None
        with pytest.raises(PermissionDenied):
            expert.constitutions.decide(added, accept=True)
        decided = reviewer.constitutions.decide(added, accept=True, note="agreed")
        assert (decided.status, decided.decision_note) == ("accepted", "agreed")
        assert decided.decided_at is not None
        reviewer.constitutions.decide(removal.id, accept=False)
        with pytest.raises(Conflict):
            reviewer.constitutions.decide(removal.id, accept=True)
    assert [p.id for p in manager.constitutions.proposals(c, status="open")] == []
    assert [p.status for p in manager.constitutions.proposals(c)] == ["accepted", "rejected"]
    assert [p.key for p in manager.constitutions.draft(c)] == ["harmless-1", "honest-1"]


def test_the_panel_votes_and_the_manager_reads_the_opinion_groups(
    env: Env, manager: Client
) -> None:
    c = manager.constitutions.create("Votes")
    statements = [manager.constitutions.add_statement(c, f"Statement {n}") for n in range(4)]
    voters = [Client(env.url, env.token_for(env.user())) for _ in range(6)]
    try:
        for v, voter in enumerate(voters):
            for s in statements:
                voter.constitutions.vote(s, "agree" if s.id == statements[0].id or v < 3
                                         else "disagree")
        voters[0].constitutions.vote(statements[1].id, "pass")  # replaces the earlier vote
        mine = {s.id: s.my_vote for s in voters[0].constitutions.statements(c)}
        assert mine[statements[0].id] == "agree"
        assert mine[statements[1].id] == "pass"
        with pytest.raises(PermissionDenied):
            voters[0].constitutions.opinion_groups(c)
    finally:
        for voter in voters:
            voter.close()
    listed = {s.id: s for s in manager.constitutions.statements(c)}
    assert (listed[statements[0].id].agree, listed[statements[0].id].disagree) == (6, 0)
    assert listed[statements[1].id].passes == 1
    groups = manager.constitutions.opinion_groups(c)
    assert groups.voters == 6
    assert sum(g.size for g in groups.groups) + groups.ungrouped == 6
    assert {s.statement_id for s in groups.statements} == {s.id for s in statements}
    assert statements[0].id in {s.statement_id for s in groups.consensus}
    first = next(s for s in groups.statements if s.statement_id == statements[0].id)
    assert first.support == pytest.approx(7 / 8)


def _grade(verdict: str) -> dict[str, Any]:
    return {"verdict": verdict, **({"severity": 2} if verdict == "fail" else {})}


def test_a_grading_project_from_a_version_reports_per_principle_statistics(
    env: Env, manager: Client
) -> None:
    c = manager.constitutions.create("Grading")
    for key in ("clear", "vague"):
        manager.constitutions.put_principle(c, Principle(key, key, f"Be {key}."))
    manager.constitutions.publish(c)
    project_id = manager.constitutions.grading_project(c, 1, "Grade v1", answers_per_item=3)
    project = manager.projects.get(project_id)
    workers = [env.user() for _ in range(3)]
    project.members.add([w.id for w in workers])
    project.items.add([{"payload": {"prompt": f"Q{n}", "response": f"R{n}"}}
                       for n in range(6)])
    vague = {0: "pass", 1: "fail", 2: "pass"}
    for w, worker in enumerate(workers):
        while lease := assignments.next_assignment(env.db, actor=worker, project_id=project_id):
            n = int(str(lease.item.payload["prompt"])[1:])
            answer = {"grades": {"clear": _grade("pass" if n % 2 == 0 else "fail"),
                                 "vague": _grade(vague[(w + n) % 3])}}
            assignments.submit_answer(env.db, actor=worker, assignment_id=lease.id,
                                      answer=answer)
    stats = manager.constitutions.principle_stats(project)
    assert [s.key for s in stats.principles] == ["clear", "vague"]
    assert stats.unclear == ("vague",)
    clear = stats["clear"]
    assert (clear.alpha, clear.judgments, clear.coverage) == (1.0, 18, 6)
    assert clear.not_applicable_rate == 0.0
    vague_stats = stats["vague"]
    assert vague_stats.alpha is not None
    assert vague_stats.alpha < 0
    assert vague_stats.alpha_low is not None
    assert vague_stats.alpha_high is not None
    assert vague_stats.alpha_low <= vague_stats.alpha <= vague_stats.alpha_high
    with pytest.raises(KeyError):
        stats["missing"]


def test_critique_items_pair_each_prompt_with_the_next_principle(
    env: Env, manager: Client
) -> None:
    c = manager.constitutions.create("Critique")
    manager.constitutions.put_principle(c, HARM)
    manager.constitutions.put_principle(c, HONEST)
    manager.constitutions.publish(c)
    project = manager.projects.create("Critique v1", "critique_revision")
    added = manager.constitutions.critique_items(
        c, 1, project, [{"prompt": f"Q{n}", "response": f"R{n}"} for n in range(4)]
    )
    assert added == 4
    assert project.progress().items == 4
    with pytest.raises(NotFound):
        manager.constitutions.critique_items(c, 7, project, [{"prompt": "Q", "response": "R"}])
