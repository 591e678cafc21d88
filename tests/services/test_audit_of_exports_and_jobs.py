"""Taking data out and stopping work are manager actions, so they are in the audit log."""

from __future__ import annotations

from db_fixtures import Env, pairwise_item
from expertloop.domain import Role
from expertloop.services import jobs as job_service
from expertloop.services.export_jobs import start_export_job
from expertloop.services.exports import ExportOptions, prepare_export
from expertloop.store import audit as audit_store


def _events(env: Env, action: str) -> list[audit_store.AuditEntry]:
    with env.db.read() as conn:
        return audit_store.list_events(conn, action=action)


def test_every_export_is_recorded_with_who_took_which_data(env: Env) -> None:
    manager = env.user(Role.MANAGER)
    project = env.project(manager, members=[])
    env.items(manager, project, [pairwise_item(n) for n in range(3)])
    prepare_export(
        env.db,
        actor=manager,
        project_id=project,
        options=ExportOptions(format="raw", include_gold=False),
        secret_key="k" * 32,
    )
    [event] = _events(env, "project.exported")
    assert event.actor_id == manager.id
    assert event.project_id == project
    assert event.details["options"]["format"] == "raw"


def test_cancelling_a_job_is_recorded_with_the_status_before_and_after(env: Env) -> None:
    manager = env.user(Role.MANAGER)
    project = env.project(manager, members=[])
    env.items(manager, project, [pairwise_item(n) for n in range(3)])
    job = start_export_job(
        env.db, actor=manager, project_id=project, options=ExportOptions(format="raw"), output="jsonl"
    )
    job_service.cancel_job(env.db, actor=manager, job_id=job.id)
    [event] = _events(env, "job.cancelled")
    assert event.actor_id == manager.id
    assert event.details == {"job_id": job.id, "kind": job.kind}
    assert event.before == {"status": "queued"}
    assert event.after == {"status": "cancelled"}
