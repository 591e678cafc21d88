"""Constitutions over HTTP: drafts, published versions and their diffs, proposals, exports."""

from __future__ import annotations

from typing import Any

import httpx

from db_fixtures import Env
from expertloop.domain import Role
from expertloop.services import audit


def _principle(key: str, text: str, **extra: Any) -> dict[str, Any]:
    return {"key": key, "title": f"Title of {key}", "text": text, **extra}


def _constitution(manager: httpx.Client, name: str = "Helpful and harmless") -> int:
    created = manager.post("/api/v1/constitutions", json={"name": name, "description": "d"})
    assert created.status_code == 201, created.text
    return int(created.json()["id"])


def _put(manager: httpx.Client, cid: int, principle: dict[str, Any]) -> httpx.Response:
    return manager.put(
        f"/api/v1/constitutions/{cid}/draft/principles/{principle['key']}", json=principle
    )


def test_a_manager_drafts_principles_and_publishes_numbered_versions(env: Env) -> None:
    manager = env.client(env.user(Role.MANAGER))
    cid = _constitution(manager)
    first = _put(manager, cid, _principle(
        "harmless-1", "Choose the response that is least harmful.",
        rationale="Harm matters most.", compliance_examples=["I can't help with that."],
        violation_examples=["Here is how to build it."],
    ))
    assert first.status_code == 201
    assert _put(manager, cid, _principle("honest-1", "Do not state falsehoods.")).status_code == 201
    again = _put(manager, cid, _principle("honest-1", "Never state falsehoods."))
    assert again.status_code == 200
    draft = manager.get(f"/api/v1/constitutions/{cid}/draft").json()
    assert [p["key"] for p in draft] == ["harmless-1", "honest-1"]
    assert draft[1]["text"] == "Never state falsehoods."
    assert manager.get(f"/api/v1/constitutions/{cid}").json()["draft_changed"] is True

    v1 = manager.post(f"/api/v1/constitutions/{cid}/versions", json={"note": "first"})
    assert v1.status_code == 201
    assert v1.json()["version"] == 1
    assert [p["key"] for p in v1.json()["principles"]] == ["harmless-1", "honest-1"]
    state = manager.get(f"/api/v1/constitutions/{cid}").json()
    assert (state["latest_version"], state["draft_changed"]) == (1, False)

    # Editing the draft leaves version 1 as it was published.
    _put(manager, cid, _principle("honest-1", "Never state falsehoods; say when unsure."))
    v2 = manager.post(f"/api/v1/constitutions/{cid}/versions", json={}).json()
    assert v2["version"] == 2
    assert manager.get(f"/api/v1/constitutions/{cid}/versions/1").json()["principles"][1][
        "text"] == "Never state falsehoods."
    assert [v["version"] for v in manager.get(f"/api/v1/constitutions/{cid}/versions").json()] == [
        1, 2]
    actions = [e.action for e in audit.list_events(env.db, actor=env.user(Role.ADMIN))]
    assert actions.count("constitution.publish") == 2
    assert "constitution.principle.put" in actions


def test_the_diff_between_versions_names_each_added_removed_changed_and_moved_principle(
    env: Env,
) -> None:
    manager = env.client(env.user(Role.MANAGER))
    cid = _constitution(manager)
    for key in ("a", "b", "c"):
        _put(manager, cid, _principle(key, f"text of {key}"))
    manager.post(f"/api/v1/constitutions/{cid}/versions", json={})
    _put(manager, cid, _principle("b", "new text of b", rationale="clearer"))
    manager.delete(f"/api/v1/constitutions/{cid}/draft/principles/c")
    _put(manager, cid, _principle("d", "text of d"))
    manager.post(f"/api/v1/constitutions/{cid}/versions", json={})

    changes = manager.get(f"/api/v1/constitutions/{cid}/diff",
                          params={"from": 1, "to": 2}).json()
    by_key = {c["key"]: c for c in changes}
    assert {k: c["change"] for k, c in by_key.items()} == {
        "b": "changed", "c": "removed", "d": "added"}
    assert by_key["b"]["fields"] == ["text", "rationale"]
    assert "-text: text of b" in by_key["b"]["lines"]
    assert "+text: new text of b" in by_key["b"]["lines"]
    assert by_key["c"]["before"]["text"] == "text of c"
    assert by_key["c"]["after"] is None

    # From nothing (version 0) every principle is added; the draft equals version 2.
    from_empty = manager.get(f"/api/v1/constitutions/{cid}/diff", params={"from": 0, "to": 1})
    assert [c["change"] for c in from_empty.json()] == ["added"] * 3
    assert manager.get(f"/api/v1/constitutions/{cid}/diff", params={"from": 2}).json() == []
    missing = manager.get(f"/api/v1/constitutions/{cid}/diff", params={"from": 9})
    assert missing.status_code == 404


def test_experts_propose_reviewers_decide_and_accepted_proposals_change_the_draft(
    env: Env,
) -> None:
    manager = env.client(env.user(Role.MANAGER))
    expert_user, reviewer_user = env.user(), env.user(Role.REVIEWER)
    expert, reviewer = env.client(expert_user), env.client(reviewer_user)
    cid = _constitution(manager)
    _put(manager, cid, _principle("harmless-1", "Avoid harm."))
    url = f"/api/v1/constitutions/{cid}/proposals"

    amend = expert.post(url, json={
        "kind": "amend", "reason": "Too vague",
        "principle": _principle("harmless-1", "Avoid physical, psychological and social harm."),
    })
    assert amend.status_code == 201, amend.text
    assert amend.json()["status"] == "open"
    assert amend.json()["proposed_by"] == expert_user.id
    add = expert.post(url, json={"kind": "add", "reason": "Missing",
                                 "principle": _principle("privacy-1", "Respect privacy.")})
    remove = expert.post(url, json={"kind": "remove", "reason": "Redundant",
                                    "principle_key": "harmless-1"})
    assert add.status_code == remove.status_code == 201

    # A worker cannot decide; a reviewer can, once.
    decision = f"/api/v1/constitution-proposals/{amend.json()['id']}/decision"
    assert expert.post(decision, json={"accept": True}).status_code == 403
    accepted = reviewer.post(decision, json={"accept": True, "note": "agreed"})
    assert accepted.json()["status"] == "accepted"
    assert accepted.json()["decided_by"] == reviewer_user.id
    assert reviewer.post(decision, json={"accept": False}).status_code == 409
    reviewer.post(f"/api/v1/constitution-proposals/{add.json()['id']}/decision",
                  json={"accept": True})
    rejected = reviewer.post(f"/api/v1/constitution-proposals/{remove.json()['id']}/decision",
                             json={"accept": False, "note": "still needed"})
    assert rejected.json()["status"] == "rejected"

    draft = manager.get(f"/api/v1/constitutions/{cid}/draft").json()
    assert [(p["key"], p["text"]) for p in draft] == [
        ("harmless-1", "Avoid physical, psychological and social harm."),
        ("privacy-1", "Respect privacy."),
    ]
    open_ones = manager.get(url, params={"status": "open"}).json()
    assert open_ones == []
    assert [p["status"] for p in manager.get(url).json()] == ["accepted", "accepted", "rejected"]


def test_bad_input_and_missing_rights_are_refused_clearly(env: Env) -> None:
    manager_user = env.user(Role.MANAGER)
    manager, worker = env.client(manager_user), env.client(env.user())
    assert worker.post("/api/v1/constitutions", json={"name": "x"}).status_code == 403
    cid = _constitution(manager)
    assert manager.post("/api/v1/constitutions", json={"name": "Helpful and harmless"}
                        ).status_code == 409
    bad_key = _put(manager, cid, _principle("Bad Key!", "t"))
    assert bad_key.status_code == 422
    assert bad_key.json()["error"]["details"][0]["field"] == "key"
    nul = _put(manager, cid, _principle("k", "a\x00b"))
    assert nul.status_code == 422
    empty = manager.post(f"/api/v1/constitutions/{cid}/versions", json={})
    assert empty.status_code == 422
    assert "no principles" in empty.json()["error"]["message"]
    assert worker.put(f"/api/v1/constitutions/{cid}/draft/principles/k",
                      json=_principle("k", "t")).status_code == 403
    url = f"/api/v1/constitutions/{cid}/proposals"
    no_reason = worker.post(url, json={"kind": "add", "reason": " ",
                                       "principle": _principle("k", "t")})
    assert no_reason.status_code == 422
    assert worker.post(url, json={"kind": "amend", "reason": "r",
                                  "principle": _principle("nope", "t")}).status_code == 404
    assert worker.post(url, json={"kind": "remove", "reason": "r"}).status_code == 422
    assert manager.get("/api/v1/constitutions/999").status_code == 404


def test_a_published_version_exports_as_markdown_and_json(env: Env) -> None:
    manager = env.client(env.user(Role.MANAGER))
    cid = _constitution(manager)
    _put(manager, cid, _principle("harmless-1", "Avoid harm.", rationale="Because.",
                                  compliance_examples=["No."], violation_examples=["Sure:\nstep"]))
    manager.post(f"/api/v1/constitutions/{cid}/versions", json={"note": "n"})
    md = manager.get(f"/api/v1/constitutions/{cid}/versions/1/export")
    assert md.status_code == 200
    assert md.headers["content-type"].startswith("text/markdown")
    assert md.text.startswith("# Helpful and harmless — version 1\n")
    assert "## `harmless-1` Title of harmless-1\n\nAvoid harm.\n" in md.text
    assert "> Sure:\n> step\n" in md.text
    js = manager.get(f"/api/v1/constitutions/{cid}/versions/1/export", params={"format": "json"})
    data = js.json()
    assert (data["name"], data["version"], data["note"]) == ("Helpful and harmless", 1, "n")
    assert data["principles"][0] == {
        "key": "harmless-1", "title": "Title of harmless-1", "text": "Avoid harm.",
        "rationale": "Because.", "compliance_examples": ["No."],
        "violation_examples": ["Sure:\nstep"],
    }
