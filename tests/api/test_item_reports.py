"""Item reports: a worker reports a problem with an item, it is skipped for them for good and
lands in the managers' list, which they resolve (or disable the item)."""

from __future__ import annotations

from db_fixtures import Env, pairwise_item
from expertloop.domain import Role


def _setup(env: Env, *, items: int = 2, per_item: int = 2) -> tuple:
    manager, worker = env.user(Role.MANAGER), env.user()
    project = env.project(manager, members=[worker], answers_per_item=per_item)
    env.items(manager, project, [pairwise_item(n) for n in range(1, items + 1)])
    return manager, worker, project


def _next(client, project: int):
    return client.post(f"/api/v1/projects/{project}/assignments/next")


def test_a_reported_item_is_skipped_and_never_offered_to_the_reporter_again(env: Env) -> None:
    manager, worker, project = _setup(env, items=1)
    client = env.client(worker)
    lease = _next(client, project).json()
    reported = client.post(
        f"/api/v1/assignments/{lease['assignment_id']}/report",
        json={"reason": "ambiguous", "note": "Both answers say the same thing."},
    )
    assert reported.status_code == 201, reported.text
    assert reported.json()["lease_released"] is True
    assert reported.json()["item_id"] == lease["item"]["id"]
    # The only item is not offered again to this worker...
    assert _next(client, project).status_code == 204
    # ...but its slot went back to the others.
    other = env.user()
    env.client(manager).post(f"/api/v1/projects/{project}/members", json={"user_ids": [other.id]})
    assert _next(env.client(other), project).json()["item"]["id"] == lease["item"]["id"]


def test_reports_land_in_the_managers_list_with_reason_note_and_worker(env: Env) -> None:
    manager, worker, project = _setup(env)
    client = env.client(worker)
    lease = _next(client, project).json()
    client.post(
        f"/api/v1/assignments/{lease['assignment_id']}/report",
        json={"reason": "harmful", "note": "Gives a lethal dose."},
    )
    listed = env.client(manager).get(f"/api/v1/projects/{project}/reports")
    assert listed.status_code == 200, listed.text
    (report,) = listed.json()
    assert report["reason"] == "harmful"
    assert report["note"] == "Gives a lethal dose."
    assert report["worker"] == worker.username
    assert report["item_id"] == lease["item"]["id"]
    assert report["resolved_at"] is None


def test_reporting_twice_keeps_the_first_report(env: Env) -> None:
    _, worker, project = _setup(env)
    client = env.client(worker)
    lease = _next(client, project).json()
    url = f"/api/v1/assignments/{lease['assignment_id']}/report"
    first = client.post(url, json={"reason": "broken"})
    again = client.post(url, json={"reason": "harmful"})
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["reason"] == "broken"
    assert again.json()["lease_released"] is False


def test_a_report_names_a_bad_reason_and_refuses_someone_elses_assignment(env: Env) -> None:
    manager, worker, project = _setup(env)
    lease = _next(env.client(worker), project).json()
    url = f"/api/v1/assignments/{lease['assignment_id']}/report"
    bad = env.client(worker).post(url, json={"reason": "boring"})
    assert bad.status_code == 422
    assert bad.json()["error"]["details"][0]["field"] == "reason"
    other = env.user()
    env.client(manager).post(f"/api/v1/projects/{project}/members", json={"user_ids": [other.id]})
    assert env.client(other).post(url, json={"reason": "broken"}).status_code == 404


def test_an_answered_item_cannot_be_reported(env: Env) -> None:
    _, worker, project = _setup(env)
    client = env.client(worker)
    lease = _next(client, project).json()
    client.post(
        f"/api/v1/assignments/{lease['assignment_id']}/answer", json={"answer": {"choice": "A"}}
    )
    refused = client.post(
        f"/api/v1/assignments/{lease['assignment_id']}/report", json={"reason": "broken"}
    )
    assert refused.status_code == 409
    assert refused.json()["error"]["code"] == "already_answered"


def test_workers_cannot_read_or_resolve_reports(env: Env) -> None:
    _, worker, project = _setup(env)
    client = env.client(worker)
    assert client.get(f"/api/v1/projects/{project}/reports").status_code == 403
    resolve = client.post(f"/api/v1/projects/{project}/reports/resolve", json={"item_id": 1})
    assert resolve.status_code == 403


def test_resolving_closes_the_items_reports_and_disabling_takes_it_out_of_service(
    env: Env,
) -> None:
    manager, worker, project = _setup(env, items=2, per_item=3)
    client = env.client(worker)
    reported_items = []
    for reason in ("broken", "ambiguous"):
        lease = _next(client, project).json()
        reported_items.append(lease["item"]["id"])
        client.post(
            f"/api/v1/assignments/{lease['assignment_id']}/report", json={"reason": reason}
        )
    boss = env.client(manager)
    kept, dropped = reported_items
    done = boss.post(f"/api/v1/projects/{project}/reports/resolve", json={"item_id": kept})
    assert done.json() == {"item_id": kept, "resolved": 1, "disabled": False}
    gone = boss.post(
        f"/api/v1/projects/{project}/reports/resolve",
        json={"item_id": dropped, "disable": True, "reason": "garbled"},
    )
    assert gone.json()["resolved"] == 1
    assert boss.get(f"/api/v1/items/{dropped}").json()["status"] == "disabled"
    assert boss.get(f"/api/v1/items/{kept}").json()["status"] != "disabled"
    assert boss.get(f"/api/v1/projects/{project}/reports").json() == []
    closed = boss.get(f"/api/v1/projects/{project}/reports", params={"state": "all"}).json()
    assert {r["resolution"] for r in closed} == {"resolved", "disabled"}
    audit = boss.get("/api/v1/audit", params={"action": "item_reports.resolved"})
    assert audit.status_code in (200, 403)  # admins read the audit log; the event is written
    with env.db.read() as conn:
        from sqlalchemy import text

        actions = conn.execute(text("SELECT action FROM audit_log")).scalars().all()
    assert actions.count("item_reports.resolved") == 2
    assert "item.disabled" in actions
