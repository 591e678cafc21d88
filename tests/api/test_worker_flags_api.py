"""The worker rules over HTTP: rules on a project, flags with numbers, 403 worker_paused on
next with the reason, reinstate and dismiss, telemetry with an answer."""

from __future__ import annotations

from sqlalchemy import select

from db_fixtures import Env
from expertloop.domain import Role
from expertloop.services import worker_rules
from expertloop.store import tables as t

LABELS = ["cat", "dog", "bird", "fish"]


def _project(env: Env, manager_client, rules: dict | None = None) -> int:  # type: ignore[no-untyped-def]
    body = {"name": "animals", "task_type": "label", "config": {"labels": LABELS},
            "answers_per_item": 1}
    if rules is not None:
        body["rules"] = rules
    response = manager_client.post("/api/v1/projects", json=body)
    assert response.status_code == 201, response.text
    return int(response.json()["id"])


def test_a_project_takes_rules_on_create_and_refuses_bad_ones_naming_the_field(env: Env) -> None:
    manager = env.client(env.user(Role.MANAGER))
    bad = manager.post("/api/v1/projects", json={
        "name": "x", "task_type": "label", "config": {"labels": LABELS},
        "rules": {"gold_accuracy": {"threshold": 2}}})
    assert bad.status_code == 422
    assert "threshold" in bad.text
    project = _project(env, manager, {"too_fast": {"min_seconds": 3}})
    rules = manager.get(f"/api/v1/projects/{project}/rules").json()
    assert rules["too_fast"]["min_seconds"] == 3
    assert rules["gold_accuracy"]["threshold"] == 0.6  # the default
    put = manager.put(f"/api/v1/projects/{project}/rules",
                      json={"straight_lining": {"enabled": False}})
    assert put.status_code == 200
    assert put.json()["straight_lining"]["enabled"] is False
    assert put.json()["too_fast"]["min_seconds"] == 0  # replaced whole: back to the default


def test_workers_cannot_read_or_change_rules(env: Env) -> None:
    manager_user = env.user(Role.MANAGER)
    worker = env.user()
    project = env.project(manager_user, members=[worker])
    client = env.client(worker)
    assert client.get(f"/api/v1/projects/{project}/rules").status_code == 403
    assert client.get(f"/api/v1/projects/{project}/worker-flags").status_code == 403


def test_a_paused_worker_is_told_why_and_a_manager_reinstates_them(env: Env) -> None:
    manager_user = env.user(Role.MANAGER)
    worker = env.user()
    project = env.project(manager_user, task_type="label", config={"labels": LABELS},
                          members=[worker], answers_per_item=1)
    env.items(manager_user, project, [
        {"payload": {"text": f"t{k}"}, "gold": {"label": "cat"}} for k in range(15)])
    client = env.client(worker)
    for _ in range(12):
        lease = client.post(f"/api/v1/projects/{project}/assignments/next").json()
        answered = client.post(f"/api/v1/assignments/{lease['assignment_id']}/answer",
                               json={"answer": {"label": "dog"}})
        assert answered.status_code == 201
    worker_rules.evaluate_project(env.db, project)

    refused = client.post(f"/api/v1/projects/{project}/assignments/next")
    assert refused.status_code == 403
    error = refused.json()["error"]
    assert error["code"] == "worker_paused"
    assert "gold accuracy 0.07 (95% interval" in error["message"]
    standing = client.get(f"/api/v1/projects/{project}/my-standing").json()
    assert "gold accuracy" in standing["paused"]["reason"]

    manager = env.client(manager_user)
    flags = manager.get(f"/api/v1/projects/{project}/worker-flags").json()
    assert [(f["worker_id"], f["rule"]) for f in flags] == [(worker.id, "gold_accuracy")]
    assert flags[0]["details"]["gold_answers"] == 12
    assert flags[0]["worker_paused"] is not None
    reinstated = manager.post(f"/api/v1/projects/{project}/workers/{worker.id}/reinstate",
                              json={"note": "retrained"})
    assert reinstated.status_code == 200
    assert reinstated.json()["resolved_flags"] == [flags[0]["id"]]
    assert client.post(f"/api/v1/projects/{project}/assignments/next").status_code == 200
    assert manager.get(f"/api/v1/projects/{project}/worker-flags").json() == []
    history = manager.get(f"/api/v1/projects/{project}/worker-flags?status=all").json()
    assert history[0]["action"] == "reinstated"
    again = manager.post(f"/api/v1/projects/{project}/workers/{worker.id}/reinstate")
    assert again.status_code == 422


def test_a_manager_dismisses_a_flag(env: Env) -> None:
    manager_user = env.user(Role.MANAGER)
    worker = env.user()
    project = env.project(manager_user, members=[worker])
    finding = worker_rules.Finding(worker.id, worker_rules.WorkerRule.PASTED_TEXT,
                                   {"share": 0.9}, "9 of 10 pasted", False)
    with env.db.write() as conn:
        from expertloop.store import flags as flag_store
        flag_id, _ = flag_store.upsert_flag(
            conn, project_id=project, worker_id=worker.id, rule=finding.rule,
            details=finding.details, message=finding.message, paused=False,
            now=env.db.clock.now())
    manager = env.client(manager_user)
    dismissed = manager.post(f"/api/v1/projects/{project}/worker-flags/{flag_id}/dismiss")
    assert dismissed.status_code == 200
    assert dismissed.json()["action"] == "dismissed"
    assert manager.post(
        f"/api/v1/projects/{project}/worker-flags/{flag_id}/dismiss").status_code == 422
    assert manager.post(
        f"/api/v1/projects/{project}/worker-flags/999999/dismiss").status_code == 404


def test_an_answer_carries_optional_telemetry_stored_apart(env: Env) -> None:
    manager_user = env.user(Role.MANAGER)
    worker = env.user()
    project = env.project(manager_user, members=[worker])
    env.items(manager_user, project, [{"payload": {"prompt": "p", "response_a": "a",
                                                   "response_b": "b"}}])
    client = env.client(worker)
    lease = client.post(f"/api/v1/projects/{project}/assignments/next").json()
    bad = client.post(f"/api/v1/assignments/{lease['assignment_id']}/answer",
                      json={"answer": {"choice": "A"}, "telemetry": {"typed_chars": -1,
                            "pasted_chars": 0, "typing_ms": 0}})
    assert bad.status_code == 422
    ok = client.post(f"/api/v1/assignments/{lease['assignment_id']}/answer",
                     json={"answer": {"choice": "A"}, "telemetry": {
                         "typed_chars": 12, "pasted_chars": 300, "typing_ms": 4000}})
    assert ok.status_code == 201
    assert "telemetry" not in ok.json()["answer"]
    with env.db.read() as conn:
        row = conn.execute(select(t.AnswerTelemetry.pasted_chars)).scalar_one()
    assert row == 300
