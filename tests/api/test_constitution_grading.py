"""Grading against a constitution version over HTTP: the rubric is the version's
principles, and the per-principle statistics find the unclear principle."""

from __future__ import annotations

from typing import Any

from db_fixtures import Env
from expertloop.domain import Role
from expertloop.services import assignments


def _grade(verdict: str) -> dict[str, Any]:
    return {"verdict": verdict, **({"severity": 2} if verdict == "fail" else {})}


def test_experts_grade_against_the_principles_and_the_stats_list_the_unclear_one(
    env: Env,
) -> None:
    manager_user = env.user(Role.MANAGER)
    manager = env.client(manager_user)
    cid = manager.post("/api/v1/constitutions", json={"name": "G"}).json()["id"]
    for key in ("clear", "vague", "rare"):
        manager.put(f"/api/v1/constitutions/{cid}/draft/principles/{key}",
                    json={"key": key, "title": key, "text": f"Be {key}."})
    manager.post(f"/api/v1/constitutions/{cid}/versions", json={})
    made = manager.post(f"/api/v1/constitutions/{cid}/versions/1/grading-projects",
                        json={"name": "Grade v1", "answers_per_item": 3})
    assert made.status_code == 201
    project = made.json()["project_id"]
    config = manager.get(f"/api/v1/projects/{project}").json()["config"]
    assert config["constitution_version"] == 1
    assert [p["key"] for p in config["principles"]] == ["clear", "vague", "rare"]
    workers = [env.user() for _ in range(3)]
    manager.post(f"/api/v1/projects/{project}/members",
                 json={"user_ids": [w.id for w in workers]})
    env.items(manager_user, project, [
        {"external_id": f"i{n}", "payload": {"prompt": f"Q{n}", "response": f"R{n}"}}
        for n in range(6)])
    # "clear": the experts agree (pass on even items, fail on odd ones); "vague": they
    # contradict each other; "rare": mostly not applicable, agreed.
    vague = {0: "pass", 1: "fail", 2: "pass"}
    for w, worker in enumerate(workers):
        while (lease := assignments.next_assignment(env.db, actor=worker, project_id=project)):
            n = int(str(lease.item.payload["prompt"])[1:])
            answer = {"grades": {
                "clear": _grade("pass" if n % 2 == 0 else "fail"),
                "vague": _grade(vague[(w + n) % 3]),
                "rare": _grade("not_applicable" if n < 5 else "pass"),
            }}
            assignments.submit_answer(env.db, actor=worker, assignment_id=lease.id,
                                      answer=answer)

    worker_client = env.client(workers[0])
    assert worker_client.get(f"/api/v1/projects/{project}/principle-stats").status_code == 403
    stats = manager.get(f"/api/v1/projects/{project}/principle-stats").json()
    by_key = {s["key"]: s for s in stats["principles"]}
    assert by_key["clear"]["alpha"] == 1.0
    assert by_key["clear"]["not_applicable_rate"] == 0.0
    assert by_key["clear"]["coverage"] == 6
    assert by_key["vague"]["alpha"] < 0
    assert by_key["rare"]["not_applicable_rate"] == 15 / 18
    assert by_key["rare"]["coverage"] == 1
    assert all(s["judgments"] == 18 for s in stats["principles"])
    assert stats["unclear"] == ["vague"]


def test_a_fail_needs_a_severity_and_every_principle_a_grade(env: Env) -> None:
    manager_user = env.user(Role.MANAGER)
    manager = env.client(manager_user)
    cid = manager.post("/api/v1/constitutions", json={"name": "H"}).json()["id"]
    manager.put(f"/api/v1/constitutions/{cid}/draft/principles/a",
                json={"key": "a", "title": "a", "text": "Be a."})
    manager.put(f"/api/v1/constitutions/{cid}/draft/principles/b",
                json={"key": "b", "title": "b", "text": "Be b."})
    manager.post(f"/api/v1/constitutions/{cid}/versions", json={})
    project = manager.post(f"/api/v1/constitutions/{cid}/versions/1/grading-projects",
                           json={"name": "P", "answers_per_item": 1}).json()["project_id"]
    worker = env.user()
    manager.post(f"/api/v1/projects/{project}/members", json={"user_ids": [worker.id]})
    env.items(manager_user, project, [{"payload": {"prompt": "Q", "response": "R"}}])
    client = env.client(worker)
    lease = client.post(f"/api/v1/projects/{project}/assignments/next").json()
    sent = client.post(f"/api/v1/assignments/{lease['assignment_id']}/answer",
                       json={"answer": {"grades": {"a": {"verdict": "fail"}}}})
    assert sent.status_code == 422
    fields = {d["field"] for d in sent.json()["error"]["details"]}
    assert fields == {"answer.grades.b", "answer.grades.a.severity"}
