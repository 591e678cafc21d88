"""PUT/GET/DELETE /projects/{id}/redundancy, and adaptive redundancy set on create."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import func, select

from db_fixtures import Env, audit_events
from expertloop.domain import Role
from expertloop.jobs.worker import Worker
from expertloop.services.jobs import load_job_kinds
from expertloop.services.redundancy import FIT_KIND, RETARGET_KIND
from expertloop.settings import Settings
from expertloop.store import tables as t


def _create(client: object, **extra: object) -> object:
    return client.post(  # type: ignore[attr-defined]
        "/api/v1/projects",
        json={"name": "adaptive", "task_type": "label", "config": {"labels": ["a", "b"]},
              **extra},
    )


def test_a_manager_sets_reads_and_removes_adaptive_redundancy(env: Env) -> None:
    manager, worker = env.user(Role.MANAGER), env.user()
    client = env.client(manager)
    project = _create(client).json()["id"]
    assert client.get(f"/api/v1/projects/{project}/redundancy").json() == {
        "adaptive": False, "min_answers": None, "max_answers": None, "target_confidence": None,
        "audit_share": None,
    }
    put = client.put(
        f"/api/v1/projects/{project}/redundancy",
        json={"min_answers": 2, "max_answers": 8, "target_confidence": 0.95,
              "audit_share": 0.1},
    )
    assert put.status_code == 200, put.text
    assert put.json() == {
        "adaptive": True, "min_answers": 2, "max_answers": 8, "target_confidence": 0.95,
        "audit_share": 0.1,
    }
    assert client.get(f"/api/v1/projects/{project}/redundancy").json()["adaptive"] is True
    other = env.client(worker)
    assert other.put(f"/api/v1/projects/{project}/redundancy", json={}).status_code == 404
    assert client.delete(f"/api/v1/projects/{project}/redundancy").status_code == 204
    assert client.get(f"/api/v1/projects/{project}/redundancy").json()["adaptive"] is False


def test_bad_settings_get_a_422_naming_the_field(env: Env) -> None:
    client = env.client(env.user(Role.MANAGER))
    project = _create(client).json()["id"]
    cases = [
        ({"min_answers": 5, "max_answers": 4}, "max_answers"),
        ({"target_confidence": 1}, "target_confidence"),
        ({"min_answers": 0}, "min_answers"),
        ({"surprise": 1}, "surprise"),
        ({"audit_share": 1.01}, "audit_share"),
        ({"audit_share": -0.5}, "audit_share"),
        ({"audit_share": "some"}, "audit_share"),
    ]
    for body, field in cases:
        response = client.put(f"/api/v1/projects/{project}/redundancy", json=body)
        assert response.status_code == 422, (body, response.text)
        assert field in response.text, (body, response.text)


def test_a_project_created_adaptive_starts_its_items_at_min_answers(env: Env) -> None:
    client = env.client(env.user(Role.MANAGER))
    created = _create(
        client, redundancy={"min_answers": 2, "max_answers": 5, "target_confidence": 0.9}
    )
    assert created.status_code == 201, created.text
    project = created.json()["id"]
    assert client.get(f"/api/v1/projects/{project}/redundancy").json()["max_answers"] == 5
    imported = client.post(
        f"/api/v1/projects/{project}/items",
        json=[{"external_id": "one", "payload": {"text": "hello"}}],
    )
    assert imported.status_code == 201, imported.text
    with env.db.read() as conn:
        targets = conn.execute(
            select(t.Item.target).where(t.Item.project_id == project)
        ).scalars().all()
    assert targets == [2]


def test_a_free_text_project_cannot_be_created_adaptive(env: Env) -> None:
    client = env.client(env.user(Role.MANAGER))
    response = client.post(
        "/api/v1/projects",
        json={"name": "free", "task_type": "demonstration", "redundancy": {}},
    )
    assert response.status_code == 422, response.text
    assert "redundancy" in response.text
    assert client.get("/api/v1/projects").json() == []


def _updates(env: Env, project: int) -> int:
    return audit_events(env, project, "project.redundancy_updated")


def _queued_retargets(env: Env, project: int) -> int:
    with env.db.read() as conn:
        return int(conn.execute(
            select(func.count()).select_from(t.Job).where(
                t.Job.project_id == project, t.Job.kind == RETARGET_KIND,
                t.Job.status == "queued",
            )
        ).scalar_one())


def test_a_put_that_changes_nothing_is_not_audited_and_queues_no_retarget(
    env: Env, tmp_path: Path
) -> None:
    client = env.client(env.user(Role.MANAGER))
    project = _create(client).json()["id"]
    settings = {"min_answers": 2, "max_answers": 8, "target_confidence": 0.95,
                "audit_share": 0.1}
    first = client.put(f"/api/v1/projects/{project}/redundancy", json=settings)
    assert first.status_code == 200, first.text
    assert (_updates(env, project), _queued_retargets(env, project)) == (1, 1)
    kinds = {k: v for k, v in load_job_kinds().items() if k in (RETARGET_KIND, FIT_KIND)}
    worker = Worker(env.db, Settings(data_dir=tmp_path), kinds=kinds)
    while worker.run_one() is not None:
        pass
    assert _queued_retargets(env, project) == 0
    # The same settings again: the current ones back, nothing recorded, nothing queued.
    again = client.put(f"/api/v1/projects/{project}/redundancy", json=settings)
    assert again.status_code == 200, again.text
    assert again.json() == {"adaptive": True, **settings}
    assert (_updates(env, project), _queued_retargets(env, project)) == (1, 0)
    # A real change is audited and queued as before.
    changed = client.put(f"/api/v1/projects/{project}/redundancy",
                         json={**settings, "audit_share": 0.2})
    assert changed.status_code == 200, changed.text
    assert (_updates(env, project), _queued_retargets(env, project)) == (2, 1)


def test_triage_and_the_audit_share_in_one_patch_of_the_llm_settings(env: Env) -> None:
    from expertloop.services import llm

    manager = env.user(Role.MANAGER)
    client = env.client(manager)
    project = _create(client).json()["id"]
    llm.add_provider(env.db, actor=None, name="judge-x", base_url="http://127.0.0.1:9/v1",
                     model="m", max_retries=0)
    path = f"/api/v1/projects/{project}/llm-settings"
    not_adaptive = client.patch(path, json={"audit_share": 0.1})
    assert not_adaptive.status_code == 422, not_adaptive.text
    assert not_adaptive.json()["error"]["details"][0]["field"] == "audit_share"
    assert client.get(path).json()["audit_share"] is None
    assert client.put(f"/api/v1/projects/{project}/redundancy",
                      json={"min_answers": 1}).status_code == 200
    for share in (1.5, -0.1, "some"):
        bad = client.patch(path, json={"triage": {"judges": ["judge-x"]}, "audit_share": share})
        assert bad.status_code == 422, bad.text
        assert "audit_share" in bad.text, bad.text
        assert (client.get(path).json()["triage"], client.get(path).json()["audit_share"]) == (
            None, 0.0
        )
    both = client.patch(path, json={"triage": {"judges": ["judge-x"]}, "audit_share": 0.1})
    assert both.status_code == 200, both.text
    assert (both.json()["triage"], both.json()["audit_share"]) == ({"judges": ["judge-x"]}, 0.1)
    assert client.get(f"/api/v1/projects/{project}/redundancy").json()["audit_share"] == 0.1
    assert client.get(f"/api/v1/projects/{project}/triage").json()["policy"][
        "audit_share"] == 0.1
