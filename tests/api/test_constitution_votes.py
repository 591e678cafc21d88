"""A panel votes on candidate statements over HTTP; managers read its opinion groups."""

from __future__ import annotations

import numpy as np

from db_fixtures import Env
from expertloop.domain import Role
from expertloop.domain.constitutions import Vote
from expertloop.quality.opinion_groups import simulate_opinion_panel
from expertloop.services import constitution_votes

_VOTES = {1.0: Vote.AGREE, -1.0: Vote.DISAGREE, 0.0: Vote.PASS}


def test_the_panel_votes_and_the_manager_sees_its_groups_consensus_and_contested_statements(
    env: Env,
) -> None:
    manager_user = env.user(Role.MANAGER)
    manager = env.client(manager_user)
    cid = manager.post("/api/v1/constitutions", json={"name": "Public"}).json()["id"]
    panel = simulate_opinion_panel(n_voters=30, n_groups=2, n_consensus=3, n_contested=6,
                                   n_other=3, missing=0.1, seed=0)
    ids = []
    for n in range(panel.votes.shape[1]):
        made = manager.post(f"/api/v1/constitutions/{cid}/statements",
                            json={"text": f"Statement {n}"})
        assert made.status_code == 201
        ids.append(made.json()["id"])
    voters = [env.user() for _ in range(panel.votes.shape[0])]
    for voter, row in zip(voters, panel.votes, strict=True):
        for statement_id, value in zip(ids, row, strict=True):
            if not np.isnan(value):
                constitution_votes.vote(env.db, actor=voter, statement_id=statement_id,
                                        choice=_VOTES[float(value)])
    # One vote over HTTP, changed: the latest counts.
    first = env.client(voters[0])
    url = f"/api/v1/constitution-statements/{ids[0]}/vote"
    assert first.put(url, json={"vote": "disagree"}).status_code == 204
    assert first.put(url, json={"vote": "agree"}).status_code == 204
    listed = first.get(f"/api/v1/constitutions/{cid}/statements").json()
    assert listed[0]["my_vote"] == "agree"
    assert listed[0]["agree"] + listed[0]["disagree"] + listed[0]["passes"] == int(
        (~np.isnan(panel.votes[:, 0])).sum()
    )

    assert first.get(f"/api/v1/constitutions/{cid}/opinion-groups").status_code == 403
    analysis = manager.get(f"/api/v1/constitutions/{cid}/opinion-groups").json()
    assert analysis["voters"] == 30
    assert sorted(g["size"] for g in analysis["groups"]) == [15, 15]
    assert all(len(g["x"]) == len(g["y"]) == g["size"] for g in analysis["groups"])
    assert [s["consensus"] for s in analysis["statements"]] == panel.consensus.tolist()
    assert [s["contested"] for s in analysis["statements"]] == panel.contested.tolist()
    assert all(len(s["group_support"]) == 2 for s in analysis["statements"])


def test_votes_and_statements_refuse_bad_input(env: Env) -> None:
    manager = env.client(env.user(Role.MANAGER))
    worker = env.client(env.user())
    cid = manager.post("/api/v1/constitutions", json={"name": "C"}).json()["id"]
    url = f"/api/v1/constitutions/{cid}/statements"
    assert worker.post(url, json={"text": "x"}).status_code == 403
    assert manager.post(url, json={"text": "   "}).status_code == 422
    sid = manager.post(url, json={"text": "x"}).json()["id"]
    assert worker.put(f"/api/v1/constitution-statements/{sid}/vote",
                      json={"vote": "maybe"}).status_code == 422
    assert worker.put("/api/v1/constitution-statements/999/vote",
                      json={"vote": "agree"}).status_code == 404
    empty = manager.get(f"/api/v1/constitutions/{cid}/opinion-groups").json()
    assert empty["voters"] == 0
    assert empty["groups"] == []
    assert empty["statements"][0]["group_informed_consensus"] is None
